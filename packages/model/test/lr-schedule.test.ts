import { describe, expect, it } from 'vitest';

import { InvalidOptionsError } from '../src/errors.ts';
import { createLearningRateSchedule, linearScaledLearningRate } from '../src/lr-schedule.ts';
import type { LearningRateScheduleSpec } from '../src/lr-schedule.ts';

function values(spec: LearningRateScheduleSpec, steps: number): number[] {
  const schedule = createLearningRateSchedule(spec);
  return Array.from({ length: steps }, (_, step) => schedule(step));
}

function expectClose(actual: number[], expected: number[]): void {
  expect(actual).toHaveLength(expected.length);
  actual.forEach((value, i) => expect(value, `step ${i}`).toBeCloseTo(expected[i] as number, 10));
}

describe('learning-rate schedules', () => {
  it('keeps a constant rate after a linear warmup from the start factor', () => {
    // factor = 0.25 + 0.75·s/4
    expectClose(values({ kind: 'constant', baseLr: 0.1, warmupSteps: 4, warmupStartFactor: 0.25 }, 6), [
      0.025, 0.04375, 0.0625, 0.08125, 0.1, 0.1,
    ]);
  });

  it('warms up from a third of the rate by default, as PyTorch’s LinearLR', () => {
    expect(createLearningRateSchedule({ kind: 'constant', baseLr: 0.3, warmupSteps: 10 })(0)).toBeCloseTo(0.1, 12);
  });

  it('multiplies by gamma at each milestone', () => {
    expectClose(values({ kind: 'step', baseLr: 1, milestones: [3, 6] }, 8), [1, 1, 1, 0.1, 0.1, 0.1, 0.01, 0.01]);
    expectClose(values({ kind: 'step', baseLr: 2, milestones: [1], gamma: 0.5 }, 3), [2, 1, 1]);
  });

  it('follows a half cosine from the end of warmup to the minimum, then stays there', () => {
    const schedule = createLearningRateSchedule({
      kind: 'cosine',
      baseLr: 1,
      totalSteps: 10,
      warmupSteps: 2,
      warmupStartFactor: 0.5,
    });
    expectClose([0, 1, 2, 4, 6, 10, 12].map(schedule), [0.5, 0.75, 1, (1 + Math.SQRT1_2) / 2, 0.5, 0, 0]);
    const floored = createLearningRateSchedule({ kind: 'cosine', baseLr: 0.5, minLr: 0.1, totalSteps: 4 });
    expectClose([0, 2, 4].map(floored), [0.5, 0.3, 0.1]);
  });

  it('runs one cycle: linear warmup to the peak, then straight down to the minimum, then stays there', () => {
    const schedule = createLearningRateSchedule({ kind: 'onecycle', baseLr: 1, totalSteps: 10, warmupSteps: 2, warmupStartFactor: 0.5 });
    expectClose([0, 1, 2, 4, 6, 10, 12].map(schedule), [0.5, 0.75, 1, 0.75, 0.5, 0, 0]);
    const floored = createLearningRateSchedule({ kind: 'onecycle', baseLr: 0.5, minLr: 0.1, totalSteps: 4 });
    expectClose([0, 2, 4].map(floored), [0.5, 0.3, 0.1]);
    expect(() => createLearningRateSchedule({ kind: 'onecycle', baseLr: 1, totalSteps: 2, warmupSteps: 2 })).toThrow(
      /onecycle schedule totalSteps must be an integer greater than warmupSteps \(2\)/,
    );
  });

  it('scales the rate linearly with the global batch size', () => {
    expect(linearScaledLearningRate(0.1, 1024)).toBeCloseTo(0.4, 12);
    expect(linearScaledLearningRate(0.1, 96, 128)).toBeCloseTo(0.075, 12);
    expect(() => linearScaledLearningRate(0.1, 0)).toThrow(/globalBatchSize must be a positive integer, got 0/);
  });

  it.each([
    [{ kind: 'constant', baseLr: -1 }, /baseLr must be a non-negative number, got -1/],
    [{ kind: 'constant', baseLr: 1, warmupSteps: 1.5 }, /warmupSteps must be a non-negative integer/],
    [{ kind: 'constant', baseLr: 1, warmupStartFactor: 2 }, /warmupStartFactor must be in \[0, 1\]/],
    [{ kind: 'step', baseLr: 1, milestones: [5, 3] }, /milestones must be non-negative integers in ascending order, got \[5, 3\]/],
    [{ kind: 'cosine', baseLr: 1, totalSteps: 3, warmupSteps: 3 }, /totalSteps must be an integer greater than warmupSteps \(3\)/],
    [{ kind: 'linear', baseLr: 1 }, /unknown learning-rate schedule kind 'linear'/],
  ])('rejects the schedule %j', (spec, message) => {
    expect(() => createLearningRateSchedule(spec as LearningRateScheduleSpec)).toThrow(InvalidOptionsError);
    expect(() => createLearningRateSchedule(spec as LearningRateScheduleSpec)).toThrow(message);
  });

  it('rejects a step that is not a non-negative integer', () => {
    const schedule = createLearningRateSchedule({ kind: 'constant', baseLr: 1 });
    expect(() => schedule(-1)).toThrow(/non-negative integer step, got -1/);
  });
});
