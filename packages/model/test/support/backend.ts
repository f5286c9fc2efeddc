import { nativeBackendAvailability } from '@ringtrain/backend-native';
import * as tf from '@tensorflow/tfjs-core';

import { selectBackend } from '../../src/backends/index.ts';

const nativeAvailability = nativeBackendAvailability();

/** True when the native addon is built and loads (always in CI, which installs libdnnl-dev). */
export const nativeAvailable = nativeAvailability.available;

if (!nativeAvailability.available && process.env.CI === 'true') {
  throw new Error(`the native addon is not available in CI: ${nativeAvailability.reason}`);
}

/** The native (oneDNN) backend with two threads. */
export async function useNativeBackend(): Promise<void> {
  await selectBackend('native', { nativeThreads: 2 });
  if (tf.getBackend() !== 'native') throw new Error(`expected the native backend, got ${tf.getBackend()}`);
}

/** The wasm backend with the training kernels (one thread), as the trainer runs in production. */
export async function useWasmBackend(): Promise<void> {
  await selectBackend('wasm');
}

/** tfjs's reference JavaScript kernels: slow, but the yardstick for correctness. */
export async function useCpuBackend(): Promise<void> {
  await selectBackend('cpu');
  if (tf.getBackend() !== 'cpu') throw new Error(`expected the cpu backend, got ${tf.getBackend()}`);
}

/**
 * The two ways a `Trainer` keeps its variables, as `describe.each` rows: the native backend runs
 * batch norm as its own kernels and the variables read the trainer's arrays in place; wasm runs
 * the composed batch norm and copies the values in. Without the addon (outside CI) the native row
 * is left out.
 */
export const TRAINER_BACKENDS = [
  { name: 'wasm', use: useWasmBackend },
  ...(nativeAvailable ? [{ name: 'native', use: useNativeBackend }] : []),
];
