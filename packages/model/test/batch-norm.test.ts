import * as tf from '@tensorflow/tfjs-core';
import { beforeAll, describe, expect, it } from 'vitest';

import '../src/register-gradients.ts';
import { batchNormTrain } from '../src/batch-norm.ts';
import { useCpuBackend } from './support/backend.ts';

/** The textbook forward pass, differentiated by tfjs's own gradients. */
function reference(x: tf.Tensor4D, gamma: tf.Tensor1D, beta: tf.Tensor1D, epsilon: number, relu: boolean): tf.Tensor4D {
  const { mean, variance } = tf.moments(x, [0, 1, 2]);
  const y = tf.batchNorm<tf.Rank.R4>(x, mean as tf.Tensor1D, variance as tf.Tensor1D, beta, gamma, epsilon);
  return relu ? tf.relu(y) : y;
}

function maxRelativeError(actual: tf.Tensor, expected: tf.Tensor): number {
  return tf.tidy(() => {
    const scale = tf.add(tf.max(tf.abs(expected)), 1e-12);
    return tf.div(tf.max(tf.abs(tf.sub(actual, expected))), scale).dataSync()[0] as number;
  });
}

describe('training-mode batch norm with its closed-form gradient', () => {
  beforeAll(useCpuBackend);

  it.each([
    [[4, 5, 5, 3], false, 0],
    [[2, 7, 3, 8], true, 1],
    [[16, 1, 1, 6], true, 2],
    [[3, 4, 6, 2], false, 3],
  ] as const)('matches tfjs’s autodiff for input %j (ReLU %s)', (shape, relu, seed) => {
    tf.tidy(() => {
      // An offset mean makes cancellation in the gradient visible if it happens.
      const x = tf.add(tf.randomNormal([...shape], 0, 2, 'float32', seed), 5) as tf.Tensor4D;
      const channels = shape[3];
      const gamma = tf.randomUniform([channels], 0.5, 1.5, 'float32', seed + 10) as tf.Tensor1D;
      const beta = tf.randomNormal([channels], 0, 1, 'float32', seed + 20) as tf.Tensor1D;
      const dy = tf.randomNormal([...shape], 0, 1, 'float32', seed + 30) as tf.Tensor4D;
      const loss = (f: typeof reference) => (a: tf.Tensor, g: tf.Tensor, b: tf.Tensor) =>
        tf.sum(tf.mul(f(a as tf.Tensor4D, g as tf.Tensor1D, b as tf.Tensor1D, 1e-5, relu), dy));
      const ours = (a: tf.Tensor4D, g: tf.Tensor1D, b: tf.Tensor1D, eps: number, r: boolean) => {
        const { y, moments } = batchNormTrain(a, g, b, eps, r);
        moments.mean.dispose();
        moments.variance.dispose();
        return y;
      };
      const expected = tf.grads(loss(reference))([x, gamma, beta]);
      const actual = tf.grads(loss(ours))([x, gamma, beta]);
      expected.forEach((e, i) => expect(maxRelativeError(actual[i]!, e), `gradient ${i}`).toBeLessThan(1e-4));
      expect(maxRelativeError(ours(x, gamma, beta, 1e-5, relu), reference(x, gamma, beta, 1e-5, relu))).toBeLessThan(1e-5);
    });
  });

  it('reports the biased batch moments and how many values each channel has', () => {
    const x = tf.tensor4d([1, 2, 3, 4, 5, 6, 7, 8], [2, 2, 1, 2]);
    const gamma = tf.ones([2]) as tf.Tensor1D;
    const beta = tf.zeros([2]) as tf.Tensor1D;
    const { y, moments } = batchNormTrain(x, gamma, beta, 1e-5, false);
    expect([...moments.mean.dataSync()]).toEqual([4, 5]);
    expect([...moments.variance.dataSync()]).toEqual([5, 5]); // ((3² + 1² + 1² + 3²) / 4)
    expect(moments.count).toBe(4);
    for (const t of [x, gamma, beta, y, moments.mean, moments.variance]) t.dispose();
  });
});
