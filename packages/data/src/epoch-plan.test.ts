import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { EpochPlan } from './epoch-plan.ts';
import { SamplerRangeError } from './errors.ts';
import { DistributedSampler } from './sampler.ts';

/** A world change: after what fraction of the current plan's steps, to which world and batch size. */
interface Change {
  afterFraction: number;
  worldSize: number;
  batchSizePerRank: number;
}

interface Run {
  /** Every real sample trained on, in order. */
  real: number[];
  /** Every padded repeat trained on. */
  padded: number[];
  /** The plan whose last step ended the epoch (the last plan when none ran to its end). */
  endingPlan: EpochPlan;
}

/** Runs one epoch through `changes`, checking on the way what every step must satisfy. */
function runEpoch(plan: EpochPlan, changes: readonly Change[]): Run {
  const real: number[] = [];
  const padded: number[] = [];
  let endingPlan: EpochPlan | undefined;
  const runSteps = (p: EpochPlan, count: number): void => {
    if (count === p.steps && count > 0) {
      // Once a plan has run to its end the epoch is over: what follows is empty.
      expect(endingPlan).toBeUndefined();
      endingPlan = p;
    }
    for (let step = 0; step < count; step++) {
      const batches = Array.from({ length: p.worldSize }, (_, rank) => p.batch(step, rank));
      // A synchronous all-reduce needs the same batch size on every rank.
      for (const b of batches) expect(b.indices.length).toBe(batches[0]?.indices.length);
      for (const b of batches) {
        expect(b.indices.length).toBeGreaterThan(0);
        real.push(...b.indices.subarray(0, b.realCount));
        padded.push(...b.indices.subarray(b.realCount));
        // Padding only ever appears in the last step of a plan.
        if (b.realCount < b.indices.length) expect(step).toBe(p.steps - 1);
      }
    }
  };
  let current = plan;
  for (const change of changes) {
    const completed = Math.floor(change.afterFraction * current.steps);
    runSteps(current, completed);
    current = current.resize(completed, change.worldSize, change.batchSizePerRank);
  }
  runSteps(current, current.steps);
  return { real, padded, endingPlan: endingPlan ?? current };
}

const sorted = (values: number[]): number[] => [...values].sort((a, b) => a - b);
const range = (n: number): number[] => Array.from({ length: n }, (_, i) => i);

const datasetSizes = fc.oneof(fc.constantFrom(0, 1, 2, 3, 7, 11), fc.nat({ max: 400 }));
const changeArb = fc.record({
  afterFraction: fc.double({ min: 0, max: 1, noNaN: true }),
  worldSize: fc.integer({ min: 1, max: 9 }),
  batchSizePerRank: fc.integer({ min: 1, max: 7 }),
});

