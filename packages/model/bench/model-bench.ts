/**
 * Throughput and memory of the training step and of inference, per backend, next to PyTorch.
 *
 *   npm run bench:model [-- --backend auto|native|wasm|cpu|tfjs-node|tfjs-node-gpu] [--threads N]
 *                          [--json] [--steps N] [--warmup N] [--rows all|quick]
 *                          [--python PATH] [--no-reference]
 *
 * Without `--backend`, every backend that is available here is measured, side by side: the
 * tfjs-node packages when installed, native (oneDNN) when its addon is built, wasm, and cpu. The
 * cpu backend's training step takes minutes (hundreds of times slower than native), so it runs
 * only the ResNet-18 batch-32 rows, with one timed step and no warm-up (marked in the table);
 * `--backend cpu` measures all its rows with the steps asked for.
 *
 * Threads: `--threads N` runs every row of the native and wasm backends with N threads. Without
 * it, rows run with one thread (per-core figures), and native adds a two-thread row of the
 * ResNet-18 batch-128 training step, the configuration PyTorch's figures are quoted for.
 *
 * Every row runs in a child process of its own, so the peak resident set size it reports (the
 * kernel's `ru_maxrss`) belongs to that model, batch and thread count alone. A training step is
 * `computeGradients` + `applyGradients` (no all-reduce); a forward step is `predict` (batch norm
 * in inference mode). Warm-up steps are not timed; the figures are medians.
 *
 * PyTorch reference: when a Python that imports torch is found (see `pytorch-reference.ts`),
 * `pytorch_reference.py` measures the same ResNet-18 batch-128 training step at each thread count
 * of that step's rows, each right after native's row of the same thread count (the conditions
 * of a shared machine drift), and the ratio of every ringtrain row of that step to PyTorch at the
 * same thread count is printed. Without torch, one line says so and the rest runs as usual.
 *
 * `--json` prints only the rows, as one JSON array of
 * `{backend, model, imageSize, batchSize, mode, examplesPerSecond, stepMs, peakRssBytes}`. A row
 * has no thread count, so with `--json` every row runs with the same one (`--threads`, default 1)
 * and native's extra two-thread row is left out; the PyTorch reference is not run.
 */
import { createRequire } from 'node:module';
import { cpus, loadavg, totalmem } from 'node:os';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';

import { nativeBackendAvailability } from '@ringtrain/backend-native';
import * as tf from '@tensorflow/tfjs-core';

import { BACKEND_NAMES, isBackendName, selectBackend } from '../src/backends/index.ts';
import type { BackendName } from '../src/backends/index.ts';
import { buildResNet } from '../src/resnet.ts';
import type { ResNetDepth, StemKind } from '../src/resnet-table.ts';
import { Trainer } from '../src/trainer.ts';
import { DEFAULT_PYTHONS, PytorchReference } from './pytorch-reference.ts';
import type { PytorchRun } from './pytorch-reference.ts';
import { runJsonChild } from './json-child.ts';
import { formatTextTable } from './text-table.ts';

export interface BenchRowSpec {
  readonly depth: ResNetDepth;
  readonly stem: StemKind;
  readonly imageSize: number;
  readonly batchSize: number;
  readonly mode: 'train' | 'forward';
}

/** One row of `--json`: exactly these fields. */
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

/** The ResNet-18 training step PyTorch's figures are for, and the one the reference measures. */
const REFERENCE_SPEC: BenchRowSpec = { depth: 18, stem: 'd2l', imageSize: 28, batchSize: 128, mode: 'train' };

const ROWS: readonly BenchRowSpec[] = [
  { depth: 18, stem: 'd2l', imageSize: 28, batchSize: 32, mode: 'train' },
  REFERENCE_SPEC,
  { depth: 18, stem: 'd2l', imageSize: 28, batchSize: 32, mode: 'forward' },
  { depth: 18, stem: 'd2l', imageSize: 28, batchSize: 128, mode: 'forward' },
  { depth: 50, stem: 'd2l', imageSize: 32, batchSize: 8, mode: 'train' },
  { depth: 152, stem: 'd2l', imageSize: 32, batchSize: 8, mode: 'train' },
];

