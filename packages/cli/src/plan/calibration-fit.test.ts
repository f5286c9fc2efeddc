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

  it('reports as its largest error the largest over the rows it fitted', () => {
    // Rows the model does not follow exactly: each off by up to ±8%, differently.
    const rows = rowsOf(MACHINE).map((row, i) => ({ ...row, stepMs: row.stepMs * (1 + 0.08 * Math.sin(i * 1.7)) }));
    const fit = fitSharedCalibration(rows, DEFAULT_CALIBRATION);
    const largest = Math.max(...rows.filter((row) => row.input.worldSize > 1).map((row) => relativeError(row, fit.calibration)));
    expect(fit.largestError).toBe(largest);
    expect(fit.largestError).toBeGreaterThan(0.01);
  });

  it("flags a constant found at the grid's edge, where the best may lie beyond it", () => {
    const beyond = { ...MACHINE, sharedThroughputBytesPerSecond: 4.5e9 };
    const fit = fitSharedCalibration(rowsOf(beyond), DEFAULT_CALIBRATION);
    expect(fit.calibration.sharedThroughputBytesPerSecond).toBe(3e9);
    expect(fit.atEdge).toEqual(['sharedThroughputBytesPerSecond']);
    expect(fitSharedCalibration(rowsOf(MACHINE), DEFAULT_CALIBRATION).atEdge).toEqual([]);
  });

  it('does not flag a cost per message of 0 at the grid floor: nothing lies below it', () => {
    const fit = fitSharedCalibration(rowsOf({ ...MACHINE, perMessageMs: 0 }), DEFAULT_CALIBRATION);
    expect(fit.calibration.perMessageMs).toBe(0);
    expect(fit.atEdge).toEqual([]);
  });

  it("keeps the base's codec constant when no row converts values, and its other constants always", () => {
    const base = { ...THIS_MACHINE_CLUSTER, linkEfficiency: 0.8 };
    const fit = fitSharedCalibration(rowsOf({ ...MACHINE, linkEfficiency: 0.8 }).filter((row) => row.input.convertsValues !== true), base);
    expect(fit.calibration.sharedCodecThroughputBytesPerSecond).toBe(base.sharedCodecThroughputBytesPerSecond);
    expect(fit.notFitted).toEqual(['sharedCodecThroughputBytesPerSecond']);
    expect(fit.atEdge).not.toContain('sharedCodecThroughputBytesPerSecond');
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
