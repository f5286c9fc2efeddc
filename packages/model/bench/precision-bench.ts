/**
 * What bf16 convolutions buy on this CPU: the training step and the evaluation forward pass of
 * the same models in float32 and in bf16 (`setConvolutionPrecision`), alternated in one process
 * so that both sides see the same machine, on the native backend.
 *
 *   npm run bench:precision -- [--threads 1] [--steps 6] [--rounds 3] [--json]
 *
 * Rows: the `fast` preset's model (ResNet-18, compact stem, width 0.5, batch 128), the default
 * recipe's (ResNet-18, d2l stem, batch 128) and ResNet-50 (d2l stem, width 0.5, batch 64), all
 * at 28×28 on real-looking random images. Each round times `--steps` training steps
 * (`computeGradients` + `applyGradients`) and as many evaluations of 256 images with the flip
 * (what `--preset fast` evaluates) in each precision; the figures are medians over the rounds.
 * A CPU without bf16 arithmetic prints why and exits 0 with the float32 rows alone.
 */
import { parseArgs } from 'node:util';

import { bf16ConvolutionSupport, setConvolutionPrecision } from '@ringtrain/backend-native';
import type { ConvolutionPrecision } from '@ringtrain/backend-native';

import { selectBackend } from '../src/backends/index.ts';
import { buildResNet } from '../src/resnet.ts';
import type { ResNetDepth, StemKind } from '../src/resnet-table.ts';
import { Trainer } from '../src/trainer.ts';
import { formatTextTable } from './text-table.ts';

const { values } = parseArgs({
  options: {
    threads: { type: 'string', default: '1' },
    steps: { type: 'string', default: '6' },
    rounds: { type: 'string', default: '3' },
    json: { type: 'boolean', default: false },
  },
});
function positive(name: string, text: string | undefined): number {
  const value = Number(text);
  if (!Number.isInteger(value) || value < 1) throw new Error(`--${name} must be a positive integer, got '${String(text)}'`);
  return value;
}
const threads = positive('threads', values.threads);
const steps = positive('steps', values.steps);
const rounds = positive('rounds', values.rounds);

interface Row {
  readonly name: string;
  readonly depth: ResNetDepth;
  readonly stem: StemKind;
  readonly widthMultiplier: number;
  readonly batchSize: number;
}
const ROWS: Row[] = [
  { name: 'ResNet-18 compact ×0.5 (fast preset)', depth: 18, stem: 'compact', widthMultiplier: 0.5, batchSize: 128 },
  { name: 'ResNet-18 d2l (default recipe)', depth: 18, stem: 'd2l', widthMultiplier: 1, batchSize: 128 },
  { name: 'ResNet-50 d2l ×0.5', depth: 50, stem: 'd2l', widthMultiplier: 0.5, batchSize: 64 },
];
const IMAGE = 28;
const EVAL_BATCH = 256;

await selectBackend('native', { nativeThreads: threads });
const support = bf16ConvolutionSupport();
const precisions: ConvolutionPrecision[] = support.supported ? ['f32', 'bf16'] : ['f32'];

function images(count: number, seed: number): Float32Array {
  // Normalised-pixel-like values, deterministic, no denormals.
  return Float32Array.from({ length: count * IMAGE * IMAGE }, (_, i) => Math.sin(0.37 * i + seed) * 1.2);
}
const median = (xs: number[]): number => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)] as number;

interface Result {
  model: string;
  precision: ConvolutionPrecision;
  trainStepMs: number;
  evalBatchMs: number;
}
const results: Result[] = [];
for (const row of ROWS) {
  const timings = new Map<ConvolutionPrecision, { train: number[]; evaluate: number[] }>(precisions.map((p) => [p, { train: [], evaluate: [] }]));
  const trainers = new Map<ConvolutionPrecision, Trainer>();
  const x = images(row.batchSize, 1);
  const labels = Uint8Array.from({ length: row.batchSize }, (_, i) => i % 10);
  const testX = images(EVAL_BATCH, 2);
  const testLabels = Uint8Array.from({ length: EVAL_BATCH }, (_, i) => (i * 7) % 10);
  for (const precision of precisions) {
    setConvolutionPrecision(precision);
    const trainer = new Trainer(buildResNet({ depth: row.depth, stem: row.stem, imageSize: IMAGE, widthMultiplier: row.widthMultiplier }), {
      learningRate: 0.05,
      sgd: { momentum: 0.9, nesterov: true, weightDecay: 5e-4 },
      testTimeFlip: true,
    });
    // Warm-up: the primitives of each shape are created on first use.
    for (let i = 0; i < 2; i++) trainer.applyGradients(trainer.computeGradients(x, labels).flat);
    trainer.evaluate(testX, testLabels);
    trainers.set(precision, trainer);
  }
  for (let round = 0; round < rounds; round++) {
    for (const precision of precisions) {
      setConvolutionPrecision(precision);
      const trainer = trainers.get(precision) as Trainer;
      const t0 = performance.now();
      for (let i = 0; i < steps; i++) trainer.applyGradients(trainer.computeGradients(x, labels).flat);
      const t1 = performance.now();
      for (let i = 0; i < steps; i++) trainer.evaluate(testX, testLabels);
      const t2 = performance.now();
      timings.get(precision)?.train.push((t1 - t0) / steps);
      timings.get(precision)?.evaluate.push((t2 - t1) / steps);
    }
  }
  for (const [precision, t] of timings) results.push({ model: row.name, precision, trainStepMs: median(t.train), evalBatchMs: median(t.evaluate) });
  for (const trainer of trainers.values()) trainer.dispose();
}
setConvolutionPrecision('f32');

if (values.json) {
  process.stdout.write(`${JSON.stringify({ threads, steps, rounds, bf16: support.supported ? 'measured' : support.reason, results }, null, 2)}\n`);
} else {
  const f32Of = (model: string): Result | undefined => results.find((r) => r.model === model && r.precision === 'f32');
  const body = results.map((r) => {
    const base = f32Of(r.model) as Result;
    return [
      r.model,
      r.precision,
      r.trainStepMs.toFixed(1),
      r.precision === 'f32' ? '' : (base.trainStepMs / r.trainStepMs).toFixed(2),
      r.evalBatchMs.toFixed(1),
      r.precision === 'f32' ? '' : (base.evalBatchMs / r.evalBatchMs).toFixed(2),
    ];
  });
  process.stdout.write(`native backend, ${threads} thread(s), 28×28, medians of ${rounds} rounds of ${steps} steps, precisions alternated\n`);
  process.stdout.write(`${formatTextTable(['model', 'precision', 'train step ms', '× f32', 'eval 256 (flip) ms', '× f32'], body, { firstNumericColumn: 2 })}\n`);
  if (!support.supported) process.stdout.write(`bf16 not measured: ${support.reason}\n`);
}
