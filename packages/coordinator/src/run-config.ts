/**
 * Builds the state machine's `MachineConfig` from resolved options: the sampler of
 * `@ringtrain/data` as the machine's sharder, the schedules of `@ringtrain/model` as its
 * learning rate.
 */
import { DEFAULT_CROP_PADDING_PX, DistributedSampler, EpochPlan } from '@ringtrain/data';
import { createLearningRateSchedule, type LearningRateSchedule } from '@ringtrain/model';
import type { MachineConfig } from './machine/state.ts';
import type { EpochSharder, SamplerPosition } from './machine/sharder.ts';
import type { ResolvedCoordinatorOptions } from './options.ts';

/** The machine's sharder over `DistributedSampler`/`EpochPlan`. */
export function samplerSharder(trainCount: number, options: Pick<ResolvedCoordinatorOptions, 'shuffle' | 'samplerSeed' | 'dropLast'>): EpochSharder {
  const sampler = new DistributedSampler({ datasetSize: trainCount, shuffle: options.shuffle, seed: options.samplerSeed, dropLast: options.dropLast });
  return {
    trainCount,
    plan(epoch, offset, worldSize, batchSizePerWorker) {
      const plan = new EpochPlan(sampler, { epoch, startOffset: offset, worldSize, batchSizePerRank: batchSizePerWorker });
      const shards: Uint32Array[] = [];
      const realCounts: number[] = [];
      for (let rank = 0; rank < worldSize; rank++) {
        const shard = plan.shard(rank);
        shards.push(shard.indices);
        realCounts.push(shard.realCount);
      }
      return { shards, realCounts, steps: plan.steps, offsetAfter: (completed) => plan.offsetAfter(completed) };
    },
  };
}

/** The learning rate of a global step, for the schedule and epoch length of the run. */
export function learningRateFunction(options: ResolvedCoordinatorOptions): (globalStep: number, stepsPerEpoch: number) => number {
  const lr = options.learningRate;
  let cached: { stepsPerEpoch: number; schedule: LearningRateSchedule } | null = null;
  return (globalStep, stepsPerEpoch) => {
    if (cached === null || cached.stepsPerEpoch !== stepsPerEpoch) {
      const totalSteps = Math.max(1, options.epochs * stepsPerEpoch);
      // A warmup given in epochs follows the epoch's length; it always leaves one step to anneal.
      const warmupSteps = lr.warmupEpochs > 0 ? Math.min(totalSteps - 1, Math.round(lr.warmupEpochs * stepsPerEpoch)) : lr.warmupSteps;
      const common = { baseLr: lr.baseLr, warmupSteps };
      const schedule =
        lr.schedule === 'constant'
          ? createLearningRateSchedule({ kind: 'constant', ...common })
          : lr.schedule === 'step'
            ? createLearningRateSchedule({ kind: 'step', ...common, milestones: lr.milestoneEpochs.map((e) => e * stepsPerEpoch), gamma: lr.gamma })
            : createLearningRateSchedule({ kind: lr.schedule, ...common, totalSteps, minLr: lr.minLr });
      cached = { stepsPerEpoch, schedule };
    }
    return cached.schedule(globalStep);
  };
}

/** The machine's view of a run. */
export function machineConfig(
  options: ResolvedCoordinatorOptions,
  counts: { train: number; test: number },
  resume?: { position: SamplerPosition; stepsDone: number },
): MachineConfig {
  const config: MachineConfig = {
    minWorkers: options.minWorkers,
    maxWorkers: options.maxWorkers,
    rendezvousSettleMs: options.rendezvousSettleMs,
    rendezvousTimeoutMs: options.rendezvousTimeoutMs,
    minWorkersWaitMs: options.minWorkersWaitMs,
    onStall: options.onStall,
    maxRegroupsWithoutProgress: options.maxRegroupsWithoutProgress,
    batchScaling: options.batchScaling,
    ringOrder: options.ringOrder,
    // Two heartbeats unanswered: the worker's event loop is stuck (or the process stopped).
    heartbeatIntervalMs: options.heartbeatIntervalMs,
    silentAfterMs: 2 * options.heartbeatIntervalMs,
    stallWarningMs: options.stallWarningMs,
    stallTimeoutMs: options.stallTimeoutMs,
    epochs: options.epochs,
    globalBatchSize: options.globalBatchSize,
    testCount: counts.test,
    targetAccuracies: options.targetAccuracies,
    stopAtTargetAccuracy: options.stopAtTargetAccuracy,
    model: options.model,
    hyper: {
      momentum: options.momentum,
      nesterov: options.nesterov,
      weightDecay: options.weightDecay,
      labelSmoothing: options.labelSmoothing,
      testTimeFlip: options.testTimeFlip,
      // Sent only when on, so that a run without a weight average assigns what it always has.
      ...(options.emaDecay === 0 ? {} : { emaDecay: options.emaDecay, emaWarmup: options.emaWarmup }),
      preprocess: { mean: 0.286, std: 0.353, augment: options.augment, seed: options.augmentSeed, ...(options.alternateFlips ? { alternateFlips: true } : {}),
        // Left out at the default, so a run that keeps it assigns what it always has.
        ...(options.cropPaddingPx === DEFAULT_CROP_PADDING_PX ? {} : { cropPaddingPx: options.cropPaddingPx }),
      },
      checksumEverySteps: options.checksumEverySteps,
      maxBucketBytes: options.maxBucketBytes,
      compression: options.compression,
      // Left out when off, so a run without it sends what it sent before the field existed.
      ...(options.overlap ? { overlap: true } : {}),
      ...(options.delayedAllReduce ? { delayedAllReduce: true } : {}),
      ...(options.precision === 'f32' ? {} : { precision: options.precision }),
    },
    checkpointEveryEpochs: options.checkpointDir === null ? 0 : options.checkpointEveryEpochs,
    onDivergence: options.onDivergence,
    sharder: samplerSharder(counts.train, options),
    learningRate: learningRateFunction(options),
  };
  if (resume !== undefined) config.resume = resume;
  return config;
}
