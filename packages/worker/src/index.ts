export {
  WORKER_ERROR_CODES,
  WorkerError,
  InvalidWorkerOptionError,
  IllegalTransitionError,
  RefusedError,
  RefusedMessageError,
  ConnectionLostError,
  ConnectFailedError,
  MissingDataError,
  TrainingFailedError,
  MetricsPortError,
  InsufficientMemoryError,
  ComputeThreadError,
} from './errors.ts';
export type { WorkerErrorCode } from './errors.ts';
export { ConnectionLifecycle } from './lifecycle.ts';
export type { ConnectionState } from './lifecycle.ts';
export { DatasetStore } from './dataset-store.ts';
export { weightChecksum } from './checksum.ts';
export { resolveWorkerOptions } from './options.ts';
export type { WorkerOptions, ResolvedWorkerOptions, WorkerTls } from './options.ts';
export { Worker } from './worker.ts';
export { AFTER_RUN_CHOICES, BETWEEN_RUNS, SuccessiveRuns } from './successive-runs.ts';
export type { AfterRun, SuccessiveRunsOptions, WorkerHealthView } from './successive-runs.ts';
export type { FaultPoint, InjectedFault, WorkerDependencies, WorkerLogger, WorkerOutcome, StepRecord } from './worker.ts';
export type { Awaitable, ComputeProvider, ListenForPeers, ReplicaTrainer, Ring, RingServer } from './ports.ts';
export { modelCompute } from './model-compute.ts';
export { createGradientReducer, planLowRank, PlainReducer, POWERSGD_CALLS_PER_STEP, PowerSgdReducer } from './compression/index.ts';
export type { GradientReducer, LowRankPlan, ReduceOutcome, RingCalls } from './compression/index.ts';
export { MAX_STAND_IN_STEP_MS, STAND_IN_BACKEND, standInCompute } from './stand-in-compute.ts';
export { threadedCompute } from './compute-thread/threaded-compute.ts';
export type { ThreadedComputeProvider } from './compute-thread/threaded-compute.ts';
export { startWorkerMetricsServer } from './metrics-server.ts';
export type { WorkerMetricsServer, WorkerMetricsServerOptions } from './metrics-server.ts';
export { createWorkerMetricsRegistry } from './worker-metrics.ts';
export type { WorkerMetricsSetup } from './worker-metrics.ts';
