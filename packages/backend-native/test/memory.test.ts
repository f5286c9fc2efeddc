import * as tf from '@tensorflow/tfjs-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import { nativeBackendStats } from '../src/index.ts';
import { nativeAvailable, nativeSuite, useCpuBackend, useNativeBackend } from './support/native.ts';
import { buildResNet18, syntheticBatch } from './support/resnet18.ts';

const STEPS = 1000;
const WARMUP_STEPS = 200;
const MAX_NATIVE_GROWTH_BYTES = 24 * 1024 * 1024;

/**
 * Resident memory outside the JavaScript heap: native allocations and array buffers. (The heap
 * itself swings by tens of megabytes with the garbage collector's schedule.)
 */
function residentOutsideHeap(): number {
  const usage = process.memoryUsage();
  return usage.rss - usage.heapTotal;
}

describe.skipIf(!nativeAvailable)(nativeSuite('memory over many native training steps'), () => {
  beforeAll(() => useNativeBackend(1));
  afterAll(() => useCpuBackend());

  it(`keeps tensors, backend buffers, cached primitives and resident memory outside the heap flat over ${STEPS} steps`, () => {
    const net = buildResNet18({ width: 4, imageSize: 16, seed: 9 });
    const { images, labels } = syntheticBatch(2, 16, 1, 10, 4);
    const x = tf.tensor4d(images, [2, 16, 16, 1]);
    const y = tf.tensor1d(labels, 'int32');
    const optimizer = tf.train.sgd(0.01);
    const step = (): void => {
      const loss = optimizer.minimize(() => net.loss(x, y), true) as tf.Scalar;
      loss.dataSync();
      loss.dispose();
    };
    try {
      for (let i = 0; i < WARMUP_STEPS; i++) step();
      const tensors = tf.memory().numTensors;
      const buffers = tf.engine().backend.numDataIds();
      const primitives = nativeBackendStats().cachedPrimitives;
      const resident = residentOutsideHeap();
      for (let i = WARMUP_STEPS; i < STEPS; i++) {
        step();
        if (i % 100 === 0) expect(tf.memory().numTensors, `tensors after step ${i}`).toBe(tensors);
      }
      expect(tf.memory().numTensors).toBe(tensors);
      expect(tf.engine().backend.numDataIds()).toBe(buffers);
      expect(nativeBackendStats().cachedPrimitives).toBe(primitives);
      expect(nativeBackendStats().cacheHits).toBeGreaterThan(STEPS * 10);
      expect(residentOutsideHeap() - resident).toBeLessThan(MAX_NATIVE_GROWTH_BYTES);
    } finally {
      optimizer.dispose();
      net.dispose();
      tf.dispose([x, y]);
    }
  });

  it('releases every buffer of a step when its tensors are disposed', () => {
    const buffers = tf.engine().backend.numDataIds();
    const tensors = tf.memory().numTensors;
    tf.tidy(() => {
      const x = tf.randomNormal([4, 9, 9, 3]);
      const w = tf.randomNormal([3, 3, 3, 5]);
      const g = tf.grads((a: tf.Tensor, b: tf.Tensor) => tf.sum(tf.relu(tf.conv2d(a as tf.Tensor4D, b as tf.Tensor4D, 2, 'same'))))([x, w]);
      expect(g).toHaveLength(2);
    });
    expect(tf.memory().numTensors).toBe(tensors);
    expect(tf.engine().backend.numDataIds()).toBe(buffers);
  });
});
