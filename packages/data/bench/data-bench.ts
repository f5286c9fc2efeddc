/**
 * Measures the data pipeline: loading and verifying all of Fashion-MNIST, drawing an epoch's
 * order, and building batches at the sizes training uses. Run with `npm run bench -w @ringtrain/data`.
 */
import { DistributedSampler, loadFashionMnist, preprocessBatch } from '../src/index.ts';
import type { PreprocessOptions } from '../src/index.ts';

function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.floor(sorted.length / 2)] as number;
}

async function timeMs(fn: () => unknown | Promise<unknown>, runs: number): Promise<number> {
  const times: number[] = [];
  for (let i = 0; i < runs; i++) {
    const started = performance.now();
    await fn();
    times.push(performance.now() - started);
  }
  return median(times);
}

const { train, location } = await loadFashionMnist();
const loadMs = await timeMs(() => loadFashionMnist(), 5);
console.log(`data from ${location.dir} (${location.source})`);
console.log(`load + verify 60,000 train + 10,000 test images: ${loadMs.toFixed(0)} ms (median of 5)`);

const sampler = new DistributedSampler({ datasetSize: train.count, seed: 1 });
let epoch = 0;
const permutationMs = await timeMs(() => sampler.permutation(epoch++), 20);
console.log(`one epoch order of 60,000: ${permutationMs.toFixed(2)} ms`);

const batchSize = 128;
const indices = sampler.permutation(0).subarray(0, batchSize);
const cases: [string, PreprocessOptions][] = [
  ['28×28, normalise', {}],
  ['28×28, crop + flip', { augment: { seed: 1, epoch: 0 } }],
  ['96×96, resize + crop + flip', { imageSize: 96, augment: { seed: 1, epoch: 0 } }],
  ['224×224, resize + crop + flip', { imageSize: 224, augment: { seed: 1, epoch: 0 } }],
];
console.log(`preprocessBatch, batch ${batchSize}:`);
for (const [name, options] of cases) {
  const ms = await timeMs(() => preprocessBatch(train.images, train.rows, train.cols, indices, options), 20);
  console.log(`  ${name.padEnd(30)} ${ms.toFixed(2).padStart(7)} ms  ${((batchSize / ms) * 1000).toFixed(0).padStart(8)} images/s`);
}
