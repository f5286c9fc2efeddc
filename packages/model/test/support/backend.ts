import * as tf from '@tensorflow/tfjs-core';

import { selectBackend } from '../../src/backends/index.ts';

/** The wasm backend with the training kernels (one thread), as the trainer runs in production. */
export async function useWasmBackend(): Promise<void> {
  await selectBackend('wasm');
}

/** tfjs's reference JavaScript kernels: slow, but the yardstick for correctness. */
export async function useCpuBackend(): Promise<void> {
  await selectBackend('cpu');
  if (tf.getBackend() !== 'cpu') throw new Error(`expected the cpu backend, got ${tf.getBackend()}`);
}
