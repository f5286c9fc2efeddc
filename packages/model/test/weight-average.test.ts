import { afterEach, beforeAll, describe, expect, it } from 'vitest';

import { encodeTrainingState } from '../src/checkpoint-state.ts';
import { InvalidOptionsError } from '../src/errors.ts';
import { buildResNet } from '../src/resnet.ts';
import type { ResNetSpecInput } from '../src/resnet.ts';
import { Trainer } from '../src/trainer.ts';
import type { TrainerOptions } from '../src/trainer.ts';
import { TRAINER_BACKENDS, useWasmBackend } from './support/backend.ts';
import { loadFashionMnistSubset, slice } from './support/fashion-mnist.ts';
import type { FashionMnistSubset } from './support/fashion-mnist.ts';
import { bitIdentical, expectBitIdentical, relativeError } from './support/floats.ts';

const SPEC: ResNetSpecInput = { depth: 18, stem: 'small', widthMultiplier: 0.125, imageSize: 12, seed: 5 };
// A large rate, so that a few steps move the live weights far from where they started.
const SGD: TrainerOptions = { learningRate: 0.5, sgd: { momentum: 0.9, nesterov: true } };

describe.each(TRAINER_BACKENDS)('the weight average on the $name backend', ({ use }) => {
  let data: FashionMnistSubset;
  const trainers: Trainer[] = [];
  const makeTrainer = (options: TrainerOptions = {}, spec: ResNetSpecInput = SPEC): Trainer => {
    const trainer = new Trainer(buildResNet(spec), options);
    trainers.push(trainer);
    return trainer;
  };
  const train = (trainer: Trainer, steps: number, after?: () => void): void => {
    for (let step = 0; step < steps; step++) {
      const batch = slice(data.train, (step % 4) * 16, 16);
      trainer.applyGradients(trainer.computeGradients(batch.images, batch.labels).flat);
      after?.();
    }
  };

  beforeAll(async () => {
    await use();
    data = await loadFashionMnistSubset(64, 32, 12);
  });
  afterEach(() => {
    for (const trainer of trainers.splice(0)) trainer.dispose();
  });

  it.each([
    { decay: 0.8, warmup: false },
    { decay: 0.99, warmup: true },
  ])('follows e ← d·e + (1 − d)·w after every step (decay $decay, warm-up $warmup)', ({ decay, warmup }) => {
    const trainer = makeTrainer({ ...SGD, emaDecay: decay, emaWarmup: warmup });
    const reference = Float64Array.from(trainer.getValues());
    expectBitIdentical(trainer.getWeightAverage()!, trainer.getValues(), 'the average before the first step');
    let step = 0;
    train(trainer, 4, () => {
      const d = warmup ? Math.min(decay, (1 + step) / (10 + step)) : decay;
      const live = trainer.getValues();
      for (let i = 0; i < reference.length; i++) reference[i] = d * (reference[i] as number) + (1 - d) * (live[i] as number);
      step++;
      expect(relativeError(trainer.getWeightAverage()!, reference), `after step ${step}`).toBeLessThan(1e-5);
    });
    // The average is not the live model, or the comparison above proves nothing.
    expect(relativeError(trainer.getValues(), reference)).toBeGreaterThan(1e-3);
  });

  it('evaluates and predicts with the average, so decay 1 evaluates the initial model', () => {
    const averaged = makeTrainer({ ...SGD, emaDecay: 1 });
    const live = makeTrainer(SGD);
    const initial = makeTrainer();
    train(averaged, 3);
    train(live, 3);
    const test = data.test;
    expect(averaged.evaluate(test.images, test.labels)).toEqual(initial.evaluate(test.images, test.labels));
    expect(live.evaluate(test.images, test.labels)).not.toEqual(initial.evaluate(test.images, test.labels));
    expectBitIdentical(averaged.predict(test.images), initial.predict(test.images), 'logits');
    expect(bitIdentical(live.predict(test.images), initial.predict(test.images))).toBe(false);
  });

  it('evaluates the average with flip test-time augmentation too', () => {
    const averaged = makeTrainer({ ...SGD, emaDecay: 1, testTimeFlip: true });
    const initial = makeTrainer({ testTimeFlip: true });
    train(averaged, 2);
    expect(averaged.evaluate(data.test.images, data.test.labels)).toEqual(initial.evaluate(data.test.images, data.test.labels));
  });

  it('trains on the live weights after an evaluation, exactly as a trainer without an average', () => {
    const averaged = makeTrainer({ ...SGD, emaDecay: 0.9 });
    const plain = makeTrainer(SGD);
    train(averaged, 2);
    train(plain, 2);
    averaged.evaluate(data.test.images, data.test.labels);
    averaged.predict(data.test.images);
    const batch = slice(data.train, 16, 16);
    const a = averaged.computeGradients(batch.images, batch.labels);
    const b = plain.computeGradients(batch.images, batch.labels);
    expectBitIdentical(a.flat, b.flat, 'gradients after an evaluation');
    averaged.applyGradients(a.flat);
    plain.applyGradients(b.flat);
    expectBitIdentical(averaged.getValues(), plain.getValues(), 'live values');
  });

  it('keeps the average through getState and setState, and goes on as the trainer that wrote it', () => {
    const options = { ...SGD, emaDecay: 0.9, emaWarmup: true };
    const original = makeTrainer(options);
    const restored = makeTrainer(options, { ...SPEC, seed: 77 });
    train(original, 3);
    restored.setState(original.getState());
    expect(restored.step).toBe(3);
    expectBitIdentical(restored.getWeightAverage()!, original.getWeightAverage()!, 'average');
    expect(restored.evaluate(data.test.images, data.test.labels)).toEqual(original.evaluate(data.test.images, data.test.labels));
    train(original, 1);
    train(restored, 1);
    expectBitIdentical(restored.getWeightAverage()!, original.getWeightAverage()!, 'average one step later');
  });

  it('starts the average at the restored values when the state has none, and drops it when keeping none', () => {
    const plain = makeTrainer(SGD);
    train(plain, 2);
    const averaged = makeTrainer({ ...SGD, emaDecay: 0.9 }, { ...SPEC, seed: 8 });
    averaged.setState(plain.getState());
    expectBitIdentical(averaged.getWeightAverage()!, plain.getValues(), 'average from a state without one');
    const dropped = makeTrainer(SGD, { ...SPEC, seed: 9 });
    dropped.setState(averaged.getState());
    expect(dropped.getWeightAverage()).toBeNull();
    expectBitIdentical(dropped.getState(), plain.getState(), 'state without the average');
  });

  it('writes the average into the state bytes only when there is one', () => {
    const averaged = makeTrainer({ ...SGD, emaDecay: 0.5 });
    const { layout } = averaged;
    const withoutAverage = encodeTrainingState(layout, { step: 0, values: averaged.getValues(), momentumBuffer: null });
    expect(averaged.getState().length - withoutAverage.length).toBe(4 * layout.totalLength);
  });
});

describe('weight average options', () => {
  beforeAll(useWasmBackend);

  it.each([
    { emaDecay: -0.1, message: /emaDecay must be a number in \[0, 1\] \(0: no weight average\), got -0\.1/ },
    { emaDecay: 1.5, message: /emaDecay must be a number in \[0, 1\].*got 1\.5/ },
    { emaDecay: Number.NaN, message: /emaDecay must be a number in \[0, 1\].*got NaN/ },
    { emaDecay: 0, emaWarmup: true, message: /emaWarmup needs emaDecay above 0/ },
  ])('refuses emaDecay $emaDecay with warm-up $emaWarmup, naming the option and its bound', ({ message, ...options }) => {
    const model = buildResNet(SPEC);
    try {
      expect(() => new Trainer(model, options)).toThrow(InvalidOptionsError);
      expect(() => new Trainer(model, options)).toThrow(message);
    } finally {
      model.dispose();
    }
  });

  it('keeps no average at decay 0', () => {
    const trainer = new Trainer(buildResNet(SPEC), { emaDecay: 0 });
    try {
      expect(trainer.getWeightAverage()).toBeNull();
    } finally {
      trainer.dispose();
    }
  });
});
