/**
 * End to end, with real processes and real sockets: `ringtrain launch --overlap` all-reduces each
 * gradient bucket while the workers' backward passes still compute, and must train exactly as the
 * same run without it: replicas bit-identical at every step, and every step's loss, the test loss
 * and the test accuracy equal to those of the plain run.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { readStepLog, readSummary, runRingtrain, type StepLine } from './launch-helpers.ts';
import type { RunSummary } from '../src/index.ts';

const TRAIN = 640;
const TEST = 200;
const BATCH = 32;

/** A tiny-width ResNet-18 with 2 workers, checksums compared every step, buckets small enough that a gradient spans many. */
async function launch(name: string, extra: string[]): Promise<{ dir: string; summary: RunSummary; losses: Map<string, number> }> {
  const dir = await mkdtemp(join(tmpdir(), `ringtrain-${name}-`));
  const summaryPath = join(dir, 'summary.json');
  const run = runRingtrain([
    'launch',
    '--workers', '2',
    '--port', '0',
    '--model', 'resnet18', '--stem', 'd2l', '--width', '0.25', '--image-size', '28',
    '--epochs', '1',
    '--batch-size', String(BATCH),
    '--limit-train', String(TRAIN),
    '--limit-test', String(TEST),
    '--checksum-every', '1',
    '--max-bucket-bytes', String(64 * 1024),
    ...extra,
    '--step-log-dir', dir,
    '--summary-json', summaryPath,
  ]);
  const result = await run.exited;
  expect(result.code, `ringtrain launch failed:\n${result.stdout}\n${result.stderr}`).toBe(0);
  const steps = [...(await readStepLog(join(dir, 'worker-0.jsonl'))), ...(await readStepLog(join(dir, 'worker-1.jsonl')))];
  return { dir, summary: await readSummary(summaryPath), losses: lossesByBatch(steps) };
}

/** Each step's local loss by its batch: which worker process got which rank may differ from run to run. */
function lossesByBatch(steps: StepLine[]): Map<string, number> {
  return new Map(steps.map((s) => [`step ${s.step}, images ${s.indices.join(',')}`, s.loss]));
}

describe('a launch of 2 workers with --overlap', () => {
  let plain: Awaited<ReturnType<typeof launch>>;
  let overlapped: Awaited<ReturnType<typeof launch>>;

  beforeAll(async () => {
    plain = await launch('plain', []);
    overlapped = await launch('overlap', ['--overlap']);
  }, 600_000);

  afterAll(async () => {
    await Promise.all([plain, overlapped].filter((r) => r !== undefined).map((r) => rm(r.dir, { recursive: true, force: true })));
  });

  it('keeps both replicas bit-identical: their weight checksums agree at every step', () => {
    expect(overlapped.summary.steps).toBe(TRAIN / BATCH);
    expect(overlapped.summary.checksumsAgreed).toBe(overlapped.summary.steps);
  });

  it('trains exactly as the run without overlap: the same loss at every step and the same test result', () => {
    expect(overlapped.losses.size).toBe((2 * TRAIN) / BATCH);
    expect(overlapped.losses).toEqual(plain.losses);
    expect(overlapped.summary.testLoss).toBe(plain.summary.testLoss);
    expect(overlapped.summary.testAccuracy).toBe(plain.summary.testAccuracy);
  });
});
