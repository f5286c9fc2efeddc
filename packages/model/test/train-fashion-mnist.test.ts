import { DistributedSampler, loadFashionMnist, preprocessBatch } from '@ringtrain/data';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import { createLearningRateSchedule } from '../src/lr-schedule.ts';
import { buildResNet } from '../src/resnet.ts';
import { Trainer } from '../src/trainer.ts';
import { useWasmBackend } from './support/backend.ts';

const TRAIN_IMAGES = 4000;
const TEST_IMAGES = 1000;
const EPOCHS = 3;
const BATCH = 32;

describe('training on real Fashion-MNIST', () => {
  let trainer: Trainer;
  beforeAll(useWasmBackend);
  afterAll(() => trainer?.dispose());

  it(`reaches at least 0.75 accuracy on ${TEST_IMAGES} test images after ${EPOCHS} epochs on ${TRAIN_IMAGES} training images`, async () => {
    const { train, test } = await loadFashionMnist({ limitTrain: TRAIN_IMAGES, limitTest: TEST_IMAGES });
    const stepsPerEpoch = Math.floor(TRAIN_IMAGES / BATCH);
    const totalSteps = stepsPerEpoch * EPOCHS;
    trainer = new Trainer(buildResNet({ depth: 18, stem: 'd2l', widthMultiplier: 0.25, seed: 1 }), {
      learningRate: createLearningRateSchedule({ kind: 'cosine', baseLr: 0.1, totalSteps, warmupSteps: Math.floor(stepsPerEpoch / 4) }),
      sgd: { momentum: 0.9, nesterov: true, weightDecay: 5e-4 },
    });
    // One worker's view of the distributed sampler: a fresh permutation each epoch.
    const sampler = new DistributedSampler({ datasetSize: TRAIN_IMAGES, seed: 1 });
    const flat = new Float32Array(trainer.layout.totalLength);
    const batchImages = new Float32Array(BATCH * 28 * 28);
    const trainAccuracy: number[] = [];
    for (let epoch = 0; epoch < EPOCHS; epoch++) {
      const order = sampler.indicesFor(epoch, 0, 1);
      let correct = 0;
      for (let step = 0; step < stepsPerEpoch; step++) {
        const indices = order.subarray(step * BATCH, (step + 1) * BATCH);
        const images = preprocessBatch(train.images, train.rows, train.cols, indices, { out: batchImages });
        const labels = Uint8Array.from(indices, (i) => train.labels[i] as number);
        const result = trainer.computeGradients(images, labels, { into: flat });
        trainer.applyGradients(result.flat);
        correct += result.correct;
      }
      trainAccuracy.push(correct / (stepsPerEpoch * BATCH));
    }
    expect(trainer.step).toBe(totalSteps);
    expect(trainAccuracy[EPOCHS - 1]).toBeGreaterThan(trainAccuracy[0] as number);

    let correct = 0;
    for (let start = 0; start < test.count; start += 250) {
      const indices = Array.from({ length: Math.min(250, test.count - start) }, (_, i) => start + i);
      const images = preprocessBatch(test.images, test.rows, test.cols, indices);
      correct += trainer.evaluate(images, test.labels.slice(start, start + indices.length)).correct;
    }
    const accuracy = correct / test.count;
    expect(accuracy, `test accuracy ${accuracy}, training accuracy by epoch ${trainAccuracy.join(', ')}`).toBeGreaterThanOrEqual(0.75);
  });
});
