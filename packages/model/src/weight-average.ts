/**
 * An exponential moving average of the weights (Polyak averaging, as timm's `ModelEmaV2`), kept
 * in f32 beside the live values in the same flat-layout order. After optimizer step s (0-based)
 * has been applied, every value e of the average moves towards the live value w:
 *
 *   e ← e + (1 − d_s)·(w − e)
 *   d_s = D                            without warm-up
 *   d_s = min(D, (1 + s) / (10 + s))   with warm-up (TensorFlow's `ExponentialMovingAverage`
 *                                      with `num_updates`), so the average is not dominated by
 *                                      the random initial weights while D is close to 1
 *
 * The running statistics of batch norm are averaged like the weights rather than copied from the
 * live model: the live statistics describe the activations of the live weights, the averaged
 * ones lag the same way the averaged weights do, and this is what timm does (its EMA walks the
 * whole state dict, buffers included), so a PyTorch run of the same recipe computes the same
 * thing.
 *
 * The step s is the global optimizer step, the same on every replica, so a replica that joins
 * with a relayed state and the replicas it joins compute the same decays.
 */
import { InvalidOptionsError } from './errors.ts';

export interface WeightAverageOptions {
  /** Decay D in [0, 1]; 0 turns the average off (evaluation uses the live weights). @default 0 */
  readonly decay: number;
  /** Ramp the decay up as min(D, (1 + s)/(10 + s)) over the first steps. @default false */
  readonly warmup: boolean;
}

/** Checks the options; the errors name the option and its bounds. */
export function resolveWeightAverageOptions(input: Partial<WeightAverageOptions> = {}): WeightAverageOptions {
  const decay = input.decay ?? 0;
  const warmup = input.warmup ?? false;
  if (typeof decay !== 'number' || !Number.isFinite(decay) || decay < 0 || decay > 1) {
    throw new InvalidOptionsError(`emaDecay must be a number in [0, 1] (0: no weight average), got ${String(input.decay)}`);
  }
  if (warmup && decay === 0) {
    throw new InvalidOptionsError('emaWarmup needs emaDecay above 0 (there is no weight average to warm up)');
  }
  return { decay, warmup };
}

/** The decay of the update that follows optimizer step `step` (0-based). */
export function weightAverageDecay(options: WeightAverageOptions, step: number): number {
  if (!options.warmup) return options.decay;
  return Math.min(options.decay, (1 + step) / (10 + step));
}

/** Moves `average` towards `values` with decay `decay`, in place (both the same length). */
export function updateWeightAverage(average: Float32Array, values: Float32Array, decay: number): void {
  if (average.length !== values.length) {
    throw new RangeError(`weight average has ${average.length} values, the live model ${values.length}`);
  }
  const rate = 1 - decay;
  for (let i = 0; i < average.length; i++) {
    const e = average[i]!;
    average[i] = e + rate * (values[i]! - e);
  }
}
