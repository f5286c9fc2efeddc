/**
 * The name of every metric ringtrain exports, in one place: the factories build their metrics
 * from these constants, and dashboards, alert rules and their tests check their queries against
 * `METRIC_NAMES`.
 *
 * Conventions (https://prometheus.io/docs/practices/naming/): one prefix, base units in the name
 * (`_seconds`, `_bytes`), `_total` on counters, `_ratio` on values between 0 and 1, and only
 * low-cardinality labels. Histograms are listed by their family name; Prometheus stores them as
 * `<name>_bucket`, `<name>_sum` and `<name>_count`.
 *
 * The coordinator's metrics describe the run (throughput, loss, accuracy, progress, membership)
 * and each rank as the coordinator sees it (`ringtrain_rank_*`, `ringtrain_step_phase_seconds`).
 * A worker's metrics describe that one process (`ringtrain_worker_*`): its all-reduce traffic,
 * the tensors TensorFlow.js holds, its own step timings.
 */

/** Every ringtrain metric name starts with this. */
export const METRIC_PREFIX = 'ringtrain_';

/** Metrics served by both the coordinator and every worker. */
export const SHARED_METRIC_NAMES = {
  /** Info gauge, always 1, labels `version`, `backend`, `model`. */
  buildInfo: 'ringtrain_build_info',
} as const;

/** Metrics served by the coordinator on its `/metrics`. */
export const COORDINATOR_METRIC_NAMES = {
  /** 1 for the run's current state, 0 for the others; label `state`. */
  runState: 'ringtrain_run_state',
  /** Training examples stepped through by all workers together. */
  examplesProcessed: 'ringtrain_examples_processed_total',
  /** Training examples per second over the throughput window, all workers together. */
  examplesPerSecond: 'ringtrain_examples_per_second',
  /** Global training steps completed (every rank reported). */
  stepsCompleted: 'ringtrain_steps_completed_total',
  /** Current epoch (0-based). */
  epoch: 'ringtrain_epoch',
  /** Global step number of the last completed step. */
  step: 'ringtrain_step',
  /** Epochs the run is to train. */
  plannedEpochs: 'ringtrain_planned_epochs',
  /** Global steps the run is to train, over all epochs. */
  plannedSteps: 'ringtrain_planned_steps',
  /** Mean training loss of the last completed step, weighted by each rank's examples. */
  trainLoss: 'ringtrain_train_loss',
  /** Training accuracy of the last completed step. */
  trainAccuracy: 'ringtrain_train_accuracy_ratio',
  /** Mean test loss of the last evaluation. */
  testLoss: 'ringtrain_test_loss',
  /** Test accuracy of the last evaluation. */
  testAccuracy: 'ringtrain_test_accuracy_ratio',
  /** Epoch of the last evaluation. */
  evaluatedEpoch: 'ringtrain_evaluated_epoch',
  /** Evaluations of the test set completed. */
  evaluations: 'ringtrain_evaluations_total',
  /** Wall time from the start of training to the first evaluation that reached a target test accuracy; label `target`. */
  timeToAccuracy: 'ringtrain_time_to_accuracy_seconds',
  /** Histogram of each rank's step time by phase; labels `rank`, `phase`. */
  stepPhaseSeconds: 'ringtrain_step_phase_seconds',
  /** Training examples per second of one rank; label `rank`. */
  rankExamplesPerSecond: 'ringtrain_rank_examples_per_second',
  /** 1 for a rank's current connection state, 0 for the others; labels `rank`, `state`. */
  rankState: 'ringtrain_rank_state',
  /** Workers connected to the coordinator, by connection state; label `state`. */
  workers: 'ringtrain_workers',
  /** Ranks in the current ring. */
  worldSize: 'ringtrain_world_size',
  /** Membership generation of the current ring. */
  generation: 'ringtrain_generation',
  /** Rings formed; above 1 the ring was rebuilt after a worker was lost or added. */
  rendezvous: 'ringtrain_rendezvous_total',
  /** Generations opened, by why; label `cause` (start, worker_lost, worker_evicted, worker_joined, ring_failed). */
  membershipChanges: 'ringtrain_membership_changes_total',
  /** Times training went on again after losing a member. */
  recoveries: 'ringtrain_recoveries_total',
  /** Time from losing a member to training again, summed over recoveries. */
  recoverySeconds: 'ringtrain_recovery_seconds_total',
  /** Steps cut short that no surviving replica had finished (their samples are dealt out again). */
  stepsDiscarded: 'ringtrain_steps_discarded_total',
  /** Failures the coordinator saw; label `reason`. */
  failures: 'ringtrain_failures_total',
  connectionsRefused: 'ringtrain_connections_refused_total',
} as const;

