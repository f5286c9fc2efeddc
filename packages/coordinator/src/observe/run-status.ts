/**
 * The run as `/status` and the dashboard's event stream show it: one JSON document, built by
 * the `RunObserver` from the machine's state and the reports it has seen. Numbers that are not
 * known yet (or not finite, such as the test accuracy of a run without a test set) are `null`,
 * because JSON has no NaN.
 */
import type { CompressionSpec, ConvolutionPrecision, ModelSpec } from '@ringtrain/protocol';
import type { TargetReached } from '../machine/effects.ts';
import type { GenerationRecord, Phase } from '../machine/state.ts';

/** The shape's version; raised when a field changes meaning or disappears. */
export const RUN_STATUS_SCHEMA_VERSION = 1;

export interface RunStatus {
  schemaVersion: typeof RUN_STATUS_SCHEMA_VERSION;
  /** ringtrain's version. */
  version: string;
  /** When this document was built, in milliseconds since the Unix epoch (the coordinator's clock). */
  atMs: number;
  phase: Phase;
  /** Why the run failed, once it has. */
  failure: { code: string; message: string } | null;
  run: RunConfigView;
  progress: ProgressView;
  throughput: ThroughputView;
  latest: LatestView;
  /** Every epoch trained and evaluated so far, oldest first. */
  epochs: EpochView[];
  /** The targets of `run.targetAccuracies` reached so far, with when (see `TargetReached`). */
  timeToAccuracy: TargetReached[];
  /** Workers of the run: connected ones by rank, then those that left. */
  workers: WorkerStatus[];
  /** Who has been in the run, and what membership changes cost. */
  membership: MembershipView;
  series: SeriesView;
}

export interface MembershipView {
  generation: number;
  /** How the batch follows a world that changes size. */
  batchScaling: 'fixed-global' | 'fixed-per-worker';
  ringOrder: 'hosts' | 'joined';
  minWorkers: number;
  maxWorkers: number;
  recoveries: number;
  recoverySeconds: number;
  stepsDiscarded: number;
  /** Every generation, oldest first: why it opened, when, from which step, with whom. */
  generations: GenerationRecord[];
}

/** The run's configuration (never the token). */
export interface RunConfigView {
  /** e.g. `resnet18`. */
  model: string;
  spec: ModelSpec;
  epochs: number;
  globalBatchSize: number;
  /** Per-worker batch of the current ring; null before it is formed. */
  batchSizePerWorker: number | null;
  minWorkers: number;
  maxWorkers: number;
  /** Ranks in the current ring; 0 before it is formed. */
  worldSize: number;
  generation: number;
  trainExamples: number;
  testExamples: number;
  learningRate: { schedule: string; baseLr: number; warmupSteps: number; warmupEpochs: number; minLr: number; gamma: number; milestoneEpochs: number[] };
  momentum: number;
  nesterov: boolean;
  weightDecay: number;
  labelSmoothing: number;
  testTimeFlip: boolean;
  /** Decay of the weight average the replicas evaluate with; 0: none. */
  emaDecay: number;
  emaWarmup: boolean;
  /** Test accuracies whose first crossing is timed. */
  targetAccuracies: number[];
  /** Whether the run ends once all of them are reached. */
  stopAtTargetAccuracy: boolean;
  augment: boolean;
  /** The random crop's padding in pixels (0: flip alone, or no augmentation). */
  cropPaddingPx: number;
  /** With `augment`: each image flipped on every other epoch instead of at random. */
  alternateFlips: boolean;
  samplerSeed: number;
  checksumEverySteps: number;
  maxBucketBytes: number;
  /** How gradients travel in the all-reduce (the same on every worker). */
  compression: CompressionSpec;
  /** The data type the workers' convolutions compute in ('bf16': mixed precision, float32 master weights). */
  precision: ConvolutionPrecision;
  checkpointDir: string | null;
  /** The compute backends the workers reported, without repeats. */
  backends: string[];
}

