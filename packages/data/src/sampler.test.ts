import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { InvalidDataOptionError, SamplerRangeError } from './errors.ts';
import { DistributedSampler } from './sampler.ts';

const shards = (sampler: DistributedSampler, epoch: number, worldSize: number): number[][] =>
  Array.from({ length: worldSize }, (_, rank) => Array.from(sampler.indicesFor(epoch, rank, worldSize)));

describe('DistributedSampler', () => {
  it("pads by wrapping around, as PyTorch's DistributedSampler does", () => {
    // torch DistributedSampler(range(10), num_replicas=3, shuffle=False): [0,3,6,9], [1,4,7,0], [2,5,8,1].
    const sampler = new DistributedSampler({ datasetSize: 10, shuffle: false });
    expect(shards(sampler, 0, 3)).toEqual([
      [0, 3, 6, 9],
      [1, 4, 7, 0],
      [2, 5, 8, 1],
    ]);
  });

  it("drops the tail with dropLast, as PyTorch's DistributedSampler does", () => {
    const sampler = new DistributedSampler({ datasetSize: 10, shuffle: false, dropLast: true });
    expect(shards(sampler, 0, 3)).toEqual([
      [0, 3, 6],
      [1, 4, 7],
      [2, 5, 8],
    ]);
  });

  it('repeats a one-sample data set on every rank', () => {
    expect(shards(new DistributedSampler({ datasetSize: 1 }), 0, 4)).toEqual([[0], [0], [0], [0]]);
  });

  it('gives every rank nothing from an empty data set', () => {
    expect(shards(new DistributedSampler({ datasetSize: 0 }), 3, 2)).toEqual([[], []]);
  });

  it('covers the data set with equal shards at any size and world size', () => {
    fc.assert(
      fc.property(
        fc.nat({ max: 300 }),
        fc.integer({ min: 1, max: 16 }),
        fc.boolean(),
        fc.nat({ max: 1000 }),
        (datasetSize, worldSize, dropLast, epoch) => {
          const sampler = new DistributedSampler({ datasetSize, dropLast, seed: 5 });
          const all = shards(sampler, epoch, worldSize);
          const perRank = dropLast ? Math.floor(datasetSize / worldSize) : Math.ceil(datasetSize / worldSize);
          for (const shard of all) expect(shard.length).toBe(perRank);
          const seen = new Set(all.flat());
          if (dropLast) {
            expect(seen.size).toBe(perRank * worldSize);
          } else {
            expect(seen.size).toBe(datasetSize);
          }
          for (const index of seen) expect(index >= 0 && index < datasetSize).toBe(true);
        },
      ),
    );
  });

  it('draws a new order each epoch and the same order for the same seed and epoch', () => {
    const a = new DistributedSampler({ datasetSize: 100, seed: 7 });
    const b = new DistributedSampler({ datasetSize: 100, seed: 7 });
    expect(a.permutation(3)).toEqual(b.permutation(3));
    expect(a.permutation(3)).not.toEqual(a.permutation(4));
    expect(a.permutation(3)).not.toEqual(new DistributedSampler({ datasetSize: 100, seed: 8 }).permutation(3));
  });

  it('keeps the data set order when not shuffling', () => {
    const sampler = new DistributedSampler({ datasetSize: 5, shuffle: false });
    expect(Array.from(sampler.permutation(9))).toEqual([0, 1, 2, 3, 4]);
  });

  it('rejects unusable sizes, seeds, world sizes and ranks', () => {
    expect(() => new DistributedSampler({ datasetSize: -1 })).toThrowError(InvalidDataOptionError);
    expect(() => new DistributedSampler({ datasetSize: 10, seed: 0.5 })).toThrowError(
      'seed must be an integer >= 0, got 0.5',
    );
    const sampler = new DistributedSampler({ datasetSize: 10 });
    expect(() => sampler.indicesFor(0, 0, 0)).toThrowError(InvalidDataOptionError);
    expect(() => sampler.indicesFor(0, 3, 3)).toThrowError(SamplerRangeError);
    expect(() => sampler.indicesFor(0, 3, 3)).toThrowError('rank 3 is not in 0..2 (world size 3)');
    expect(() => sampler.indicesFor(-1, 0, 3)).toThrowError(InvalidDataOptionError);
  });
});
