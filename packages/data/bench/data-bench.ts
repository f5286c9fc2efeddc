/**
 * Measures the data pipeline: loading and verifying all of Fashion-MNIST, drawing an epoch's
 * order, and building batches at the sizes training uses. Run with `npm run bench:data`
 * (`-- --json` prints the rows as JSON instead of a table). Times are medians.
 */
import { parseArgs } from 'node:util';

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

const { values } = parseArgs({ options: { json: { type: 'boolean', default: false } } });

interface Row {
  readonly what: string;
  readonly ms: number;
  /** Images per second, for the batch rows. */
  readonly imagesPerSecond: number | null;
}
const rows: Row[] = [];

const { train, location } = await loadFashionMnist();
rows.push({ what: 'load + verify 60,000 train + 10,000 test images', ms: await timeMs(() => loadFashionMnist(), 5), imagesPerSecond: null });

const sampler = new DistributedSampler({ datasetSize: train.count, seed: 1 });
let epoch = 0;
rows.push({ what: 'one epoch order of 60,000', ms: await timeMs(() => sampler.permutation(epoch++), 20), imagesPerSecond: null });

const batchSize = 128;
const indices = sampler.permutation(0).subarray(0, batchSize);
const cases: [string, PreprocessOptions][] = [
  ['28×28, normalise', {}],
  ['28×28, crop + flip', { augment: { seed: 1, epoch: 0 } }],
  ['96×96, resize + crop + flip', { imageSize: 96, augment: { seed: 1, epoch: 0 } }],
  ['224×224, resize + crop + flip', { imageSize: 224, augment: { seed: 1, epoch: 0 } }],
];
for (const [name, options] of cases) {
  const ms = await timeMs(() => preprocessBatch(train.images, train.rows, train.cols, indices, options), 20);
  rows.push({ what: `batch of ${batchSize}, ${name}`, ms, imagesPerSecond: (batchSize / ms) * 1000 });
}

if (values.json) {
  process.stdout.write(`${JSON.stringify({ data: location.dir, source: location.source, rows }, null, 2)}\n`);
} else {
  const cells = rows.map((r) => [r.what, r.ms.toFixed(2), r.imagesPerSecond === null ? '' : r.imagesPerSecond.toFixed(0)]);
  const header = ['what', 'ms', 'images/s'];
  const widths = header.map((h, i) => Math.max(h.length, ...cells.map((c) => (c[i] ?? '').length)));
  const line = (c: string[]): string => c.map((cell, i) => (i === 0 ? cell.padEnd(widths[i] ?? 0) : cell.padStart(widths[i] ?? 0))).join('  ');
  console.log(`data from ${location.dir} (${location.source})`);
  console.log([line(header), widths.map((w) => '-'.repeat(w)).join('  '), ...cells.map(line)].join('\n'));
}
