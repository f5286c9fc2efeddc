/**
 * Fitting the cost model's constants of one machine to measured steps: the cost per message, the
 * transport all hosts of a shared machine move together, and the f32 they convert to and from a
 * 16-bit wire format together (the three that depend on the machine's cores; see `calibration.ts`).
 * A grid search keeps the constants whose largest relative error over the rows is smallest, the
 * criterion the predictions are judged by (every row within a bound, not a good average).
 *
 * Fit on some rows and check on others: constants fitted to the rows they are judged on say
 * little about rows the fit has not seen.
 */
import { predictStep } from './cost-model.ts';
import type { StepCostInput, TransportCalibration } from './cost-model.ts';

/** A measured step: the model's inputs, without the calibration, and the step time measured. */
export interface MeasuredStep {
  input: Omit<StepCostInput, 'calibration'>;
  stepMs: number;
}

/** The values the search tries for each fitted constant. */
export interface CalibrationGrid {
  perMessageMs: readonly number[];
  sharedThroughputBytesPerSecond: readonly number[];
  sharedCodecThroughputBytesPerSecond: readonly number[];
}

/** The constants a fit searches for. */
export type FittedConstant = keyof CalibrationGrid;

export interface CalibrationFit {
  calibration: TransportCalibration;
  /** The largest |predicted / measured − 1| over the rows fitted. */
  largestError: number;
  /** Constants kept from the base because no row depends on them (the codec's, when no row converts values). */
  notFitted: FittedConstant[];
  /** Fitted constants found at the largest value of the grid, or its smallest above 0: the best may lie beyond. */
  atEdge: FittedConstant[];
}

const range = (from: number, to: number, step: number): number[] =>
  Array.from({ length: Math.round((to - from) / step) + 1 }, (_, i) => Number((from + i * step).toFixed(6)));

/** 0–3 ms per message, 0.5–3 GB/s of shared transport and 0.5–5 GB/s of shared codec. */
export const DEFAULT_CALIBRATION_GRID: CalibrationGrid = {
  perMessageMs: [0, 0.1, 0.25, 0.5, 0.75, 1, 1.5, 2, 3],
  sharedThroughputBytesPerSecond: range(0.5e9, 3e9, 0.05e9),
  sharedCodecThroughputBytesPerSecond: range(0.5e9, 5e9, 0.1e9),
};

/** |predicted / measured − 1| of one row under `calibration`. */
export function relativeError(row: MeasuredStep, calibration: TransportCalibration): number {
  return Math.abs(predictStep({ ...row.input, calibration }).stepMs / row.stepMs - 1);
}

/**
 * The constants of `grid` that predict `rows` with the smallest largest error; the other
 * constants stay those of `base`. Rows of one worker, which send nothing, say nothing about the
 * transport and are skipped.
 */
export function fitSharedCalibration(rows: readonly MeasuredStep[], base: TransportCalibration, grid: CalibrationGrid = DEFAULT_CALIBRATION_GRID): CalibrationFit {
  const informative = rows.filter((row) => row.input.worldSize > 1);
  if (informative.length === 0) throw new RangeError('no row of more than one worker to fit the transport to');
  // Codec constants matter only for rows that convert values; the search over them runs only then.
  const converting = informative.some((row) => row.input.convertsValues === true);
  const codecValues = converting ? grid.sharedCodecThroughputBytesPerSecond : [base.sharedCodecThroughputBytesPerSecond];
  let best: { calibration: TransportCalibration; largestError: number } | undefined;
  for (const perMessageMs of grid.perMessageMs) {
    for (const sharedThroughputBytesPerSecond of grid.sharedThroughputBytesPerSecond) {
      for (const sharedCodecThroughputBytesPerSecond of codecValues) {
        const calibration = { ...base, perMessageMs, sharedThroughputBytesPerSecond, sharedCodecThroughputBytesPerSecond };
        let largestError = 0;
        for (const row of informative) {
          largestError = Math.max(largestError, relativeError(row, calibration));
          // Worse than the best already: the rest of the rows cannot make it better.
          if (best !== undefined && largestError >= best.largestError) break;
        }
        if (best === undefined || largestError < best.largestError) best = { calibration, largestError };
      }
    }
  }
  const found = best as { calibration: TransportCalibration; largestError: number };
  const notFitted: FittedConstant[] = converting ? [] : ['sharedCodecThroughputBytesPerSecond'];
  const atEdge = (Object.keys(grid) as FittedConstant[]).filter((name) => {
    if (notFitted.includes(name)) return false;
    const values = grid[name];
    const value = found.calibration[name];
    // Nothing lies below 0: a cost of 0 at the grid's floor is found, not cut off.
    return values.length > 1 && ((value === Math.min(...values) && value > 0) || value === Math.max(...values));
  });
  return { ...found, notFitted, atEdge };
}
