import { describe, expect, it } from 'vitest';
import { InvalidCoordinatorOptionError } from '../src/index.ts';
import { StepSeries, type StepPoint } from '../src/observe/step-series.ts';

function point(step: number): StepPoint {
  return { tSeconds: 1000 + step, step, examplesPerSecond: 10 * step, loss: 1 / step, accuracy: step / 1000, epochLoss: 0.5, epochAccuracy: 0.5 };
}

describe('the per-step series of the dashboard', () => {
  it.each([16, 17, 50])('never holds more than %i points, however long the run', (maxPoints) => {
    const series = new StepSeries(maxPoints);
    for (let step = 1; step <= 1000; step++) {
      series.push(point(step));
      expect(series.length).toBeLessThanOrEqual(maxPoints);
    }
    const view = series.view();
    expect(view.step.at(-1)).toBe(1000);
    expect(view.step[0]).toBe(1);
    expect(view.step).toEqual([...view.step].sort((a, b) => a - b));
    // Thinned evenly: no gap more than four times the mean spacing.
    const gaps = view.step.slice(1).map((s, i) => s - (view.step[i] ?? 0));
    expect(Math.max(...gaps)).toBeLessThanOrEqual((4 * 1000) / view.step.length);
  });

  it('keeps the points that carry an evaluation when it thins', () => {
    const series = new StepSeries(16);
    for (let step = 1; step <= 200; step++) {
      series.push(point(step));
      if (step % 25 === 0) series.markEvaluation(step, 0.4, step / 250);
    }
    const view = series.view();
    const evaluated = view.step.filter((_s, i) => view.testAccuracy[i] !== null);
    expect(evaluated).toEqual([25, 50, 75, 100, 125, 150, 175, 200]);
    expect(view.testLoss.filter((x) => x !== null)).toEqual(Array(8).fill(0.4));
  });

  it('turns values JSON cannot carry into null', () => {
    const series = new StepSeries(16);
    series.push({ ...point(1), loss: Number.NaN, accuracy: Number.POSITIVE_INFINITY });
    series.markEvaluation(1, Number.NaN, 0.5);
    const view = series.view();
    expect(view.loss).toEqual([null]);
    expect(view.accuracy).toEqual([null]);
    expect(view.testLoss).toEqual([null]);
    expect(view.testAccuracy).toEqual([0.5]);
    expect(JSON.parse(JSON.stringify(view))).toEqual(view);
  });

  it('refuses a size too small to draw a curve', () => {
    expect(() => new StepSeries(3)).toThrow(InvalidCoordinatorOptionError);
    expect(() => new StepSeries(3)).toThrow('maxSeriesPoints must be an integer of at least 16, got 3');
  });
});
