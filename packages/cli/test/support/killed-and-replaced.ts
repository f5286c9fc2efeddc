/**
 * A run across generations: a coordinator for 2–3 workers on 3,000 real images (50 steps of 60),
 * three workers of which one is killed in its all-reduce of step 10, and a replacement that joins
 * once the two survivors have trained on. What the run committed is read back for the checks.
 */
import { mkdtemp } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { expect } from 'vitest';
import { readSummary, runRingtrain } from '../launch-helpers.ts';
import { readCommittedSteps, type CommittedStep } from './committed-steps.ts';
import { startWorker, until, type WorkerProcess } from './worker-processes.ts';
import type { RunSummary } from '../../src/index.ts';

export const KILLED_RUN_IMAGES = 3000;
export const KILLED_RUN_BATCH = 60;

export interface KilledAndReplacedRun {
  dir: string;
  /** Every worker started; the caller kills what is left when done. */
  workers: WorkerProcess[];
  exitCode: number | null;
  output: string;
  summary: RunSummary | null;
  committed: CommittedStep[];
}

/** Runs it with the coordinator flags `extra` (the recipe or mode under test); `workers` fills as they start. */
export async function runKilledAndReplaced(name: string, extra: string[], workers: WorkerProcess[]): Promise<KilledAndReplacedRun> {
  const token = `${name}-test-token-0123456789`;
  const dir = await mkdtemp(join(tmpdir(), `ringtrain-${name}-generations-`));
  const stepLog = join(dir, 'committed.jsonl');
  const coordinator = runRingtrain(
    [
      'coordinator',
      '--port', '0',
      '--min-workers', '2',
      '--max-workers', '3',
      '--rendezvous-settle-ms', '60000',
      '--model', 'resnet18', '--stem', 'd2l', '--width', '0.25',
      '--epochs', '1',
      '--batch-size', String(KILLED_RUN_BATCH),
      '--limit-train', String(KILLED_RUN_IMAGES),
      '--limit-test', '500',
      '--checksum-every', '1',
      ...extra,
      '--step-log', stepLog,
      '--summary-json', join(dir, 'summary.json'),
    ],
    { RINGTRAIN_TOKEN: token },
  );
  const url = await coordinator.url;
  const wasm = ['--backend', 'wasm'];
  workers.push(startWorker(url, dir, 'steady', token, wasm));
  const doomed = startWorker(url, dir, 'doomed', token, [...wasm, '--inject-fault', 'kill@10:during-allreduce']);
  workers.push(doomed, startWorker(url, dir, 'other', token, wasm));
  await doomed.exited;
  await until('the two survivors train on', async () => (await readCommittedSteps(stepLog)).some((s) => s.generation >= 2 && s.step >= 14));
  workers.push(startWorker(url, dir, 'replacement', token, wasm));
  const result = await coordinator.exited;
  const summary = result.code === 0 ? await readSummary(join(dir, 'summary.json')) : null;
  return { dir, workers, exitCode: result.code, output: `${result.stdout}\n${result.stderr}`, summary, committed: await readCommittedSteps(stepLog) };
}

/**
 * Every step committed once, in three generations or more, and compared. A step some ranks had
 * reported when the world changed (the killed worker's, or the one in flight when the
 * replacement came in) counts for what they applied: it is the last of its generation, and the
 * next generation's start compares their weights with the others'.
 */
export function expectEveryStepOnceAndAgreed(summary: RunSummary, committed: CommittedStep[]): void {
  expect(summary.generations).toBeGreaterThanOrEqual(3);
  expect(summary.steps).toBe(KILLED_RUN_IMAGES / KILLED_RUN_BATCH);
  expect(committed.map((s) => s.step)).toEqual([...Array(summary.steps).keys()]);
  const bySurvivor = committed.filter((s) => s.via === 'survivor');
  for (const s of bySurvivor) expect(committed[s.step - 1]?.generation, `step ${s.step}`).toBeLessThan(s.generation);
  expect(bySurvivor.length).toBeLessThan(summary.generations);
  expect(summary.checksumsAgreed).toBe(summary.steps - bySurvivor.length);
}
