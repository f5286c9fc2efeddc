/**
 * Where the time of a ResNet-18 training step goes on the wasm backend.
 *
 *   npx tsx packages/model/bench/wasm-kernel-profile.ts [--batch 128] [--image 28] [--reps 5] [--threads 1] [--no-step]
 *
 * Part 1 times, for every distinct convolution of ResNet-18 (d2l stem) at the given image size and
 * batch, the three convolution kernels: Conv2D forward (tfjs's XNNPACK kernel, and ours that crops
 * taps reading only padding), Conv2DBackpropInput (tfjs's scalar loop, and ours on XNNPACK), and
 * our Conv2DBackpropFilter with each strategy. Every forward call gets a freshly written filter,
 * as in training, where the weights change every step and XNNPACK repacks them. The last row
 * weights each shape by how often it occurs in the network. Then the same for `MaxPoolGrad`.
 *
 * Part 2 runs the project's own training step (`Trainer.computeGradients` then `applyGradients`
 * on a ResNet-18 from `buildResNet`) and lists the kernels of `computeGradients` by total time
 * under `tf.profile`, so that a cost outside the convolutions shows up.
 *
 * Times are the minimum over the repetitions: on a machine shared with other processes the
 * minimum is the figure least disturbed by them.
 */
import * as tf from '@tensorflow/tfjs-core';
// tfjs-core registers no gradients by itself; the tfjs-layers bundle registers all of them.
import '@tensorflow/tfjs-layers';
import type { KernelBackend, KernelFunc, TensorInfo } from '@tensorflow/tfjs-core';

import { initWasmBackend, registerWasmTrainingKernels } from '../src/backends/index.ts';
import { createConv2DBackpropFilterKernel } from '../src/backends/wasm-conv2d-backprop-filter.ts';
import type { FilterGradStrategy } from '../src/backends/wasm-conv2d-backprop-filter.ts';
import { Trainer, buildResNet } from '../src/index.ts';

interface Options {
  batch: number;
  image: number;
  reps: number;
  threads: number;
  step: boolean;
}

function parseOptions(argv: string[]): Options {
  const options: Options = { batch: 128, image: 28, reps: 5, threads: 1, step: true };
  for (let i = 0; i < argv.length; i++) {
    const flag = argv[i];
    const value = Number(argv[i + 1]);
    if (flag === '--no-step') options.step = false;
    else if (flag === '--batch' || flag === '--image' || flag === '--reps' || flag === '--threads') {
      if (!Number.isInteger(value) || value < 1) throw new Error(`${flag} needs a positive integer, got '${argv[i + 1]}'`);
      options[flag.slice(2) as 'batch' | 'image' | 'reps' | 'threads'] = value;
      i++;
    } else {
      throw new Error(`unknown argument '${flag}'; see the comment at the top of this file`);
    }
  }
  return options;
}

interface ConvShape {
  name: string;
  size: number;
  inChannels: number;
  outChannels: number;
  kernel: number;
  stride: number;
  count: number;
  /** The first convolution sees the images, whose gradient nobody needs. */
  needsInputGradient: boolean;
}

/** The convolutions of ResNet-18 with the d2l stem, 'same' padding throughout, with multiplicity. */
function resnet18Convs(image: number): ConvShape[] {
  const shapes = new Map<string, ConvShape>();
  const add = (stage: string, size: number, inChannels: number, outChannels: number, kernel: number, stride: number, first = false): void => {
    const key = `${size}/${inChannels}/${outChannels}/${kernel}/${stride}`;
    const existing = shapes.get(key);
    if (existing !== undefined) existing.count++;
    else {
      const name = `${stage} ${kernel}×${kernel}${stride > 1 ? `/${stride}` : ''} ${inChannels}→${outChannels} @${size}`;
      shapes.set(key, { name, size, inChannels, outChannels, kernel, stride, count: 1, needsInputGradient: !first });
    }
  };
  add('stem', image, 1, 64, 7, 2, true);
  let size = Math.ceil(Math.ceil(image / 2) / 2);
  let channels = 64;
  [64, 128, 256, 512].forEach((width, stage) => {
    const stride = stage === 0 ? 1 : 2;
    for (let block = 0; block < 2; block++) {
      const s = block === 0 ? stride : 1;
      add(`stage${stage + 1}`, size, channels, width, 3, s);
      const outSize = Math.ceil(size / s);
      add(`stage${stage + 1}`, outSize, width, width, 3, 1);
      if (s !== 1 || channels !== width) add(`stage${stage + 1}`, size, channels, width, 1, s);
      size = outSize;
      channels = width;
    }
  });
  return [...shapes.values()];
}

function minimum(values: number[]): number {
  return values.length === 0 ? NaN : Math.min(...values);
}

/**
 * Least time of `reps` calls of a kernel function; `makeInputs` runs outside the timing. With one
 * thread this is the process's CPU time, which other processes on a shared machine disturb far
 * less than wall time; with several threads it is wall time.
 */
