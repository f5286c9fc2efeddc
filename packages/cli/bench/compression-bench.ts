/**
 * `npm run bench:compression`: what gradient compression costs and saves in the main job. Each
 * variant is one `ringtrain launch` of ResNet-18 with 2 workers on all of Fashion-MNIST for one
 * epoch from the same seed (same initial weights, same data order), one after the other in one
 * run (rounds interleave the variants with `--repeats`), so the machine's load hits them alike.
 * Per variant: bytes one worker sent per step, the step time and its split, examples/s, and the
 * test accuracy with its difference to the uncompressed run in points.
 *
 * Options: --variants none,powersgd:1,powersgd:2,powersgd:4,bf16,f16 (powersgd:R is rank R)
 *          --powersgd-start-step 20 --seed 1 --workers 2 --model resnet18 --epochs 1
 *          --limit-train 60000 --backend auto --repeats 1 --json
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { readSummary, runRingtrain } from '../test/launch-helpers.ts';
import type { RunSummary } from '../src/index.ts';

const { values } = parseArgs({
  options: {
    variants: { type: 'string', default: 'none,powersgd:1,powersgd:2,powersgd:4,bf16,f16' },
    'powersgd-start-step': { type: 'string', default: '20' },
    seed: { type: 'string', default: '1' },
    workers: { type: 'string', default: '2' },
    model: { type: 'string', default: 'resnet18' },
    epochs: { type: 'string', default: '1' },
    'limit-train': { type: 'string', default: '60000' },
    backend: { type: 'string', default: 'auto' },
    repeats: { type: 'string', default: '1' },
    json: { type: 'boolean', default: false },
  },
});

function positiveInteger(flag: string, text: string | undefined, min = 1): number {
  const value = Number(text);
  if (!Number.isInteger(value) || value < min) throw new Error(`--${flag} must be an integer of at least ${min}, got ${String(text)}`);
  return value;
}

interface Variant {
  label: string;
  method: string;
  rank: number;
}

function variantOf(text: string): Variant {
  const [method = '', rankText] = text.split(':');
  if (!['none', 'bf16', 'f16', 'powersgd'].includes(method)) throw new Error(`--variants: unknown compression ${JSON.stringify(method)} (none, bf16, f16, powersgd:RANK)`);
  if (method !== 'powersgd') return { label: method, method, rank: 2 };
  const rank = positiveInteger('variants (powersgd rank)', rankText ?? '2');
  return { label: `powersgd r${rank}`, method, rank };
}

const variants = (values.variants ?? '').split(',').filter((v) => v !== '').map(variantOf);
if (variants.length === 0) throw new Error('--variants names no variant');
const startStep = positiveInteger('powersgd-start-step', values['powersgd-start-step'], 0);
const seed = positiveInteger('seed', values.seed, 0);
const workers = positiveInteger('workers', values.workers);
const epochs = positiveInteger('epochs', values.epochs);
const limitTrain = positiveInteger('limit-train', values['limit-train']);
const repeats = positiveInteger('repeats', values.repeats);

interface Row {
  variant: string;
  round: number;
  steps: number;
  sentMBPerStep: number;
  stepMs: number;
  computeMs: number;
  allReduceMs: number;
  waitMs: number;
  examplesPerSecond: number;
  testAccuracy: number | null;
  checksumsAgreed: number;
  /** The 1-minute load average before and after the run. */
  load: [number, number];
}

