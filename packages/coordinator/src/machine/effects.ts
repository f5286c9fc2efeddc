import type { CoordinatorToWorker } from '@ringtrain/protocol';
import type { CoordinatorErrorCode } from '../errors.ts';
import type { SamplerPosition } from './sharder.ts';

/**
 * What `step` asks the shell to do. The machine never performs I/O; the shell executes the
 * outbox in order, so a worker receives an `assign` before its `state`, its data before the
 * `plan` that uses it.
 */
export type Effect =
  | SendEffect
  | SendStateEffect
  | ShipDataEffect
  | CloseEffect
  | RefuseEffect
  | WriteCheckpointEffect
  | HoldStateEffect
  | StepCommittedEffect
  | StepsUndoneEffect
  | LogEffect
  | ProgressEffect
  | FinishedEffect
  | FailedEffect;

/** Send a control message to one worker. */
export interface SendEffect {
  kind: 'send';
  workerId: string;
  message: CoordinatorToWorker;
}

/** Send the run's starting state (initial weights, or the resumed checkpoint's) to a worker. */
export interface SendStateEffect {
  kind: 'send-state';
  workerId: string;
  generation: number;
  /** Global steps already done in that state. */
  step: number;
}

/** Send a worker the images and labels of these data-set indices, in `dataset` chunks. */
export interface ShipDataEffect {
  kind: 'ship-data';
  workerId: string;
  generation: number;
  split: 'train' | 'test';
  indices: Uint32Array;
}

/** Close a worker's connection with a close code and a reason it will see. */
export interface CloseEffect {
  kind: 'close';
  workerId: string;
  code: number;
  /** Stable error code carried in the `error` message sent before closing. */
  errorCode: string;
  reason: string;
}

/** Refuse a connection that asked to join (it never became a worker of the run). */
export interface RefuseEffect {
  kind: 'refuse';
  connectionId: string;
  code: number;
  errorCode: string;
  reason: string;
}

/** Write a checkpoint of this state; the shell answers with a `checkpoint-written` event. */
export interface WriteCheckpointEffect {
  kind: 'write-checkpoint';
  reason: 'epoch' | 'on-demand';
  /** Global steps done in `bytes`. */
  step: number;
  position: SamplerPosition;
  bytes: Uint8Array;
}

/**
 * Keep this state (a replica's, relayed or checkpointed) as the one `send-state` sends from now
 * on: newcomers and lagging members start from it.
 */
export interface HoldStateEffect {
  kind: 'hold-state';
  step: number;
  bytes: Uint8Array;
}

/**
 * A global step counts (the step commit rule): the samples every rank trained in it. The shell
 * appends it to the run's step log, which proves every sample of an epoch trained exactly once.
 */
export interface StepCommittedEffect {
  kind: 'step-committed';
  generation: number;
  epoch: number;
  step: number;
  /** By rank: the sample indices of the step; the first `realCounts[rank]` are real, the rest padded repeats. */
  indices: Uint32Array[];
  realCounts: number[];
  /** Whether every rank reported it, or a surviving replica finished it for the generation. */
  via: 'all-ranks' | 'survivor';
}

/**
 * The steps from `fromStep` on that were committed no longer hold: no member has a replica that
 * applied them, and the run goes on from the state of `fromStep`, training their samples again.
 * The step log records it, and readers drop those steps.
 */
export interface StepsUndoneEffect {
  kind: 'steps-undone';
  fromStep: number;
}

export interface LogEffect {
  kind: 'log';
  level: 'debug' | 'info' | 'warn' | 'error';
  message: string;
  fields?: Record<string, unknown>;
}

/** A milestone for progress displays. */
export interface ProgressEffect {
  kind: 'progress';
  progress: ProgressUpdate;
}

export type ProgressUpdate =
  | { type: 'rendezvous'; joined: number; minWorkers: number; maxWorkers: number }
  | { type: 'started'; generation: number; worldSize: number; epochs: number; stepsPerEpoch: number; globalBatchSize: number; cause: string; step: number }
  | StepProgress
  | EpochProgress
  | ({ type: 'target-reached' } & TargetReached);

/** A step every rank has finished. */
export interface StepProgress {
  type: 'step';
  epoch: number;
  /** Global step index, from 0. */
  step: number;
  /** Steps of this epoch done, 1 after the epoch's first step. */
  stepInEpoch: number;
  stepsPerEpoch: number;
  /** Mean loss of the step over all ranks, weighted by examples. */
  loss: number;
  accuracy: number;
  /** Mean over the epoch so far. */
  epochLoss: number;
  epochAccuracy: number;
  examplesPerSecond: number;
  computeMs: number;
  allReduceMs: number;
  waitMs: number;
}

/** An epoch trained and evaluated. */
export interface EpochProgress {
  type: 'epoch';
  epoch: number;
  trainLoss: number;
  trainAccuracy: number;
  /** NaN when there is no test set. */
  testLoss: number;
  testAccuracy: number;
  examples: number;
  trainingMs: number;
  examplesPerSecond: number;
}

/** The run is over: every worker was told to stop. */
export interface FinishedEffect {
  kind: 'finished';
  result: RunResult;
}

/** The run failed; the others were told to stop. */
export interface FailedEffect {
  kind: 'failed';
  code: CoordinatorErrorCode;
  message: string;
}

/** The first evaluation whose test accuracy reached a target of `targetAccuracies`. */
export interface TargetReached {
  target: number;
  /** The accuracy that evaluation measured (at least `target`). */
  testAccuracy: number;
  /** 0-based epoch that evaluation ended. */
  epoch: number;
  /** Optimizer steps applied by then. */
  step: number;
  /** From the start of training (after rendezvous) to the end of that evaluation. */
  wallSeconds: number;
  /** Of which training, evaluation and checkpoints excluded. */
  trainingSeconds: number;
}

/** What a finished run achieved. */
export interface RunResult {
  epochs: EpochProgress[];
  /** Each target of `targetAccuracies` the run reached, when; the ones it missed are absent. */
  timeToAccuracy: TargetReached[];
  /** Why the run ended before its last epoch, when it did. */
  stoppedEarly: string | null;
  /** Of the last epoch. */
  testAccuracy: number;
  testLoss: number;
  trainAccuracy: number;
  trainLoss: number;
  /** Training examples per second over all ranks, evaluation and checkpoints excluded. */
  examplesPerSecond: number;
  trainingSeconds: number;
  /** From the start of training (after rendezvous) to the end. */
  wallSeconds: number;
  workers: number;
  globalBatchSize: number;
  /**
   * Worlds whose global batch fell short of the one asked for, because it did not split evenly
   * over them (each worker takes the floor; the remainder is left out of every step, and each
   * sample of the epoch still trains, in more steps). Empty when every world took it whole.
   */
  unevenBatches: { worldSize: number; globalBatchSize: number }[];
  steps: number;
  /** Steps at which every replica sent a weight checksum and all of them agreed. */
  checksumsAgreed: number;
  /** Generations the run went through (1 when membership never changed). */
  generations: number;
  /** Steps no survivor had finished when a generation was lost; their samples were dealt out again. */
  stepsDiscarded: number;
  /** Time from losing a member to training again, summed over recoveries. */
  recoverySeconds: number;
  /** Mean time split of a step over all ranks and steps. */
  meanComputeMs: number;
  meanAllReduceMs: number;
  meanWaitMs: number;
  /** Bytes one worker sent per step in the all-reduces, over all ranks and steps: the gradient's cost on the wire. */
  meanSentBytesPerStep: number;
}
