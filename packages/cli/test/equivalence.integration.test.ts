/**
 * Data parallelism changes nothing but the speed: N worker processes with per-worker batch b
 * end with the weights a single process gets by taking the same N batches of b each step,
 * averaging their gradients and applying the average (same seed, same data order).
 *
 * The single-process reference averages N local gradients rather than computing one gradient of
 * a batch of N·b: batch normalisation normalises each worker's batch by its own statistics, as in
 * PyTorch's DDP without SyncBatchNorm, so a batch of N·b is a different computation.
 */
import { mkdtemp, readdir, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInitialState, readCheckpoint, samplerSharder } from '@ringtrain/coordinator';
import { gatherLabels, loadFashionMnist, preprocessBatch } from '@ringtrain/data';
import { buildResNet, selectBackend, Trainer } from '@ringtrain/model';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runRingtrain } from './launch-helpers.ts';

const WORKERS = 2;
const PER_WORKER = 8;
const TRAIN = 96;
const LR = 0.1;
const MOMENTUM = 0.9;
const SEED = 3;
const MODEL = { depth: 18, stem: 'd2l', widthMultiplier: 0.25, imageSize: 28, channels: 1, classes: 10, seed: SEED, zeroInitResidual: false } as const;

describe(`${WORKERS} workers with batch ${PER_WORKER} each`, () => {
  let dir: string;
  let distributed: Float32Array;
  let reference: Float32Array;
  let steps = 0;

  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'ringtrain-equivalence-'));
    const run = runRingtrain([
      'launch',
      '--workers', String(WORKERS),
      '--port', '0',
      '--model', 'resnet18',
      '--stem', MODEL.stem,
      '--width', String(MODEL.widthMultiplier),
      '--seed', String(SEED),
      '--batch-size', String(WORKERS * PER_WORKER),
      '--lr', String(LR),
      '--momentum', String(MOMENTUM),
      // The reference below is plain momentum SGD at a constant rate: the default recipe's other
      // ingredients are turned off.
      '--no-nesterov', '--weight-decay', '0', '--lr-schedule', 'constant', '--warmup-epochs', '0',
      '--label-smoothing', '0', '--no-zero-init-residual',
      '--backend', 'wasm',
      '--limit-train', String(TRAIN),
      '--limit-test', '0',
      '--checkpoint-dir', dir,
    ]);
    const result = await run.exited;
    expect(result.code, `ringtrain launch failed:\n${result.stdout}\n${result.stderr}`).toBe(0);
    const name = (await readdir(dir)).find((n) => n.endsWith('.rtck'));
    const checkpoint = await readCheckpoint(join(dir, name ?? 'missing'));
    steps = checkpoint.header.step;

    // The same computation in one process: every step, the ranks' batches one after the other.
    await selectBackend('wasm');
    const { train } = await loadFashionMnist({ limitTrain: TRAIN, limitTest: 0 });
    const sgd = { momentum: MOMENTUM, nesterov: false, weightDecay: 0 };
    const initial = await createInitialState(MODEL, sgd);
    await selectBackend('wasm');
    const trainer = new Trainer(buildResNet(MODEL), { sgd });
    trainer.setState(initial);
    const replicaOfCheckpoint = new Trainer(buildResNet(MODEL), { sgd });
    replicaOfCheckpoint.setState(checkpoint.state);
    distributed = replicaOfCheckpoint.getValues();
    replicaOfCheckpoint.dispose();

    const plan = samplerSharder(TRAIN, { shuffle: true, samplerSeed: SEED, dropLast: false }).plan(0, 0, WORKERS, PER_WORKER);
    for (let step = 0; step < plan.steps; step++) {
      let sum: Float32Array | null = null;
      for (let rank = 0; rank < WORKERS; rank++) {
        const indices = (plan.shards[rank] as Uint32Array).subarray(step * PER_WORKER, (step + 1) * PER_WORKER);
        const x = preprocessBatch(train.images, train.rows, train.cols, indices, { imageSize: 28, mean: 0.286, std: 0.353 });
        const { flat } = trainer.computeGradients(x, gatherLabels(train.labels, indices));
        if (sum === null) sum = flat.slice();
        else for (let i = 0; i < sum.length; i++) sum[i] = (sum[i] as number) + (flat[i] as number);
      }
      const average = (sum as Float32Array).map((v) => v / WORKERS);
      // Plans carry learning rates as float32; so does the reference.
      trainer.applyGradients(average, Math.fround(LR));
    }
    reference = trainer.getValues();
    trainer.dispose();
  }, 300_000);

  afterAll(async () => {
    if (dir !== undefined) await rm(dir, { recursive: true, force: true });
  });

  it('trains for several steps', () => {
    expect(steps).toBe(TRAIN / (WORKERS * PER_WORKER));
  });

  it('ends with exactly the weights of one process averaging the same batches', () => {
    expect(distributed.length).toBe(reference.length);
    let worst = 0;
    let differing = 0;
    for (let i = 0; i < reference.length; i++) {
      const a = distributed[i] as number;
      const b = reference[i] as number;
      const error = Math.abs(a - b) / Math.max(1e-3, Math.abs(b));
      if (a !== b) differing += 1;
      worst = Math.max(worst, error);
    }
    // Averaging two float32 gradients gives the same bits in whatever order the ring adds them.
    expect(differing, `${differing} of ${reference.length} values differ, worst relative error ${worst}`).toBe(0);
  });
});
