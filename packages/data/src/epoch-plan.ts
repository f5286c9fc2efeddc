/**
 * The steps of one epoch, and what is left of it when the world changes size.
 *
 * An epoch is its order (the sampler's permutation) read front to back. At world size W with
 * B samples per rank per step, global step s reads the block of W·B positions starting at
 * `startOffset + s·W·B`, and rank r takes every W-th position of it, starting at r. This is
 * exactly PyTorch's `DistributedSampler` shard read in batches of B: rank r's shard is positions
 * r, r+W, r+2W, ..., and its step s is shard entries sB..sB+B-1.
 *
 * Because every step consumes a contiguous block of the order, "what has been used" is one
 * number, the offset into the order. When a worker leaves or joins after `k` completed steps,
 * {@link EpochPlan.resize} starts a new plan at offset `startOffset + k·W·B` for the new world
 * size, dealing the rest of the order out the same way. However many times this happens, every
 * sample of the epoch is used exactly once (at most once with `dropLast`, which leaves out fewer
 * samples than the final world has ranks):
 *
 *   - a plan that is cut short has only used real samples (padding is in its last step alone);
 *   - the plan that reaches the end pads its tail (by wrapping around to its own first samples)
 *     so all ranks have equal shards, or drops the tail with `dropLast`.
 *
 *     const plan = sampler.plan(epoch, 4, 32);   // 4 ranks, 32 samples each per step
 *     plan.batch(step, rank);                    // for steps 0..plan.steps-1
 *     // a worker is lost after 10 completed steps: the other 3 share the rest
 *     const rest = plan.resize(10, 3);
 *     rest.batch(0, rank);
 *
 * Padded repeats are flagged: in every batch and shard they come last, and `realCount` says
 * how many entries precede them. Exclude the rest from sample counts and metrics (training on
 * them is harmless, as in PyTorch, and keeps steps equal across ranks).
 *
 * A plan is plain data (an {@link EpochSegment}) plus the sampler, so a checkpoint stores the
 * segment and rebuilds the plan with `new EpochPlan(sampler, segment)`.
 */
import { SamplerRangeError } from './errors.ts';
import type { DistributedSampler } from './sampler.ts';
import { requireInteger } from './validate.ts';

/** Where a plan starts and how it deals: everything needed to rebuild it. */
export interface EpochSegment {
  epoch: number;
  /** How many samples of the epoch's order were used before this plan (a position in the order). */
  startOffset: number;
  worldSize: number;
  /** Samples per rank per step (the last step may have fewer, equally on every rank). */
  batchSizePerRank: number;
}

/** Sample indices for one rank, padded repeats last. */
export interface RankIndices {
  /** Indices into the data set. */
  indices: Uint32Array;
  /** How many leading entries of `indices` are real; the rest are padded repeats. */
  realCount: number;
}

/** The rest of an epoch dealt out over a fixed world (see the module comment). */
export class EpochPlan {
  readonly epoch: number;
  readonly startOffset: number;
  readonly worldSize: number;
  readonly batchSizePerRank: number;
  /** Samples of the epoch not used before this plan. */
  readonly remaining: number;
  /** Samples each rank gets in this plan, padded ones included. */
  readonly samplesPerRank: number;
  /** Global steps in this plan. */
  readonly steps: number;
  /** Padded repeats added at the end so shards are equal (0 with `dropLast`). */
  readonly paddedCount: number;
  /** Samples left unused at the end with `dropLast` (0 without). */
  readonly droppedCount: number;

  private readonly order: Uint32Array;

  /**
   * @param sampler the data set's sampler (size, seed, shuffle, dropLast)
   * @param segment where this plan starts and how it deals
   */
  constructor(
    private readonly sampler: DistributedSampler,
    segment: EpochSegment,
  ) {
    this.epoch = requireInteger('epoch', segment.epoch, 0);
    this.startOffset = requireInteger('startOffset', segment.startOffset, 0, sampler.datasetSize);
    this.worldSize = requireInteger('worldSize', segment.worldSize, 1);
    this.batchSizePerRank = requireInteger('batchSizePerRank', segment.batchSizePerRank, 1);
    this.order = orderOf(sampler, this.epoch);
    this.remaining = sampler.datasetSize - this.startOffset;
    this.samplesPerRank = sampler.dropLast
      ? Math.floor(this.remaining / this.worldSize)
      : Math.ceil(this.remaining / this.worldSize);
    const dealt = this.samplesPerRank * this.worldSize;
    this.paddedCount = Math.max(0, dealt - this.remaining);
    this.droppedCount = Math.max(0, this.remaining - dealt);
    this.steps = Math.ceil(this.samplesPerRank / this.batchSizePerRank);
  }

