import * as tf from '@tensorflow/tfjs-core';
import { describe, expect, it } from 'vitest';

import { bindVariable, isBoundTo, readTensorInto, writeVariable } from '../src/tensor-io.ts';
import { useCpuBackend, useWasmBackend } from './support/backend.ts';
import { expectBitIdentical } from './support/floats.ts';

const backends = [
  ['wasm', useWasmBackend],
  ['cpu', useCpuBackend],
] as const;

describe.each(backends)('copying between tensors and arrays on the %s backend', (_name, useBackend) => {
  it('reads a tensor’s values into an array at an offset', async () => {
    await useBackend();
    const values = Float32Array.from({ length: 12 }, (_, i) => i * 0.5 - 3);
    const tensor = tf.tensor(values, [3, 4]);
    const out = new Float32Array(20).fill(7);
    readTensorInto(tensor, out, 5);
    expectBitIdentical(out.subarray(5, 17), values);
    expect(out[4]).toBe(7);
    expect(out[17]).toBe(7);
    expect(() => readTensorInto(tensor, out, 10)).toThrow(/cannot copy 12 values to offset 10 of an array of 20/);
    tensor.dispose();
  });

  it('writes a variable without keeping a reference to the caller’s array', async () => {
    await useBackend();
    const variable = tf.variable(tf.zeros([2, 3]));
    const values = new Float32Array([1, 2, 3, 4, 5, 6]);
    writeVariable(variable, values);
    values.fill(0);
    expect([...variable.dataSync()]).toEqual([1, 2, 3, 4, 5, 6]);
    expect(() => writeVariable(variable, new Float32Array(5))).toThrow(/cannot write 5 values into a variable of 6/);
    variable.dispose();
  });

  it('lets a convolution see a filter’s new values', async () => {
    // The wasm backend's XNNPACK convolutions cache packed filters by tensor id.
    await useBackend();
    const x = tf.randomNormal([1, 5, 5, 2], 0, 1, 'float32', 1) as tf.Tensor4D;
    const filter = tf.variable(tf.randomNormal([3, 3, 2, 4], 0, 1, 'float32', 2));
    tf.conv2d(x, filter as tf.Tensor4D, 1, 'same').dispose();
    const next = tf.randomNormal([3, 3, 2, 4], 0, 1, 'float32', 3);
    writeVariable(filter, next.dataSync() as Float32Array);
    const actual = tf.conv2d(x, filter as tf.Tensor4D, 1, 'same');
    const expected = tf.conv2d(x, next as tf.Tensor4D, 1, 'same');
    expectBitIdentical(actual.dataSync(), expected.dataSync(), 'convolution after the write');
    for (const t of [x, filter, next, actual, expected]) t.dispose();
  });
});

describe('binding a variable to an array', () => {
  it('makes the variable read the array in place on the cpu backend', async () => {
    await useCpuBackend();
    const variable = tf.variable(tf.zeros([2, 2]));
    const values = new Float32Array([1, 2, 3, 4]);
    expect(bindVariable(variable, values)).toBe(true);
    expect(isBoundTo(variable, values)).toBe(true);
    values[3] = 40;
    expect([...variable.dataSync()]).toEqual([1, 2, 3, 40]);
    variable.assign(tf.ones([2, 2]));
    expect(isBoundTo(variable, values)).toBe(false);
    variable.dispose();
  });

  it('copies on the wasm backend, which keeps tensors in its own heap', async () => {
    await useWasmBackend();
    const variable = tf.variable(tf.zeros([2, 2]));
    const values = new Float32Array([1, 2, 3, 4]);
    expect(bindVariable(variable, values)).toBe(false);
    expect(isBoundTo(variable, values)).toBe(false);
    values[3] = 40;
    expect([...variable.dataSync()]).toEqual([1, 2, 3, 4]);
    expect(() => bindVariable(variable, new Float32Array(3))).toThrow(/cannot write 3 values into a variable of 4/);
    variable.dispose();
  });
});
