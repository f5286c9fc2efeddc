/**
 * `--crop-padding` reaches the workers' augmentation: two-step launches on real images that differ
 * only in the crop's padding start from different losses (the batches they compute on differ),
 * and a run that pads nothing, flipping alone, differs from one that does not augment at all.
 * A worker that ignored the assigned padding would crop every run with its default 4 pixels and
 * give the first two the same loss.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { firstStepLossByBatch, runRingtrain } from './launch-helpers.ts';

const RUNS = {
  padding4: ['--augment'],
  padding0: ['--augment', '--crop-padding', '0'],
  plain: [],
} as const;
type RunName = keyof typeof RUNS;

describe('the crop padding of a launch', () => {
  let dir: string;
  const firstLoss = {} as Record<RunName, Map<string, number>>;
  const recipeLine = {} as Record<RunName, string>;

  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'ringtrain-crop-'));
    for (const [name, flags] of Object.entries(RUNS) as [RunName, readonly string[]][]) {
      const logDir = join(dir, name);
      const run = runRingtrain([
        'launch', '--workers', '2', '--port', '0', '--stem', 'compact', '--width', '0.25',
        '--batch-size', '128', '--limit-train', '256', '--limit-test', '0', '--step-log-dir', logDir, ...flags,
      ]);
      const exit = await run.exited;
      if (exit.code !== 0) throw new Error(`ringtrain launch ${flags.join(' ')} exited ${String(exit.code)}:\n${exit.stdout}\n${exit.stderr}`);
      recipeLine[name] = exit.stdout.split('\n').find((line) => line.includes('recipe:')) ?? '';
      firstLoss[name] = await firstStepLossByBatch(logDir, 2);
    }
  }, 300_000);

  afterAll(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  it('names the padding in the recipe line', () => {
    expect(recipeLine.padding4).toContain('crop (4 px) + flip');
    expect(recipeLine.padding0).toContain(', flip,');
    expect(recipeLine.padding0).not.toContain('crop');
    expect(recipeLine.plain).not.toContain('flip');
  });

  it('changes what every worker computes on', () => {
    // Compared batch for batch: which worker trains which shard depends on who joins first.
    expect(firstLoss.plain.size).toBe(2);
    for (const name of Object.keys(RUNS) as RunName[]) {
      expect([...firstLoss[name].keys()].sort(), name).toEqual([...firstLoss.plain.keys()].sort());
      expect([...firstLoss[name].values()].every(Number.isFinite), name).toBe(true);
    }
    for (const [batch, plain] of firstLoss.plain) {
      expect(firstLoss.padding0.get(batch)).not.toBe(firstLoss.padding4.get(batch));
      expect(firstLoss.padding0.get(batch)).not.toBe(plain);
      expect(firstLoss.padding4.get(batch)).not.toBe(plain);
    }
  });
});
