import * as tf from '@tensorflow/tfjs-core';
import { afterEach, beforeAll, describe, expect, it } from 'vitest';

import { InvalidOptionsError } from '../src/errors.ts';
import { flatLayoutFor } from '../src/flat-layout.ts';
import { buildResNet, describeResNet } from '../src/resnet.ts';
import type { ResNetSpecInput } from '../src/resnet.ts';
import { backwardSegments, SegmentedGradientWriter } from '../src/segmented-backward.ts';
import type { FlatRange } from '../src/segmented-backward.ts';
import { Trainer } from '../src/trainer.ts';
import { nativeAvailable, useCpuBackend, useNativeBackend, useWasmBackend } from './support/backend.ts';
import { expectBitIdentical } from './support/floats.ts';

const SPECS: ResNetSpecInput[] = [
  { depth: 18, stem: 'small', widthMultiplier: 0.0625, imageSize: 8, seed: 5 },
  { depth: 50, stem: 'small', widthMultiplier: 0.0625, imageSize: 8, seed: 6 },
];

describe('backwardSegments', () => {
  it.each(SPECS)('cuts ResNet-$depth into statistics, head, four stages and stem, covering the vector from its end to its start', (spec) => {
    const layout = flatLayoutFor(describeResNet(spec));
    const segments = backwardSegments(layout);
    expect(segments.map((s) => s.segment)).toEqual(['statistics', 'head', 'stage4', 'stage3', 'stage2', 'stage1', 'stem']);
    expect(segments[0]?.end).toBe(layout.totalLength);
    expect(segments.at(-1)?.start).toBe(0);
    for (let i = 1; i < segments.length; i++) expect(segments[i]?.end).toBe(segments[i - 1]?.start);
    for (const s of segments) expect(s.end).toBeGreaterThan(s.start);
  });
});

const BACKENDS = [
  { name: 'cpu', use: useCpuBackend },
  { name: 'wasm', use: useWasmBackend },
  ...(nativeAvailable ? [{ name: 'native', use: useNativeBackend }] : []),
];

describe.each(BACKENDS)('the segmented backward on the $name backend', ({ use }) => {
  const trainers: Trainer[] = [];
  beforeAll(async () => {
    await use();
  });
  afterEach(() => {
    for (const trainer of trainers.splice(0)) trainer.dispose();
  });

  const batchFor = (spec: ResNetSpecInput, count: number): { x: Float32Array; labels: Int32Array } => {
    const size = spec.imageSize ?? 28;
    const x = new Float32Array(count * size * size);
    for (let i = 0; i < x.length; i++) x[i] = Math.sin(i * 0.37) + 0.1 * ((i * 7919) % 13);
    const labels = Int32Array.from({ length: count }, (_, i) => (i * 3) % 10);
    return { x, labels };
  };

  it.each(SPECS)('writes the flat vector of the whole-model backward bit for bit at depth $depth, and leaks no tensor', (spec) => {
    const trainer = new Trainer(buildResNet(spec), { learningRate: 0.05 });
    trainers.push(trainer);
    const { x, labels } = batchFor(spec, 6);
    // One ordinary step first, so the running statistics and momentum are not at their initial values.
    trainer.applyGradients(trainer.computeGradients(x, labels).flat);

    const whole = trainer.computeGradients(x, labels);
    const before = tf.memory().numTensors;
    const ranges: FlatRange[] = [];
    const snapshots: Float32Array[] = [];
    const into = new Float32Array(trainer.layout.totalLength).fill(Number.NaN);
    const segmented = trainer.computeGradients(x, labels, {
      into,
      onSegmentReady: (range) => {
        ranges.push(range);
        snapshots.push(into.slice(range.start, range.end));
      },
    });
    expect(tf.memory().numTensors).toBe(before);
    expect(segmented.flat).toBe(into);
    expect(segmented.loss).toBe(whole.loss);
    expect(segmented.correct).toBe(whole.correct);
    expectBitIdentical(segmented.flat, whole.flat, 'segmented flat vector');
    expect(ranges).toEqual(backwardSegments(trainer.layout));
    // What a segment held when it was announced is what it holds at the end: it was final.
    ranges.forEach((range, i) => expectBitIdentical(snapshots[i] as Float32Array, whole.flat.subarray(range.start, range.end), `${range.segment} when announced`));
  });

  it('announces the statistics before the backward pass reaches any parameter', () => {
    const spec = SPECS[0] as ResNetSpecInput;
    const trainer = new Trainer(buildResNet(spec));
    trainers.push(trainer);
    const { x, labels } = batchFor(spec, 4);
    const into = new Float32Array(trainer.layout.totalLength).fill(Number.NaN);
    const gradientFilledAtStatistics: boolean[] = [];
    trainer.computeGradients(x, labels, {
      into,
      onSegmentReady: (range) => {
        if (range.segment === 'statistics') gradientFilledAtStatistics.push(into.subarray(0, trainer.layout.gradientLength).some((v) => !Number.isNaN(v)));
      },
    });
    expect(gradientFilledAtStatistics).toEqual([false]);
  });
});

describe('SegmentedGradientWriter', () => {
  beforeAll(async () => {
    await useCpuBackend();
  });

  it('refuses a parameter the layout does not have', () => {
    const layout = flatLayoutFor(describeResNet(SPECS[0] as ResNetSpecInput));
    const writer = new SegmentedGradientWriter(layout, new Float32Array(layout.totalLength), () => {});
    const tensor = tf.scalar(1);
    expect(() => writer.read('layer9.0.conv1/kernel', tensor)).toThrow(/no parameter 'layer9.0.conv1\/kernel'/);
    tensor.dispose();
  });

  it('names the parameters that received no gradient when the step ends', () => {
    const layout = flatLayoutFor(describeResNet(SPECS[0] as ResNetSpecInput));
    const writer = new SegmentedGradientWriter(layout, new Float32Array(layout.totalLength), () => {});
    writer.statisticsWritten();
    expect(() => writer.finish()).toThrow(InvalidOptionsError);
    expect(() => writer.finish()).toThrow(/finished 1 of 7 segments; no gradient reached conv1\/kernel, bn1\/gamma/);
  });

  it('refuses a flat vector of the wrong length', () => {
    const layout = flatLayoutFor(describeResNet(SPECS[0] as ResNetSpecInput));
    expect(() => new SegmentedGradientWriter(layout, new Float32Array(3), () => {})).toThrow(`the flat vector has 3 values, the layout ${layout.totalLength}`);
  });
});
