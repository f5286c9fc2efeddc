import { nativeSgdStep } from '@ringtrain/backend-native';
import * as tf from '@tensorflow/tfjs-core';
import { beforeAll, describe, expect, it } from 'vitest';

import { flatLayoutFor } from '../../src/flat-layout.ts';
import { toLayersModel } from '../../src/layers-export.ts';
import { buildResNet, describeResNet } from '../../src/resnet.ts';
import type { ResNetSpecInput } from '../../src/resnet.ts';
import { Sgd } from '../../src/sgd.ts';
import type { SgdOptions } from '../../src/sgd.ts';
import { Trainer } from '../../src/trainer.ts';
import { nativeAvailable, useCpuBackend, useNativeBackend } from '../support/backend.ts';
import { loadFashionMnistSubset, slice } from '../support/fashion-mnist.ts';
import type { FashionMnistSubset } from '../support/fashion-mnist.ts';
import { expectBitIdentical, relativeError } from '../support/floats.ts';

// The d2l ResNet-18 the main job trains, narrowed so that the cpu backend finishes in seconds.
const SPEC: ResNetSpecInput = { depth: 18, stem: 'd2l', widthMultiplier: 0.25, imageSize: 28, seed: 11 };

interface StepRecord {
  readonly losses: number[];
  readonly flats: Float32Array[];
  readonly values: Float32Array;
}

/** Three steps of the Trainer on `backend`, recording each step's loss and flat vector. */
async function train(use: () => Promise<void>, data: FashionMnistSubset): Promise<StepRecord> {
  await use();
  const trainer = new Trainer(buildResNet(SPEC), { learningRate: 0.05 });
  try {
    const losses: number[] = [];
    const flats: Float32Array[] = [];
    for (let step = 0; step < 3; step++) {
      const batch = slice(data.train, step * 16, 16);
      const result = trainer.computeGradients(batch.images, batch.labels);
      losses.push(result.loss);
      flats.push(result.flat.slice());
      trainer.applyGradients(result.flat);
    }
    return { losses, flats, values: trainer.getValues() };
  } finally {
    trainer.dispose();
  }
}

function layoutOffsets(trainer: Trainer): number[] {
  return trainer.layout.entries.map((entry) => entry.offset);
}

describe.skipIf(!nativeAvailable)('the training step on the native backend against the cpu backend', () => {
  let data: FashionMnistSubset;
  beforeAll(async () => {
    data = await loadFashionMnistSubset(48, 0, 28);
  });

  it('gives the same losses, gradients and weights to 1e-3 over three steps of a d2l ResNet-18', async () => {
    const native = await train(useNativeBackend, data);
    const cpu = await train(useCpuBackend, data);
    const layout = flatLayoutFor(describeResNet(SPEC));
    native.losses.forEach((loss, step) => expect(Math.abs(loss - (cpu.losses[step] as number)) / (cpu.losses[step] as number), `loss ${step}`).toBeLessThan(1e-3));
    native.flats.forEach((flat, step) => {
      for (const entry of layout.entries) {
        const actual = flat.subarray(entry.offset, entry.offset + entry.size);
        const expected = (cpu.flats[step] as Float32Array).subarray(entry.offset, entry.offset + entry.size);
        expect(relativeError(actual, expected), `step ${step}, ${entry.name}`).toBeLessThan(1e-3);
      }
    });
    expect(relativeError(native.values, cpu.values), 'values after three steps').toBeLessThan(1e-3);
  });

  it('reads the weights in place: after an update the variables hold the new values without a copy', async () => {
    await useNativeBackend();
    const trainer = new Trainer(buildResNet(SPEC), { learningRate: 0.05 });
    try {
      const batch = slice(data.train, 0, 16);
      trainer.applyGradients(trainer.computeGradients(batch.images, batch.labels).flat);
      const kernel = trainer.model.variable('conv1/kernel');
      expectBitIdentical(kernel.dataSync(), trainer.getValues().subarray(0, kernel.size), 'conv1/kernel after the update');
      // Every variable is a view of one array: the trainer's, in flat-layout order.
      const variables = [...trainer.model.parameters, ...trainer.model.statistics].map(({ variable }) => variable);
      const buffers = new Set(variables.map((variable) => variable.dataSync().buffer));
      expect(buffers.size).toBe(1);
      expect(variables.map((variable) => (variable.dataSync() as Float32Array).byteOffset / 4)).toEqual(layoutOffsets(trainer));

      // A Layers model made from it is a snapshot: the next update leaves it alone.
      const layersModel = toLayersModel(trainer.model);
      try {
        const snapshot = layersModel.getWeights().map((w) => Float32Array.from(w.dataSync() as Float32Array));
        trainer.applyGradients(trainer.computeGradients(batch.images, batch.labels).flat);
        layersModel.getWeights().forEach((w, i) => expectBitIdentical(w.dataSync(), snapshot[i] as Float32Array, `Layers weight ${i}`));
      } finally {
        layersModel.dispose();
      }
    } finally {
      trainer.dispose();
    }
  });
});

