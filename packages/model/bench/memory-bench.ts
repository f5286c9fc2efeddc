/**
 * The memory estimate against what training really takes.
 *
 *   npm run bench:memory [-- --json]
 *
 * For each configuration a child process builds the ResNet on the native backend, trains two
 * steps with momentum and reports its peak resident memory (`maxRSS`); the table puts it next to
 * `estimateTrainingMemory`'s figure for a worker, which launch and worker refuse against the
 * machine's memory. The estimate also counts what a worker holds besides the model (its images,
 * the ring's buffers, the compute thread), so it should sit somewhat above the measured peak.
 */
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { estimateTrainingMemory, formatBytes } from '../src/memory-estimate.ts';
import { runJsonChild } from './json-child.ts';

const CONFIGS: [depth: 18 | 34 | 50 | 101 | 152, width: number, batch: number, image: number][] = [
  [18, 1, 128, 28],
  [18, 1, 32, 96],
  [18, 1, 128, 56],
  [34, 1, 64, 28],
  [50, 0.5, 64, 28],
  [50, 1, 32, 64],
  [152, 0.25, 32, 64],
];

interface Measured {
  peakBytes: number;
}

if (process.argv[2] === '--child') {
  const [depth, width, batch, image] = process.argv.slice(3).map(Number) as [number, number, number, number];
  const { selectBackend, buildResNet, Trainer } = await import('../src/index.ts');
  await selectBackend('native', { nativeThreads: 1 });
  const trainer = new Trainer(buildResNet({ depth: depth as 18, stem: 'd2l', widthMultiplier: width, imageSize: image }), { sgd: { momentum: 0.9 } });
  for (let step = 0; step < 2; step++) {
    const x = new Float32Array(batch * image * image).fill(0.1);
    const labels = Int32Array.from({ length: batch }, (_, i) => i % 10);
    const { flat } = trainer.computeGradients(x, labels);
    trainer.applyGradients(flat, 0.01);
  }
  trainer.getState();
  console.log(JSON.stringify({ peakBytes: process.resourceUsage().maxRSS * 1024 } satisfies Measured));
  process.exit(0);
}

const { values } = parseArgs({ options: { json: { type: 'boolean', default: false } } });
const self = fileURLToPath(import.meta.url);
const rows = [];
for (const [depth, width, batch, image] of CONFIGS) {
  const measured = await runJsonChild<Measured>(process.execPath, ['--import', 'tsx', self, '--child', String(depth), String(width), String(batch), String(image)], `ResNet-${depth}`);
  const estimate = estimateTrainingMemory({ depth, stem: 'd2l', widthMultiplier: width, imageSize: image }, batch);
  rows.push({ model: `ResNet-${depth} ×${width}`, batch, image, parameters: estimate.parameters, measuredBytes: measured.peakBytes, estimatedBytes: estimate.workerBytes, ratio: estimate.workerBytes / measured.peakBytes });
}
if (values.json) {
  for (const row of rows) console.log(JSON.stringify(row));
} else {
  console.log('model             batch  image  parameters   measured peak  estimate    estimate / measured');
  for (const r of rows) {
    console.log(
      `${r.model.padEnd(18)}${String(r.batch).padEnd(7)}${String(r.image).padEnd(7)}${(r.parameters / 1e6).toFixed(1).padStart(6)} M     ${formatBytes(r.measuredBytes).padEnd(15)}${formatBytes(r.estimatedBytes).padEnd(12)}${r.ratio.toFixed(2)}`,
    );
  }
}
