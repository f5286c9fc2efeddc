/** No compression: the f32 gradient as computed, averaged by one ring call per step. */
import type { CompressionSpec } from '@ringtrain/protocol';
import { outcomeOf, type GradientReducer, type ReduceOutcome, type RingCalls } from './gradient-reducer.ts';

export class PlainReducer implements GradientReducer {
  constructor(readonly compression: CompressionSpec) {}

  async reduce(ring: RingCalls, gradient: Float32Array, step: number): Promise<ReduceOutcome> {
    const result = await ring.allReduce(gradient, { step, average: true });
    return outcomeOf(gradient, [result], false);
  }

  startGeneration(): void {}
}
