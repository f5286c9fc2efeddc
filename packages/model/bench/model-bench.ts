/**
 * Throughput and memory of the training step and of inference, per backend.
 *
 *   npm run bench:model [-- --backend auto|wasm|cpu|tfjs-node|tfjs-node-gpu] [--json]
 *                          [--steps N] [--warmup N] [--threads N] [--rows all|quick]
 *
 * Every row runs in a child process of its own, so the peak resident set size it reports
 * (the kernel's `ru_maxrss`) belongs to that model and batch alone. A training step is
 * `computeGradients` + `applyGradients` (no all-reduce); a forward step is `predict` (batch
 * norm in inference mode). Warm-up steps are not timed; the figures are medians.
 */
import { spawn } from 'node:child_process';
import { cpus } from 'node:os';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';

import { BACKEND_NAMES, isBackendName, selectBackend } from '../src/backends/index.ts';
import { buildResNet } from '../src/resnet.ts';
import type { ResNetDepth, StemKind } from '../src/resnet-table.ts';
import { Trainer } from '../src/trainer.ts';

export interface BenchRowSpec {
  readonly depth: ResNetDepth;
  readonly stem: StemKind;
  readonly imageSize: number;
  readonly batchSize: number;
  readonly mode: 'train' | 'forward';
}

export interface BenchRow {
  readonly backend: string;
  readonly model: string;
  readonly imageSize: number;
  readonly batchSize: number;
  readonly mode: 'train' | 'forward';
  readonly examplesPerSecond: number;
  readonly stepMs: number;
  readonly peakRssBytes: number;
}

const ROWS: readonly BenchRowSpec[] = [
  { depth: 18, stem: 'd2l', imageSize: 28, batchSize: 32, mode: 'train' },
  { depth: 18, stem: 'd2l', imageSize: 28, batchSize: 128, mode: 'train' },
  { depth: 18, stem: 'd2l', imageSize: 28, batchSize: 32, mode: 'forward' },
  { depth: 18, stem: 'd2l', imageSize: 28, batchSize: 128, mode: 'forward' },
  { depth: 50, stem: 'd2l', imageSize: 32, batchSize: 8, mode: 'train' },
  { depth: 152, stem: 'd2l', imageSize: 32, batchSize: 8, mode: 'train' },
];

interface ChildOptions {
  readonly backend: string;
  readonly threads: number;
  readonly steps: number;
  readonly warmup: number;
}

function median(values: readonly number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  const middle = Math.floor(sorted.length / 2);
  return sorted.length % 2 === 1 ? (sorted[middle] as number) : ((sorted[middle - 1] as number) + (sorted[middle] as number)) / 2;
}

/** A row and the CPU time it got per second of wall time while timed (below 1: the core was shared). */
interface MeasuredRow extends BenchRow {
  readonly cpuShare: number;
}

/** Runs one row in this process and returns its figures. */
async function measureRow(spec: BenchRowSpec, options: ChildOptions): Promise<MeasuredRow> {
  const selection = await selectBackend(options.backend, { wasmThreads: options.threads });
  const trainer = new Trainer(
    buildResNet({ depth: spec.depth, stem: spec.stem, imageSize: spec.imageSize, channels: 1, classes: 10, seed: 0 }),
    { learningRate: 0.01 },
  );
  const { batchSize, imageSize } = spec;
  const images = new Float32Array(batchSize * imageSize * imageSize);
  for (let i = 0; i < images.length; i++) images[i] = Math.sin(i * 0.7) * 1.5;
  const labels = Uint8Array.from({ length: batchSize }, (_, i) => i % 10);
  const flat = new Float32Array(trainer.layout.totalLength);
  const step = (): void => {
    if (spec.mode === 'train') {
      trainer.applyGradients(trainer.computeGradients(images, labels, { into: flat }).flat);
    } else {
      trainer.predict(images);
    }
  };
  for (let i = 0; i < options.warmup; i++) step();
  const times: number[] = [];
  const cpuBefore = process.cpuUsage();
  const wallBefore = performance.now();
  for (let i = 0; i < options.steps; i++) {
    const start = performance.now();
    step();
    times.push(performance.now() - start);
  }
  const cpu = process.cpuUsage(cpuBefore);
  const cpuShare = (cpu.user + cpu.system) / 1000 / (performance.now() - wallBefore);
  trainer.dispose();
  const stepMs = median(times);
  return {
    cpuShare,
    backend: selection.name,
    model: `ResNet-${spec.depth} (${spec.stem})`,
    imageSize,
    batchSize,
    mode: spec.mode,
    examplesPerSecond: (batchSize * 1000) / stepMs,
    stepMs,
    // ru_maxrss, in KiB on Linux: the peak over this process's whole life.
    peakRssBytes: process.resourceUsage().maxRSS * 1024,
  };
}