function timeKernel(
  backend: KernelBackend,
  kernel: KernelFunc,
  makeInputs: () => { inputs: Record<string, TensorInfo>; cleanup: () => void },
  attrs: Record<string, unknown>,
  reps: number,
): number {
  const times: number[] = [];
  for (let r = 0; r <= reps; r++) {
    const { inputs, cleanup } = makeInputs();
    const clock = startClock();
    const out = kernel({ inputs, backend, attrs: attrs as never }) as TensorInfo;
    const elapsed = clock();
    backend.disposeData(out.dataId);
    cleanup();
    if (r > 0) times.push(elapsed); // the first call warms up
  }
  return minimum(times);
}

let measureCpuTime = true;

/** Starts a clock; calling the result gives the milliseconds since (CPU or wall, see `timeKernel`). */
function startClock(): () => number {
  if (measureCpuTime) {
    const start = process.cpuUsage();
    return () => {
      const used = process.cpuUsage(start);
      return (used.user + used.system) / 1000;
    };
  }
  const start = performance.now();
  return () => performance.now() - start;
}

function format(ms: number): string {
  return Number.isFinite(ms) ? ms.toFixed(1) : '–';
}

function table(headers: string[], rows: string[][]): string {
  const widths = headers.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] ?? '').length)));
  const line = (cells: string[]): string => cells.map((c, i) => (i === 0 ? c.padEnd(widths[i]!) : c.padStart(widths[i]!))).join('  ');
  return [line(headers), line(widths.map((w) => '-'.repeat(w))), ...rows.map(line)].join('\n');
}

/** The stem's max-pool gradient, the one other kernel of the step we replace. */
function profileMaxPoolGrad(options: Options, shippedMaxPoolGrad: KernelFunc): void {
  const backend = tf.backend() as KernelBackend;
  const size = Math.ceil(options.image / 2);
  const input = tf.relu(tf.randomNormal([options.batch, size, size, 64]));
  const output = tf.maxPool(input as tf.Tensor4D, 3, 2, 'same');
  const dy = tf.randomNormal(output.shape);
  const attrs = { filterSize: 3, strides: 2, pad: 'same' };
  const fixed = () => ({ inputs: { dy, input, output }, cleanup: () => undefined });
  const shipped = timeKernel(backend, shippedMaxPoolGrad, fixed, attrs, options.reps);
  const ours = timeKernel(backend, tf.getKernel('MaxPoolGrad', 'wasm').kernelFunc, fixed, attrs, options.reps);
  console.log(
    `\nMaxPoolGrad 3×3/2 same over ${options.batch}×${size}×${size}×64 (after ReLU): ` +
      `tfjs ${format(shipped)} ms, ours ${format(ours)} ms`,
  );
  tf.dispose([input, output, dy]);
}

function profileConvolutions(options: Options, shippedConv2D: KernelFunc, shippedInputGrad: KernelFunc): void {
  const backend = tf.backend() as KernelBackend;
  const ours = (name: string): KernelFunc => tf.getKernel(name, 'wasm').kernelFunc;
  const strategies: FilterGradStrategy[] = ['conv', 'im2col', 'auto'];
  const filterKernels = strategies.map((s) => createConv2DBackpropFilterKernel(s));
  const totals = new Array<number>(7).fill(0);
  const rows: string[][] = [];
  for (const shape of resnet18Convs(options.image)) {
    const { size, inChannels, outChannels, kernel, stride, count } = shape;
    const x = tf.randomNormal([options.batch, size, size, inChannels]);
    const w = tf.randomNormal([kernel, kernel, inChannels, outChannels]);
    const out = Math.ceil(size / stride);
    const dy = tf.randomNormal([options.batch, out, out, outChannels]);
    const convAttrs = { strides: stride, pad: 'same', dataFormat: 'NHWC', dilations: 1 };
    const freshFilter = () => {
      const copy = tf.mul(w, 1); // a new buffer, as after an optimizer step
      return { inputs: { x, filter: copy }, cleanup: () => copy.dispose() };
    };
    const fixed = (inputs: Record<string, TensorInfo>) => () => ({ inputs, cleanup: () => undefined });
    const r = options.reps;
    const forwardShipped = timeKernel(backend, shippedConv2D, freshFilter, convAttrs, r);
    const forwardOurs = timeKernel(backend, ours('Conv2D'), freshFilter, convAttrs, r);
    const inputAttrs = { strides: stride, pad: 'same', dataFormat: 'NHWC', inputShape: x.shape };
    const timeInputGrad = (kernel: KernelFunc, reps: number): number =>
      shape.needsInputGradient ? timeKernel(backend, kernel, fixed({ dy, filter: w }), inputAttrs, reps) : NaN;
    const inputShipped = timeInputGrad(shippedInputGrad, Math.min(r, 3));
    const inputOurs = timeInputGrad(ours('Conv2DBackpropInput'), r);
    const filterAttrs = { strides: stride, pad: 'same', dataFormat: 'NHWC', filterShape: w.shape };
    const filterTimes = filterKernels.map((k) => timeKernel(backend, k, fixed({ x, dy }), filterAttrs, r));
    const cells = [forwardShipped, forwardOurs, inputShipped, inputOurs, ...filterTimes];
    cells.forEach((ms, i) => {
      if (Number.isFinite(ms)) totals[i]! += ms * count;
    });
    rows.push([shape.name, `${count}`, ...cells.map(format)]);
    tf.dispose([x, w, dy]);
  }
  rows.push(['total × count', '', ...totals.map(format)]);
  console.log(
    `\nConvolution kernels of ResNet-18 (d2l stem) at ${options.image}×${options.image}, batch ${options.batch}, ` +
      `least of ${options.reps} (ms)\n`,
  );
  console.log(
    table(
      ['shape', 'n', 'fwd tfjs', 'fwd ours', 'dx tfjs', 'dx ours', 'dW conv', 'dW im2col', 'dW auto'],
      rows,
    ),
  );
}

