/**
 * The precision a replica's convolutions compute in, on the backend it runs. bf16 (mixed
 * precision, float32 master weights) is built in the native backend alone; elsewhere, and on a
 * CPU without bf16 arithmetic, it is refused rather than silently computed in float32, so that
 * a worker never trains differently from what its run says.
 */
import { bf16ConvolutionSupport, setConvolutionPrecision } from '@ringtrain/backend-native';
import type { ConvolutionPrecision } from '@ringtrain/backend-native';

import { UnsupportedPrecisionError } from './errors.ts';
import type { BackendName } from './select-backend.ts';

export { bf16ConvolutionSupport } from '@ringtrain/backend-native';
export type { Bf16Support, ConvolutionPrecision } from '@ringtrain/backend-native';

/**
 * Makes the calling thread's convolutions on `backend` compute in `precision`.
 * @throws UnsupportedPrecisionError for bf16 on another backend than native, or on a CPU without bf16 arithmetic
 */
export function useConvolutionPrecision(backend: BackendName, precision: ConvolutionPrecision): void {
  if (backend === 'native') {
    if (precision === 'bf16') {
      const support = bf16ConvolutionSupport();
      if (!support.supported) throw new UnsupportedPrecisionError(support.reason);
    }
    setConvolutionPrecision(precision);
    return;
  }
  if (precision !== 'f32') {
    throw new UnsupportedPrecisionError(`${precision} convolutions run on the native backend only; this replica computes on '${backend}' (start the worker with --backend native)`);
  }
}

/** The precisions `useConvolutionPrecision` accepts on `backend`, on this CPU: what a worker offers its run. */
export function convolutionPrecisionsOn(backend: BackendName): ConvolutionPrecision[] {
  return backend === 'native' && bf16ConvolutionSupport().supported ? ['f32', 'bf16'] : ['f32'];
}
