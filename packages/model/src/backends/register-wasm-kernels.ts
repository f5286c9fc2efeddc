/**
 * Registration of the wasm training kernels. Registering replaces the kernel in tfjs's global
 * registry for the backend name 'wasm'; the kernel it replaced is remembered so that
 * `unregisterWasmTrainingKernels()` puts it back. Overrides keep the original `setupFunc`, so a wasm
 * backend initialised after registration still sets up the C++ functions they delegate to.
 */
import { getKernel, registerKernel, unregisterKernel } from '@tensorflow/tfjs-core';
import type { KernelConfig, KernelFunc } from '@tensorflow/tfjs-core';
// Importing the package registers the wasm backend and its kernels.
import '@tensorflow/tfjs-backend-wasm';

import { MissingKernelError } from './errors.ts';
import { createCroppingConv2DKernel } from './wasm-conv2d.ts';
import { conv2DBackpropFilterKernelConfig } from './wasm-conv2d-backprop-filter.ts';
import type { FilterGradStrategy } from './wasm-conv2d-backprop-filter.ts';
import { conv2DBackpropInputKernelConfig } from './wasm-conv2d-backprop-input.ts';
import { maxPoolGradKernelConfig } from './wasm-max-pool-grad.ts';

export interface WasmTrainingKernelOptions {
  /**
   * Replace the shipped `Conv2DBackpropInput` (a scalar loop) with XNNPACK convolutions.
   * @default true
   */
  readonly fastInputGradient?: boolean;
  /**
   * Replace `Conv2D` with one that skips filter taps reading only padding.
   * @default true
   */
  readonly cropPaddingTaps?: boolean;
  /**
   * Replace the shipped `MaxPoolGrad`, which drops the gradient of windows without a positive
   * value, with one that matches the cpu backend (and is faster).
   * @default true
   */
  readonly exactMaxPoolGradient?: boolean;
  /**
   * How `Conv2DBackpropFilter` computes; `auto` picks per shape what measured fastest.
   * @default 'auto'
   */
  readonly filterGradStrategy?: FilterGradStrategy;
}

/** What each kernel name was bound to before we replaced it (`undefined`: nothing). */
const replaced = new Map<string, KernelConfig | undefined>();

function install(config: KernelConfig): void {
  const current = getKernel(config.kernelName, 'wasm');
  if (!replaced.has(config.kernelName)) replaced.set(config.kernelName, current);
  if (current !== undefined) unregisterKernel(config.kernelName, 'wasm');
  const original = replaced.get(config.kernelName);
  registerKernel({
    ...config,
    setupFunc: config.setupFunc ?? original?.setupFunc,
    disposeFunc: config.disposeFunc ?? original?.disposeFunc,
  });
}

function originalKernel(kernelName: string): KernelConfig {
  const original = replaced.has(kernelName) ? replaced.get(kernelName) : getKernel(kernelName, 'wasm');
  if (original === undefined) throw new MissingKernelError(kernelName, 'wasm');
  return original;
}

/**
 * Registers `Conv2DBackpropFilter` for the wasm backend (tfjs 4.22 has none). Safe to call more
 * than once; the last strategy wins.
 */
export function registerWasmConv2DBackpropFilter(strategy: FilterGradStrategy = 'auto'): void {
  install(conv2DBackpropFilterKernelConfig(strategy));
}

/**
 * Registers every wasm kernel a convolutional network needs to train correctly and quickly:
 * `Conv2DBackpropFilter`, and (unless turned off) the faster `Conv2DBackpropInput`, the
 * padding-cropping `Conv2D` and the corrected `MaxPoolGrad`.
 */
export function registerWasmTrainingKernels(options: WasmTrainingKernelOptions = {}): void {
  registerWasmConv2DBackpropFilter(options.filterGradStrategy ?? 'auto');
  if (options.fastInputGradient ?? true) install(conv2DBackpropInputKernelConfig);
  else restore('Conv2DBackpropInput');
  if (options.cropPaddingTaps ?? true) {
    const original: KernelFunc = originalKernel('Conv2D').kernelFunc;
    install({ kernelName: 'Conv2D', backendName: 'wasm', kernelFunc: createCroppingConv2DKernel(original) });
  } else {
    restore('Conv2D');
  }
  if (options.exactMaxPoolGradient ?? true) install(maxPoolGradKernelConfig);
  else restore('MaxPoolGrad');
}

function restore(kernelName: string): void {
  if (!replaced.has(kernelName)) return;
  const original = replaced.get(kernelName);
  replaced.delete(kernelName);
  if (getKernel(kernelName, 'wasm') !== undefined) unregisterKernel(kernelName, 'wasm');
  if (original !== undefined) registerKernel(original);
}

/** Puts back whatever the wasm backend had before any of our registrations. */
export function unregisterWasmTrainingKernels(): void {
  for (const kernelName of [...replaced.keys()]) restore(kernelName);
}
