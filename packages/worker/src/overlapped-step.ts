/**
 * A training step whose all-reduce overlaps its backward pass: the compute side announces each
 * segment of the gradient as it becomes final (output side first), and the ring starts the
 * buckets that segment completes while the earlier segments are still computing. The averaged
 * gradient is bit for bit that of the step without overlap (see step F of `ring-allreduce.ts`).
 *
 * Only the plain reducer can do this: compressed reducers transform the whole vector before the
 * ring sees it.
 */
import { FinalSuffix } from './allreduce/final-suffix.ts';
import { TrainingFailedError } from './errors.ts';
import type { ReduceOutcome, RingCalls } from './compression/gradient-reducer.ts';
import type { PlainReducer } from './compression/plain-reducer.ts';
import type { ReplicaTrainer } from './ports.ts';

export interface OverlappedStep {
  /** The local gradient, once the backward pass is over (its buckets may be reduced already). */
  readonly computed: Promise<Awaited<ReturnType<ReplicaTrainer['computeGradients']>>>;
  /** The average, once the last bucket is. Rejects like `reduce` does, or when the computation fails. */
  readonly reducing: Promise<ReduceOutcome>;
}

/** Starts one overlapped step; the caller awaits `computed`, then `reducing`. */
export function startOverlappedStep(
  trainer: ReplicaTrainer,
  reducer: PlainReducer,
  ring: RingCalls,
  x: Float32Array,
  labels: Int32Array,
  step: number,
): OverlappedStep {
  let suffix: FinalSuffix | undefined;
  let started: Promise<ReduceOutcome> | undefined;
  // A listener runs inside the compute thread's message handler, where a throw would be uncaught.
  let announcing: Error | undefined;
  const computed = Promise.resolve(
    trainer.computeGradients(x, labels, undefined, (flat, start, end) => {
      try {
        if (suffix === undefined) {
          suffix = new FinalSuffix(flat.length);
          started = reducer.reduce(ring, flat, step, suffix);
          // Awaited through `reducing`; a failure while the backward still runs must not go unhandled.
          started.catch(() => {});
        }
        suffix.markFinal(start, end);
      } catch (error) {
        announcing ??= error instanceof Error ? error : new Error(String(error));
        suffix?.fail(announcing);
      }
    }),
  ).then((local) => {
    if (announcing !== undefined) throw announcing;
    return local;
  });
  const reducing = computed.then(
    (local) => {
      if (started === undefined) return reducer.reduce(ring, local.flat, step);
      if (suffix?.complete !== true) {
        suffix?.fail(new TrainingFailedError(`step ${step}: the backward pass ended with elements [0, ${suffix.from}) of the gradient never announced`));
      }
      return started;
    },
    (error: unknown) => {
      // The ring must not wait for a gradient that will never be finished.
      suffix?.fail(error instanceof Error ? error : new Error(String(error)));
      throw error;
    },
  );
  reducing.catch(() => {});
  return { computed, reducing };
}