describe.skipIf(!nativeAvailable)('memory over many training steps on the native backend', () => {
  const STEPS = 1000;
  const WARMUP_STEPS = 100;
  const MAX_GROWTH_BYTES = 24 * 1024 * 1024;

  /** Resident memory outside the JavaScript heap, whose size swings with the collector's schedule. */
  function residentOutsideHeap(): number {
    const usage = process.memoryUsage();
    return usage.rss - usage.heapTotal;
  }

  it(`keeps tensors, backend buffers and resident memory flat over ${STEPS} Trainer steps`, async () => {
    await useNativeBackend();
    const trainer = new Trainer(buildResNet({ depth: 18, stem: 'small', widthMultiplier: 0.0625, imageSize: 8, seed: 2 }), { learningRate: 0.01 });
    const images = Float32Array.from({ length: 4 * 8 * 8 }, (_, i) => Math.sin(i));
    const labels = Uint8Array.from([1, 3, 5, 7]);
    const into = new Float32Array(trainer.layout.totalLength);
    const step = (): void => trainer.applyGradients(trainer.computeGradients(images, labels, { into }).flat);
    try {
      for (let i = 0; i < WARMUP_STEPS; i++) step();
      const tensors = tf.memory().numTensors;
      const buffers = tf.engine().backend.numDataIds();
      const resident = residentOutsideHeap();
      for (let i = WARMUP_STEPS; i < STEPS; i++) step();
      expect(tf.memory().numTensors).toBe(tensors);
      expect(tf.engine().backend.numDataIds()).toBe(buffers);
      expect(residentOutsideHeap() - resident).toBeLessThan(MAX_GROWTH_BYTES);
    } finally {
      trainer.dispose();
    }
  });
});

