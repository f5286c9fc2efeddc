import { BATCH_NORM_TRAIN, BATCH_NORM_TRAIN_GRAD } from '@ringtrain/backend-native';
import type { BatchNormTrainAttrs } from '@ringtrain/backend-native';
import * as tf from '@tensorflow/tfjs-core';

/** Batch moments of one batch-norm layer in training mode (biased variance, over N·H·W). */
export interface BatchMoments {
  readonly mean: tf.Tensor1D;
  readonly variance: tf.Tensor1D;
  /** Number of values each channel's moments were taken over (N·H·W). */
  readonly count: number;
}

export interface BatchNormTrainResult {
  readonly y: tf.Tensor4D;
  /** Kept past any enclosing `tf.tidy`: the caller disposes them. */
  readonly moments: BatchMoments;
}

/**
 * Training-mode batch norm over NHWC input, optionally followed by ReLU.
 *
 * A backend that has the kernel BATCH_NORM_TRAIN (the native one) runs the layer as that one
 * kernel, and its gradient as BATCH_NORM_TRAIN_GRAD (registered below). Elsewhere it is composed
 * from tfjs ops with a hand-written gradient. tfjs's generic gradient of `batchNorm` after
 * `moments` costs about twice as many full-size passes (and a `tile`); this one uses the textbook
 * closed form
 *   dx = γ·σ⁻¹·(dz − mean(dz) − x̂·mean(dz·x̂))
 * computed from x − μ rather than from raw sums, so large means do not cancel. ReLU is fused in
 * so that its mask comes from the saved output instead of a separate saved pre-activation.
 */
export function batchNormTrain(
  x: tf.Tensor4D,
  gamma: tf.Tensor1D,
  beta: tf.Tensor1D,
  epsilon: number,
  relu: boolean,
): BatchNormTrainResult {
  const count = x.shape[0] * x.shape[1] * x.shape[2];
  if (tf.getKernel(BATCH_NORM_TRAIN, tf.getBackend()) !== undefined) {
    const attrs: BatchNormTrainAttrs = { epsilon, relu };
    const [y, mean, variance] = tf
      .engine()
      .runKernel(BATCH_NORM_TRAIN, { x, scale: gamma, offset: beta }, attrs as unknown as tf.NamedAttrMap) as [tf.Tensor4D, tf.Tensor1D, tf.Tensor1D];
    return { y, moments: { mean: tf.keep(mean), variance: tf.keep(variance), count } };
  }
  let moments: BatchMoments | undefined;
  const op = tf.customGrad((...args) => {
    const [xIn, scale, offset, save] = args as [tf.Tensor4D, tf.Tensor1D, tf.Tensor1D, tf.GradSaveFunc];
    const moments0 = tf.moments(xIn, [0, 1, 2]);
    const mean = moments0.mean as tf.Tensor1D;
    const variance = moments0.variance as tf.Tensor1D;
    const invStd = tf.rsqrt(tf.add(variance, epsilon));
    const normalized = tf.batchNorm<tf.Rank.R4>(xIn, mean, variance, offset, scale, epsilon);
    let y: tf.Tensor4D = normalized;
    if (relu) {
      y = tf.relu(normalized);
      normalized.dispose();
    }
    // customGrad runs this function inside its own tidy; keep the moments past it.
    moments = { mean: tf.keep(mean), variance: tf.keep(variance), count };
    save([xIn, y, mean, invStd, scale]);
    return {
      value: y,
      gradFunc: (dy: tf.Tensor4D, saved: tf.Tensor[]) => {
        const [xs, ys, mu, inv, g] = saved as [tf.Tensor4D, tf.Tensor4D, tf.Tensor1D, tf.Tensor1D, tf.Tensor1D];
        const dz = relu ? tf.mul(dy, tf.step(ys)) : dy;
        const centered = tf.sub(xs, mu);
        const sumDz = tf.sum(dz, [0, 1, 2]);
        const sumDzCentered = tf.sum(tf.mul(dz, centered), [0, 1, 2]);
        const dGamma = tf.mul(sumDzCentered, inv);
        const a = tf.mul(g, inv);
        // dx = a·dz + b·(x − μ) + c, with b = −a·σ⁻²·Σ(dz·(x−μ))/N and c = −a·Σdz/N.
        const b = tf.div(tf.mul(tf.neg(a), tf.mul(tf.square(inv), sumDzCentered)), count);
        const c = tf.div(tf.mul(tf.neg(a), sumDz), count);
        const dx = tf.add(tf.add(tf.mul(dz, a), tf.mul(centered, b)), c);
        return [dx, dGamma, sumDz];
      },
    };
  });
  const y = op(x, gamma, beta) as tf.Tensor4D;
  if (moments === undefined) throw new Error('batchNormTrain: forward pass did not run');
  return { y, moments };
}

/** Evaluation-mode batch norm from running statistics, optionally followed by ReLU. */
export function batchNormInference(
  x: tf.Tensor4D,
  movingMean: tf.Tensor1D,
  movingVariance: tf.Tensor1D,
  gamma: tf.Tensor1D,
  beta: tf.Tensor1D,
  epsilon: number,
  relu: boolean,
): tf.Tensor4D {
  const y = tf.batchNorm<tf.Rank.R4>(x, movingMean, movingVariance, beta, gamma, epsilon);
  return relu ? tf.relu(y) : y;
}

tf.registerGradient({
  kernelName: BATCH_NORM_TRAIN,
  inputsToSave: ['x', 'scale'],
  outputsToSave: [true, true, true],
  gradFunc: (dys, saved, attrs) => {
    const dy = (Array.isArray(dys) ? dys[0] : dys) as tf.Tensor;
    const [x, scale, y, mean, variance] = saved as [tf.Tensor, tf.Tensor, tf.Tensor, tf.Tensor, tf.Tensor];
    const [dx, dScale, dOffset] = tf.engine().runKernel(BATCH_NORM_TRAIN_GRAD, { dy, x, y, mean, variance, scale }, attrs) as tf.Tensor[];
    return { x: () => dx as tf.Tensor, scale: () => dScale as tf.Tensor, offset: () => dOffset as tf.Tensor };
  },
});