/** Thread counts native adds for the reference step when `--threads` is not given. */
const NATIVE_EXTRA_THREADS: readonly number[] = [2];

/** The cpu backend, when measured next to the others, runs only these rows, with these few steps. */
const CPU_SIDE_BY_SIDE = {
  rows: (spec: BenchRowSpec): boolean => spec.depth === 18 && spec.batchSize === 32,
  steps: 1,
  warmup: 0,
} as const;

/** The row the cpu backend's slowdown is quoted for. */
const CPU_SLOWDOWN_SPEC: BenchRowSpec = { depth: 18, stem: 'd2l', imageSize: 28, batchSize: 32, mode: 'train' };

/**
 * PyTorch 1.13 (oneDNN 2.6) on the 2-core reference machine of issue 5, examples/s of the
 * reference step by thread count: the figures ringtrain's native backend aims to match.
 */
const PYTORCH_ISSUE_FIGURES: Readonly<Record<number, number>> = { 1: 410, 2: 770 };

interface ChildOptions {
  readonly backend: string;
  readonly threads: number;
  readonly steps: number;
  readonly warmup: number;
}

interface PlannedRow {
  readonly spec: BenchRowSpec;
  readonly options: ChildOptions;
  /** Fewer rows and steps than asked for (the cpu backend next to the others). */
  readonly reduced: boolean;
}

/** A row, its thread count, how the backend ran, and the CPU time it got (see `cpuShare`). */
interface MeasuredRow extends BenchRow {
  readonly threads: number;
  readonly steps: number;
  readonly reduced: boolean;
  /** `describeBackendSelection`'s detail, e.g. 'oneDNN 2.6.3 (avx512_core), 1 thread(s)'. */
  readonly detail: string;
  /** CPU time per wall-clock second and thread while timed; well below 1 means the cores were shared. */
  readonly cpuShare: number;
}

function median(values: readonly number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  const middle = Math.floor(sorted.length / 2);
  return sorted.length % 2 === 1 ? (sorted[middle] as number) : ((sorted[middle - 1] as number) + (sorted[middle] as number)) / 2;
}

function modelName(spec: BenchRowSpec): string {
  return `ResNet-${spec.depth} (${spec.stem})`;
}

function sameSpec(row: BenchRow, spec: BenchRowSpec): boolean {
  return row.model === modelName(spec) && row.imageSize === spec.imageSize && row.batchSize === spec.batchSize && row.mode === spec.mode;
}

/** Runs one row in this process and returns its figures. */
async function measureRow(spec: BenchRowSpec, options: ChildOptions, reduced: boolean): Promise<MeasuredRow> {
  const selection = await selectBackend(options.backend, { wasmThreads: options.threads, nativeThreads: options.threads });
  const trainer = new Trainer(
    buildResNet({ depth: spec.depth, stem: spec.stem, imageSize: spec.imageSize, channels: 1, classes: 10, seed: 0 }),
    { learningRate: 0.01 },
  );
  const { batchSize, imageSize } = spec;
  // The same deterministic batch as pytorch_reference.py.
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
  const cpuShare = (cpu.user + cpu.system) / 1000 / (performance.now() - wallBefore) / options.threads;
  trainer.dispose();
  const stepMs = median(times);
  return {
    backend: selection.name,
    model: modelName(spec),
    imageSize,
    batchSize,
    mode: spec.mode,
    examplesPerSecond: (batchSize * 1000) / stepMs,
    stepMs,
    // ru_maxrss, in KiB on Linux: the peak over this process's whole life.
    peakRssBytes: process.resourceUsage().maxRSS * 1024,
    threads: options.threads,
    steps: options.steps,
    reduced,
    detail: selection.detail,
    cpuShare,
  };
}

/** Runs one row in a child process of its own (a fresh heap, so a fair peak RSS). */
function runChild(row: PlannedRow): Promise<MeasuredRow> {
  const script = fileURLToPath(import.meta.url);
  const args = [...process.execArgv, script, '--child', JSON.stringify(row)];
  const { spec, options } = row;
  const what = `benchmark of ${modelName(spec)} ${spec.mode} batch ${spec.batchSize} on ${options.backend} with ${options.threads} thread(s)`;
  return runJsonChild<MeasuredRow>(process.execPath, args, what);
}

