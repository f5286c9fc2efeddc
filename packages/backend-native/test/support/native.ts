/**
 * Whether the native backend can run here, and switching between it and tfjs's reference `cpu`
 * backend. Suites that need the addon skip, with the reason in their name, only when the addon
 * is not built (no libdnnl-dev at install time).
 */
import * as tf from '@tensorflow/tfjs-core';
import '@tensorflow/tfjs-backend-cpu';
// tfjs-core alone registers no gradients; tfjs-layers' Node bundle registers them on import.
import '@tensorflow/tfjs-layers';

import { nativeBackendAvailability, registerNativeBackend } from '../../src/index.ts';

const availability = nativeBackendAvailability();

/** True when the addon is built and loads. */
export const nativeAvailable = availability.available;

// CI installs libdnnl-dev, so a missing addon there is a broken build, not a reason to skip.
if (!availability.available && process.env.CI === 'true') {
  throw new Error(`the native addon is not available in CI: ${availability.reason}`);
}

/** A suite title that says why it was skipped when the addon is missing. */
export function nativeSuite(title: string): string {
  return availability.available ? title : `${title} (skipped: ${availability.reason})`;
}

/** Registers the native backend (idempotent) with `threads` threads and makes it current. */
export async function useNativeBackend(threads = 1): Promise<void> {
  registerNativeBackend({ threads });
  if (!(await tf.setBackend('native'))) throw new Error('the native backend failed to start');
}

export async function useCpuBackend(): Promise<void> {
  if (!(await tf.setBackend('cpu'))) throw new Error('the cpu backend failed to start');
}