/** Metrics served by each worker on its own `/metrics`. */
export const WORKER_METRIC_NAMES = {
  /** Training examples this worker stepped through; label `rank`. */
  examplesProcessed: 'ringtrain_worker_examples_processed_total',
  /** Histogram of this worker's step time by phase; labels `rank`, `phase`. */
  stepPhaseSeconds: 'ringtrain_worker_step_phase_seconds',
  /** Histogram of the duration of one all-reduce of the whole gradient; label `rank`. */
  allReduceSeconds: 'ringtrain_worker_allreduce_duration_seconds',
  /** Bytes this worker sent to its ring successor; label `rank`. */
  allReduceSentBytes: 'ringtrain_worker_allreduce_sent_bytes_total',
  /** Bytes this worker received from its ring predecessor; label `rank`. */
  allReduceReceivedBytes: 'ringtrain_worker_allreduce_received_bytes_total',
  /** Size of the flat vector all-reduced each step; label `rank`. */
  gradientBytes: 'ringtrain_worker_gradient_bytes',
  /** Tensors held by TensorFlow.js (`tf.memory().numTensors`); label `rank`. */
  tensors: 'ringtrain_worker_tfjs_tensors',
  /** Bytes held by TensorFlow.js tensors (`tf.memory().numBytes`); label `rank`. */
  tensorBytes: 'ringtrain_worker_tfjs_memory_bytes',
  /** Failures this worker saw; labels `rank`, `reason`. */
  failures: 'ringtrain_worker_failures_total',
  peerConnectionsRefused: 'ringtrain_worker_peer_connections_refused_total',
} as const;

/**
 * The prom-client default metrics (CPU, memory, event loop) that ringtrain's dashboards and
 * alerts may use. Both processes register all prom-client defaults with the ringtrain prefix;
 * these are the ones present on every platform.
 */
export const PROCESS_METRIC_NAMES = {
  cpuSeconds: 'ringtrain_process_cpu_seconds_total',
  startTime: 'ringtrain_process_start_time_seconds',
  residentMemory: 'ringtrain_process_resident_memory_bytes',
  heapUsed: 'ringtrain_nodejs_heap_size_used_bytes',
  externalMemory: 'ringtrain_nodejs_external_memory_bytes',
  eventLoopLag: 'ringtrain_nodejs_eventloop_lag_seconds',
} as const;

/** Every metric name ringtrain exports, shared, coordinator, worker and process metrics. */
export const METRIC_NAMES: readonly string[] = Object.freeze([
  ...Object.values(SHARED_METRIC_NAMES),
  ...Object.values(COORDINATOR_METRIC_NAMES),
  ...Object.values(WORKER_METRIC_NAMES),
  ...Object.values(PROCESS_METRIC_NAMES),
]);

/** The names of the histogram families among `METRIC_NAMES`. */
export const HISTOGRAM_METRIC_NAMES: readonly string[] = Object.freeze([
  COORDINATOR_METRIC_NAMES.stepPhaseSeconds,
  WORKER_METRIC_NAMES.stepPhaseSeconds,
  WORKER_METRIC_NAMES.allReduceSeconds,
]);
