/**
 * A ResNet-18 training step in plain tfjs ops, the shape of ringtrain's model: the d2l stem
 * (7×7/2 convolution, batch norm, ReLU, 3×3/2 max-pool), four stages of two basic blocks with a
 * 1×1 projection shortcut where the stride or width changes, global average pooling, a dense
 * layer and softmax cross-entropy. Batch norm runs in training mode with the closed-form gradient
 *   dx = γ·σ⁻¹·(dz − mean(dz) − x̂·mean(dz·x̂))
 * that a trainer uses instead of tfjs's generic one (which tiles and runs twice the passes).
 * Weights are seeded, so two backends build identical networks.
 */
import * as tf from '@tensorflow/tfjs-core';

import { seededUniform } from './kernel-compare.ts';

export interface ResNet18Options {
  /** Channels of the stem and the first stage; the stages use 1, 2, 4 and 8 times it. @default 64 */
  readonly width?: number;
  /** Input height and width in pixels. @default 28 */
  readonly imageSize?: number;
  /** Input channels. @default 1 */
  readonly channels?: number;
  /** @default 10 */
  readonly classes?: number;
  /** @default 1 */
  readonly seed?: number;
}

export interface ResNet18 {
  /** Trainable variables in a fixed order. */
  readonly variables: tf.Variable[];
  /** Mean softmax cross-entropy of a batch; call inside a gradient function. */
  loss(x: tf.Tensor4D, labels: tf.Tensor1D): tf.Scalar;
  dispose(): void;
}

const EPSILON = 1e-5;

/** Training-mode batch norm over NHWC with the closed-form gradient, optionally followed by ReLU. */
function batchNormTrain(x: tf.Tensor4D, gamma: tf.Tensor1D, beta: tf.Tensor1D, relu: boolean): tf.Tensor4D {
  const count = x.shape[0] * x.shape[1] * x.shape[2];
  const op = tf.customGrad((...args) => {
    const [xIn, scale, offset, save] = args as [tf.Tensor4D, tf.Tensor1D, tf.Tensor1D, tf.GradSaveFunc];
    const moments = tf.moments(xIn, [0, 1, 2]);
    const mean = moments.mean as tf.Tensor1D;
    const variance = moments.variance as tf.Tensor1D;
    const invStd = tf.rsqrt(tf.add(variance, EPSILON)) as tf.Tensor1D;
    const normalized = tf.batchNorm<tf.Rank.R4>(xIn, mean, variance, offset, scale, EPSILON);
    const y = relu ? tf.relu(normalized) : normalized;
    save([xIn, y, mean, invStd, scale]);
    return {
      value: y,
      gradFunc: (dy: tf.Tensor4D, saved: tf.Tensor[]) => {
        const [xs, ys, mu, inv, g] = saved as [tf.Tensor4D, tf.Tensor4D, tf.Tensor1D, tf.Tensor1D, tf.Tensor1D];
        const dz = relu ? tf.mul(dy, tf.step(ys)) : dy;
        const centered = tf.sub(xs, mu);
        const sumDz = tf.sum(dz, [0, 1, 2]);
        const sumDzCentered = tf.sum(tf.mul(dz, centered), [0, 1, 2]);
        const a = tf.mul(g, inv);
        const b = tf.div(tf.mul(tf.neg(a), tf.mul(tf.square(inv), sumDzCentered)), count);
        const c = tf.div(tf.mul(tf.neg(a), sumDz), count);
        const dx = tf.add(tf.add(tf.mul(dz, a), tf.mul(centered, b)), c);
        return [dx, tf.mul(sumDzCentered, inv), sumDz];
      },
    };
  });
  return op(x, gamma, beta) as tf.Tensor4D;
}

export function buildResNet18(options: ResNet18Options = {}): ResNet18 {
  const width = options.width ?? 64;
  const channels = options.channels ?? 1;
  const classes = options.classes ?? 10;
  const random = seededUniform(options.seed ?? 1);
  const variables: tf.Variable[] = [];
  const variable = (shape: number[], scale: number, fill?: number): tf.Variable => {
    const size = shape.reduce((a, b) => a * b, 1);
    const values = Float32Array.from({ length: size }, () => (fill ?? random() * scale));
    const v = tf.tidy(() => tf.variable(tf.tensor(values, shape, 'float32')));
    variables.push(v);
    return v;
  };

  interface ConvBn {
    readonly kernel: tf.Variable;
    readonly gamma: tf.Variable;
    readonly beta: tf.Variable;
    readonly stride: number;
    readonly relu: boolean;
  }
  const convBn = (size: number, stride: number, inChannels: number, outChannels: number, relu: boolean): ConvBn => ({
    // Uniform with He's variance: √(6 / fan-in).
    kernel: variable([size, size, inChannels, outChannels], Math.sqrt(6 / (size * size * inChannels))),
    gamma: variable([outChannels], 0, 1),
    beta: variable([outChannels], 0, 0),
    stride,
    relu,
  });
  const apply = (x: tf.Tensor4D, unit: ConvBn): tf.Tensor4D =>
    batchNormTrain(tf.conv2d(x, unit.kernel as tf.Tensor4D, unit.stride, 'same'), unit.gamma as tf.Tensor1D, unit.beta as tf.Tensor1D, unit.relu);

  const stem = convBn(7, 2, channels, width, true);
  const blocks: Array<{ path: ConvBn[]; shortcut: ConvBn | null }> = [];
  let inChannels = width;
  [1, 2, 4, 8].forEach((multiple, stage) => {
    const outChannels = width * multiple;
    for (let index = 0; index < 2; index++) {
      const stride = index === 0 && stage > 0 ? 2 : 1;
      blocks.push({
        path: [convBn(3, stride, inChannels, outChannels, true), convBn(3, 1, outChannels, outChannels, false)],
        shortcut: stride !== 1 || inChannels !== outChannels ? convBn(1, stride, inChannels, outChannels, false) : null,
      });
      inChannels = outChannels;
    }
  });
  const denseKernel = variable([inChannels, classes], 1 / Math.sqrt(inChannels));
  const denseBias = variable([classes], 1 / Math.sqrt(inChannels));

  return {
    variables,
    loss(x, labels) {
      let h = tf.maxPool(apply(x, stem), 3, 2, 'same');
      for (const block of blocks) {
        const path = block.path.reduce(apply, h);
        const identity = block.shortcut === null ? h : apply(h, block.shortcut);
        h = tf.relu(tf.add<tf.Tensor4D>(path, identity));
      }
      const features = tf.mean(h, [1, 2]) as tf.Tensor2D;
      const logits = tf.fused.matMul({ a: features, b: denseKernel as tf.Tensor2D, bias: denseBias });
      return tf.losses.softmaxCrossEntropy(tf.oneHot(labels, classes), logits) as tf.Scalar;
    },
    dispose() {
      for (const v of variables) v.dispose();
    },
  };
}

/** A deterministic batch of images in [-1, 1) and labels. */
export function syntheticBatch(batch: number, imageSize: number, channels: number, classes: number, seed: number): { images: Float32Array; labels: Int32Array } {
  const random = seededUniform(seed);
  return {
    images: Float32Array.from({ length: batch * imageSize * imageSize * channels }, random),
    labels: Int32Array.from({ length: batch }, (_, i) => (i * 7 + seed) % classes),
  };
}