interface SkippedBackend {
  readonly backend: string;
  readonly reason: string;
}

/** The backends to measure when none is named, and why the others are left out. */
function availableBackends(): { backends: BackendName[]; skipped: SkippedBackend[] } {
  const backends: BackendName[] = [];
  const skipped: SkippedBackend[] = [];
  const require = createRequire(import.meta.url);
  for (const backend of BACKEND_NAMES) {
    if (backend === 'tfjs-node' || backend === 'tfjs-node-gpu') {
      const specifier = `@tensorflow/${backend}`;
      try {
        require.resolve(specifier);
        backends.push(backend);
      } catch {
        skipped.push({ backend, reason: `${specifier} is not installed` });
      }
    } else if (backend === 'native') {
      const availability = nativeBackendAvailability();
      if (availability.available) backends.push(backend);
      else skipped.push({ backend, reason: availability.reason });
    } else {
      backends.push(backend);
    }
  }
  return { backends, skipped };
}

interface PlanOptions {
  readonly specs: readonly BenchRowSpec[];
  /** `--threads`, undefined when not given. */
  readonly threads: number | undefined;
  readonly steps: number;
  readonly warmup: number;
  /** Every available backend side by side (no `--backend`). */
  readonly sideBySide: boolean;
  /** Add native's rows at `NATIVE_EXTRA_THREADS` (no `--threads`, and not `--json`). */
  readonly nativeExtraThreads: boolean;
}

/** The rows of one backend, in table order. */
function planBackend(backend: string, plan: PlanOptions): PlannedRow[] {
  const threads = plan.threads ?? 1;
  if (backend === 'cpu' && plan.sideBySide) {
    const steps = Math.min(plan.steps, CPU_SIDE_BY_SIDE.steps);
    const warmup = Math.min(plan.warmup, CPU_SIDE_BY_SIDE.warmup);
    return plan.specs.filter(CPU_SIDE_BY_SIDE.rows).map((spec) => ({ spec, options: { backend, threads, steps, warmup }, reduced: true }));
  }
  const rows: PlannedRow[] = [];
  for (const spec of plan.specs) {
    const options = { backend, threads, steps: plan.steps, warmup: plan.warmup };
    rows.push({ spec, options, reduced: false });
    if (backend === 'native' && plan.nativeExtraThreads && spec === REFERENCE_SPEC) {
      for (const extra of NATIVE_EXTRA_THREADS) rows.push({ spec, options: { ...options, threads: extra }, reduced: false });
    }
  }
  return rows;
}

function formatRowsTable(rows: readonly MeasuredRow[]): string {
  const header = ['backend', 'threads', 'model', 'image', 'batch', 'mode', 'steps', 'examples/s', 'step ms', 'peak RSS MiB', 'CPU share'];
  const body = rows.map((r) => [
    r.reduced ? `${r.backend}*` : r.backend,
    String(r.threads),
    r.model,
    `${r.imageSize}×${r.imageSize}`,
    String(r.batchSize),
    r.mode,
    String(r.steps),
    r.examplesPerSecond.toFixed(1),
    r.stepMs.toFixed(0),
    (r.peakRssBytes / 2 ** 20).toFixed(0),
    r.cpuShare.toFixed(2),
  ]);
  return formatTextTable(header, body, { firstNumericColumn: 4 });
}