async function profileStep(options: Options): Promise<void> {
  const model = buildResNet({ depth: 18, stem: 'd2l', imageSize: options.image, channels: 1, classes: 10 });
  const trainer = new Trainer(model);
  const images = Float32Array.from({ length: options.batch * options.image * options.image }, () => Math.random());
  const labels = Uint8Array.from({ length: options.batch }, (_, i) => i % 10);
  const step = (): void => {
    const { flat } = trainer.computeGradients(images, labels);
    trainer.applyGradients(flat);
  };
  step(); // warm-up
  const wallTimes: number[] = [];
  const cpuTimes: number[] = [];
  for (let r = 0; r < options.reps; r++) {
    const start = performance.now();
    const cpu = process.cpuUsage();
    step();
    const used = process.cpuUsage(cpu);
    wallTimes.push(performance.now() - start);
    cpuTimes.push((used.user + used.system) / 1000);
  }
  const profile = await tf.profile(() => {
    trainer.computeGradients(images, labels);
  });
  const byKernel = new Map<string, { ms: number; calls: number }>();
  for (const kernel of profile.kernels) {
    const ms = typeof kernel.kernelTimeMs === 'number' ? kernel.kernelTimeMs : 0;
    const entry = byKernel.get(kernel.name) ?? { ms: 0, calls: 0 };
    entry.ms += ms;
    entry.calls++;
    byKernel.set(kernel.name, entry);
  }
  const totalMs = [...byKernel.values()].reduce((sum, e) => sum + e.ms, 0);
  const stepMs = minimum(wallTimes);
  const stepCpuMs = minimum(cpuTimes);
  console.log(
    `\nTraining step (Trainer.computeGradients + applyGradients) of ResNet-18 (d2l stem), ${options.image}×${options.image}, ` +
      `batch ${options.batch}, least of ${options.reps}: ${stepMs.toFixed(0)} ms wall = ` +
      `${((options.batch * 1000) / stepMs).toFixed(1)} examples/s; ${stepCpuMs.toFixed(0)} ms CPU = ` +
      `${((options.batch * 1000) / stepCpuMs).toFixed(1)} examples/s per busy core. ` +
      `Kernels of computeGradients under tf.profile (wall) sum to ${totalMs.toFixed(0)} ms:\n`,
  );
  const rows = [...byKernel.entries()]
    .sort((a, b) => b[1].ms - a[1].ms)
    .slice(0, 20)
    .map(([name, e]) => [name, `${e.calls}`, e.ms.toFixed(1), `${((100 * e.ms) / totalMs).toFixed(1)}%`]);
  console.log(table(['kernel', 'calls', 'ms', 'share'], rows));
  trainer.dispose();
}

async function main(): Promise<void> {
  const options = parseOptions(process.argv.slice(2));
  // Capture tfjs's own kernels before ours replace them.
  const shippedConv2D = tf.getKernel('Conv2D', 'wasm').kernelFunc;
  const shippedInputGrad = tf.getKernel('Conv2DBackpropInput', 'wasm').kernelFunc;
  const shippedMaxPoolGrad = tf.getKernel('MaxPoolGrad', 'wasm').kernelFunc;
  registerWasmTrainingKernels();
  const info = await initWasmBackend({ threads: options.threads });
  measureCpuTime = info.threads === 1;
  console.log(
    `wasm backend: ${info.build} build, ${info.threads} thread(s); node ${process.version}; ` +
      `kernel times are ${measureCpuTime ? 'CPU' : 'wall'} time`,
  );
  profileConvolutions(options, shippedConv2D, shippedInputGrad);
  profileMaxPoolGrad(options, shippedMaxPoolGrad);
  if (options.step) await profileStep(options);
}

await main();
