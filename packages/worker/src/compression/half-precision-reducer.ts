/**
 * bf16 or f16 on the wire: every value travels in 16 bits and is summed in f32 (the ring's
 * `wireFormat`), with error feedback, so what rounding drops from a replica's gradient in one step
 * is added to its gradient in the next (`ErrorFeedback`). One ring call per step, numbered by the
 * step. A new generation zeroes the residual on every member, as PowerSGD does: a member whose
 * replica was replaced by a relayed state holds a residual of another trajectory.
 */
import type { CompressionSpec } from '@ringtrain/protocol';
import { ErrorFeedback } from '../allreduce/index.ts';
import { outcomeOf, type GradientReducer, type ReduceOutcome, type RingCalls } from './gradient-reducer.ts';

export class HalfPrecisionReducer implements GradientReducer {
  readonly #format: 'bf16' | 'f16';
  readonly #feedback: ErrorFeedback;

  /** `compression.method` is 'bf16' or 'f16'; `length` is the flat gradient's. */
  constructor(
    readonly compression: CompressionSpec,
    length: number,
  ) {
    if (compression.method !== 'bf16' && compression.method !== 'f16') throw new RangeError(`a 16-bit reducer needs bf16 or f16, got ${compression.method}`);
    this.#format = compression.method;
    this.#feedback = new ErrorFeedback(length, this.#format);
  }

  /** What rounding dropped in the last step, to be added in the next (for inspection). */
  get residual(): Float32Array {
    return this.#feedback.residual;
  }

  async reduce(ring: RingCalls, gradient: Float32Array, step: number): Promise<ReduceOutcome> {
    this.#feedback.compensate(gradient);
    const result = await ring.allReduce(gradient, { step, average: true, wireFormat: this.#format });
    return outcomeOf(gradient, [result], true);
  }

  startGeneration(): void {
    this.#feedback.reset();
  }
}