export interface ProgressView {
  /** Current epoch, counted from 0. */
  epoch: number;
  epochs: number;
  /** Global steps every rank has finished. */
  stepsDone: number;
  /** Global steps of the whole run; null before the ring is formed (it depends on the world size). */
  totalSteps: number | null;
  stepsPerEpoch: number | null;
  /** Steps of the current epoch done. */
  stepInEpoch: number;
  /** stepsDone / totalSteps, 0 to 1. */
  fraction: number;
  /** When training started (the ring was assigned), ms since the Unix epoch. */
  startedAtMs: number | null;
  /** Since training started. */
  elapsedSeconds: number;
  /** Time left at the pace of the last steps (evaluations not counted); null when unknown. */
  etaSeconds: number | null;
}

export interface ThroughputView {
  /** All workers together, over the last `windowSeconds`. */
  examplesPerSecond: number;
  /** The window of `examplesPerSecond` (the `throughputWindowMs` option). */
  windowSeconds: number;
  /** Since training started (shipping data and evaluations included); null before the first step. */
  meanExamplesPerSecond: number | null;
  examplesProcessed: number;
  stepsCompleted: number;
}

export interface LatestView {
  /** The last completed global step, or null before the first. */
  step: number | null;
  trainLoss: number | null;
  trainAccuracy: number | null;
  /** Means over the current epoch so far. */
  epochTrainLoss: number | null;
  epochTrainAccuracy: number | null;
  /** Of the last evaluation. */
  testLoss: number | null;
  testAccuracy: number | null;
}

export interface EpochView {
  epoch: number;
  trainLoss: number | null;
  trainAccuracy: number | null;
  testLoss: number | null;
  testAccuracy: number | null;
  examplesPerSecond: number | null;
  trainingSeconds: number;
  /** Global steps done when the epoch ended. */
  endStep: number;
}

/** The state words a worker can be in, as shown on the dashboard and in `ringtrain_rank_state`. */
export type WorkerState = 'joined' | 'starting' | 'ready' | 'training' | 'evaluating' | 'evaluated' | 'checkpointing' | 'waiting' | 'finished' | 'stopped' | 'left';

export interface WorkerStatus {
  workerId: string;
  /** Null before the ring is formed. */
  rank: number | null;
  host: string;
  /** Its `hostGroup`, or else its peer address's host; with `ringOrder` 'hosts' a group sits side by side in the ring. */
  hostGroup: string;
  pid: number;
  backend: string;
  state: WorkerState;
  /** False once the worker has left. */
  connected: boolean;
  /** Over the last `throughputWindowMs`. */
  examplesPerSecond: number;
  examples: number;
  steps: number;
  lastStep: number | null;
  /** Mean split of its recent steps, from its step reports; null before its first. */
  stepTimeMs: { compute: number; allReduce: number; waiting: number } | null;
  /** When anything (a message, a heartbeat answer) was last heard from it; milliseconds since the Unix epoch. */
  lastHeardAtMs: number;
  /** Seconds since then, at the time of the status. */
  silentSeconds: number;
}

/**
 * One point per completed step, as columns (the layout uPlot draws from). Thinned to at most
 * `maxSeriesPoints` points by dropping every other one; points that carry an evaluation are
 * always kept.
 */
export interface SeriesView {
  /** End of the step, seconds since the Unix epoch. */
  t: number[];
  /** Global steps done after the step (1 after the first step). */
  step: number[];
  examplesPerSecond: number[];
  loss: (number | null)[];
  accuracy: (number | null)[];
  epochLoss: (number | null)[];
  epochAccuracy: (number | null)[];
  /** Set on the last step of an epoch, once that epoch was evaluated. */
  testLoss: (number | null)[];
  testAccuracy: (number | null)[];
}

/** A number JSON can carry: non-finite values become null. */
export function finiteOrNull(value: number | undefined | null): number | null {
  return typeof value === 'number' && Number.isFinite(value) ? value : null;
}
