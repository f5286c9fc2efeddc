/**
 * Where the time of a training step goes on the native backend.
 *
 *   npm run bench:native-step -- [--threads 1] [--batch 128] [--steps 8]
 *                               [--depth 18] [--image 28] [--json]
 *
 * Runs the project's own step (`Trainer.computeGradients`, then `applyGradients`) on a ResNet
 * with the d2l stem and synthetic data, times both halves, and lists the calls into the native
 * addon over the timed steps (`startNativeCallProfile`): convolutions, batch norm, the SGD update
 * and the small kernels. What `computeGradients` spends outside the addon is JavaScript: tfjs's
 * tape and bookkeeping, the cpu backend's kernels that have no native version, and reading the
 * gradients out into the flat vector. Figures are per step, averaged over the timed steps.
 * `--json` prints them as one JSON object instead of a table.
 */
import { parseArgs } from 'node:util';

import { startNativeCallProfile } from '@ringtrain/backend-native';

import { selectBackend } from '../src/backends/index.ts';
import { buildResNet } from '../src/resnet.ts';
import type { ResNetDepth } from '../src/resnet-table.ts';
import { Trainer } from '../src/trainer.ts';
import { formatTextTable } from './text-table.ts';

function positiveInteger(name: string, text: string | undefined, fallback: number): number {
  if (text === undefined) return fallback;
  const value = Number(text);
  if (!Number.isInteger(value) || value < 1) throw new Error(`--${name} must be a positive integer, got '${text}'`);
  return value;
}

const { values } = parseArgs({
  options: {
    threads: { type: 'string' },
    batch: { type: 'string' },
    steps: { type: 'string' },
    depth: { type: 'string' },
    image: { type: 'string' },
    json: { type: 'boolean', default: false },
  },
});
const threads = positiveInteger('threads', values.threads, 1);
const batch = positiveInteger('batch', values.batch, 128);
const steps = positiveInteger('steps', values.steps, 8);
const depth = positiveInteger('depth', values.depth, 18) as ResNetDepth;
const imageSize = positiveInteger('image', values.image, 28);

await selectBackend('native', { nativeThreads: threads });
const trainer = new Trainer(buildResNet({ depth, stem: 'd2l', imageSize }), { learningRate: 0.01 });
const images = Float32Array.from({ length: batch * imageSize * imageSize }, (_, i) => Math.sin(0.7 * i) * 1.5);
const labels = Uint8Array.from({ length: batch }, (_, i) => i % 10);
const into = new Float32Array(trainer.layout.totalLength);
for (let i = 0; i < 3; i++) trainer.applyGradients(trainer.computeGradients(images, labels, { into }).flat);

const profile = startNativeCallProfile();
let computeMs = 0;
let applyMs = 0;
for (let i = 0; i < steps; i++) {
  const t0 = performance.now();
  trainer.computeGradients(images, labels, { into });
  const t1 = performance.now();
  trainer.applyGradients(into);
  computeMs += t1 - t0;
  applyMs += performance.now() - t1;
}
const calls = profile.stop();
trainer.dispose();

// applyGradients calls the addon for the SGD update alone; computeGradients for everything else.
let nativeInCompute = 0;
let nativeInApply = 0;
for (const [name, totals] of calls) {
  if (name === 'sgdStep') nativeInApply += totals.milliseconds;
  else nativeInCompute += totals.milliseconds;
}
const perStep = (computeMs + applyMs) / steps;
const report = {
  model: `ResNet-${depth} (d2l)`,
  imageSize,
  batchSize: batch,
  threads,
  steps,
  computeGradientsMs: computeMs / steps,
  applyGradientsMs: applyMs / steps,
  examplesPerSecond: (batch * 1000) / perStep,
  addonCalls: [...calls].map(([name, totals]) => ({ name, callsPerStep: totals.calls / steps, msPerStep: totals.milliseconds / steps })),
  javascriptInComputeGradientsMs: (computeMs - nativeInCompute) / steps,
  javascriptInApplyGradientsMs: (applyMs - nativeInApply) / steps,
};

if (values.json) {
  process.stdout.write(`${JSON.stringify(report, null, 2)}\n`);
} else {
  const rows = report.addonCalls.map((c) => [c.name, c.callsPerStep.toFixed(0), c.msPerStep.toFixed(2)]);
  rows.push(['JavaScript in computeGradients', '', report.javascriptInComputeGradientsMs.toFixed(2)]);
  rows.push(['JavaScript in applyGradients', '', report.javascriptInApplyGradientsMs.toFixed(2)]);
  console.log(
    `${report.model} ${imageSize}×${imageSize}, batch ${batch}, native backend, ${threads} thread(s): ` +
      `computeGradients ${report.computeGradientsMs.toFixed(1)} ms + applyGradients ${report.applyGradientsMs.toFixed(1)} ms per step, ` +
      `${report.examplesPerSecond.toFixed(1)} examples/s over ${steps} steps\n`,
  );
  console.log(formatTextTable(['where', 'calls/step', 'ms/step'], rows));
}
