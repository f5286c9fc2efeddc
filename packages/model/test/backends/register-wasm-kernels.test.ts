import * as tf from '@tensorflow/tfjs-core';
import '@tensorflow/tfjs-backend-wasm';
import { describe, expect, it } from 'vitest';

import { registerWasmTrainingKernels, unregisterWasmTrainingKernels } from '../../src/backends/index.ts';

describe('registering the wasm training kernels', () => {
  it('adds Conv2DBackpropFilter, replaces Conv2D and Conv2DBackpropInput, and puts the originals back', () => {
    const shippedConv2D = tf.getKernel('Conv2D', 'wasm');
    const shippedInputGrad = tf.getKernel('Conv2DBackpropInput', 'wasm');
    const shippedMaxPoolGrad = tf.getKernel('MaxPoolGrad', 'wasm');
    expect(tf.getKernel('Conv2DBackpropFilter', 'wasm')).toBeUndefined();

    registerWasmTrainingKernels();
    expect(tf.getKernel('Conv2DBackpropFilter', 'wasm')).toBeDefined();
    expect(tf.getKernel('Conv2D', 'wasm').kernelFunc).not.toBe(shippedConv2D.kernelFunc);
    // The override keeps the C++ setup of the kernel it wraps, for backends started later.
    expect(tf.getKernel('Conv2D', 'wasm').setupFunc).toBe(shippedConv2D.setupFunc);
    expect(tf.getKernel('Conv2DBackpropInput', 'wasm').kernelFunc).not.toBe(shippedInputGrad.kernelFunc);
    expect(tf.getKernel('MaxPoolGrad', 'wasm').kernelFunc).not.toBe(shippedMaxPoolGrad.kernelFunc);

    registerWasmTrainingKernels(); // twice is harmless
    unregisterWasmTrainingKernels();
    expect(tf.getKernel('Conv2DBackpropFilter', 'wasm')).toBeUndefined();
    expect(tf.getKernel('Conv2D', 'wasm')).toBe(shippedConv2D);
    expect(tf.getKernel('Conv2DBackpropInput', 'wasm')).toBe(shippedInputGrad);
    expect(tf.getKernel('MaxPoolGrad', 'wasm')).toBe(shippedMaxPoolGrad);
  });

  it('can keep the shipped Conv2D, Conv2DBackpropInput and MaxPoolGrad', () => {
    const shipped = ['Conv2D', 'Conv2DBackpropInput', 'MaxPoolGrad'].map((name) => tf.getKernel(name, 'wasm'));
    registerWasmTrainingKernels({ cropPaddingTaps: false, fastInputGradient: false, exactMaxPoolGradient: false });
    expect(['Conv2D', 'Conv2DBackpropInput', 'MaxPoolGrad'].map((name) => tf.getKernel(name, 'wasm'))).toEqual(shipped);
    expect(tf.getKernel('Conv2DBackpropFilter', 'wasm')).toBeDefined();
    unregisterWasmTrainingKernels();
  });
});