function formatReference(runs: readonly PytorchRun[], rows: readonly MeasuredRow[]): string {
  const referenceTable = formatTextTable(
    ['threads', 'examples/s', 'step ms', 'peak RSS MiB', 'CPU share', 'issue 5 figure'],
    runs.map((run) => [
      String(run.threads),
      run.examplesPerSecond.toFixed(1),
      run.stepMs.toFixed(0),
      (run.peakRssBytes / 2 ** 20).toFixed(0),
      run.cpuShare.toFixed(2),
      PYTORCH_ISSUE_FIGURES[run.threads] === undefined ? '' : String(PYTORCH_ISSUE_FIGURES[run.threads]),
    ]),
  );
  const ratioBody: string[][] = [];
  for (const row of rows) {
    const run = runs.find((r) => r.threads === row.threads);
    if (run === undefined || !sameSpec(row, REFERENCE_SPEC)) continue;
    const goal = PYTORCH_ISSUE_FIGURES[row.threads];
    ratioBody.push([
      row.backend,
      String(row.threads),
      row.examplesPerSecond.toFixed(1),
      run.examplesPerSecond.toFixed(1),
      (row.examplesPerSecond / run.examplesPerSecond).toFixed(2),
      goal === undefined ? '' : (row.examplesPerSecond / goal).toFixed(2),
    ]);
  }
  const ratioTable = formatTextTable(['backend', 'threads', 'ringtrain ex/s', 'PyTorch ex/s', 'ratio', 'ratio to issue 5 figure'], ratioBody);
  return `${referenceTable}\n\nringtrain / PyTorch, same step, same thread count:\n\n${ratioTable}`;
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
      backend: { type: 'string' },
      json: { type: 'boolean', default: false },
      steps: { type: 'string', default: '5' },
      warmup: { type: 'string', default: '2' },
      threads: { type: 'string' },
      rows: { type: 'string', default: 'all' },
      python: { type: 'string' },
      'no-reference': { type: 'boolean', default: false },
      child: { type: 'string' },
    },
  });
  if (values.child !== undefined) {
    const { spec, options, reduced } = JSON.parse(values.child) as PlannedRow;
    process.stdout.write(`${JSON.stringify(await measureRow(spec, options, reduced))}\n`);
    return;
  }
  if (values.rows !== 'all' && values.rows !== 'quick') throw new Error(`--rows must be 'all' or 'quick', got '${values.rows}'`);
  const chosen = values.backend;
  if (chosen !== undefined && chosen !== 'auto' && !isBackendName(chosen)) {
    throw new Error(`--backend must be one of auto, ${BACKEND_NAMES.join(', ')}; got '${chosen}'`);
  }
  const plan: PlanOptions = {
    specs: values.rows === 'quick' ? ROWS.filter((r) => r.depth === 18) : ROWS,
    threads: values.threads === undefined ? undefined : integerOption('threads', values.threads, 1),
    steps: integerOption('steps', values.steps, 1),
    warmup: integerOption('warmup', values.warmup, 0),
    sideBySide: chosen === undefined,
    nativeExtraThreads: values.threads === undefined && !values.json,
  };
  const { backends, skipped } = chosen === undefined ? availableBackends() : { backends: [chosen], skipped: [] };
  const progress = (message: string): void => {
    if (!values.json) process.stderr.write(`  ${message}\n`);
  };
  const startLoad = loadavg()[0] ?? 0;

  const rows: MeasuredRow[] = [];
  const failed: SkippedBackend[] = [];
  const reference =
    values.json || values['no-reference']
      ? undefined
      : new PytorchReference({
          pythons: values.python === undefined ? DEFAULT_PYTHONS : [values.python],
          batchSize: REFERENCE_SPEC.batchSize,
          imageSize: REFERENCE_SPEC.imageSize,
          steps: plan.steps,
          warmup: plan.warmup,
        });
  // PyTorch runs right after the row it is compared with, so both see the same machine.
  const pairedBackend = backends.includes('native') ? 'native' : backends[0];
  const measureReference = async (threads: number): Promise<void> => {
    if (reference === undefined || reference.has(threads)) return;
    // Without torch, or when the reference fails, the output's last lines say so, once.
    if ((await reference.measure(threads)) !== undefined) progress(`measured PyTorch (${threads} thread(s)) ${modelName(REFERENCE_SPEC)} train batch ${REFERENCE_SPEC.batchSize}`);
  };
  for (const backend of backends) {
    for (const row of planBackend(backend, plan)) {
      let measured: MeasuredRow;
      try {
        measured = await runChild(row);
      } catch (error) {
        // Side by side, a backend that fails to start is reported and the others still run.
        if (!plan.sideBySide) throw error;
        failed.push({ backend, reason: error instanceof Error ? error.message : String(error) });
        break;
      }
      rows.push(measured);
      progress(`measured ${measured.backend} (${measured.threads} thread(s)) ${measured.model} ${measured.mode} batch ${measured.batchSize}`);
      if (backend === pairedBackend && sameSpec(measured, REFERENCE_SPEC)) await measureReference(measured.threads);
    }
  }
  for (const row of rows) if (sameSpec(row, REFERENCE_SPEC)) await measureReference(row.threads);

  if (values.json) {
    const plain: BenchRow[] = rows.map((r) => ({
      backend: r.backend,
      model: r.model,
      imageSize: r.imageSize,
      batchSize: r.batchSize,
      mode: r.mode,
      examplesPerSecond: r.examplesPerSecond,
      stepMs: r.stepMs,
      peakRssBytes: r.peakRssBytes,
    }));
    process.stdout.write(`${JSON.stringify(plain)}\n`);
    return;
  }

  const cpu = cpus()[0]?.model ?? 'unknown CPU';
  const out: string[] = [];
  out.push(
    `ringtrain model benchmark: ${cpus().length} × ${cpu}, ${(totalmem() / 2 ** 30).toFixed(1)} GiB, Node ${process.version}, ` +
      `tfjs ${tf.version_core}; ${plan.steps} timed step(s) after ${plan.warmup} warm-up (medians); ` +
      `1-minute load average ${startLoad.toFixed(2)} at the start`,
  );
  const details = [...new Set(rows.map((r) => `${r.backend}: ${r.detail}`))];
  if (details.length > 0) out.push(`backends: ${details.join('; ')}`);
  for (const s of [...skipped, ...failed]) out.push(`not measured: ${s.backend}: ${s.reason}`);
  out.push('', formatRowsTable(rows));
  const reduced = rows.find((r) => r.reduced);
  if (reduced !== undefined) {
    const native = rows.find((r) => r.backend === 'native' && r.threads === reduced.threads && sameSpec(r, CPU_SLOWDOWN_SPEC));
    const cpuRow = rows.find((r) => r.reduced && sameSpec(r, CPU_SLOWDOWN_SPEC));
    const slowdown = native === undefined || cpuRow === undefined ? '' : ` (${(native.examplesPerSecond / cpuRow.examplesPerSecond).toFixed(0)}× slower than native here)`;
    out.push(
      `\n* cpu next to the others: only the ResNet-18 batch-32 rows, ${reduced.steps} timed step(s) after ` +
        `${Math.min(plan.warmup, CPU_SIDE_BY_SIDE.warmup)} warm-up, since its training step takes minutes${slowdown}; ` +
        '`--backend cpu` measures every row.',
    );
  }
  if (reference !== undefined) {
    const runs = reference.runs();
    const first = runs[0];
    if (first === undefined) {
      out.push(
        '',
        reference.unavailable ??
          `PyTorch reference: not run (no ${modelName(REFERENCE_SPEC)} batch-${REFERENCE_SPEC.batchSize} training row was measured).`,
      );
    } else {
      out.push(
        '',
        `PyTorch reference (${reference.python}): torch ${first.version}${first.oneDNN === null ? '' : `, oneDNN ${first.oneDNN}`}, ` +
          `${modelName(REFERENCE_SPEC)} ${REFERENCE_SPEC.imageSize}×${REFERENCE_SPEC.imageSize} batch ${REFERENCE_SPEC.batchSize} ${REFERENCE_SPEC.mode}:`,
        '',
        formatReference(runs, rows),
      );
      if (reference.unavailable !== undefined) out.push('', reference.unavailable);
    }
  }
  out.push(
    '',
    `1-minute load average ${(loadavg()[0] ?? 0).toFixed(2)} at the end. CPU share: CPU time a row got per second of wall time ` +
      'and thread; well below 1 means the cores were shared (multi-thread rows also fall below 1 while one thread runs JavaScript).',
  );
  process.stdout.write(`${out.join('\n')}\n`);
}

main().catch((error: unknown) => {
  process.stderr.write(`${error instanceof Error ? error.message : String(error)}\n`);
  process.exitCode = 1;
});