async function measure(variant: Variant, round: number): Promise<Row> {
  const dir = await mkdtemp(join(tmpdir(), 'ringtrain-compression-'));
  try {
    const summaryPath = join(dir, 'summary.json');
    const loadBefore = loadavg()[0] ?? 0;
    const run = runRingtrain([
      'launch',
      '--workers', String(workers),
      '--port', '0',
      '--model', values.model ?? 'resnet18',
      '--epochs', String(epochs),
      '--seed', String(seed),
      '--backend', values.backend ?? 'auto',
      '--limit-train', String(limitTrain),
      '--compression', variant.method,
      '--powersgd-rank', String(variant.rank),
      '--powersgd-start-step', String(startStep),
      '--summary-json', summaryPath,
    ]);
    const result = await run.exited;
    if (result.code !== 0) throw new Error(`the ${variant.label} run failed:\n${result.stdout}\n${result.stderr}`);
    const s: RunSummary = await readSummary(summaryPath);
    return {
      variant: variant.label,
      round,
      steps: s.steps,
      sentMBPerStep: s.sentBytesPerStep / 1e6,
      stepMs: s.meanComputeMs + s.meanAllReduceMs + s.meanWaitMs,
      computeMs: s.meanComputeMs,
      allReduceMs: s.meanAllReduceMs,
      waitMs: s.meanWaitMs,
      examplesPerSecond: s.examplesPerSecond,
      testAccuracy: s.testAccuracy,
      checksumsAgreed: s.checksumsAgreed,
      load: [loadBefore, loadavg()[0] ?? 0],
    };
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

const rows: Row[] = [];
for (let round = 0; round < repeats; round++) {
  for (const variant of variants) {
    process.stderr.write(`round ${round + 1}/${repeats}: ${variant.label}…\n`);
    rows.push(await measure(variant, round));
  }
}

const baseline = (round: number): Row | undefined => rows.find((r) => r.round === round && r.variant === 'none');
const report = {
  model: values.model,
  workers,
  epochs,
  seed,
  limitTrain,
  powersgdStartStep: startStep,
  rows: rows.map((r) => {
    const base = baseline(r.round);
    return {
      ...r,
      bytesRatioToNone: base === undefined ? null : base.sentMBPerStep / r.sentMBPerStep,
      accuracyPointsVsNone: base?.testAccuracy == null || r.testAccuracy === null ? null : (r.testAccuracy - base.testAccuracy) * 100,
    };
  }),
};

if (values.json) {
  process.stdout.write(`${JSON.stringify(report, null, 2)}\n`);
} else {
  const header = ['round', 'variant', 'steps', 'MB sent/step', '× fewer', 'step ms', 'compute', 'all-reduce', 'waiting', 'examples/s', 'test acc', 'Δ points', 'load'];
  const cells = report.rows.map((r) => [
    String(r.round + 1),
    r.variant,
    String(r.steps),
    r.sentMBPerStep.toFixed(3),
    r.bytesRatioToNone === null ? '–' : r.bytesRatioToNone.toFixed(1),
    r.stepMs.toFixed(1),
    r.computeMs.toFixed(1),
    r.allReduceMs.toFixed(1),
    r.waitMs.toFixed(1),
    r.examplesPerSecond.toFixed(1),
    r.testAccuracy === null ? 'n/a' : (r.testAccuracy * 100).toFixed(2),
    r.accuracyPointsVsNone === null ? '–' : `${r.accuracyPointsVsNone >= 0 ? '+' : ''}${r.accuracyPointsVsNone.toFixed(2)}`,
    `${r.load[0].toFixed(1)}→${r.load[1].toFixed(1)}`,
  ]);
  const widths = header.map((h, i) => Math.max(h.length, ...cells.map((c) => c[i]?.length ?? 0)));
  const line = (c: string[]): string => c.map((v, i) => (i === 1 ? v.padEnd(widths[i] ?? 0) : v.padStart(widths[i] ?? 0))).join('  ');
  process.stdout.write(`${values.model}, ${workers} workers, ${epochs} epoch(s) of ${limitTrain} images, seed ${seed}, PowerSGD from step ${startStep}\n`);
  process.stdout.write(`${line(header)}\n${cells.map(line).join('\n')}\n`);
  process.stdout.write('step ms = compute + all-reduce (compression included) + waiting, mean per worker; MB sent = one worker, per step; load = 1-minute load average before→after\n');
}
