/**
 * Training-mode batch normalisation as two kernels that tfjs itself does not have, so that a
 * model can run the layer forward and backward in two passes each (see
 * native/batch_norm_train.cc) instead of a dozen tfjs ops. @ringtrain/model calls them, and
 * registers the gradient that links them, when the current backend has them.
 *
 *   BATCH_NORM_TRAIN       inputs  x (NHWC or any […, C]), scale [C], offset [C]
 *                          attrs   epsilon, relu (a fused ReLU after the affine step)
 *                          outputs y (x's shape), mean [C], variance [C] (biased, over all rows)
 *   BATCH_NORM_TRAIN_GRAD  inputs  dy, x, y, mean, variance, scale (the forward's)
 *                          attrs   epsilon, relu
 *                          outputs dx, dScale, dOffset
 *
 * There is no cpu kernel to fall back to: inputs that are not float32 are an error.
 */
import type { KernelConfig, TensorInfo } from '@tensorflow/tfjs-core';

import { UnsupportedKernelInputError } from '../errors.ts';
import { float32Values, output } from './kernel-context.ts';
import type { KernelContext } from './kernel-context.ts';

export const BATCH_NORM_TRAIN = 'RingtrainBatchNormTrain';
export const BATCH_NORM_TRAIN_GRAD = 'RingtrainBatchNormTrainGrad';

export interface BatchNormTrainAttrs {
  readonly epsilon: number;
  readonly relu: boolean;
}

export function batchNormTrainKernels(context: KernelContext): KernelConfig[] {
  const { addon } = context;
  return [
    context.ownKernel(BATCH_NORM_TRAIN, ({ inputs, backend, attrs }) => {
      const { x, scale, offset } = inputs as Record<'x' | 'scale' | 'offset', TensorInfo>;
      const { epsilon, relu } = attrs as unknown as BatchNormTrainAttrs;
      const values = requireFloat32(BATCH_NORM_TRAIN, backend, { x, scale, offset });
      const channels = x.shape[x.shape.length - 1] ?? 0;
      const y = backend.allocate(values.x.length);
      const mean = backend.allocate(channels);
      const variance = backend.allocate(channels);
      addon.batchNormTrain(values.x, values.scale, values.offset, y, mean, variance, channels, epsilon, relu ? 1 : 0);
      return [output(backend, [...x.shape], y), output(backend, [channels], mean), output(backend, [channels], variance)];
    }),
    context.ownKernel(BATCH_NORM_TRAIN_GRAD, ({ inputs, backend, attrs }) => {
      const { dy, x, y, mean, variance, scale } = inputs as Record<'dy' | 'x' | 'y' | 'mean' | 'variance' | 'scale', TensorInfo>;
      const { epsilon, relu } = attrs as unknown as BatchNormTrainAttrs;
      const values = requireFloat32(BATCH_NORM_TRAIN_GRAD, backend, { dy, x, y, mean, variance, scale });
      const channels = x.shape[x.shape.length - 1] ?? 0;
      for (const [name, tensor] of [['dy', dy], ['y', y]] as const) {
        if (tensor.shape.join('×') !== x.shape.join('×')) {
          throw new UnsupportedKernelInputError(BATCH_NORM_TRAIN_GRAD, `${name} has shape [${tensor.shape}], x has [${x.shape}]`);
        }
      }
      for (const [name, array] of [['mean', values.mean], ['variance', values.variance], ['scale', values.scale]] as const) {
        if (array.length !== channels) {
          throw new UnsupportedKernelInputError(BATCH_NORM_TRAIN_GRAD, `${name} has ${array.length} values, x has ${channels} channels`);
        }
      }
      const dx = backend.allocate(values.x.length);
      const dScale = backend.allocate(channels);
      const dOffset = backend.allocate(channels);
      addon.batchNormTrainGrad(values.dy, values.x, relu ? values.y : null, values.mean, values.variance, values.scale, dx, dScale, dOffset, epsilon);
      return [output(backend, [...x.shape], dx), output(backend, [channels], dScale), output(backend, [channels], dOffset)];
    }),
  ];
}

function requireFloat32<K extends string>(
  kernelName: string,
  backend: Parameters<typeof float32Values>[0],
  tensors: Record<K, TensorInfo | undefined>,
): Record<K, Float32Array> {
  const values = {} as Record<K, Float32Array>;
  for (const name of Object.keys(tensors) as K[]) {
    const tensor = tensors[name];
    const array = float32Values(backend, tensor);
    if (array === null) {
      throw new UnsupportedKernelInputError(kernelName, `input '${name}' must be a float32 tensor, got ${tensor?.dtype ?? 'nothing'}`);
    }
    values[name] = array;
  }
  return values;
}
