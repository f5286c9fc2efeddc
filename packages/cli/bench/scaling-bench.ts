/**
 * `npm run bench:scaling`: training throughput of 1 and 2 workers on this machine, and the
 * scaling efficiency (examples/s with 2 workers over twice that of 1), with the step time split
 * into compute, all-reduce and waiting. Weak scaling: the per-worker batch is the same in both
 * runs, as in the d2l multi-GPU chapter. `--json` prints one JSON object instead of a table.
 *
 * Options: --model resnet18 --stem d2l --image-size 28 --width 1 --batch-per-worker 64
 *          --steps 12 --backend auto --json
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { readSummary, runRingtrain } from '../test/launch-helpers.ts';
import type { RunSummary } from '../src/index.ts';

const { values } = parseArgs({
  options: {
    model: { type: 'string', default: 'resnet18' },
    stem: { type: 'string', default: 'd2l' },
    'image-size': { type: 'string', default: '28' },
    width: { type: 'string', default: '1' },
    'batch-per-worker': { type: 'string', default: '64' },
    steps: { type: 'string', default: '12' },
    backend: { type: 'string', default: 'auto' },
    json: { type: 'boolean', default: false },
  },
});

const batchPerWorker = Number(values['batch-per-worker']);
const steps = Number(values.steps);
if (!Number.isInteger(batchPerWorker) || batchPerWorker < 1) throw new Error(`--batch-per-worker must be a positive integer, got ${values['batch-per-worker']}`);
if (!Number.isInteger(steps) || steps < 2) throw new Error(`--steps must be an integer of at least 2, got ${values.steps}`);

interface Row {
  workers: number;
  globalBatchSize: number;
  steps: number;
  examplesPerSecond: number;
  computeMs: number;
  allReduceMs: number;
  waitMs: number;
  backend: string;
}

async function measure(workers: number): Promise<Row> {
  const dir = await mkdtemp(join(tmpdir(), 'ringtrain-scaling-'));
  try {
    const summaryPath = join(dir, 'summary.json');
    const global = batchPerWorker * workers;
    const run = runRingtrain([
      'launch',
      '--workers', String(workers),
      '--port', '0',
      '--model', values.model ?? 'resnet18',
      '--stem', values.stem ?? 'd2l',
      '--image-size', values['image-size'] ?? '28',
      '--width', values.width ?? '1',
      '--batch-size', String(global),
      '--backend', values.backend ?? 'auto',
      '--limit-train', String(global * steps),
      '--limit-test', '0',
      '--checksum-every', '0',
      '--summary-json', summaryPath,
    ]);
    const result = await run.exited;
    if (result.code !== 0) throw new Error(`the ${workers}-worker run failed:\n${result.stderr}`);
    const s: RunSummary = await readSummary(summaryPath);
    return {
      workers,
      globalBatchSize: s.globalBatchSize,
      steps: s.steps,
      examplesPerSecond: s.examplesPerSecond,
      computeMs: s.meanComputeMs,
      allReduceMs: s.meanAllReduceMs,
      waitMs: s.meanWaitMs,
      backend: s.backend,
    };
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

const one = await measure(1);
const two = await measure(2);
const efficiency = two.examplesPerSecond / (2 * one.examplesPerSecond);
const report = {
  model: values.model,
  stem: values.stem,
  imageSize: Number(values['image-size']),
  widthMultiplier: Number(values.width),
  batchPerWorker,
  rows: [one, two],
  scalingEfficiency: efficiency,
};

if (values.json) {
  process.stdout.write(`${JSON.stringify(report, null, 2)}\n`);
} else {
  const header = ['workers', 'global batch', 'steps', 'examples/s', 'compute ms', 'all-reduce ms', 'waiting ms', 'backend'];
  const rows = [one, two].map((r) => [r.workers, r.globalBatchSize, r.steps, r.examplesPerSecond.toFixed(1), r.computeMs.toFixed(1), r.allReduceMs.toFixed(1), r.waitMs.toFixed(1), r.backend].map(String));
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i]?.length ?? 0)));
  const line = (cells: string[]): string => cells.map((c, i) => c.padStart(widths[i] ?? 0)).join('  ');
  process.stdout.write(`${values.model} (${values.stem} stem, ${values['image-size']}×${values['image-size']}, width ${values.width}), ${batchPerWorker} per worker per step\n`);
  process.stdout.write(`${line(header)}\n${rows.map(line).join('\n')}\n`);
  process.stdout.write(`scaling efficiency 1 -> 2 workers: ${(efficiency * 100).toFixed(1)}%\n`);
}
