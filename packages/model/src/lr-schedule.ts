/**
 * Learning-rate schedules as pure functions of the 0-based optimizer step (the number of
 * updates applied before this one), each with an optional linear warmup:
 *
 *   warmup factor w(s) = f₀ + (1 − f₀)·s / W   for s < W, else 1   (PyTorch's LinearLR)
 *   constant:  η(s) = w(s)·η₀
 *   step:      η(s) = w(s)·η₀·γ^(number of milestones ≤ s)          (PyTorch's MultiStepLR)
 *   cosine:    η(s) = w(s)·η₀ during warmup, then
 *              η_min + (η₀ − η_min)·(1 + cos(π·t))/2, t = (s − W)/(T − W) clamped to [0, 1]
 *   onecycle:  η(s) = w(s)·η₀ during warmup, then
 *              η₀ − (η₀ − η_min)·t, the same t: a triangle, up then straight down (Smith's
 *              one-cycle policy with linear annealing)
 *
 * Schedules count steps, not epochs: the coordinator, which owns the schedule, knows how
 * many steps an epoch has for the current world size.
 */
import { InvalidOptionsError } from './errors.ts';

export interface WarmupOptions {
  /** Steps of linear warmup; 0 disables it. @default 0 */
  readonly warmupSteps?: number;
  /** Fraction of the base rate at step 0 of the warmup (PyTorch LinearLR's default). @default 1/3 */
  readonly warmupStartFactor?: number;
}

export type LearningRateScheduleSpec =
  | ({ readonly kind: 'constant'; readonly baseLr: number } & WarmupOptions)
  | ({
      readonly kind: 'step';
      readonly baseLr: number;
      /** Steps at which the rate is multiplied by `gamma`, ascending. */
      readonly milestones: readonly number[];
      /** @default 0.1 */
      readonly gamma?: number;
    } & WarmupOptions)
  | ({
      readonly kind: 'cosine';
      readonly baseLr: number;
      /** Step at which the cosine reaches `minLr` (warmup included). */
      readonly totalSteps: number;
      /** @default 0 */
      readonly minLr?: number;
    } & WarmupOptions)
  | ({
      readonly kind: 'onecycle';
      readonly baseLr: number;
      /** Step at which the rate reaches `minLr` (warmup included). */
      readonly totalSteps: number;
      /** @default 0 */
      readonly minLr?: number;
    } & WarmupOptions);

export type LearningRateSchedule = (step: number) => number;

/** Validates a schedule spec and returns the schedule. */
export function createLearningRateSchedule(spec: LearningRateScheduleSpec): LearningRateSchedule {
  const warmupSteps = spec.warmupSteps ?? 0;
  const startFactor = spec.warmupStartFactor ?? 1 / 3;
  requireNonNegative('baseLr', spec.baseLr);
  if (!Number.isInteger(warmupSteps) || warmupSteps < 0) {
    throw new InvalidOptionsError(`warmupSteps must be a non-negative integer, got ${warmupSteps}`);
  }
  if (!Number.isFinite(startFactor) || startFactor < 0 || startFactor > 1) {
    throw new InvalidOptionsError(`warmupStartFactor must be in [0, 1], got ${startFactor}`);
  }
  const warmup = (step: number): number =>
    step < warmupSteps ? startFactor + ((1 - startFactor) * step) / warmupSteps : 1;

  let schedule: LearningRateSchedule;
  switch (spec.kind) {
    case 'constant':
      schedule = (step) => warmup(step) * spec.baseLr;
      break;
    case 'step': {
      const gamma = spec.gamma ?? 0.1;
      requireNonNegative('gamma', gamma);
      const milestones = [...spec.milestones];
      milestones.forEach((milestone, i) => {
        if (!Number.isInteger(milestone) || milestone < 0 || (i > 0 && milestone <= (milestones[i - 1] ?? 0))) {
          throw new InvalidOptionsError(
            `step schedule milestones must be non-negative integers in ascending order, got [${milestones.join(', ')}]`,
          );
        }
      });
      schedule = (step) => {
        const passed = milestones.filter((m) => m <= step).length;
        return warmup(step) * spec.baseLr * gamma ** passed;
      };
      break;
    }
    case 'cosine':
    case 'onecycle': {
      const minLr = spec.minLr ?? 0;
      requireNonNegative('minLr', minLr);
      if (!Number.isInteger(spec.totalSteps) || spec.totalSteps <= warmupSteps) {
        throw new InvalidOptionsError(
          `${spec.kind} schedule totalSteps must be an integer greater than warmupSteps (${warmupSteps}), got ${spec.totalSteps}`,
        );
      }
      const anneal =
        spec.kind === 'cosine'
          ? (t: number) => minLr + ((spec.baseLr - minLr) * (1 + Math.cos(Math.PI * t))) / 2
          : (t: number) => spec.baseLr - (spec.baseLr - minLr) * t;
      schedule = (step) => {
        if (step < warmupSteps) return warmup(step) * spec.baseLr;
        return anneal(Math.min(1, (step - warmupSteps) / (spec.totalSteps - warmupSteps)));
      };
      break;
    }
    default:
      throw new InvalidOptionsError(`unknown learning-rate schedule kind '${(spec as { kind: string }).kind}'`);
  }
  return (step: number) => {
    if (!Number.isInteger(step) || step < 0) {
      throw new InvalidOptionsError(`a learning-rate schedule takes a non-negative integer step, got ${step}`);
    }
    return schedule(step);
  };
}

/**
 * The linear scaling rule (Goyal et al., 2017): a rate tuned for `baseBatchSize` examples per
 * step, scaled for `globalBatchSize` = per-worker batch · number of workers.
 */
export function linearScaledLearningRate(baseLr: number, globalBatchSize: number, baseBatchSize = 256): number {
  requireNonNegative('baseLr', baseLr);
  for (const [field, value] of [
    ['globalBatchSize', globalBatchSize],
    ['baseBatchSize', baseBatchSize],
  ] as const) {
    if (!Number.isInteger(value) || value < 1) {
      throw new InvalidOptionsError(`${field} must be a positive integer, got ${value}`);
    }
  }
  return (baseLr * globalBatchSize) / baseBatchSize;
}

function requireNonNegative(field: string, value: number): void {
  if (!Number.isFinite(value) || value < 0) {
    throw new InvalidOptionsError(`${field} must be a non-negative number, got ${value}`);
  }
}