describe('EpochPlan', () => {
  it('deals the shards of PyTorch’s DistributedSampler from the start of an epoch', () => {
    fc.assert(
      fc.property(datasetSizes, fc.integer({ min: 1, max: 9 }), fc.boolean(), (datasetSize, worldSize, dropLast) => {
        const sampler = new DistributedSampler({ datasetSize, dropLast, seed: 11 });
        const plan = sampler.plan(2, worldSize, 3);
        for (let rank = 0; rank < worldSize; rank++) {
          expect(plan.shard(rank).indices).toEqual(sampler.indicesFor(2, rank, worldSize));
          // Reading the shard in steps of the batch size gives the shard back.
          const stepped = range(plan.steps).flatMap((step) => Array.from(plan.batch(step, rank).indices));
          expect(stepped).toEqual(Array.from(plan.shard(rank).indices));
        }
      }),
    );
  });

  it('uses every sample of the epoch exactly once across any number of world changes', () => {
    fc.assert(
      fc.property(
        datasetSizes,
        fc.integer({ min: 1, max: 9 }),
        fc.integer({ min: 1, max: 7 }),
        fc.array(changeArb, { maxLength: 5 }),
        fc.nat({ max: 2 ** 31 }),
        (datasetSize, worldSize, batchSizePerRank, changes, seed) => {
          const sampler = new DistributedSampler({ datasetSize, seed });
          const { real, padded, endingPlan } = runEpoch(sampler.plan(1, worldSize, batchSizePerRank), changes);
          expect(sorted(real)).toEqual(range(datasetSize));
          expect(padded.length).toBe(endingPlan.paddedCount);
          expect(endingPlan.paddedCount).toBeLessThan(endingPlan.worldSize);
          for (const index of padded) expect(index).toBeLessThan(datasetSize);
        },
      ),
      { numRuns: 300 },
    );
  });

  it('uses every sample at most once and drops fewer than a world’s worth with dropLast', () => {
    fc.assert(
      fc.property(
        datasetSizes,
        fc.integer({ min: 1, max: 9 }),
        fc.integer({ min: 1, max: 7 }),
        fc.array(changeArb, { maxLength: 5 }),
        (datasetSize, worldSize, batchSizePerRank, changes) => {
          const sampler = new DistributedSampler({ datasetSize, dropLast: true, seed: 3 });
          const { real, padded, endingPlan } = runEpoch(sampler.plan(0, worldSize, batchSizePerRank), changes);
          expect(padded).toEqual([]);
          expect(new Set(real).size).toBe(real.length);
          expect(real.length).toBe(datasetSize - endingPlan.droppedCount);
          expect(endingPlan.droppedCount).toBeLessThan(endingPlan.worldSize);
        },
      ),
      { numRuns: 300 },
    );
  });

  it('re-deals the rest of the epoch over the new world after a change', () => {
    // 10 samples in order, 2 ranks of batch 2: step 0 reads positions 0..3 (rank 0: 0, 2; rank 1: 1, 3).
    const sampler = new DistributedSampler({ datasetSize: 10, shuffle: false });
    const plan = sampler.plan(0, 2, 2);
    expect(plan.steps).toBe(3);
    expect(Array.from(plan.batch(0, 0).indices)).toEqual([0, 2]);
    expect(Array.from(plan.batch(0, 1).indices)).toEqual([1, 3]);
    // A third worker joins after that step: positions 4..9 go to 3 ranks.
    const after = plan.resize(1, 3);
    expect(after.startOffset).toBe(4);
    expect(after.remaining).toBe(6);
    expect([0, 1, 2].map((rank) => Array.from(after.shard(rank).indices))).toEqual([
      [4, 7],
      [5, 8],
      [6, 9],
    ]);
  });

  it('flags padded repeats at the end of the last batch', () => {
    const sampler = new DistributedSampler({ datasetSize: 5, shuffle: false });
    const plan = sampler.plan(0, 4, 1);
    expect(plan.paddedCount).toBe(3);
    expect([0, 1, 2, 3].map((rank) => plan.batch(1, rank))).toEqual([
      { indices: Uint32Array.of(4), realCount: 1 },
      { indices: Uint32Array.of(0), realCount: 0 },
      { indices: Uint32Array.of(1), realCount: 0 },
      { indices: Uint32Array.of(2), realCount: 0 },
    ]);
  });

  it('re-deals what dropLast left when a plan without steps meets a smaller world', () => {
    const sampler = new DistributedSampler({ datasetSize: 3, dropLast: true, shuffle: false });
    const tooMany = sampler.plan(0, 4, 1);
    expect([tooMany.steps, tooMany.droppedCount]).toEqual([0, 3]);
    const smaller = tooMany.resize(0, 3);
    expect([0, 1, 2].map((rank) => Array.from(smaller.shard(rank).indices))).toEqual([[0], [1], [2]]);
  });

  it('has nothing left once every step of a plan is done', () => {
    const sampler = new DistributedSampler({ datasetSize: 10, dropLast: true });
    const plan = sampler.plan(0, 3, 2);
    expect(plan.droppedCount).toBe(1);
    const rest = plan.resize(plan.steps, 1);
    expect(rest.remaining).toBe(0);
    expect(rest.steps).toBe(0);
  });

  it('rebuilds the same plan from its plain segment', () => {
    const sampler = new DistributedSampler({ datasetSize: 97, seed: 4 });
    const plan = sampler.plan(6, 4, 5).resize(2, 3, 4);
    const segment = JSON.parse(JSON.stringify(plan.segment)) as typeof plan.segment;
    const rebuilt = new EpochPlan(new DistributedSampler({ datasetSize: 97, seed: 4 }), segment);
    expect(rebuilt.steps).toBe(plan.steps);
    for (let step = 0; step < plan.steps; step++) {
      for (let rank = 0; rank < 3; rank++) expect(rebuilt.batch(step, rank)).toEqual(plan.batch(step, rank));
    }
  });

  it('rejects steps and ranks outside the plan', () => {
    const plan = new DistributedSampler({ datasetSize: 10 }).plan(0, 2, 2);
    expect(() => plan.batch(3, 0)).toThrowError(SamplerRangeError);
    expect(() => plan.batch(3, 0)).toThrowError('step 3 is not in this plan of epoch 0, which has steps 0..2');
    expect(() => plan.batch(0, 2)).toThrowError(SamplerRangeError);
    expect(() => plan.resize(4, 2)).toThrowError('completedSteps 4 is not in 0..3 for this plan of epoch 0');
    expect(() => plan.resize(1.5, 2)).toThrowError(SamplerRangeError);
  });
});
