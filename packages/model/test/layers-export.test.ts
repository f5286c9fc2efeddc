import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

import * as tf from '@tensorflow/tfjs-core';
import * as tfl from '@tensorflow/tfjs-layers';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import { fileSystemIOHandler } from '../src/layers-export.ts';
import { buildResNet } from '../src/resnet.ts';
import type { ResNetSpecInput } from '../src/resnet.ts';
import { Trainer } from '../src/trainer.ts';
import { useWasmBackend } from './support/backend.ts';
import { loadFashionMnistSubset, slice } from './support/fashion-mnist.ts';
import type { FashionMnistSubset } from './support/fashion-mnist.ts';

describe('export in the TF.js Layers format', () => {
  let data: FashionMnistSubset;
  let dir: string;
  beforeAll(async () => {
    await useWasmBackend();
    data = await loadFashionMnistSubset(48, 8, 28);
    dir = await mkdtemp(join(tmpdir(), 'ringtrain-layers-'));
  });
  afterAll(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  it.each([
    [{ depth: 18, stem: 'd2l', widthMultiplier: 0.125 }],
    [{ depth: 50, stem: 'small', widthMultiplier: 0.0625 }],
  ] as const)('writes a model that tf.loadLayersModel reads back with the same predictions (%j)', async (spec) => {
    const trainer = new Trainer(buildResNet({ ...spec, imageSize: 28, seed: 5 } as ResNetSpecInput), { learningRate: 0.05 });
    try {
      // Train a little so that the running statistics are no longer 0 and 1.
      for (let step = 0; step < 3; step++) {
        const batch = slice(data.train, step * 16, 16);
        trainer.applyGradients(trainer.computeGradients(batch.images, batch.labels).flat);
      }
      const target = join(dir, `resnet${spec.depth}`);
      await trainer.exportLayersModel(target);

      const modelJson = JSON.parse(await readFile(join(target, 'model.json'), 'utf8')) as tf.io.ModelJSON;
      expect(modelJson.format).toBe('layers-model');
      expect(modelJson.weightsManifest[0]?.paths).toEqual(['./weights.bin']);
      const weightNames = modelJson.weightsManifest[0]?.weights.map((w) => w.name) ?? [];
      expect(weightNames).toContain('layer1.0.bn1/moving_variance');
      expect(weightNames).toHaveLength(trainer.model.parameters.length + trainer.model.statistics.length);

      const loaded = await tfl.loadLayersModel(fileSystemIOHandler(target));
      const x = tf.tensor4d(data.test.images, [8, 28, 28, 1]);
      const theirs = (loaded.predict(x) as tf.Tensor).dataSync();
      const ours = trainer.predict(data.test.images);
      expect(theirs).toHaveLength(ours.length);
      ours.forEach((value, i) => expect(theirs[i]).toBeCloseTo(value, 4));
      x.dispose();
      loaded.dispose();
    } finally {
      trainer.dispose();
    }
  });
});
