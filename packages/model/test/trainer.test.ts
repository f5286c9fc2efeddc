import * as tf from '@tensorflow/tfjs-core';
import { afterEach, beforeAll, describe, expect, it } from 'vitest';

import { DisposedError, FlatLengthMismatchError, InvalidBatchError } from '../src/errors.ts';
import { sectionEntries } from '../src/flat-layout.ts';
import { BATCH_NORM_MOMENTUM } from '../src/resnet-table.ts';
import { buildResNet } from '../src/resnet.ts';
import type { ResNetSpecInput } from '../src/resnet.ts';
import { Trainer } from '../src/trainer.ts';
import type { TrainerOptions } from '../src/trainer.ts';
import { TRAINER_BACKENDS } from './support/backend.ts';
import { loadFashionMnistSubset, slice } from './support/fashion-mnist.ts';
import { bitIdentical, expectBitIdentical } from './support/floats.ts';
import { referenceTrainingLoss } from './support/reference-resnet.ts';
import type { FashionMnistSubset } from './support/fashion-mnist.ts';

const SPEC: ResNetSpecInput = { depth: 18, stem: 'small', widthMultiplier: 0.125, imageSize: 12, seed: 3 };

describe.each(TRAINER_BACKENDS)('the training step on the $name backend', ({ use }) => {
  let data: FashionMnistSubset;
  const trainers: Trainer[] = [];
  const makeTrainer = (options: TrainerOptions = {}, spec: ResNetSpecInput = SPEC): Trainer => {
    const trainer = new Trainer(buildResNet(spec), options);
    trainers.push(trainer);
    return trainer;
  };

  beforeAll(async () => {
    await use();
    data = await loadFashionMnistSubset(64, 16, 12);
  });
  afterEach(() => {
    for (const trainer of trainers.splice(0)) trainer.dispose();
  });

  it('computes gradients without changing any weight or running statistic', () => {
    const trainer = makeTrainer();
    const before = trainer.getValues();
    const batch = slice(data.train, 0, 16);
    const result = trainer.computeGradients(batch.images, batch.labels);
    expect(result.count).toBe(16);
    expect(result.loss).toBeGreaterThan(0);
    expect(result.correct).toBeGreaterThanOrEqual(0);
    expect(result.flat).toHaveLength(trainer.layout.totalLength);
    expectBitIdentical(trainer.getValues(), before, 'values');
    const kernel = trainer.model.variable('conv1/kernel').dataSync();
    expectBitIdentical(kernel, before.subarray(0, kernel.length), 'conv1/kernel');
  });

  it('applies the gradient section with SGD and takes the statistics section as the running statistics', () => {
    const trainer = makeTrainer({ learningRate: 0.1, sgd: { momentum: 0, weightDecay: 0 } });
    const before = trainer.getValues();
    const batch = slice(data.train, 0, 16);
    const { flat } = trainer.computeGradients(batch.images, batch.labels);
    trainer.applyGradients(flat);
    const after = trainer.getValues();
    const { gradientLength } = trainer.layout;
    for (let i = 0; i < gradientLength; i += 97) {
      expect(after[i]).toBe(Math.fround((before[i] as number) - 0.1 * (flat[i] as number)));
    }
    expectBitIdentical(after.subarray(gradientLength), flat.subarray(gradientLength), 'statistics');
    expect(trainer.step).toBe(1);
    // The variables hold what the trainer holds.
    [...trainer.model.parameters, ...trainer.model.statistics].forEach(({ variable }, i) => {
      const entry = trainer.layout.entries[i]!;
      expectBitIdentical(variable.dataSync(), after.subarray(entry.offset, entry.offset + entry.size), entry.name);
    });
  });

  it('takes the learning rate of the current step from the schedule unless one is given', () => {
    const seen: number[] = [];
    const trainer = makeTrainer({
      learningRate: (step) => {
        seen.push(step);
        return step === 0 ? 0 : 0.1;
      },
      sgd: { momentum: 0, weightDecay: 0 },
    });
    const batch = slice(data.train, 0, 8);
    const gradientLength = trainer.layout.gradientLength;
    const before = trainer.getValues();
    trainer.applyGradients(trainer.computeGradients(batch.images, batch.labels).flat);
    expectBitIdentical(trainer.getValues().subarray(0, gradientLength), before.subarray(0, gradientLength), 'after a step at rate 0');
    trainer.applyGradients(trainer.computeGradients(batch.images, batch.labels).flat, 0);
    expectBitIdentical(trainer.getValues().subarray(0, gradientLength), before.subarray(0, gradientLength), 'after an explicit rate 0');
    trainer.applyGradients(trainer.computeGradients(batch.images, batch.labels).flat);
    expect(bitIdentical(trainer.getValues().subarray(0, gradientLength), before.subarray(0, gradientLength))).toBe(false);
    expect(seen).toEqual([0, 2]);
    expect(trainer.step).toBe(3);
  });

  it('puts the stem’s running statistics after this batch into the statistics section, with PyTorch’s unbiased variance', () => {
    const trainer = makeTrainer();
    const batch = slice(data.train, 0, 16);
    const { flat } = trainer.computeGradients(batch.images, batch.labels);
    const [mean, variance] = tf.tidy(() => {
      const x = tf.tensor4d(batch.images, [16, 12, 12, 1]);
      const conv = tf.conv2d(x, trainer.model.variable('conv1/kernel') as tf.Tensor4D, 1, 'same');
      const moments = tf.moments(conv, [0, 1, 2]);
      return [moments.mean.dataSync(), moments.variance.dataSync()];
    });
    const n = 16 * 12 * 12;
    const m = BATCH_NORM_MOMENTUM;
    const entry = (name: string) => trainer.layout.entries.find((e) => e.name === name)!;
    const runningMean = flat.subarray(entry('bn1/moving_mean').offset, entry('bn1/moving_mean').offset + mean!.length);
    const runningVariance = flat.subarray(entry('bn1/moving_variance').offset, entry('bn1/moving_variance').offset + mean!.length);
    mean!.forEach((value, c) => {
      expect(runningMean[c]).toBeCloseTo(m * value, 5);
      expect(runningVariance[c]! / ((1 - m) + (m * variance![c]! * n) / (n - 1))).toBeCloseTo(1, 5);
    });
  });

  it('returns the gradient that tfjs’s autodiff gives for the textbook network', () => {
    const trainer = makeTrainer();
    const batch = slice(data.train, 0, 16);
    const { flat } = trainer.computeGradients(batch.images, batch.labels);
    const reference = tf.tidy(() => {
      const x = tf.tensor4d(batch.images, [16, 12, 12, 1]);
      const labels = tf.tensor1d(Int32Array.from(batch.labels), 'int32');
      const { grads } = tf.variableGrads(() => referenceTrainingLoss(trainer.model, x, labels), trainer.model.trainableVariables);
      return trainer.model.parameters.map(({ variable }) => grads[variable.name]!.dataSync().slice());
    });
    sectionEntries(trainer.layout, 'gradient').forEach((entry, i) => {
      const expected = reference[i]!;
      const actual = flat.subarray(entry.offset, entry.offset + entry.size);
      const scale = Math.max(1e-6, ...expected.map(Math.abs));
      const error = Math.max(...actual.map((v, k) => Math.abs(v - expected[k]!)));
      expect(error / scale, entry.name).toBeLessThan(1e-4);
    });
  });

  it('keeps two replicas bit-identical when they apply the average of their flat vectors', () => {
    const a = makeTrainer({ learningRate: 0.05, sgd: { nesterov: true } });
    const b = makeTrainer({ learningRate: 0.05, sgd: { nesterov: true } });
    expectBitIdentical(a.getValues(), b.getValues(), 'initial values');
    for (let step = 0; step < 3; step++) {
      const left = slice(data.train, step * 16, 8);
      const right = slice(data.train, step * 16 + 8, 8);
      const fa = a.computeGradients(left.images, left.labels).flat;
      const fb = b.computeGradients(right.images, right.labels).flat;
      expect(bitIdentical(fa, fb)).toBe(false);
      const averaged = fa.map((v, i) => (v + (fb[i] as number)) / 2);
      a.applyGradients(averaged);
      b.applyGradients(averaged);
    }
    expectBitIdentical(a.getValues(), b.getValues(), 'values after three steps');
    expectBitIdentical(a.getState(), b.getState(), 'states after three steps');
  });

  it('leaves the number of tensors unchanged over many steps', () => {
    const trainer = makeTrainer({ learningRate: 0.05 });
    const batch = slice(data.train, 0, 8);
    const asTensor = tf.tensor4d(batch.images, [8, 12, 12, 1]);
    const into = new Float32Array(trainer.layout.totalLength);
    // One warm-up step: tfjs caches a few scalars on first use.
    trainer.applyGradients(trainer.computeGradients(batch.images, batch.labels).flat);
    const before = tf.memory().numTensors;
    for (let i = 0; i < 15; i++) {
      const result = trainer.computeGradients(i % 2 === 0 ? batch.images : asTensor, batch.labels, { into });
      trainer.applyGradients(result.flat);
      trainer.evaluate(batch.images, batch.labels);
      trainer.predict(asTensor);
    }
    expect(tf.memory().numTensors).toBe(before);
    expect(asTensor.isDisposed).toBe(false);
    asTensor.dispose();
  });

  it('evaluates with the running statistics, so an example’s prediction does not depend on its batch', () => {
    const trainer = makeTrainer({ learningRate: 0.05 });
    for (let step = 0; step < 3; step++) {
      const batch = slice(data.train, step * 16, 16);
      trainer.applyGradients(trainer.computeGradients(batch.images, batch.labels).flat);
    }
    const whole = trainer.predict(data.test.images);
    const first = trainer.predict(slice(data.test, 0, 1).images);
    [...first].forEach((value, i) => expect(value).toBeCloseTo(whole[i] as number, 4));
    const evaluation = trainer.evaluate(data.test.images, data.test.labels);
    expect(evaluation.count).toBe(16);
    let correct = 0;
    for (let n = 0; n < 16; n++) {
      const row = [...whole.subarray(n * 10, n * 10 + 10)];
      if (row.indexOf(Math.max(...row)) === data.test.labels[n]) correct++;
    }
    expect(evaluation.correct).toBe(correct);
    // In training mode the batch statistics make the same example score differently.
    const alone = trainer.computeGradients(slice(data.test, 0, 2).images, slice(data.test, 0, 2).labels).loss;
    const together = trainer.computeGradients(slice(data.test, 0, 16).images, slice(data.test, 0, 16).labels).loss;
    expect(alone).not.toBeCloseTo(together, 3);
  });

  it('smooths the training labels as PyTorch does, mixing the cross-entropy with the uniform target linearly in ε', () => {
    // loss(ε) = (1 − ε)·CE + ε·U with U = mean over the classes of −log p: same weights (same seed)
    // and batch give the same training-mode logits, so loss(0.1) = 0.8·loss(0) + 0.2·loss(0.5).
    const batch = slice(data.train, 0, 16);
    const loss = (labelSmoothing: number): number => makeTrainer({ labelSmoothing }).computeGradients(batch.images, batch.labels).loss;
    const [plain, tenth, half] = [loss(0), loss(0.1), loss(0.5)];
    expect(tenth).not.toBeCloseTo(plain, 3);
    expect(tenth).toBeCloseTo(0.8 * plain + 0.2 * half, 5);
    // U is at least log 10 − (max log-probability gap), and CE at a fresh start is near log 10.
    expect(2 * half - plain).toBeGreaterThan(Math.log(10) - 1);
    expect(() => makeTrainer({ labelSmoothing: 1 })).toThrow(/labelSmoothing must be in \[0, 1\), got 1/);
  });

  it('evaluates with flip test-time augmentation as the mean softmax of an image and its mirror', () => {
    const trainer = makeTrainer({ learningRate: 0.05 });
    for (let step = 0; step < 2; step++) {
      const batch = slice(data.train, step * 16, 16);
      trainer.applyGradients(trainer.computeGradients(batch.images, batch.labels).flat);
    }
    const flipping = makeTrainer({ testTimeFlip: true });
    flipping.setState(trainer.getState());
    const size = 12;
    const mirrored = new Float32Array(data.test.images.length);
    for (let n = 0; n < 16; n++) {
      for (let y = 0; y < size; y++) {
        for (let x = 0; x < size; x++) mirrored[(n * size + y) * size + x] = data.test.images[(n * size + y) * size + (size - 1 - x)] as number;
      }
    }
    const softmax = (row: number[]): number[] => {
      const max = Math.max(...row);
      const e = row.map((z) => Math.exp(z - max));
      const sum = e.reduce((a, b) => a + b, 0);
      return e.map((v) => v / sum);
    };
    const straight = trainer.predict(data.test.images);
    const flipped = trainer.predict(mirrored);
    let correct = 0;
    let loss = 0;
    for (let n = 0; n < 16; n++) {
      const a = softmax([...straight.subarray(n * 10, n * 10 + 10)]);
      const b = softmax([...flipped.subarray(n * 10, n * 10 + 10)]);
      const mean = a.map((p, c) => (p + (b[c] as number)) / 2);
      const label = data.test.labels[n] as number;
      if (mean.indexOf(Math.max(...mean)) === label) correct++;
      loss -= Math.log(mean[label] as number) / 16;
    }
    const evaluation = flipping.evaluate(data.test.images, data.test.labels);
    expect(evaluation.correct).toBe(correct);
    expect(evaluation.loss).toBeCloseTo(loss, 4);
    // Without the flip, the same weights score the straight images alone.
    expect(trainer.evaluate(data.test.images, data.test.labels).loss).not.toBeCloseTo(loss, 4);
  });

  it('rejects batches that do not fit the model with errors that say what is wrong', () => {
    const trainer = makeTrainer();
    const batch = slice(data.train, 0, 4);
    expect(() => trainer.computeGradients(batch.images, new Uint8Array([1, 2, 3]))).toThrow(/4 images but 3 labels/);
    expect(() => trainer.computeGradients(batch.images, new Uint8Array([1, 2, 10, 3]))).toThrow(
      /label 10 at index 2 is outside \[0, 10\)/,
    );
    expect(() => trainer.computeGradients(new Float32Array(100), new Uint8Array(1))).toThrow(
      /n·12·12·1 values \(NHWC\), got Float32Array of length 100/,
    );
    expect(() => trainer.computeGradients(batch.images, batch.labels, { into: new Float32Array(3) })).toThrow(
      FlatLengthMismatchError,
    );
    expect(() => trainer.applyGradients(new Float32Array(5))).toThrow(/has 5 values, the flat layout has/);
    const wrongSize = tf.zeros([2, 14, 14, 1]) as tf.Tensor4D;
    expect(() => trainer.evaluate(wrongSize, new Uint8Array(2))).toThrow(/expects \[n, 12, 12, 1\]/);
    wrongSize.dispose();
    expect(() => trainer.evaluate(new Float32Array(0), new Uint8Array(0))).toThrow(InvalidBatchError);
  });

  it('refuses a training batch that leaves one value per batch-norm channel', () => {
    const trainer = makeTrainer({}, { depth: 18, stem: 'd2l', widthMultiplier: 0.125, imageSize: 28 });
    const one = new Float32Array(28 * 28);
    expect(() => trainer.computeGradients(one, new Uint8Array([0]))).toThrow(/more than one value per batch-norm channel/);
    expect(trainer.evaluate(one, new Uint8Array([0])).count).toBe(1);
  });

  it('refuses to run after being disposed', () => {
    const trainer = makeTrainer();
    trainer.dispose();
    expect(() => trainer.predict(slice(data.test, 0, 1).images)).toThrow(DisposedError);
    expect(sectionEntries(trainer.layout, 'gradient').length).toBeGreaterThan(0);
  });
});
