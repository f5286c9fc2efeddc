/**
 * A worker's metrics: its step timings, its share of the ring all-reduce, the tensors
 * TensorFlow.js holds and its failures, served on the worker's own `/metrics`.
 *
 * Every series carries the worker's `rank`. A worker knows its rank only once it is assigned
 * one, and a rebuilt ring may give it another: until then the label reads `unassigned`, and on a
 * change counters and histograms start new series under the new rank (the old ones keep their
 * totals, as Prometheus expects of a counter) while gauges move to the new rank.
 */
import { Counter, Gauge, Histogram, type Registry } from 'prom-client';
import { DURATION_BUCKETS_SECONDS } from './buckets.ts';
import { BuildInfoGauge, type BuildInfo } from './build-info.ts';
import { assertNonNegative, assertNonNegativeInteger } from './checks.ts';
import { InvalidMetricsOptionError } from './errors.ts';
import { BoundedLabelValues } from './label-values.ts';
import { ConnectionRefusals, type RefusalReason } from './connection-refusals.ts';
import { WORKER_METRIC_NAMES as NAMES } from './names.ts';
import { registerProcessMetrics } from './process-metrics.ts';
import { STEP_PHASES } from './step-phases.ts';

/** The `rank` label of a worker not yet in a ring, and its `model` label before it is assigned one. */
export const UNASSIGNED = 'unassigned';

/** Failure reasons exported at 0 from the start, so `increase()` sees the first occurrence. */
export const WORKER_FAILURE_REASONS: readonly string[] = Object.freeze([
  'coordinator_lost',
  'peer_lost',
  'protocol_error',
  'step_error',
]);

export interface WorkerMetricsOptions extends Omit<BuildInfo, 'model'> {
  /**
   * The model trained, when already known.
   * @default 'unassigned'
   */
  model?: string;
  /**
   * The worker's rank, when already known.
   * @default undefined (label `unassigned`)
   */
  rank?: number;
  /**
   * Upper bounds of the step-phase and all-reduce histogram buckets.
   * @default DURATION_BUCKETS_SECONDS
   */
  durationBucketsSeconds?: readonly number[];
  /**
   * Also register prom-client's default process metrics (CPU, memory, event loop).
   * @default true
   */
  processMetrics?: boolean;
  /**
   * The most distinct values the `reason` label may take.
   * @default 32
   */
  maxLabelValues?: number;
  /**
   * Failure reasons exported at 0 from the start.
   * @default WORKER_FAILURE_REASONS
   */
  failureReasons?: readonly string[];
}

/** One step as the worker timed it. */
export interface WorkerStep {
  examples: number;
  computeSeconds: number;
  allReduceSeconds: number;
  /** Time spent waiting: for data, for the slowest peer, for the coordinator. */
  waitSeconds: number;
}

/** One all-reduce of the whole gradient vector. */
export interface AllReduce {
  /** Size of the vector reduced. */
  gradientBytes: number;
  /** Bytes sent to the ring successor. */
  sentBytes: number;
  /** Bytes received from the ring predecessor. */
  receivedBytes: number;
  seconds: number;
}

/** What `tf.memory()` reports; the object itself can be passed. */
export interface TensorMemory {
  numTensors: number;
  numBytes: number;
}

export class WorkerMetrics {
  /** The prom-client metrics, for reading in tests and for what the methods do not cover. */
  readonly handles;

  readonly #buildInfo: BuildInfoGauge;
  readonly #failureReasons: BoundedLabelValues;
  readonly #peerRefusals: ConnectionRefusals;
  #rank: string;
  /** Last values of the gauges, to move them when the rank changes. */
  #gradientBytes = 0;
  #memory: TensorMemory = { numTensors: 0, numBytes: 0 };

  constructor(registry: Registry, options: WorkerMetricsOptions) {
    const maxLabelValues = options.maxLabelValues ?? 32;
    if (!Number.isSafeInteger(maxLabelValues) || maxLabelValues < 1) {
      throw new InvalidMetricsOptionError(`maxLabelValues must be an integer ≥ 1, got ${maxLabelValues}`);
    }
    if (options.rank !== undefined) assertNonNegativeInteger('rank', options.rank);
    this.#rank = options.rank === undefined ? UNASSIGNED : String(options.rank);
    this.#failureReasons = new BoundedLabelValues(
      'reason',
      maxLabelValues,
      options.failureReasons ?? WORKER_FAILURE_REASONS,
    );
    const buckets = [...(options.durationBucketsSeconds ?? DURATION_BUCKETS_SECONDS)];
    const registers = [registry];

