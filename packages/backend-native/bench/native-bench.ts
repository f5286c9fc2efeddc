/**
 * Training throughput of ResNet-18 on the native backend.
 *
 *   npx tsx bench/native-bench.ts [--threads 1,2] [--batch 128] [--steps 10] [--warmup 3]
 *                                 [--no-pair] [--profile] [--json]
 *
 * The model is ringtrain's ResNet-18 with the d2l stem (7×7/2 convolution 64, batch norm, ReLU,
 * 3×3/2 max-pool; four stages of two basic blocks at 64/128/256/512; global average pooling;
 * dense 10) on 28×28×1 images. A step is forward, backward and a momentum-SGD update. Each row
 * runs in a child process of its own, so that its thread count and its peak resident memory
 * (`ru_maxrss`) are its own. The 'pair' row runs two one-thread processes at once, as two
 * workers sharing a two-core machine do, and adds their throughputs. `--profile` adds, per row,
 * the kernels that took the most time. Figures are medians over the timed steps. Idle OpenMP
 * threads sleep unless OMP_WAIT_POLICY says otherwise (see src/addon.ts); on a machine with
 * nothing else running, OMP_WAIT_POLICY=active measures about a tenth more at two threads.
 *
 * The wasm backend cannot train this model without ringtrain's wasm training kernels, which
 * live in @ringtrain/model; `npm run bench:model -- --backend wasm` measures it.
 */
import { spawn } from 'node:child_process';
import { cpus } from 'node:os';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';

import * as tf from '@tensorflow/tfjs-core';

import { nativeBackendStats, registerNativeBackend } from '../src/index.ts';
import { useNativeBackend } from '../test/support/native.ts';
import { buildResNet18, syntheticBatch } from '../test/support/resnet18.ts';

/** PyTorch 1.13 (oneDNN 2.6) on the 2-core reference machine: the throughput to match. */
const GOALS: Readonly<Record<string, number>> = { 'native, 1 thread': 410, 'native, 2 threads': 770, 'native, 2 × 1 thread': 770 };

interface ChildOptions {
  readonly threads: number;
  readonly batch: number;
  readonly steps: number;
  readonly warmup: number;
  readonly profile: boolean;
}

interface KernelTime {
  readonly kernel: string;
  readonly msPerStep: number;
  readonly callsPerStep: number;
}

interface Row {
  readonly backend: string;
  readonly threads: number;
  readonly processes: number;
  readonly batchSize: number;
  readonly examplesPerSecond: number;
  readonly stepMs: number;
  readonly peakRssBytes: number;
  /** CPU time per wall-clock second and thread; well below 1 means the cores were shared. */
  readonly cpuShare: number;
  readonly kernels?: readonly KernelTime[];
}

function median(values: readonly number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  const middle = Math.floor(sorted.length / 2);
  return sorted.length % 2 === 1 ? (sorted[middle] as number) : ((sorted[middle - 1] as number) + (sorted[middle] as number)) / 2;
}

/** Wraps every kernel of the native backend with a timer. */
function timeKernels(): Map<string, { ms: number; calls: number }> {
  const times = new Map<string, { ms: number; calls: number }>();
  for (const config of tf.getKernelsForBackend('native')) {
    const inner = config.kernelFunc;
    tf.unregisterKernel(config.kernelName, 'native');
    tf.registerKernel({
      ...config,
      kernelFunc: (args) => {
        const start = performance.now();
        const result = inner(args);
        const entry = times.get(config.kernelName) ?? { ms: 0, calls: 0 };
        entry.ms += performance.now() - start;
        entry.calls++;
        times.set(config.kernelName, entry);
        return result;
      },
    });
  }
  return times;
}

async function measure(options: ChildOptions): Promise<Row> {
  registerNativeBackend({ threads: options.threads });
  await useNativeBackend(options.threads);
  const times = options.profile ? timeKernels() : undefined;
  const net = buildResNet18({ width: 64, imageSize: 28, channels: 1, classes: 10, seed: 1 });
  const { images, labels } = syntheticBatch(options.batch, 28, 1, 10, 2);
  const x = tf.tensor4d(images, [options.batch, 28, 28, 1]);
  const y = tf.tensor1d(labels, 'int32');
  const optimizer = tf.train.momentum(0.01, 0.9);
  const step = (): void => {
    const { value, grads } = tf.variableGrads(() => net.loss(x, y), net.variables);
    optimizer.applyGradients(Object.entries(grads).map(([name, tensor]) => ({ name, tensor })));
    value.dataSync();
    tf.dispose([value, ...Object.values(grads)]);
  };
  for (let i = 0; i < options.warmup; i++) step();
  times?.clear();
  const stepTimes: number[] = [];
  const cpuBefore = process.cpuUsage();
  const wallBefore = performance.now();
  for (let i = 0; i < options.steps; i++) {
    const start = performance.now();
    step();
    stepTimes.push(performance.now() - start);
  }
  const cpu = process.cpuUsage(cpuBefore);
  const wallMs = performance.now() - wallBefore;
  optimizer.dispose();
  net.dispose();
  tf.dispose([x, y]);
  const stepMs = median(stepTimes);
  const kernels =
    times === undefined
      ? undefined
      : [...times.entries()]
          .map(([kernel, t]) => ({ kernel, msPerStep: t.ms / options.steps, callsPerStep: t.calls / options.steps }))
          .sort((a, b) => b.msPerStep - a.msPerStep)
          .slice(0, 12);
  if (nativeBackendStats().kernels.get('Conv2D')?.native === 0) throw new Error('convolutions did not run natively');
  return {
    backend: 'native',
    threads: options.threads,
    processes: 1,
    batchSize: options.batch,
    examplesPerSecond: (options.batch * 1000) / stepMs,
    stepMs,
    // ru_maxrss is in KiB on Linux: the peak over this process's life.
    peakRssBytes: process.resourceUsage().maxRSS * 1024,
    cpuShare: (cpu.user + cpu.system) / 1000 / wallMs / options.threads,
    ...(kernels === undefined ? {} : { kernels }),
  };
}

