/**
 * `--precision bf16` reaches every worker's convolutions: two-step launches on real images that
 * differ only in the precision start from different losses on each batch (a worker that ignored
 * the assigned precision would compute the float32 loss), and the bf16 replicas still agree on
 * their weight checksums. A coordinator refuses a worker that cannot compute bf16 when it says
 * hello, naming why. On a CPU without bf16 arithmetic the launch itself refuses, which is
 * checked instead.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { bf16ConvolutionSupport } from '@ringtrain/model';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { firstStepLossByBatch, readSummary, runRingtrain } from './launch-helpers.ts';
import type { RunSummary } from '../src/index.ts';

const support = bf16ConvolutionSupport();
const TOKEN = 'precision-token-0123456789';
// f32 twice: the same launch repeats its losses bit for bit, so bf16's difference is its own.
const RUNS = { f32: 'f32', f32again: 'f32', bf16: 'bf16' } as const;
type RunName = keyof typeof RUNS;

describe.skipIf(!support.supported)(`the precision of a launch${support.supported ? '' : ` (skipped: ${support.reason})`}`, () => {
  let dir: string;
  const firstLoss = {} as Record<RunName, Map<string, number>>;
  const summary = {} as Record<RunName, RunSummary>;

  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'ringtrain-precision-'));
    for (const [name, precision] of Object.entries(RUNS) as [RunName, string][]) {
      const logDir = join(dir, name);
      const summaryPath = join(dir, `${name}.json`);
      const run = runRingtrain([
        'launch', '--workers', '2', '--port', '0', '--stem', 'compact', '--width', '0.25', '--batch-size', '128',
        '--limit-train', '256', '--limit-test', '128', '--checksum-every', '1', '--step-log-dir', logDir,
        '--summary-json', summaryPath, '--precision', precision,
      ]);
      const exit = await run.exited;
      if (exit.code !== 0) throw new Error(`ringtrain launch --precision ${precision} exited ${String(exit.code)}:\n${exit.stdout}\n${exit.stderr}`);
      summary[name] = await readSummary(summaryPath);
      firstLoss[name] = await firstStepLossByBatch(logDir, 2);
    }
  }, 300_000);

  afterAll(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  it('names the precision in the summary and its recipe line', () => {
    expect(summary.bf16.precision).toBe('bf16');
    expect(summary.bf16.recipe).toContain('bf16 convolutions');
    expect(summary.f32.precision).toBe('f32');
    expect(summary.f32.recipe).not.toContain('bf16');
  });

  it('changes what every worker computes, by about bf16 rounding', () => {
    // Compared batch for batch: which worker trains which shard depends on who joins first.
    expect(firstLoss.f32.size).toBe(2);
    for (const name of ['f32again', 'bf16'] as const) expect([...firstLoss[name].keys()].sort()).toEqual([...firstLoss.f32.keys()].sort());
    for (const [batch, f32] of firstLoss.f32) {
      const bf16 = firstLoss.bf16.get(batch) as number;
      expect(Number.isFinite(f32) && Number.isFinite(bf16)).toBe(true);
      expect(firstLoss.f32again.get(batch)).toBe(f32);
      expect(bf16).not.toBe(f32);
      expect(Math.abs(bf16 - f32)).toBeLessThan(0.05 * f32);
    }
  });

  it('trains the bf16 replicas to the same weights, checked at every step', () => {
    expect(summary.bf16.checksumsAgreed).toBeGreaterThanOrEqual(2);
    expect(summary.bf16.testAccuracy).toBeGreaterThan(0);
  });
});

describe('bf16 asked of workers that cannot compute it', () => {
  // Refused when they say hello, before any ring forms; the coordinator goes on waiting for able workers.
  const refusedWorkers: [string, readonly string[], Record<string, string>, RegExp][] = [
    ['computes on another backend than native', ['--backend', 'cpu'], {}, /worker \S+ \(backend cpu\) computes them in f32 only: bf16 convolutions run on the native backend only/],
  ];
  // Capping oneDNN's ISA needs the native addon; with bf16 in hardware the addon is there.
  if (support.supported) {
    refusedWorkers.push(['computes on native, on a CPU without bf16 arithmetic', ['--backend', 'native'], { ONEDNN_MAX_CPU_ISA: 'AVX2' }, /worker \S+ \(backend native\) computes them in f32 only: its CPU has no bf16 arithmetic/]);
  }
  it.each(refusedWorkers)('refuses a worker that %s, naming its backend and the run\'s precision', async (_, flags, env, said) => {
    const coordinator = runRingtrain(['coordinator', '--port', '0', '--min-workers', '1', '--limit-train', '256', '--limit-test', '0', '--precision', 'bf16'], { RINGTRAIN_TOKEN: TOKEN });
    try {
      const url = await coordinator.url;
      const worker = runRingtrain(['worker', '--coordinator', url, ...flags, '--metrics-port', '0'], { RINGTRAIN_TOKEN: TOKEN, ...env });
      const { code, stderr } = await worker.exited;
      expect(code).not.toBe(0);
      expect(stderr).toContain('RINGTRAIN_PRECISION_UNSUPPORTED');
      expect(stderr).toContain('this run computes its convolutions in bf16 (--precision bf16)');
      expect(stderr).toMatch(said);
      expect(coordinator.output()).not.toMatch(/joined from/);
    } finally {
      coordinator.kill();
      await coordinator.exited;
    }
  }, 120_000);


  it('says, as a coordinator given auto, that it takes f32', async () => {
    const coordinator = runRingtrain(['coordinator', '--port', '0', '--min-workers', '1', '--preset', 'fast', '--limit-train', '256', '--limit-test', '0'], { RINGTRAIN_TOKEN: TOKEN });
    try {
      await coordinator.url;
      await expect.poll(() => coordinator.output()).toContain("precision auto (the preset's) is f32 here, since this command cannot know what its workers compute on");
    } finally {
      coordinator.kill();
      await coordinator.exited;
    }
  }, 60_000);

  it('refuses, in launch, another backend than native, naming it', async () => {
    const { code, stderr, stdout } = await runRingtrain(['launch', '--port', '0', '--precision', 'bf16', '--backend', 'wasm']).exited;
    expect(code).toBe(1);
    expect(stderr).toContain('--precision bf16 runs on the native backend only, not on --backend wasm');
    expect(stdout).not.toMatch(/coordinator on ws:/);
  });

  it('refuses a CPU without bf16 arithmetic, naming what it has', async () => {
    // oneDNN's ISA cap makes this CPU look like one without AVX512-BF16.
    const { code, stderr, stdout } = await runRingtrain(['launch', '--port', '0', '--precision', 'bf16'], { ONEDNN_MAX_CPU_ISA: 'AVX2' }).exited;
    expect(code).toBe(1);
    // Without the native addon the launch refuses too, for that reason.
    expect(stderr).toMatch(/--precision bf16 cannot run on this machine: (bf16 convolutions need a CPU with AVX512-BF16 or AMX; the best oneDNN finds on this one is avx2|the native addon)/);
    expect(stdout).not.toMatch(/coordinator on ws:/);
  });

  it('refuses a precision it does not know, naming the choices', async () => {
    const { code, stderr } = await runRingtrain(['launch', '--port', '0', '--precision', 'f16']).exited;
    expect(code).not.toBe(0);
    expect(stderr).toMatch(/option '--precision <type>' argument 'f16' is invalid\. Allowed choices are f32, bf16/);
  });
});
