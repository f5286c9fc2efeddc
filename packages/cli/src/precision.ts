/**
 * What `--precision` resolves to for a run. `auto` (the `fast` preset's) means bf16 where the
 * workers can compute it and float32 elsewhere; only `launch` knows where its workers run (on this
 * machine), so `coordinator`, whose workers may be anywhere, resolves `auto` to float32 and takes
 * bf16 only when asked by name. Every replica must compute alike: the run has one precision.
 */
import { CONVOLUTION_PRECISIONS, type ConvolutionPrecision } from '@ringtrain/coordinator';
import { bf16ConvolutionSupport } from '@ringtrain/model';
import { InvalidArgumentError } from './errors.ts';

export const PRECISION_CHOICES = [...CONVOLUTION_PRECISIONS, 'auto'] as const;
export type PrecisionChoice = (typeof PRECISION_CHOICES)[number];

/** Where a run's workers compute: on this machine with this --backend, or elsewhere. */
export type WorkerPlacement = { readonly local: true; readonly backend: string } | { readonly local: false };

/**
 * The run's precision.
 * @throws InvalidArgumentError for bf16 asked of local workers that cannot compute it
 */
export function resolvePrecision(choice: PrecisionChoice, workers: WorkerPlacement): ConvolutionPrecision {
  if (choice !== 'auto') {
    if (choice === 'bf16' && workers.local) {
      const why = whyNotBf16Here(workers.backend);
      if (why !== null) throw new InvalidArgumentError(`--precision bf16 ${why}`);
    }
    return choice;
  }
  return workers.local && whyNotBf16Here(workers.backend) === null ? 'bf16' : 'f32';
}

/**
 * The backend local workers should be started with: under bf16, `auto` becomes `native`, since
 * auto prefers tfjs-node when it is installed, and tfjs-node computes no bf16.
 */
export function workerBackendFor<B extends string>(precision: ConvolutionPrecision, backend: B): B | 'native' {
  return precision === 'bf16' && backend === 'auto' ? 'native' : backend;
}

/** Why bf16 cannot run on this machine's native backend, or null when it can. */
function whyNotBf16Here(backend: string): string | null {
  if (backend !== 'native' && backend !== 'auto') return `runs on the native backend only, not on --backend ${backend}`;
  const support = bf16ConvolutionSupport();
  return support.supported ? null : `cannot run on this machine: ${support.reason}`;
}
