import * as tf from '@tensorflow/tfjs-core';
// tfjs-core registers no gradients by itself; the tfjs-layers bundle registers all of them.
import '@tensorflow/tfjs-layers';
import { beforeAll, describe, expect, it } from 'vitest';

import { selectBackend } from '../../src/backends/index.ts';
import { randomHostTensor, relativeError, seededUniform } from './support/kernel-compare.ts';
import type { HostTensor } from './support/kernel-compare.ts';

beforeAll(async () => {
  await selectBackend('wasm');
});

const random = seededUniform(42);
const inputs = {
  x: randomHostTensor([3, 11, 11, 2], random),
  stem: randomHostTensor([7, 7, 2, 5], random),
  body: randomHostTensor([3, 3, 5, 6], random),
  shortcut: randomHostTensor([1, 1, 5, 6], random),
};

/** A stride-2 7×7 stem, then a 3×3/2 path and a 1×1/2 shortcut, like a ResNet's first blocks. */
function loss(x: tf.Tensor4D, stem: tf.Tensor4D, body: tf.Tensor4D, shortcut: tf.Tensor4D): tf.Scalar {
  const h = tf.relu(tf.conv2d(x, stem, 2, 'same'));
  const path = tf.conv2d(h, body, 2, 'same');
  const skip = tf.conv2d(h, shortcut, 2, 'valid');
  return tf.sum(tf.square(tf.add(path, skip)));
}

async function gradientsOn(backend: string): Promise<HostTensor[]> {
  await tf.setBackend(backend);
  const tensors = [inputs.x, inputs.stem, inputs.body, inputs.shortcut].map((t) =>
    tf.tensor4d(t.values, t.shape as [number, number, number, number]),
  );
  const grads = tf.grads((x, stem, body, shortcut) =>
    loss(x as tf.Tensor4D, stem as tf.Tensor4D, body as tf.Tensor4D, shortcut as tf.Tensor4D),
  )(tensors);
  const values = grads.map((g) => ({ shape: g.shape, values: g.dataSync() as Float32Array }));
  tf.dispose([...tensors, ...grads]);
  return values;
}

describe('tf.grad of a convolutional loss on wasm', () => {
  it('equals the cpu backend for the input and every filter', async () => {
    const wasm = await gradientsOn('wasm');
    const cpu = await gradientsOn('cpu');
    expect(wasm.map((g) => g.shape)).toEqual([
      [3, 11, 11, 2],
      [7, 7, 2, 5],
      [3, 3, 5, 6],
      [1, 1, 5, 6],
    ]);
    wasm.forEach((g, i) => expect(relativeError(g, cpu[i] as HostTensor), `gradient ${i}`).toBeLessThan(1e-5));
  });

  it('leaves tf.memory().numTensors where it was', async () => {
    await tf.setBackend('wasm');
    await gradientsOn('wasm');
    const before = tf.memory().numTensors;
    for (let i = 0; i < 3; i++) await gradientsOn('wasm');
    expect(tf.memory().numTensors).toBe(before);
  });
});