  /** This plan as plain data, for checkpoints and messages. */
  get segment(): EpochSegment {
    return {
      epoch: this.epoch,
      startOffset: this.startOffset,
      worldSize: this.worldSize,
      batchSizePerRank: this.batchSizePerRank,
    };
  }

  /** All of `rank`'s samples in this plan, in step order. */
  shard(rank: number): RankIndices {
    return this.slice(rank, 0, this.samplesPerRank);
  }

  /** The samples `rank` trains on in global step `step` of this plan. */
  batch(step: number, rank: number): RankIndices {
    if (!Number.isSafeInteger(step) || step < 0 || step >= this.steps) {
      throw new SamplerRangeError(
        `step ${step} is not in this plan of epoch ${this.epoch}, which has steps 0..${this.steps - 1}`,
      );
    }
    const first = step * this.batchSizePerRank;
    return this.slice(rank, first, Math.min(first + this.batchSizePerRank, this.samplesPerRank));
  }

  /** The position in the epoch's order reached after `completedSteps` steps of this plan. */
  offsetAfter(completedSteps: number): number {
    if (!Number.isSafeInteger(completedSteps) || completedSteps < 0 || completedSteps > this.steps) {
      throw new SamplerRangeError(
        `completedSteps ${completedSteps} is not in 0..${this.steps} for this plan of epoch ${this.epoch}`,
      );
    }
    // A plan run to its end has finished the epoch, dropped tail included. (A plan without
    // steps, where dropLast left fewer samples than ranks, has used nothing: a smaller world
    // may still deal them.)
    if (completedSteps === this.steps && this.steps > 0) return this.sampler.datasetSize;
    return this.startOffset + completedSteps * this.batchSizePerRank * this.worldSize;
  }

  /**
   * The plan for the rest of the epoch after `completedSteps` whole steps of this one, dealt over
   * a new world size (and, optionally, a new per-rank batch size).
   */
  resize(completedSteps: number, worldSize: number, batchSizePerRank = this.batchSizePerRank): EpochPlan {
    return new EpochPlan(this.sampler, {
      epoch: this.epoch,
      startOffset: this.offsetAfter(completedSteps),
      worldSize,
      batchSizePerRank,
    });
  }

  /** Shard entries [from, to) of `rank`; entry j is position j·W + rank of this plan's part of the order. */
  private slice(rank: number, from: number, to: number): RankIndices {
    if (!Number.isSafeInteger(rank) || rank < 0 || rank >= this.worldSize) {
      throw new SamplerRangeError(`rank ${rank} is not in 0..${this.worldSize - 1} (world size ${this.worldSize})`);
    }
    const indices = new Uint32Array(to - from);
    let realCount = 0;
    for (let j = from; j < to; j++) {
      const position = j * this.worldSize + rank;
      const real = position < this.remaining;
      // Padding wraps around to this plan's first samples, as PyTorch wraps to the epoch's first.
      indices[j - from] = this.order[this.startOffset + (real ? position : position % this.remaining)] as number;
      if (real) realCount++;
    }
    return { indices, realCount };
  }
}

// The plans of one epoch share its order (a permutation of up to 60,000 entries, drawn once per
// sampler and epoch); the order never leaves this module, so sharing it is safe.
const orders = new WeakMap<DistributedSampler, { epoch: number; order: Uint32Array }>();

function orderOf(sampler: DistributedSampler, epoch: number): Uint32Array {
  const cached = orders.get(sampler);
  if (cached !== undefined && cached.epoch === epoch) return cached.order;
  const order = sampler.permutation(epoch);
  orders.set(sampler, { epoch, order });
  return order;
}
