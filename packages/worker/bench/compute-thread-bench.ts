/**
 * What computing on a thread of its own costs a training step.
 *
 *   npm run bench:compute-thread -- [--steps 12] [--batch 128] [--depth 18] [--image 28] [--threads 1] [--json]
 *
 * Runs the same ResNet step (computeGradients, then applyGradients of the result) on the same
 * batch in this thread (`modelCompute`) and on a compute thread (`threadedCompute`), one after
 * the other in this run, and prints the time per step of each, the ratio, and how many times
 * a 1 ms timer of this thread fired during the steps (next to none in-thread: nothing else runs
 * while a step computes).
 */
import { parseArgs } from 'node:util';
import type { HyperParameters, ModelSpec } from '@ringtrain/protocol';
import { modelCompute } from '../src/model-compute.ts';
import { threadedCompute } from '../src/compute-thread/threaded-compute.ts';
import type { ComputeProvider } from '../src/ports.ts';

const { values } = parseArgs({
  options: {
    steps: { type: 'string', default: '12' },
    batch: { type: 'string', default: '128' },
    depth: { type: 'string', default: '18' },
    image: { type: 'string', default: '28' },
    threads: { type: 'string', default: '1' },
    json: { type: 'boolean', default: false },
  },
});
const steps = Number(values.steps);
const batch = Number(values.batch);
const imageSize = Number(values.image);
const threads = Number(values.threads);
const model = { depth: Number(values.depth), stem: 'd2l', width: 1, imageSize, numClasses: 10, seed: 0 } as unknown as ModelSpec;
const hyper = { momentum: 0, nesterov: false, weightDecay: 0 } as unknown as HyperParameters;

function batchOf(seed: number): { x: Float32Array; labels: Int32Array } {
  const x = new Float32Array(batch * imageSize * imageSize);
  let s = seed + 1;
  for (let i = 0; i < x.length; i++) {
    s = (s * 1_103_515_245 + 12_345) % 2 ** 31;
    x[i] = s / 2 ** 31 - 0.5;
  }
  const labels = Int32Array.from({ length: batch }, (_, i) => (i + seed) % 10);
  return { x, labels };
}

async function measure(compute: ComputeProvider): Promise<{ msPerStep: number; turns: number; checksum: string }> {
  const trainer = await compute.createTrainer(model, hyper);
  const step = async (seed: number): Promise<void> => {
    const { x, labels } = batchOf(seed);
    const { flat } = await trainer.computeGradients(x, labels);
    await trainer.applyGradients(flat, 0.05);
  };
  await step(0); // kernels chosen and compiled
  // Turns of a 1 ms timer: none fire while a step holds this thread.
  let turns = 0;
  const timer = setInterval(() => (turns += 1), 1);
  const t0 = performance.now();
  for (let i = 1; i <= steps; i++) await step(i);
  const msPerStep = (performance.now() - t0) / steps;
  clearInterval(timer);
  const checksum = await trainer.weightChecksum();
  await trainer.dispose();
  return { msPerStep, turns, checksum };
}

const here = await modelCompute('native', undefined, { threads });
const inThread = await measure(here);
const threaded = await threadedCompute('native', undefined, { threads });
const apart = await measure(threaded);
await threaded.close();

if (values.json) {
  for (const [where, m] of [['this thread', inThread], ['compute thread', apart]] as const) {
    console.log(JSON.stringify({ compute: where, depth: model.depth, batch, imageSize, steps, threads, msPerStep: m.msPerStep, timerTurns: m.turns, weightChecksum: m.checksum }));
  }
  process.exit(0);
}
const rows = [
  ['compute', 'ms/step', '1 ms timer turns', 'weight checksum'],
  ['this thread', inThread.msPerStep.toFixed(1), String(inThread.turns), inThread.checksum],
  ['compute thread', apart.msPerStep.toFixed(1), String(apart.turns), apart.checksum],
];
console.log(`ResNet-${model.depth}, batch ${batch}, ${imageSize}×${imageSize}, ${steps} steps, ${threads} native thread(s)`);
for (const row of rows) console.log(row.map((cell, i) => cell.padEnd(i === 0 ? 16 : 18)).join(''));
console.log(`ratio compute thread / this thread: ${(apart.msPerStep / inThread.msPerStep).toFixed(3)}; weights ${inThread.checksum === apart.checksum ? 'bit-identical' : 'DIFFER'}`);
