import * as tf from '@tensorflow/tfjs-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import { nativeBackendStats } from '../src/index.ts';
import { relativeError } from './support/kernel-compare.ts';
import type { HostTensor } from './support/kernel-compare.ts';
import { nativeAvailable, nativeSuite, useCpuBackend, useNativeBackend } from './support/native.ts';
import { buildResNet18, syntheticBatch } from './support/resnet18.ts';

interface StepResult {
  readonly losses: number[];
  readonly gradients: HostTensor[];
}

const WIDTH = 8;
const BATCH = 6;
const IMAGE_SIZE = 28;

/** Loss and gradients of the first step on `backend`, then the losses of `extraSteps` SGD steps. */
async function train(backend: 'cpu' | 'native', extraSteps: number): Promise<StepResult> {
  if (backend === 'native') await useNativeBackend(2);
  else await useCpuBackend();
  const net = buildResNet18({ width: WIDTH, imageSize: IMAGE_SIZE, seed: 5 });
  const { images, labels } = syntheticBatch(BATCH, IMAGE_SIZE, 1, 10, 3);
  const x = tf.tensor4d(images, [BATCH, IMAGE_SIZE, IMAGE_SIZE, 1]);
  const y = tf.tensor1d(labels, 'int32');
  const optimizer = tf.train.momentum(0.05, 0.9);
  try {
    const losses: number[] = [];
    const { value, grads } = tf.variableGrads(() => net.loss(x, y), net.variables);
    losses.push(value.dataSync()[0] as number);
    const gradients = net.variables.map((v) => {
      const g = grads[v.name] as tf.Tensor;
      return { shape: g.shape, values: Float32Array.from(g.dataSync() as Float32Array) };
    });
    optimizer.applyGradients(Object.entries(grads).map(([name, tensor]) => ({ name, tensor })));
    tf.dispose([value, ...Object.values(grads)]);
    for (let step = 0; step < extraSteps; step++) {
      const loss = optimizer.minimize(() => net.loss(x, y), true) as tf.Scalar;
      losses.push(loss.dataSync()[0] as number);
      loss.dispose();
    }
    return { losses, gradients };
  } finally {
    optimizer.dispose();
    net.dispose();
    tf.dispose([x, y]);
  }
}

describe.skipIf(!nativeAvailable)(nativeSuite('a ResNet-18 training step on the native backend'), () => {
  let cpu: StepResult;
  let native: StepResult;

  beforeAll(async () => {
    native = await train('native', 3);
    cpu = await train('cpu', 3);
  });
  afterAll(() => useCpuBackend());

  it('has a loss within 1e-3 (relative) of the cpu backend', () => {
    const first = native.losses[0] as number;
    expect(Number.isFinite(first)).toBe(true);
    expect(Math.abs(first - (cpu.losses[0] as number)) / Math.abs(cpu.losses[0] as number)).toBeLessThan(1e-3);
  });

  it('has every gradient within 1e-3 (relative) of the cpu backend', () => {
    expect(native.gradients).toHaveLength(cpu.gradients.length);
    expect(native.gradients.length).toBeGreaterThan(60); // 20 conv+BN units, dense kernel and bias
    const errors = native.gradients.map((g, i) => relativeError(g, cpu.gradients[i] as HostTensor));
    expect(Math.max(...errors)).toBeLessThan(1e-3);
  });

  it('follows the cpu backend through three more momentum-SGD steps', () => {
    native.losses.forEach((loss, step) => {
      const expected = cpu.losses[step] as number;
      expect(Math.abs(loss - expected) / Math.abs(expected), `step ${step}`).toBeLessThan(1e-3);
    });
    expect(native.losses.at(-1) as number).toBeLessThan(native.losses[0] as number);
  });

  it('ran the convolutions, pooling, batch norm and dense layer natively', () => {
    const { kernels } = nativeBackendStats();
    for (const name of ['Conv2D', 'Conv2DBackpropInput', 'Conv2DBackpropFilter', 'MaxPool', 'MaxPoolGrad', 'FusedBatchNorm', '_FusedMatMul', 'Mean', 'Sum']) {
      expect(kernels.get(name)?.native, name).toBeGreaterThan(0);
    }
  });
});
