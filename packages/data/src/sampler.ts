/**
 * Sharding a data set over data-parallel ranks, with the semantics of PyTorch's
 * `torch.utils.data.DistributedSampler`:
 *
 *   - each epoch has one order of the data set, a permutation drawn from `(seed, epoch)` (or
 *     `0..n-1` without shuffling), identical in every process;
 *   - every rank gets the same number of samples, because a synchronous all-reduce needs every
 *     rank to run the same number of steps: `ceil(n / W)` with the order padded by wrapping
 *     around to its start, or `floor(n / W)` with the tail dropped (`dropLast`);
 *   - rank r's shard is positions r, r + W, r + 2W, ... of the (padded) order.
 *
 * For training in steps, and for a world that changes size mid-epoch, see {@link EpochPlan}.
 */
import { EpochPlan } from './epoch-plan.ts';
import { PRNG_DOMAIN, Xoshiro128, randomPermutation } from './prng.ts';
import { requireInteger } from './validate.ts';

export interface DistributedSamplerOptions {
  /** The number of examples in the data set. */
  datasetSize: number;
  /**
   * Draw a new order each epoch; when false every epoch uses `0..n-1`.
   * @default true
   */
  shuffle?: boolean;
  /**
   * The seed of the per-epoch orders; every process of a run must use the same one.
   * @default 0
   */
  seed?: number;
  /**
   * Drop the tail that does not divide evenly over the ranks instead of padding with repeats.
   * @default false
   */
  dropLast?: boolean;
}

/** Index arithmetic for sharding one data set over data-parallel ranks (see the module comment). */
export class DistributedSampler {
  readonly datasetSize: number;
  readonly shuffle: boolean;
  readonly seed: number;
  readonly dropLast: boolean;

  constructor(options: DistributedSamplerOptions) {
    this.datasetSize = requireInteger('datasetSize', options.datasetSize, 0, 2 ** 32 - 1);
    this.shuffle = options.shuffle ?? true;
    this.seed = requireInteger('seed', options.seed ?? 0, 0);
    this.dropLast = options.dropLast ?? false;
  }

  /** The order of the data set in `epoch`: a permutation of `0..datasetSize-1`. */
  permutation(epoch: number): Uint32Array {
    requireInteger('epoch', epoch, 0);
    if (!this.shuffle) {
      const order = new Uint32Array(this.datasetSize);
      for (let i = 0; i < order.length; i++) order[i] = i;
      return order;
    }
    return randomPermutation(this.datasetSize, new Xoshiro128([PRNG_DOMAIN.permutation, this.seed, epoch]));
  }

  /** How many samples each rank gets per epoch at `worldSize` (padded ones included). */
  samplesPerRank(worldSize: number): number {
    requireInteger('worldSize', worldSize, 1);
    return this.dropLast ? Math.floor(this.datasetSize / worldSize) : Math.ceil(this.datasetSize / worldSize);
  }

  /**
   * The sample indices of `rank` for the whole of `epoch` at `worldSize`: PyTorch's
   * `list(iter(sampler))` after `sampler.set_epoch(epoch)`.
   */
  indicesFor(epoch: number, rank: number, worldSize: number): Uint32Array {
    return this.plan(epoch, worldSize, 1).shard(rank).indices;
  }

  /**
   * The plan of `epoch` from its start at `worldSize` ranks, each taking `batchSizePerRank`
   * samples per step.
   */
  plan(epoch: number, worldSize: number, batchSizePerRank: number): EpochPlan {
    return new EpochPlan(this, { epoch, startOffset: 0, worldSize, batchSizePerRank });
  }
}
