/**
 * The one-step-delayed all-reduce (`--delayed-allreduce`): step k's gradient is averaged over the
 * ring while step k+1's is computed, and applied once that computation is over. Every replica
 * applies the same averages in the same order, so replicas stay bit-identical; the price is one
 * step of staleness. Within a plan of steps 0..n−1, with w_k the weights after k updates:
 *
 *   g_0 = ∇L(w_0; batch 0)        g_k = ∇L(w_{k−1}; batch k) for k ≥ 1
 *   w_{k+1} = w_k − lr_k · mean over replicas of g_k
 *
 * A plan starts fresh and ends flushed: its last average is applied before the plan returns, so
 * no gradient is ever in flight across an evaluation, a checkpoint or a new generation. A run
 * without the option computes every g_k on w_k.
 */
import type { ReduceOutcome } from './compression/gradient-reducer.ts';

/** What the schedule asks of the step loop that drives it; `C` is one step's computed gradient. */
export interface DelayedStepHooks<C> {
  /**
   * Computes step `i`'s gradient, writing it to `into` when given (a buffer no reduction holds).
   * Null stops the plan where it stands.
   */
  compute(i: number, into: Float32Array | undefined): Promise<C | null>;
  gradientOf(computed: C): Float32Array;
  /** Starts averaging step `i`'s gradient; awaited only after step i+1 is computed. */
  reduce(i: number, computed: C): Promise<ReduceOutcome>;
  /**
   * Applies step `i`'s average and reports the step. `exposedMs`: how long the loop waited for the
   * average once nothing was left to compute. False stops the plan.
   */
  apply(i: number, computed: C, averaged: ReduceOutcome, exposedMs: number): Promise<boolean>;
  /** Step `i`'s gradient will never be applied here: its reduction failed (`error`), or the plan stopped with it in flight. */
  abandoned(i: number, computed: C, error: unknown): void;
}

interface InFlight<C> {
  readonly i: number;
  readonly computed: C;
  readonly reducing: Promise<ReduceOutcome>;
}

/** Runs steps 0..steps−1 of a plan on the delayed schedule. */
export async function runDelayedSteps<C>(steps: number, hooks: DelayedStepHooks<C>): Promise<void> {
  let inFlight: InFlight<C> | null = null;
  // The buffer of the last average applied: free again, and the next gradient's destination.
  let spare: Float32Array | undefined;
  const land = async (): Promise<boolean> => {
    const landing = inFlight as InFlight<C>;
    const waitedFrom = performance.now();
    let averaged: ReduceOutcome;
    try {
      averaged = await landing.reducing;
    } catch (error) {
      inFlight = null;
      hooks.abandoned(landing.i, landing.computed, error);
      return false;
    }
    inFlight = null;
    spare = averaged.data;
    return hooks.apply(landing.i, landing.computed, averaged, performance.now() - waitedFrom);
  };
  try {
    for (let i = 0; i < steps; i++) {
      // Step 1 is the first to compute while a reduction holds the other buffer.
      const into = spare ?? (inFlight === null ? undefined : new Float32Array(hooks.gradientOf(inFlight.computed).length));
      spare = undefined;
      const computed = await hooks.compute(i, into);
      if (computed === null) return;
      if (inFlight !== null && !(await land())) return;
      const reducing = hooks.reduce(i, computed);
      // Awaited by the next step; a failure meanwhile must not go unhandled.
      reducing.catch(() => {});
      inFlight = { i, computed, reducing };
    }
    if (inFlight !== null) await land();
  } finally {
    const left = inFlight as InFlight<C> | null;
    if (left !== null) hooks.abandoned(left.i, left.computed, null);
  }
}
