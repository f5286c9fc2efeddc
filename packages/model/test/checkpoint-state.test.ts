import { afterEach, beforeAll, describe, expect, it } from 'vitest';

import { decodeTrainingState, encodeTrainingState } from '../src/checkpoint-state.ts';
import { CheckpointStateCorruptError, CheckpointStateMismatchError } from '../src/errors.ts';
import { flatLayoutFor } from '../src/flat-layout.ts';
import { buildResNet, describeResNet } from '../src/resnet.ts';
import type { ResNetSpecInput } from '../src/resnet.ts';
import { Trainer } from '../src/trainer.ts';
import { useWasmBackend } from './support/backend.ts';
import { loadFashionMnistSubset, slice } from './support/fashion-mnist.ts';
import type { FashionMnistSubset } from './support/fashion-mnist.ts';
import { expectBitIdentical } from './support/floats.ts';

const SPEC: ResNetSpecInput = { depth: 18, stem: 'small', widthMultiplier: 0.125, imageSize: 12, seed: 11 };
const layout = flatLayoutFor(describeResNet(SPEC));

/** Values including the awkward ones: −0, subnormals, infinities and a NaN with a payload. */
function awkwardValues(length: number): Float32Array {
  const values = new Float32Array(length);
  const bits = new Uint32Array(values.buffer);
  for (let i = 0; i < length; i++) values[i] = Math.sin(i * 12.9898) * 43758.5453;
  values[0] = -0;
  bits[1] = 0x00000001; // smallest subnormal
  values[2] = Infinity;
  bits[3] = 0x7fc01234; // NaN with a payload
  return values;
}

describe('training state as bytes', () => {
  let data: FashionMnistSubset;
  const trainers: Trainer[] = [];
  beforeAll(async () => {
    await useWasmBackend();
    data = await loadFashionMnistSubset(48, 1, 12);
  });
  afterEach(() => {
    for (const trainer of trainers.splice(0)) trainer.dispose();
  });

  it('round-trips values, momentum buffer and step bit for bit', () => {
    const values = awkwardValues(layout.totalLength);
    const momentumBuffer = awkwardValues(layout.gradientLength).reverse();
    const decoded = decodeTrainingState(layout, encodeTrainingState(layout, { step: 1234, values, momentumBuffer }));
    expect(decoded.step).toBe(1234);
    expectBitIdentical(decoded.values, values, 'values');
    expectBitIdentical(decoded.momentumBuffer!, momentumBuffer, 'momentum buffer');
    const fresh = decodeTrainingState(layout, encodeTrainingState(layout, { step: 0, values, momentumBuffer: null }));
    expect(fresh.momentumBuffer).toBeNull();
  });

  it('round-trips a weight average bit for bit, with or without a momentum buffer', () => {
    const values = awkwardValues(layout.totalLength);
    const weightAverage = awkwardValues(layout.totalLength).reverse();
    for (const momentumBuffer of [null, awkwardValues(layout.gradientLength)]) {
      const decoded = decodeTrainingState(layout, encodeTrainingState(layout, { step: 7, values, momentumBuffer, weightAverage }));
      expectBitIdentical(decoded.weightAverage!, weightAverage, 'weight average');
      expectBitIdentical(decoded.values, values, 'values');
    }
    expect(decodeTrainingState(layout, encodeTrainingState(layout, { step: 0, values, momentumBuffer: null })).weightAverage).toBeNull();
    expect(() => encodeTrainingState(layout, { step: 0, values, momentumBuffer: null, weightAverage: new Float32Array(5) })).toThrow(
      /cannot encode a weight average of 5 values for a layout of \d+/,
    );
  });

  it('reads state of format version 1, which has no weight average', () => {
    const values = awkwardValues(layout.totalLength);
    const bytes = encodeTrainingState(layout, { step: 3, values, momentumBuffer: null });
    const version1 = bytes.slice();
    new DataView(version1.buffer).setUint32(4, 1, true);
    const decoded = decodeTrainingState(layout, version1);
    expect(decoded.step).toBe(3);
    expect(decoded.weightAverage).toBeNull();
    expectBitIdentical(decoded.values, values, 'values');
  });

  it('restores a trainer so that it continues exactly like the one that wrote the state', () => {
    const options = { learningRate: 0.05, sgd: { momentum: 0.9, nesterov: true } };
    const original = new Trainer(buildResNet(SPEC), options);
    const restored = new Trainer(buildResNet({ ...SPEC, seed: 99 }), options);
    trainers.push(original, restored);
    for (let step = 0; step < 2; step++) {
      const batch = slice(data.train, step * 16, 16);
      original.applyGradients(original.computeGradients(batch.images, batch.labels).flat);
    }
    const bytes = original.getState();
    restored.setState(bytes);
    expect(restored.step).toBe(2);
    expectBitIdentical(restored.getValues(), original.getValues(), 'values');
    expectBitIdentical(restored.getState(), bytes, 'state bytes');
    const batch = slice(data.train, 32, 16);
    const a = original.computeGradients(batch.images, batch.labels);
    const b = restored.computeGradients(batch.images, batch.labels);
    expectBitIdentical(b.flat, a.flat, 'flat vectors after restoring');
    original.applyGradients(a.flat);
    restored.applyGradients(b.flat);
    expectBitIdentical(restored.getValues(), original.getValues(), 'values one step later');
  });

  it('names what is wrong with damaged bytes', () => {
    const bytes = encodeTrainingState(layout, { step: 5, values: new Float32Array(layout.totalLength), momentumBuffer: null });
    expect(() => decodeTrainingState(layout, bytes.subarray(0, 6))).toThrow(/truncated: 6 bytes/);
    expect(() => decodeTrainingState(layout, bytes.subarray(0, bytes.length - 4))).toThrow(CheckpointStateCorruptError);
    expect(() => decodeTrainingState(layout, bytes.subarray(0, bytes.length - 4))).toThrow(/has \d+ bytes, its header implies \d+/);
    const badMagic = bytes.slice();
    badMagic[0] = 0x58;
    expect(() => decodeTrainingState(layout, badMagic)).toThrow(/magic 'XTCK', expected 'RTCK'/);
    const badVersion = bytes.slice();
    badVersion[4] = 9;
    expect(() => decodeTrainingState(layout, badVersion)).toThrow(/format version 9 is not supported \(this build reads 1 and 2\)/);
    const badHeader = bytes.slice();
    badHeader[12] = 0x5b; // '[' where '{' was
    expect(() => decodeTrainingState(layout, badHeader)).toThrow(/header/);
  });

  it('refuses state written for another architecture', () => {
    const other = flatLayoutFor(describeResNet({ ...SPEC, widthMultiplier: 0.25 }));
    const bytes = encodeTrainingState(other, { step: 0, values: new Float32Array(other.totalLength), momentumBuffer: null });
    expect(() => decodeTrainingState(layout, bytes)).toThrow(CheckpointStateMismatchError);
    expect(() => decodeTrainingState(layout, bytes)).toThrow(/written for flat layout .* this model has/);
    expect(() => encodeTrainingState(layout, { step: 0, values: new Float32Array(3), momentumBuffer: null })).toThrow(
      /cannot encode 3 values/,
    );
  });
});