describe.skipIf(!nativeAvailable)('the native SGD update', () => {
  const layout = flatLayoutFor(describeResNet({ depth: 18, widthMultiplier: 0.125 }));
  const length = layout.gradientLength;

  function randomArray(seed: number, scale: number): Float32Array {
    let state = seed;
    return Float32Array.from({ length }, () => {
      state = (Math.imul(state, 1664525) + 1013904223) >>> 0;
      return (state / 2 ** 32 - 0.5) * scale;
    });
  }

  it.each<[string, Partial<SgdOptions>]>([
    ['plain', { momentum: 0, weightDecay: 1e-4 }],
    ['momentum with decay', { momentum: 0.9, weightDecay: 5e-4 }],
    ['momentum with dampening and decayed batch-norm parameters', { momentum: 0.8, dampening: 0.3, weightDecay: 1e-3, decayBatchNormAndBias: true }],
    ['Nesterov', { momentum: 0.9, nesterov: true, weightDecay: 1e-4 }],
  ])('is bit-identical to the JavaScript loops: %s', (_name, options) => {
    const native = new Sgd(layout, options);
    const javascript = new Sgd(layout, options, { native: null });
    expect(native.isNative).toBe(true);
    expect(javascript.isNative).toBe(false);
    const a = randomArray(1, 2);
    const b = a.slice();
    for (let step = 0; step < 4; step++) {
      const gradient = randomArray(100 + step, 0.1);
      const learningRate = 0.05 / (step + 1);
      native.step(a, gradient, learningRate);
      javascript.step(b, gradient, learningRate);
      expectBitIdentical(a, b, `parameters after step ${step}`);
    }
    const nativeBuffer = native.getState().momentumBuffer;
    const javascriptBuffer = javascript.getState().momentumBuffer;
    if (nativeBuffer === null || javascriptBuffer === null) expect(nativeBuffer).toBe(javascriptBuffer);
    else expectBitIdentical(nativeBuffer, javascriptBuffer, 'momentum buffers');
  });

  /** Same bits everywhere, except that a NaN only has to meet a NaN: x86 arithmetic picks a NaN's sign by operand order. */
  function expectSameBitsOrBothNaN(actual: Float32Array, expected: Float32Array, what: string): void {
    const a = new Uint32Array(actual.buffer, actual.byteOffset, actual.length);
    const e = new Uint32Array(expected.buffer, expected.byteOffset, expected.length);
    let differing = 0;
    for (let i = 0; i < a.length; i++) {
      if (a[i] !== e[i] && !(Number.isNaN(actual[i]) && Number.isNaN(expected[i]))) differing++;
    }
    expect(differing, `${what}: values whose bits differ`).toBe(0);
  }

  it.each([
    ['huge, signed-zero and non-finite values', [0, -0, 3.4e38, -3.4e38, Number.POSITIVE_INFINITY, Number.NaN, 1e-20, -7.5]],
    ['subnormal values', [0, -0, 1e-45, -3e-39, 1.1e-38, -5e-42, 2e-40]],
  ])('is bit-identical to the JavaScript loops on %s', (_name, special) => {
    const fill = (offset: number) => Float32Array.from({ length }, (_, i) => special[(i + offset) % special.length] as number);
    for (const options of [{ momentum: 0.9, weightDecay: 1e-4 }, { momentum: 0.9, nesterov: true, weightDecay: 5e-4 }]) {
      const native = new Sgd(layout, options);
      const javascript = new Sgd(layout, options, { native: null });
      const a = fill(0);
      const b = a.slice();
      for (let step = 0; step < 3; step++) {
        const gradient = fill(step + 3);
        native.step(a, gradient, 0.1);
        javascript.step(b, gradient, 0.1);
        expectSameBitsOrBothNaN(a, b, `parameters after step ${step}`);
      }
      // The kinds of value of this case are among the results.
      const kinds = (values: Float32Array) =>
        new Set([...values].map((v) => (Number.isNaN(v) ? 'NaN' : !Number.isFinite(v) ? 'infinite' : v !== 0 && Math.abs(v) < 1.18e-38 ? 'subnormal' : 'normal')));
      for (const kind of kinds(fill(0))) if (kind !== 'normal') expect(kinds(a).has(kind), `a ${kind} result`).toBe(true);
    }
  });

  it('rejects segments out of order or past the parameters', () => {
    const step = nativeSgdStep();
    if (step === null) throw new Error('the native addon did not load');
    const p = new Float32Array(10);
    const hyper = { weightDecay: 0, momentum: 0, keep: 1, learningRate: 0.1 };
    expect(() => step('plain', p, new Float32Array(10), null, Int32Array.from([0, 6, 1, 4, 10, 0]), hyper)).toThrow(/segment 1 \[4, 10\) is out of order/);
    expect(() => step('plain', p, new Float32Array(10), null, Int32Array.from([0, 11, 1]), hyper)).toThrow(/outside the 10 parameters/);
    expect(() => step('momentum', p, new Float32Array(10), null, Int32Array.from([0, 10, 1]), hyper)).toThrow(/needs a momentum buffer/);
    expect(() => step('plain', p, new Float32Array(9), null, Int32Array.from([0, 10, 1]), hyper)).toThrow(/gradient has 9 values, expected 10/);
  });
});
