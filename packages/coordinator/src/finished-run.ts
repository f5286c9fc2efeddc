/**
 * The record a coordinator leaves beside its checkpoints when its run finishes: the final
 * `/status` document and the final `/metrics` exposition. A checkpoint holds the weights and
 * where the run stood, not its history (evaluations, generations, throughput), so a coordinator
 * restarted on a finished run reads this file to show the run as it ended.
 *
 * It is written as a checkpoint is (`writeFileAtomically`), so a crash leaves the old record or
 * the new one, and it names the step and epoch it ended at: a record that does not
 * match the newest checkpoint is another run's (one resumed with more epochs since) and is not
 * used.
 */
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { writeFileAtomically } from './checkpoint.ts';
import type { RunStatus } from './observe/run-status.ts';

/** Its file name in the checkpoint directory. */
export const FINISHED_RUN_FILE = 'finished-run.json';

export interface FinishedRun {
  formatVersion: 1;
  /** When the run finished (ISO 8601). */
  finishedAt: string;
  /** Global steps done at the end. */
  step: number;
  /** Epochs done at the end. */
  epoch: number;
  /** `/status` at the end. */
  status: RunStatus;
  /** `/metrics` at the end (Prometheus text exposition). */
  metrics: string;
}

/** Writes `record` to `dir` atomically; returns its path. */
export async function writeFinishedRun(dir: string, record: FinishedRun): Promise<string> {
  try {
    return await writeFileAtomically(dir, FINISHED_RUN_FILE, JSON.stringify(record));
  } catch (cause) {
    throw new Error(`writing ${join(dir, FINISHED_RUN_FILE)} failed: ${(cause as Error).message}`, { cause });
  }
}

/**
 * The record in `dir` for a run that ended at `step`, or why there is none usable (no file, not
 * JSON, another run's).
 */
export async function readFinishedRun(dir: string, step: number): Promise<{ record: FinishedRun } | { problem: string }> {
  const path = join(dir, FINISHED_RUN_FILE);
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch (error) {
    return { problem: `${path} cannot be read: ${(error as Error).message}` };
  }
  let record: FinishedRun;
  try {
    record = JSON.parse(text) as FinishedRun;
  } catch {
    return { problem: `${path} is not JSON` };
  }
  if (record.formatVersion !== 1 || typeof record.metrics !== 'string' || typeof record.status !== 'object' || record.status === null)
    return { problem: `${path} is not a finished-run record of format version 1` };
  if (record.step !== step) return { problem: `${path} records a run that ended at step ${record.step}, the newest checkpoint is of step ${step}` };
  return { record };
}
