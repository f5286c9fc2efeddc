import { describe, expect, it } from 'vitest';
import { DEFAULT_CALIBRATION, THIS_MACHINE_CLUSTER } from './calibration.ts';
import { fitSharedCalibration, relativeError, type MeasuredStep } from './calibration-fit.ts';
import { predictStep, type StepCostInput, type TransportCalibration } from './cost-model.ts';

/** A machine whose constants lie on the default grid but are none of the ones shipped. */
const MACHINE: TransportCalibration = { ...DEFAULT_CALIBRATION, perMessageMs: 0.5, sharedThroughputBytesPerSecond: 1.25e9, sharedCodecThroughputBytesPerSecond: 1.7e9 };

/** Rows of the kinds `bench:cluster` measures: 1 and 10 Gbit/s, 1, 2 and 4 hosts, f32 and bf16. */
function rowsOf(calibration: TransportCalibration): MeasuredStep[] {
  const rows: MeasuredStep[] = [];
  for (const [gradientBytes, computeMs] of [[44.7e6, 50], [94.3e6, 120], [233.2e6, 250]] as const) {
    for (const [gbit, latencyMs] of [[1, 0.2], [10, 0.05]] as const) {
      for (const worldSize of [1, 2, 4]) {
        for (const bf16 of [false, true]) {
          const input: Omit<StepCostInput, 'calibration'> = {
            computeMs,
            gradientBytes,
            worldSize,
            linkBitsPerSecond: gbit * 1e9,
            latencyMs,
            maxBucketBytes: 25 * 1024 * 1024,
            overlap: 0,
            compressionRatio: bf16 ? 2 : 1,
            convertsValues: bf16,
          };
          rows.push({ input, stepMs: predictStep({ ...input, calibration }).stepMs });
        }
      }
    }
  }
  return rows;
}

describe('fitSharedCalibration', () => {
  it("recovers a machine's constants from steps that follow the model", () => {
    const fit = fitSharedCalibration(rowsOf(MACHINE), DEFAULT_CALIBRATION);
    expect(fit.calibration).toEqual(MACHINE);
    expect(fit.largestError).toBeLessThan(1e-9);
  });

  it('fitted to two models, predicts the third it has not seen', () => {
    const rows = rowsOf(MACHINE);
    const heldOut = (row: MeasuredStep): boolean => row.input.gradientBytes === 94.3e6;
    const fit = fitSharedCalibration(rows.filter((row) => !heldOut(row)), DEFAULT_CALIBRATION);
    for (const row of rows.filter(heldOut)) expect(relativeError(row, fit.calibration)).toBeLessThan(1e-9);
  });

  it("keeps the base's codec constant when no row converts values, and its other constants always", () => {
    const base = { ...THIS_MACHINE_CLUSTER, linkEfficiency: 0.8 };
    const fit = fitSharedCalibration(rowsOf({ ...MACHINE, linkEfficiency: 0.8 }).filter((row) => row.input.convertsValues !== true), base);
    expect(fit.calibration.sharedCodecThroughputBytesPerSecond).toBe(base.sharedCodecThroughputBytesPerSecond);
    expect(fit.calibration.linkEfficiency).toBe(0.8);
    expect(fit.calibration.codecThroughputBytesPerSecond).toBe(base.codecThroughputBytesPerSecond);
    expect(fit.calibration.sharedThroughputBytesPerSecond).toBe(MACHINE.sharedThroughputBytesPerSecond);
  });

  it('reports the largest error of steps the model cannot follow, rather than hiding it', () => {
    const rows = rowsOf(MACHINE);
    // One row 40% slower than any constants explain: the fit cannot bring every row within 15%.
    const slowed = rows.map((row, i) => (i === 10 ? { ...row, stepMs: row.stepMs * 1.4 } : row));
    expect(fitSharedCalibration(slowed, DEFAULT_CALIBRATION).largestError).toBeGreaterThan(0.15);
  });

  it('refuses rows that send nothing', () => {
    const single = rowsOf(MACHINE).filter((row) => row.input.worldSize === 1);
    expect(() => fitSharedCalibration(single, DEFAULT_CALIBRATION)).toThrow(/no row of more than one worker/);
  });
});