/** Runs one row in a child process of its own (a fresh heap, so a fair peak RSS). */
function runChild(spec: BenchRowSpec, options: ChildOptions): Promise<MeasuredRow> {
  const script = fileURLToPath(import.meta.url);
  const args = [...process.execArgv, script, '--child', JSON.stringify({ spec, options })];
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, args, { stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (chunk: Buffer) => (stdout += chunk.toString()));
    child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
    child.on('error', reject);
    child.on('close', (code) => {
      const line = stdout.trim().split('\n').at(-1) ?? '';
      if (code !== 0 || !line.startsWith('{')) {
        reject(new Error(`benchmark of ResNet-${spec.depth} ${spec.mode} batch ${spec.batchSize} failed (exit ${code}): ${stderr.trim()}`));
        return;
      }
      resolve(JSON.parse(line) as MeasuredRow);
    });
  });
}

function formatTable(rows: readonly MeasuredRow[]): string {
  const header = ['backend', 'model', 'image', 'batch', 'mode', 'examples/s', 'step ms', 'peak RSS MiB', 'CPU share'];
  const body = rows.map((r) => [
    r.backend,
    r.model,
    `${r.imageSize}×${r.imageSize}`,
    String(r.batchSize),
    r.mode,
    r.examplesPerSecond.toFixed(1),
    r.stepMs.toFixed(0),
    (r.peakRssBytes / 2 ** 20).toFixed(0),
    r.cpuShare.toFixed(2),
  ]);
  const widths = header.map((h, i) => Math.max(h.length, ...body.map((row) => (row[i] as string).length)));
  const line = (cells: string[]) => cells.map((c, i) => (i >= 3 ? c.padStart(widths[i] as number) : c.padEnd(widths[i] as number))).join('  ');
  return [line(header), widths.map((w) => '-'.repeat(w)).join('  '), ...body.map(line)].join('\n');
}

function integerOption(name: string, text: string, min: number): number {
  const value = Number(text);
  if (text.trim() === '' || !Number.isInteger(value) || value < min) {
    throw new Error(`--${name} must be an integer of at least ${min}, got '${text}'`);
  }
  return value;
}

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: {
      backend: { type: 'string', default: 'auto' },
      json: { type: 'boolean', default: false },
      steps: { type: 'string', default: '5' },
      warmup: { type: 'string', default: '2' },
      threads: { type: 'string', default: '1' },
      rows: { type: 'string', default: 'all' },
      child: { type: 'string' },
    },
  });
  if (values.child !== undefined) {
    const { spec, options } = JSON.parse(values.child) as { spec: BenchRowSpec; options: ChildOptions };
    process.stdout.write(`${JSON.stringify(await measureRow(spec, options))}\n`);
    return;
  }
  if (values.rows !== 'all' && values.rows !== 'quick') throw new Error(`--rows must be 'all' or 'quick', got '${values.rows}'`);
  if (values.backend !== 'auto' && !isBackendName(values.backend)) {
    throw new Error(`--backend must be one of auto, ${BACKEND_NAMES.join(', ')}; got '${values.backend}'`);
  }
  const options: ChildOptions = {
    backend: values.backend,
    threads: integerOption('threads', values.threads, 1),
    steps: integerOption('steps', values.steps, 1),
    warmup: integerOption('warmup', values.warmup, 0),
  };
  const specs = values.rows === 'quick' ? ROWS.filter((r) => r.depth === 18) : ROWS;
  const rows: MeasuredRow[] = [];
  for (const spec of specs) {
    const row = await runChild(spec, options);
    rows.push(row);
    if (!values.json) process.stderr.write(`  measured ${row.model} ${row.mode} batch ${row.batchSize}\n`);
  }
  if (values.json) {
    const plain: BenchRow[] = rows.map(({ cpuShare: _cpuShare, ...row }) => row);
    process.stdout.write(`${JSON.stringify(plain)}\n`);
    return;
  }
  const cpu = cpus()[0]?.model ?? 'unknown CPU';
  process.stdout.write(
    `ringtrain model benchmark: ${cpus().length} × ${cpu}, Node ${process.version}, ` +
      `${options.steps} timed steps after ${options.warmup} warm-up (medians), ${options.threads} wasm thread(s)\n\n`,
  );
  process.stdout.write(`${formatTable(rows)}\n`);
  process.stdout.write('\nCPU share: CPU time the row got per second of wall time; below 1 the core was shared.\n');
}

main().catch((error: unknown) => {
  process.stderr.write(`${error instanceof Error ? error.message : String(error)}\n`);
  process.exitCode = 1;
});
