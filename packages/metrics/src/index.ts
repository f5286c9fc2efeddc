export {
  CoordinatorMetrics,
  createCoordinatorMetrics,
  COORDINATOR_FAILURE_REASONS,
  MEMBERSHIP_CAUSES,
  RUN_STATES,
  type CompletedStep,
  type CoordinatorMetricsOptions,
  type Evaluation,
  type MembershipCause,
  type RankStep,
  type RunState,
  type WorkerView,
} from './coordinator-metrics.ts';
export {
  WorkerMetrics,
  createWorkerMetrics,
  UNASSIGNED,
  WORKER_FAILURE_REASONS,
  type AllReduce,
  type TensorMemory,
  type WorkerMetricsOptions,
  type WorkerStep,
} from './worker-metrics.ts';
export { type BuildInfo } from './build-info.ts';
export { DURATION_BUCKETS_SECONDS } from './buckets.ts';
export { STEP_PHASES, type StepPhase } from './step-phases.ts';
export { LABEL_VALUE_PATTERN } from './label-values.ts';
export { ThroughputWindow } from './throughput-window.ts';
export { ThrottledLog } from './throttled-log.ts';
export { ConnectionRefusals, REFUSAL_REASONS, type RefusalReason } from './connection-refusals.ts';
export {
  COORDINATOR_METRIC_NAMES,
  HISTOGRAM_METRIC_NAMES,
  METRIC_NAMES,
  METRIC_PREFIX,
  PROCESS_METRIC_NAMES,
  SHARED_METRIC_NAMES,
  WORKER_METRIC_NAMES,
} from './names.ts';
export {
  InvalidLabelValueError,
  InvalidMetricValueError,
  InvalidMetricsOptionError,
  METRICS_ERROR_CODES,
  MetricsError,
  TooManyLabelValuesError,
  type MetricsErrorCode,
} from './errors.ts';
