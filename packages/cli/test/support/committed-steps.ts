/**
 * Reading the coordinator's `--step-log`: one line per committed step, and `undoFromStep` lines
 * after which the steps from that one on no longer count (the run went back to an older state).
 */
import { readFile } from 'node:fs/promises';

export interface CommittedStep {
  step: number;
  epoch: number;
  generation: number;
  via: 'all-ranks' | 'survivor';
  ranks: { indices: number[]; real: number }[];
}

/** The steps that count, in commit order; a missing or empty file has none. */
export async function readCommittedSteps(path: string): Promise<CommittedStep[]> {
  const text = await readFile(path, 'utf8').catch(() => '');
  const steps: CommittedStep[] = [];
  for (const line of text.split('\n')) {
    if (line.trim() === '') continue;
    const entry = JSON.parse(line) as CommittedStep | { undoFromStep: number };
    if ('undoFromStep' in entry) {
      const from = entry.undoFromStep;
      steps.splice(0, steps.length, ...steps.filter((s) => s.step < from));
    } else {
      steps.push(entry);
    }
  }
  return steps;
}

/** How often each sample index of `epoch` was trained, counting real entries only (not padding). */
export function sampleCounts(steps: CommittedStep[], epoch: number): Map<number, number> {
  const counts = new Map<number, number>();
  for (const step of steps.filter((s) => s.epoch === epoch)) {
    for (const rank of step.ranks) for (const index of rank.indices.slice(0, rank.real)) counts.set(index, (counts.get(index) ?? 0) + 1);
  }
  return counts;
}