    this.#buildInfo = new BuildInfoGauge(registry, { ...options, model: options.model ?? UNASSIGNED });
    this.handles = {
      examplesProcessed: new Counter({
        name: NAMES.examplesProcessed,
        help: 'Training examples this worker stepped through.',
        labelNames: ['rank'] as const,
        registers,
      }),
      stepPhaseSeconds: new Histogram({
        name: NAMES.stepPhaseSeconds,
        help: "This worker's step time by phase: compute, all_reduce, waiting.",
        labelNames: ['rank', 'phase'] as const,
        buckets,
        registers,
      }),
      allReduceSeconds: new Histogram({
        name: NAMES.allReduceSeconds,
        help: 'Duration of one all-reduce of the whole gradient vector.',
        labelNames: ['rank'] as const,
        buckets,
        registers,
      }),
      allReduceSentBytes: new Counter({
        name: NAMES.allReduceSentBytes,
        help: 'Bytes this worker sent to its ring successor during all-reduces.',
        labelNames: ['rank'] as const,
        registers,
      }),
      allReduceReceivedBytes: new Counter({
        name: NAMES.allReduceReceivedBytes,
        help: 'Bytes this worker received from its ring predecessor during all-reduces.',
        labelNames: ['rank'] as const,
        registers,
      }),
      gradientBytes: new Gauge({
        name: NAMES.gradientBytes,
        help: 'Size of the flat vector all-reduced each step.',
        labelNames: ['rank'] as const,
        registers,
      }),
      tensors: new Gauge({
        name: NAMES.tensors,
        help: 'Tensors held by TensorFlow.js.',
        labelNames: ['rank'] as const,
        registers,
      }),
      tensorBytes: new Gauge({
        name: NAMES.tensorBytes,
        help: 'Bytes held by TensorFlow.js tensors.',
        labelNames: ['rank'] as const,
        registers,
      }),
      failures: new Counter({
        name: NAMES.failures,
        help: 'Failures this worker saw, by reason.',
        labelNames: ['rank', 'reason'] as const,
        registers,
      }),
    };
    this.#startSeries();
    this.#peerRefusals = new ConnectionRefusals(registry, NAMES.peerConnectionsRefused, 'Connections to the peer port refused before they said a valid peer-hello, by reason.');
    if (options.processMetrics ?? true) registerProcessMetrics(registry);
  }

  /** The `rank` label the series carry now. */
  get rankLabel(): string {
    return this.#rank;
  }

  /** The build info labels currently exported. */
  get buildInfo(): BuildInfo {
    return this.#buildInfo.info;
  }

  /** Changes build info labels, e.g. the model once the coordinator has assigned one. */
  setBuildInfo(change: Partial<BuildInfo>): void {
    this.#buildInfo.update(change);
  }

  /** The worker was given rank `rank` in a ring. */
  setRank(rank: number): void {
    assertNonNegativeInteger('rank', rank);
    const next = String(rank);
    if (next === this.#rank) return;
    for (const gauge of [this.handles.gradientBytes, this.handles.tensors, this.handles.tensorBytes]) {
      gauge.remove({ rank: this.#rank });
    }
    this.#rank = next;
    this.#startSeries();
  }

  /** The worker finished a step. */
  recordStep(step: WorkerStep): void {
    assertNonNegativeInteger('examples', step.examples);
    assertNonNegative('computeSeconds', step.computeSeconds);
    assertNonNegative('allReduceSeconds', step.allReduceSeconds);
    assertNonNegative('waitSeconds', step.waitSeconds);
    const rank = this.#rank;
    this.handles.examplesProcessed.inc({ rank }, step.examples);
    this.handles.stepPhaseSeconds.observe({ rank, phase: 'compute' }, step.computeSeconds);
    this.handles.stepPhaseSeconds.observe({ rank, phase: 'all_reduce' }, step.allReduceSeconds);
    this.handles.stepPhaseSeconds.observe({ rank, phase: 'waiting' }, step.waitSeconds);
  }

  /** The worker finished an all-reduce of its gradient vector. */
  recordAllReduce(allReduce: AllReduce): void {
    assertNonNegativeInteger('gradientBytes', allReduce.gradientBytes);
    assertNonNegativeInteger('sentBytes', allReduce.sentBytes);
    assertNonNegativeInteger('receivedBytes', allReduce.receivedBytes);
    assertNonNegative('seconds', allReduce.seconds);
    const rank = this.#rank;
    this.#gradientBytes = allReduce.gradientBytes;
    this.handles.gradientBytes.set({ rank }, allReduce.gradientBytes);
    this.handles.allReduceSentBytes.inc({ rank }, allReduce.sentBytes);
    this.handles.allReduceReceivedBytes.inc({ rank }, allReduce.receivedBytes);
    this.handles.allReduceSeconds.observe({ rank }, allReduce.seconds);
  }

  /** TensorFlow.js now holds `numTensors` tensors of `numBytes` bytes (pass `tf.memory()`). */
  setTensorMemory(memory: TensorMemory): void {
    assertNonNegativeInteger('numTensors', memory.numTensors);
    assertNonNegativeInteger('numBytes', memory.numBytes);
    this.#memory = { numTensors: memory.numTensors, numBytes: memory.numBytes };
    this.handles.tensors.set({ rank: this.#rank }, memory.numTensors);
    this.handles.tensorBytes.set({ rank: this.#rank }, memory.numBytes);
  }

  /** The peer port refused a connection that had not said a valid `peer-hello`. */
  recordPeerRefusal(reason: RefusalReason): void {
    this.#peerRefusals.record(reason);
  }

  /** Something went wrong for `reason`, a lower-case word such as `peer_lost`. */
  recordFailure(reason: string): void {
    this.handles.failures.inc({ rank: this.#rank, reason: this.#failureReasons.admit(reason) });
  }

  /** Exports every series of the current rank, so `rate()` and `increase()` work from the start. */
  #startSeries(): void {
    const rank = this.#rank;
    this.handles.examplesProcessed.inc({ rank }, 0);
    for (const phase of STEP_PHASES) this.handles.stepPhaseSeconds.zero({ rank, phase });
    this.handles.allReduceSeconds.zero({ rank });
    this.handles.allReduceSentBytes.inc({ rank }, 0);
    this.handles.allReduceReceivedBytes.inc({ rank }, 0);
    this.handles.gradientBytes.set({ rank }, this.#gradientBytes);
    this.handles.tensors.set({ rank }, this.#memory.numTensors);
    this.handles.tensorBytes.set({ rank }, this.#memory.numBytes);
    for (const reason of this.#failureReasons.values()) this.handles.failures.inc({ rank, reason }, 0);
  }
}

/** Builds a worker's metrics on `registry`. */
export function createWorkerMetrics(registry: Registry, options: WorkerMetricsOptions): WorkerMetrics {
  return new WorkerMetrics(registry, options);
}
