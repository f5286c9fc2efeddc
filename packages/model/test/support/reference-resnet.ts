import * as tf from '@tensorflow/tfjs-core';

import type { ConvBnSpec, ResNet } from '../../src/resnet.ts';

/**
 * The training-mode loss of a ResNet written the textbook way (`tf.moments` + `tf.batchNorm`,
 * separate ReLU), for tfjs's own autodiff to differentiate: the yardstick for the trainer's
 * hand-written batch-norm gradient inside a whole network.
 */
export function referenceTrainingLoss(model: ResNet, x: tf.Tensor4D, labels: tf.Tensor1D): tf.Scalar {
  const variable = <T extends tf.Tensor>(name: string) => model.variable(name) as unknown as T;
  const unit = (input: tf.Tensor4D, { conv, bn, relu }: ConvBnSpec): tf.Tensor4D => {
    const convolved = tf.conv2d(input, variable<tf.Tensor4D>(`${conv.name}/kernel`), conv.stride, 'same');
    const { mean, variance } = tf.moments(convolved, [0, 1, 2]);
    const gamma = variable<tf.Tensor1D>(`${bn.name}/gamma`);
    const beta = variable<tf.Tensor1D>(`${bn.name}/beta`);
    const y = tf.batchNorm<tf.Rank.R4>(convolved, mean as tf.Tensor1D, variance as tf.Tensor1D, beta, gamma, 1e-5);
    return relu ? tf.relu(y) : y;
  };
  const { architecture } = model;
  let h = unit(x, architecture.stem);
  if (architecture.stemMaxPool) h = tf.maxPool(h, 3, 2, 'same');
  for (const block of architecture.blocks) {
    let path = h;
    for (const spec of block.path) path = unit(path, spec);
    const identity = block.shortcut === null ? h : unit(h, block.shortcut);
    h = tf.relu(tf.add<tf.Tensor4D>(path, identity));
  }
  const features = tf.mean(h, [1, 2]) as tf.Tensor2D;
  const logits = tf.add(tf.matMul(features, variable<tf.Tensor2D>('fc/kernel')), variable<tf.Tensor1D>('fc/bias')) as tf.Tensor2D;
  const oneHot = tf.oneHot(labels, architecture.head.units);
  return tf.losses.softmaxCrossEntropy(oneHot, logits, undefined, 0, tf.Reduction.MEAN) as tf.Scalar;
}
