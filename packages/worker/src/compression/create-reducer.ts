/** The reducer a run's compression names, for a model's flat layout. */
import type { FlatLayout } from '@ringtrain/model';
import type { CompressionSpec } from '@ringtrain/protocol';
import type { GradientReducer } from './gradient-reducer.ts';
import { HalfPrecisionReducer } from './half-precision-reducer.ts';
import { PlainReducer } from './plain-reducer.ts';
import { PowerSgdReducer } from './powersgd.ts';

/** `seed` is the run's seed, the same on every replica (PowerSGD draws its first Q from it). */
export function createGradientReducer(compression: CompressionSpec, layout: FlatLayout, seed: number): GradientReducer {
  switch (compression.method) {
    case 'none':
      return new PlainReducer(compression);
    case 'powersgd':
      return new PowerSgdReducer(compression, layout, seed);
    case 'bf16':
    case 'f16':
      return new HalfPrecisionReducer(compression, layout.totalLength);
  }
}
