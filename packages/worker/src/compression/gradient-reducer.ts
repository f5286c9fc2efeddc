/**
 * How a worker averages its flat gradient over the ring, as the run's compression says: the ring
 * is used as a black box that averages f32 vectors, once or more per step.
 */
import type { CompressionSpec } from '@ringtrain/protocol';
import type { AllReduceCallOptions, AllReduceResult } from '../allreduce/index.ts';

/** The ring as a reducer uses it: one call at a time, the `step` of each call above the last. */
export interface RingCalls {
  allReduce(vector: Float32Array, options?: AllReduceCallOptions): Promise<AllReduceResult>;
}

/** One step's averaging. */
export interface ReduceOutcome {
  /** The averaged gradient: the vector handed in, overwritten in place. */
  data: Float32Array;
  /** Bytes this worker put on the wire for the step, over all its ring calls. */
  bytesSent: number;
  bytesReceived: number;
  /** Time until each ring call's first chunk arrived, summed: mostly waiting for slower peers. */
  waitMs: number;
  /** Ring calls the step took. */
  calls: number;
  /** Whether the step's gradient travelled compressed. */
  compressed: boolean;
}

export interface GradientReducer {
  readonly compression: CompressionSpec;
  /**
   * Replaces `gradient` by the average every replica applies, bit-identical on all of them.
   * `step` is the global training step; the ring calls are numbered from it.
   */
  reduce(ring: RingCalls, gradient: Float32Array, step: number): Promise<ReduceOutcome>;
  /**
   * A new generation starts from global step `startStep`, with members that may be new: forget
   * whatever the old ring built up. Every member calls it with the same step.
   */
  startGeneration(startStep: number): void;
}

/** Sums the traffic of a step's ring calls into one outcome. */
export function outcomeOf(data: Float32Array, calls: readonly AllReduceResult[], compressed: boolean): ReduceOutcome {
  let bytesSent = 0;
  let bytesReceived = 0;
  let waitMs = 0;
  for (const call of calls) {
    bytesSent += call.bytesSent;
    bytesReceived += call.bytesReceived;
    waitMs += call.waitMs;
  }
  return { data, bytesSent, bytesReceived, waitMs, calls: calls.length, compressed };
}
