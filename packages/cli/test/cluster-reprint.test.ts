/**
 * `bench:cluster --reprint` and `--fit` on a real saved report (the Xeon run of docs/benchmarks.md,
 * its measured rows only): what they print, and their refusals of bad files and flags.
 */
import { execFile } from 'node:child_process';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

const BENCH = fileURLToPath(new URL('../bench/cluster-bench.ts', import.meta.url));
const REPORT = fileURLToPath(new URL('./fixtures/cluster-report-xeon.json', import.meta.url));
const NPM_BANNER = '\n> ringtrain-workspace@0.1.0 bench:cluster\n> tsx packages/cli/bench/cluster-bench.ts --json\n\n';

interface Outcome {
  code: number;
  stdout: string;
  stderr: string;
}

async function bench(...args: string[]): Promise<Outcome> {
  try {
    const { stdout, stderr } = await promisify(execFile)(process.execPath, ['--import', 'tsx', BENCH, ...args], { encoding: 'utf8' });
    return { code: 0, stdout, stderr };
  } catch (error) {
    const failed = error as { code: number; stdout: string; stderr: string };
    return { code: failed.code, stdout: failed.stdout, stderr: failed.stderr };
  }
}

let dir: string;
beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'cluster-reprint-'));
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

/** Writes `text` to a file of the test's directory and returns its path. */
async function file(name: string, text: string): Promise<string> {
  const path = join(dir, name);
  await writeFile(path, text);
  return path;
}

describe('bench:cluster --reprint', () => {
  it("reads a report saved with npm's banner in front of it as the report itself", async () => {
    const bannered = await file('bannered.json', NPM_BANNER + (await readFile(REPORT, 'utf8')));
    const plain = await bench('--reprint', REPORT);
    expect(plain.code).toBe(0);
    // 35 rows of measurements, each with the cost model's prediction.
    expect(plain.stdout.split('\n').filter((line) => /^\| (1|10) Gbit\/s/.test(line))).toHaveLength(35);
    expect(await bench('--reprint', bannered)).toEqual(plain);
  });

  it('fits on the models not held out and checks the fit on the held-out one', async () => {
    const { code, stdout } = await bench('--reprint', REPORT, '--fit', '--hold-out', 'resnet50', '--json');
    expect(code).toBe(0);
    const report = JSON.parse(stdout) as {
      rows: { model: string; hosts: number; overlap: boolean; fitRole: string; predictedStepMs: number }[];
      fit: { heldOut: string[]; notFitted: string[]; calibration: { hostThroughputBytesPerSecond: unknown } };
    };
    const roles = (model: string): string[] => [...new Set(report.rows.filter((r) => r.model === model && r.hosts > 1).map((r) => r.fitRole))];
    expect(roles('resnet50')).toEqual(['held out']);
    expect(roles('resnet18')).toEqual(['fitted']);
    expect(report.rows.filter((r) => r.hosts === 1).every((r) => r.fitRole === 'other')).toBe(true);
    expect(report.fit.heldOut).toEqual(['resnet50']);
    // The report has bf16 rows: the codec is fitted too.
    expect(report.fit.notFitted).toEqual([]);
    // No bound is Infinity, which JSON alone would write as null.
    expect(report.fit.calibration.hostThroughputBytesPerSecond).toBe('Infinity');

    const table = await bench('--reprint', REPORT, '--fit', '--hold-out', 'resnet50');
    expect(table.stdout).toMatch(/held out \(resnet50\): \d of 8 within 15%, largest \d+\.\d%/);
  });

  it('predicts a reprinted report afresh, without the rows or fit it was saved with', async () => {
    const fitted = await bench('--reprint', REPORT, '--fit', '--hold-out', 'resnet50', '--json');
    const saved = await file('fitted.json', fitted.stdout);
    const again = JSON.parse((await bench('--reprint', saved, '--json')).stdout) as { fit?: unknown; rows: { predictedStepMs: number }[] };
    const shipped = JSON.parse((await bench('--reprint', REPORT, '--json')).stdout) as { rows: { predictedStepMs: number }[] };
    expect(again.fit).toBeUndefined();
    expect(again.rows.map((r) => r.predictedStepMs)).toEqual(shipped.rows.map((r) => r.predictedStepMs));
  });

  it('refuses a file with no report, or a broken one, naming the file', async () => {
    const empty = await file('empty.json', NPM_BANNER);
    const refused = await bench('--reprint', empty);
    expect(refused.code).toBe(2);
    expect(refused.stderr).toContain(`--reprint ${empty}: no JSON report in the file`);

    const text = await readFile(REPORT, 'utf8');
    const cut = await file('cut.json', text.slice(0, text.length / 2));
    const broken = await bench('--reprint', cut);
    expect(broken.code).toBe(2);
    expect(broken.stderr).toContain(`--reprint ${cut}: the report is not valid JSON`);
  });

  it('refuses a held-out model without rows, --hold-out without --fit, and unknown flags', async () => {
    const absent = await bench('--reprint', REPORT, '--fit', '--hold-out', 'resnet34');
    expect(absent.code).toBe(2);
    expect(absent.stderr).toContain('--hold-out resnet34: the report has no row of several hosts of resnet34');

    const alone = await bench('--reprint', REPORT, '--hold-out', 'resnet50');
    expect(alone.code).toBe(2);
    expect(alone.stderr).toContain('give --fit as well');

    const unknown = await bench('--reprint', REPORT, '--fitt');
    expect(unknown.code).toBe(2);
    expect(unknown.stderr).toContain("Unknown option '--fitt'");
    expect(unknown.stderr).toContain('usage: npm run -s bench:cluster');
  });
});
