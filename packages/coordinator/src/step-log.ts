/**
 * The run's record of committed steps, one JSON line per step as it commits, appended at once so
 * that a crash leaves every step committed until then on disk. Each line holds every rank's
 * sample indices and how many of them are real (the rest are padding repeats), which is what it
 * takes to check that every sample of every epoch was trained exactly once across membership
 * changes:
 *
 *   {"step":12,"epoch":0,"generation":2,"via":"survivor","ranks":[{"indices":[...],"real":32},...]}
 *
 * When the run had to go back to an older state (no member held the committed steps any more), a
 * line `{"undoFromStep":12}` says that the lines of step 12 and later before it no longer count.
 */
import { appendFileSync, writeFileSync } from 'node:fs';
import type { StepCommittedEffect } from './machine/effects.ts';

export class StepLog {
  /** Starts the file afresh (a resumed run appends, keeping the steps before the restart). */
  constructor(
    readonly path: string,
    append: boolean,
  ) {
    if (!append) writeFileSync(path, '');
  }

  undo(fromStep: number): void {
    appendFileSync(this.path, `${JSON.stringify({ undoFromStep: fromStep })}\n`);
  }

  append(step: StepCommittedEffect): void {
    const ranks = step.indices.map((indices, rank) => ({ indices: [...indices], real: step.realCounts[rank] ?? indices.length }));
    appendFileSync(this.path, `${JSON.stringify({ step: step.step, epoch: step.epoch, generation: step.generation, via: step.via, ranks })}\n`);
  }
}
