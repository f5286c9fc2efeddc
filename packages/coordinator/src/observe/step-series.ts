/**
 * The per-step points the dashboard's curves are drawn from, bounded in size. Points are kept at
 * a stride of pushes: 1 at first, doubled (dropping every other kept point) each time the series
 * would exceed `maxPoints`, so a long run keeps its whole shape at an even, coarser grain and each
 * status stays small. The newest point is always shown, and points that carry an evaluation are
 * kept whatever the stride (unless they alone would overflow the series).
 */
import { InvalidCoordinatorOptionError } from '../errors.ts';
import { finiteOrNull, type SeriesView } from './run-status.ts';

export interface StepPoint {
  tSeconds: number;
  step: number;
  examplesPerSecond: number;
  loss: number;
  accuracy: number;
  epochLoss: number;
  epochAccuracy: number;
}

interface StoredPoint extends StepPoint {
  /** Order of the push, from 0. */
  ordinal: number;
  testLoss: number | null;
  testAccuracy: number | null;
}

export class StepSeries {
  #points: StoredPoint[] = [];
  #stride = 1;
  #pushed = 0;

  /** @param maxPoints The most points kept; at least 16. */
  constructor(readonly maxPoints: number) {
    if (!Number.isSafeInteger(maxPoints) || maxPoints < 16) {
      throw new InvalidCoordinatorOptionError(`maxSeriesPoints must be an integer of at least 16, got ${String(maxPoints)}`);
    }
  }

  get length(): number {
    return this.#points.length;
  }

  push(point: StepPoint): void {
    // The newest point stands in for the skipped ones until the next arrives.
    const last = this.#points.at(-1);
    if (last !== undefined && !this.#keeps(last)) this.#points.pop();
    this.#points.push({ ...point, ordinal: this.#pushed, testLoss: null, testAccuracy: null });
    this.#pushed += 1;
    while (this.#points.length > this.maxPoints) this.#thin();
  }

  /** Marks the point of global step count `step` (the last step of an evaluated epoch). */
  markEvaluation(step: number, testLoss: number, testAccuracy: number): void {
    for (let i = this.#points.length - 1; i >= 0; i--) {
      const point = this.#points[i]!;
      if (point.step < step) return;
      if (point.step === step) {
        point.testLoss = finiteOrNull(testLoss);
        point.testAccuracy = finiteOrNull(testAccuracy);
        return;
      }
    }
  }

  view(): SeriesView {
    const p = this.#points;
    return {
      t: p.map((x) => x.tSeconds),
      step: p.map((x) => x.step),
      examplesPerSecond: p.map((x) => x.examplesPerSecond),
      loss: p.map((x) => finiteOrNull(x.loss)),
      accuracy: p.map((x) => finiteOrNull(x.accuracy)),
      epochLoss: p.map((x) => finiteOrNull(x.epochLoss)),
      epochAccuracy: p.map((x) => finiteOrNull(x.epochAccuracy)),
      testLoss: p.map((x) => x.testLoss),
      testAccuracy: p.map((x) => x.testAccuracy),
    };
  }

  #keeps(point: StoredPoint, stride = this.#stride): boolean {
    return point.ordinal % stride === 0 || point.testLoss !== null || point.testAccuracy !== null;
  }

  #thin(): void {
    this.#stride *= 2;
    const last = this.#points.length - 1;
    const kept = this.#points.filter((point, i) => i === last || this.#keeps(point));
    // Evaluations alone overflowing the series are thinned like the rest.
    this.#points = kept.length > this.maxPoints ? kept.filter((point, i) => i === kept.length - 1 || point.ordinal % this.#stride === 0) : kept;
  }
}
