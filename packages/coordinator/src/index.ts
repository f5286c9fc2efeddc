export {
  COORDINATOR_ERROR_CODES,
  CoordinatorError,
  InvalidCoordinatorOptionError,
  RendezvousTimeoutError,
  WorkerLostError,
  StalledError,
  ReplicaDivergenceError,
  ProtocolViolationError,
  WorkerFailedError,
  CheckpointCorruptError,
  CheckpointMismatchError,
  CheckpointNotFoundError,
  CheckpointWriteError,
  InterruptedError,
  JoinRefusedError,
  PortUnavailableError,
  RunFailedError,
} from './errors.ts';
export type { CoordinatorErrorCode } from './errors.ts';
export { step, pendingRanks } from './machine/step.ts';
export type { StepResult } from './machine/step.ts';
export { createCoordinatorState } from './machine/state.ts';
export type { CoordinatorState, GenerationCause, GenerationRecord, HeldState, MachineConfig, Phase, WorkerRecord } from './machine/state.ts';
export type { CoordinatorEvent } from './machine/events.ts';
export type { Effect, ProgressUpdate, StepProgress, EpochProgress, RunResult, TargetReached } from './machine/effects.ts';
export { contiguousShare } from './machine/sharder.ts';
export type { EpochSharder, SamplerPosition, ShardPlan } from './machine/sharder.ts';
export { CoordinatorServer } from './server.ts';
export type { CoordinatorDependencies, FinishedAtStart } from './server.ts';
export { FINISHED_RUN_FILE } from './finished-run.ts';
export type { FinishedRun } from './finished-run.ts';
export { resolveCoordinatorOptions, COMPRESSION_DEFAULTS, DEFAULT_MODEL } from './options.ts';
/** The gradient compressions a run may choose (`CoordinatorOptions.compression.method`). */
export { COMPRESSION_METHODS, CONVOLUTION_PRECISIONS } from '@ringtrain/protocol';
export type { ConvolutionPrecision } from '@ringtrain/protocol';
export type { CoordinatorOptions, CoordinatorTls, ResolvedCoordinatorOptions, LearningRateOptions } from './options.ts';
export { checkpointFileName, decodeCheckpoint, encodeCheckpoint, findNewestValidCheckpoint, readCheckpoint, writeCheckpoint } from './checkpoint.ts';
export type { Checkpoint, CheckpointHeader } from './checkpoint.ts';
export { machineConfig, samplerSharder, learningRateFunction } from './run-config.ts';
export { silentLogger } from './logger.ts';
export type { Logger } from './logger.ts';
export { createInitialState } from './initial-state.ts';
export { RUN_STATUS_SCHEMA_VERSION } from './observe/run-status.ts';
export type {
  EpochView,
  LatestView,
  ProgressView,
  RunConfigView,
  RunStatus,
  SeriesView,
  ThroughputView,
  WorkerState,
  WorkerStatus,
} from './observe/run-status.ts';
export { DASHBOARD_PATHS } from './http/dashboard-assets.ts';