function runChild(options: ChildOptions): Promise<Row> {
  const script = fileURLToPath(import.meta.url);
  const args = [...process.execArgv, script, '--child', JSON.stringify(options)];
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
        reject(new Error(`the ${options.threads}-thread benchmark failed (exit ${code}): ${stderr.trim()}`));
        return;
      }
      resolve(JSON.parse(line) as Row);
    });
  });
}

function label(row: Row): string {
  return row.processes > 1 ? `native, ${row.processes} × ${row.threads} thread` : `native, ${row.threads} thread${row.threads === 1 ? '' : 's'}`;
}

function formatTable(rows: readonly Row[]): string {
  const header = ['configuration', 'batch', 'examples/s', 'step ms', 'goal', 'ratio', 'peak RSS MiB', 'CPU share'];
  const body = rows.map((r) => {
    const goal = GOALS[label(r)];
    return [
      label(r),
      String(r.batchSize),
      r.examplesPerSecond.toFixed(1),
      r.stepMs.toFixed(1),
      goal === undefined ? '' : String(goal),
      goal === undefined ? '' : (r.examplesPerSecond / goal).toFixed(2),
      (r.peakRssBytes / 2 ** 20).toFixed(0),
      r.cpuShare.toFixed(2),
    ];
  });
  const widths = header.map((h, i) => Math.max(h.length, ...body.map((row) => (row[i] as string).length)));
  const line = (cells: string[]) => cells.map((c, i) => (i > 0 ? c.padStart(widths[i] as number) : c.padEnd(widths[i] as number))).join('  ');
  return [line(header), widths.map((w) => '-'.repeat(w)).join('  '), ...body.map(line)].join('\n');
}

function integerOption(name: string, text: string, min: number): number {
  const value = Number(text);
  if (text.trim() === '' || !Number.isInteger(value) || value < min) throw new Error(`--${name} must be an integer of at least ${min}, got '${text}'`);
  return value;
}

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: {
      threads: { type: 'string', default: '1,2' },
      batch: { type: 'string', default: '128' },
      steps: { type: 'string', default: '10' },
      warmup: { type: 'string', default: '3' },
      pair: { type: 'boolean', default: true },
      'no-pair': { type: 'boolean', default: false },
      profile: { type: 'boolean', default: false },
      json: { type: 'boolean', default: false },
      child: { type: 'string' },
    },
  });
  if (values.child !== undefined) {
    process.stdout.write(`${JSON.stringify(await measure(JSON.parse(values.child) as ChildOptions))}\n`);
    return;
  }
  const base = {
    batch: integerOption('batch', values.batch, 1),
    steps: integerOption('steps', values.steps, 1),
    warmup: integerOption('warmup', values.warmup, 0),
    profile: values.profile,
  };
  const threadCounts = values.threads.split(',').map((t) => integerOption('threads', t, 1));
  const rows: Row[] = [];
  for (const threads of threadCounts) {
    if (!values.json) process.stderr.write(`  measuring ${threads} thread(s)…\n`);
    rows.push(await runChild({ ...base, threads }));
  }
  if (values.pair && !values['no-pair']) {
    if (!values.json) process.stderr.write('  measuring two one-thread processes at once…\n');
    const pair = await Promise.all([runChild({ ...base, threads: 1 }), runChild({ ...base, threads: 1 })]);
    rows.push({
      backend: 'native',
      threads: 1,
      processes: 2,
      batchSize: base.batch,
      examplesPerSecond: pair.reduce((sum, r) => sum + r.examplesPerSecond, 0),
      stepMs: Math.max(...pair.map((r) => r.stepMs)),
      peakRssBytes: Math.max(...pair.map((r) => r.peakRssBytes)),
      cpuShare: pair.reduce((sum, r) => sum + r.cpuShare, 0) / 2,
    });
  }
  if (values.json) {
    process.stdout.write(`${JSON.stringify(rows)}\n`);
    return;
  }
  const cpu = cpus()[0]?.model ?? 'unknown CPU';
  process.stdout.write(
    `ResNet-18 (d2l stem) training step, 28×28×1, batch ${base.batch}: ${cpus().length} × ${cpu}, Node ${process.version}, ` +
      `${base.steps} timed steps after ${base.warmup} warm-up (medians)\n\n${formatTable(rows)}\n`,
  );
  process.stdout.write('\ngoal: PyTorch 1.13 (oneDNN 2.6) on the reference machine; CPU share below 1: the cores were shared.\n');
  for (const row of rows) {
    if (row.kernels === undefined) continue;
    process.stdout.write(`\nslowest kernels, ${label(row)} (ms per step, calls per step):\n`);
    for (const k of row.kernels) process.stdout.write(`  ${k.kernel.padEnd(22)} ${k.msPerStep.toFixed(2).padStart(8)}  ${String(k.callsPerStep).padStart(5)}\n`);
  }
}

main().catch((error: unknown) => {
  process.stderr.write(`${error instanceof Error ? error.message : String(error)}\n`);
  process.exitCode = 1;
});
