/**
 * How the coordinator asks which samples each rank trains on. The machine stays free of the
 * sampler's internals: the shell passes an `EpochSharder` built on `@ringtrain/data`'s
 * `DistributedSampler` and `EpochPlan`, and the transcript tests pass a readable one.
 *
 * An epoch is one order of the training set, read front to back; a position in it is an offset
 * (how many samples of the order were used). A checkpoint stores that offset, so a resumed run,
 * even with another number of workers, deals out exactly what the epoch has left.
 */

/** Where in the data set's order a checkpoint was taken. */
export interface SamplerPosition {
  epoch: number;
  /** Samples of the epoch's order used before this position. */
  offset: number;
}

/** The rest of an epoch dealt out over a fixed world. */
export interface ShardPlan {
  /** The sample indices of each rank, by rank, step after step; all the same length. */
  shards: Uint32Array[];
  /** By rank: how many leading entries of the shard are real (the rest are padded repeats); all real when absent. */
  realCounts?: number[];
  /** Global steps in this plan (the last may be shorter, equally on every rank). */
  steps: number;
  /** The position reached after `completedSteps` steps of this plan. */
  offsetAfter(completedSteps: number): number;
}

export interface EpochSharder {
  /** Size of the training set the shards are drawn from. */
  readonly trainCount: number;
  /** The plan of `epoch` from `offset` for `worldSize` ranks taking `batchSizePerWorker` each per step. */
  plan(epoch: number, offset: number, worldSize: number, batchSizePerWorker: number): ShardPlan;
}

/** Contiguous, near-equal shares of `count` items: rank r gets [start, end). */
export function contiguousShare(count: number, rank: number, worldSize: number): { start: number; end: number } {
  return {
    start: Math.floor((rank * count) / worldSize),
    end: Math.floor(((rank + 1) * count) / worldSize),
  };
}
