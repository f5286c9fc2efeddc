/**
 * No compression: the f32 gradient as computed, averaged by one ring call per step. It alone can
 * start before the gradient is finished (a `finalSuffix`): the others transform the whole vector
 * before the ring sees it.
 */
import type { CompressionSpec } from '@ringtrain/protocol';
import type { FinalSuffix } from '../allreduce/final-suffix.ts';
import { outcomeOf, type GradientReducer, type ReduceOutcome, type RingCalls } from './gradient-reducer.ts';

export class PlainReducer implements GradientReducer {
  constructor(readonly compression: CompressionSpec) {}

  async reduce(ring: RingCalls, gradient: Float32Array, step: number, finalSuffix?: FinalSuffix): Promise<ReduceOutcome> {
    const result = await ring.allReduce(gradient, { step, average: true, ...(finalSuffix === undefined ? {} : { finalSuffix }) });
    return outcomeOf(gradient, [result], false);
  }

  startGeneration(): void {}
}
