/**
 * What announcing the gradient segment by segment costs the backward pass itself.
 *
 *   npx tsx packages/model/bench/segmented-backward-bench.ts [--threads 1] [--batch 128]
 *        [--depth 50] [--width 0.5] [--rounds 4]
 *
 * Times `Trainer.computeGradients` on the native backend (d2l stem, 28×28, synthetic data) with
 * and without `onSegmentReady`, alternating the two so that a busy shared machine slows both
 * alike, and prints the median of each and their difference. No all-reduce runs: this is the
 * price of the taps alone (see `segmented-backward.ts`, step C).
 */
import { parseArgs } from 'node:util';

import { selectBackend } from '../src/backends/index.ts';
import { buildResNet } from '../src/resnet.ts';
import type { ResNetDepth } from '../src/resnet-table.ts';
import { Trainer } from '../src/trainer.ts';

const { values } = parseArgs({
  options: {
    threads: { type: 'string', default: '1' },
    batch: { type: 'string', default: '128' },
    depth: { type: 'string', default: '50' },
    width: { type: 'string', default: '0.5' },
    rounds: { type: 'string', default: '4' },
  },
});
const threads = Number(values.threads);
const batch = Number(values.batch);
const depth = Number(values.depth) as ResNetDepth;
const width = Number(values.width);
const rounds = Number(values.rounds);
for (const [name, value] of Object.entries({ threads, batch, depth, rounds })) {
  if (!Number.isInteger(value) || value < 1) throw new Error(`--${name} must be a positive integer, got ${String(value)}`);
}
if (!Number.isFinite(width) || width <= 0) throw new Error(`--width must be a positive number, got ${String(values.width)}`);

await selectBackend('native', { nativeThreads: threads });
const trainer = new Trainer(buildResNet({ depth, widthMultiplier: width, seed: 1 }));
const x = Float32Array.from({ length: batch * 28 * 28 }, (_, i) => Math.sin(i * 0.37));
const labels = Int32Array.from({ length: batch }, (_, i) => i % 10);
const into = new Float32Array(trainer.layout.totalLength);

const time = (segmented: boolean): number => {
  const started = performance.now();
  trainer.computeGradients(x, labels, segmented ? { into, onSegmentReady: () => {} } : { into });
  return performance.now() - started;
};
time(false);
time(true);
const plain: number[] = [];
const segmented: number[] = [];
for (let round = 0; round < rounds; round++) {
  plain.push(time(false));
  segmented.push(time(true));
}
const median = (xs: number[]): number => {
  const sorted = [...xs].sort((a, b) => a - b);
  const mid = Math.floor(sorted.length / 2);
  return sorted.length % 2 === 1 ? (sorted[mid] as number) : ((sorted[mid - 1] as number) + (sorted[mid] as number)) / 2;
};
const p = median(plain);
const s = median(segmented);
console.log(`ResNet-${depth} width ${width}, batch ${batch}, ${threads} native thread(s), ${rounds} rounds`);
console.log(`computeGradients  whole: ${p.toFixed(1)} ms   segmented: ${s.toFixed(1)} ms   difference: ${(s - p).toFixed(1)} ms (${((100 * (s - p)) / p).toFixed(1)}%)`);
console.log(`all runs (ms)     whole: ${plain.map((v) => v.toFixed(0)).join(' ')}   segmented: ${segmented.map((v) => v.toFixed(0)).join(' ')}`);
trainer.dispose();
