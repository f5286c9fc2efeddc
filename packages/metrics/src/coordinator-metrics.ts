/**
 * The coordinator's metrics: the run as a whole (throughput, loss, accuracy, progress,
 * membership, failures) and each rank as the coordinator sees it through its step reports.
 * Built on a registry the caller owns, so a test can use a fresh one and the coordinator can
 * serve its own on `/metrics`.
 */
import { Counter, Gauge, Histogram, type Registry } from 'prom-client';
import { DURATION_BUCKETS_SECONDS } from './buckets.ts';
import { BuildInfoGauge, type BuildInfo } from './build-info.ts';
import { assertNonNegative, assertNonNegativeInteger, assertNumber, assertRatio } from './checks.ts';
import { InvalidMetricValueError, InvalidMetricsOptionError } from './errors.ts';
import { BoundedLabelValues } from './label-values.ts';
import { ConnectionRefusals, type RefusalReason } from './connection-refusals.ts';
import { COORDINATOR_METRIC_NAMES as NAMES } from './names.ts';
import { registerProcessMetrics } from './process-metrics.ts';
import { STEP_PHASES } from './step-phases.ts';
import { ThroughputWindow } from './throughput-window.ts';

/** The states of a run, exported as `ringtrain_run_state{state}`. */
export const RUN_STATES = [
  'waiting_for_workers',
  'training',
  'evaluating',
  'checkpointing',
  'finished',
  'failed',
] as const;
export type RunState = (typeof RUN_STATES)[number];

/** Failure reasons exported at 0 from the start, so `increase()` sees the first occurrence. */
export const COORDINATOR_FAILURE_REASONS: readonly string[] = Object.freeze([
  'heartbeat_timeout',
  'disconnected',
  'protocol_error',
  'auth_rejected',
  'weight_divergence',
]);

export interface CoordinatorMetricsOptions extends BuildInfo {
  /**
   * Width of the sliding window over which examples per second are computed.
   * @default 30000
   */
  throughputWindowMs?: number;
  /**
   * Monotonic clock in milliseconds, for the throughput window.
   * @default performance.now
   */
  now?: () => number;
  /**
   * Upper bounds of the step-phase histogram buckets.
   * @default DURATION_BUCKETS_SECONDS
   */
  durationBucketsSeconds?: readonly number[];
  /**
   * Also register prom-client's default process metrics (CPU, memory, event loop).
   * @default true
   */
  processMetrics?: boolean;
  /**
   * The most distinct values a run-time label (worker state, failure reason) may take.
   * @default 32
   */
  maxLabelValues?: number;
  /**
   * Failure reasons exported at 0 from the start.
   * @default COORDINATOR_FAILURE_REASONS
   */
  failureReasons?: readonly string[];
}

/** One rank's share of a completed step, from its step report. */
export interface RankStep {
  rank: number;
  /** Training examples the rank processed in the step. */
  examples: number;
  /** Of those, how many the model classified correctly (before the update). */
  correct: number;
  /** Mean loss over the rank's examples. */
  loss: number;
  computeSeconds: number;
  allReduceSeconds: number;
  /** Time spent waiting: for data, for the slowest peer, for the coordinator. */
  waitSeconds: number;
}

/** A global step every rank has reported. */
export interface CompletedStep {
  epoch: number;
  /** Global step number. */
  step: number;
  ranks: readonly RankStep[];
}

/** The result of an evaluation of the test set, combined over all workers. */
export interface Evaluation {
  epoch: number;
  /** Mean loss over the test examples evaluated. */
  loss: number;
  /** Fraction of the test examples classified correctly. */
  accuracy: number;
}

/** A worker connected to the coordinator; `rank` is null until it is part of a ring. */
export interface WorkerView {
  rank: number | null;
  /** Its connection state, a lower-case word such as `ready` or `in-round`. */
  state: string;
}

export class CoordinatorMetrics {
  /** The prom-client metrics, for reading in tests and for what the methods do not cover. */
  readonly handles;

  readonly #now: () => number;
  readonly #throughputWindowMs: number;
  readonly #buildInfo: BuildInfoGauge;
  readonly #failureReasons: BoundedLabelValues;
  readonly #refusals: ConnectionRefusals;
  readonly #workerStates: BoundedLabelValues;
  readonly #throughput: ThroughputWindow;
  readonly #rankThroughput = new Map<number, ThroughputWindow>();
  /** Ranks last given to `setWorkers`, with their states. */
  #rankStates = new Map<number, string>();

  constructor(registry: Registry, options: CoordinatorMetricsOptions) {
    this.#now = options.now ?? (() => performance.now());
    this.#throughputWindowMs = options.throughputWindowMs ?? 30_000;
    const maxLabelValues = options.maxLabelValues ?? 32;
    if (!Number.isSafeInteger(maxLabelValues) || maxLabelValues < 1) {
      throw new InvalidMetricsOptionError(`maxLabelValues must be an integer ≥ 1, got ${maxLabelValues}`);
    }
    this.#throughput = new ThroughputWindow(this.#throughputWindowMs);
    this.#failureReasons = new BoundedLabelValues(
      'reason',
      maxLabelValues,
      options.failureReasons ?? COORDINATOR_FAILURE_REASONS,
    );
    this.#workerStates = new BoundedLabelValues('state', maxLabelValues);
    const buckets = [...(options.durationBucketsSeconds ?? DURATION_BUCKETS_SECONDS)];
    const registers = [registry];

    this.#buildInfo = new BuildInfoGauge(registry, options);
    // Throughput is computed when scraped, so a stalled run reads 0 rather than its last rate.
    const now = this.#now;
    const throughput = this.#throughput;
    const rankThroughput = this.#rankThroughput;
    this.handles = {
      runState: new Gauge({
        name: NAMES.runState,
        help: "1 for the run's current state, 0 for the others.",
        labelNames: ['state'] as const,
        registers,
      }),
      examplesProcessed: new Counter({
        name: NAMES.examplesProcessed,
        help: 'Training examples stepped through by all workers together.',
        registers,
      }),
      examplesPerSecond: new Gauge({
        name: NAMES.examplesPerSecond,
        help: `Training examples per second over the last ${this.#throughputWindowMs / 1000} s, all workers together.`,
        registers,
        collect() {
          this.set(throughput.perSecond(now()));
        },
      }),
      stepsCompleted: new Counter({
        name: NAMES.stepsCompleted,
        help: 'Global training steps completed by every rank.',
        registers,
      }),
      epoch: new Gauge({ name: NAMES.epoch, help: 'Current epoch, counted from 0.', registers }),
      step: new Gauge({ name: NAMES.step, help: 'Global step number of the last completed step.', registers }),
      plannedEpochs: new Gauge({ name: NAMES.plannedEpochs, help: 'Epochs the run is to train.', registers }),
      plannedSteps: new Gauge({
        name: NAMES.plannedSteps,
        help: 'Global steps the run is to train, over all epochs.',
        registers,
      }),
      trainLoss: new Gauge({
        name: NAMES.trainLoss,
        help: 'Mean training loss of the last completed step (0 before the first).',
        registers,
      }),
      trainAccuracy: new Gauge({
        name: NAMES.trainAccuracy,
        help: 'Training accuracy of the last completed step, 0 to 1.',
        registers,
      }),
      testLoss: new Gauge({ name: NAMES.testLoss, help: 'Mean test loss of the last evaluation.', registers }),
      testAccuracy: new Gauge({
        name: NAMES.testAccuracy,
        help: 'Test accuracy of the last evaluation, 0 to 1.',
        registers,
      }),
      evaluatedEpoch: new Gauge({ name: NAMES.evaluatedEpoch, help: 'Epoch of the last evaluation.', registers }),
      evaluations: new Counter({ name: NAMES.evaluations, help: 'Evaluations of the test set completed.', registers }),
      timeToAccuracy: new Gauge({
        name: NAMES.timeToAccuracy,
        help: 'Seconds from the start of training to the end of the first evaluation whose test accuracy reached the target (only targets reached are present).',
        labelNames: ['target'] as const,
        registers,
      }),
      stepPhaseSeconds: new Histogram({
        name: NAMES.stepPhaseSeconds,
        help: "Each rank's step time by phase: compute, all_reduce, waiting.",
        labelNames: ['rank', 'phase'] as const,
        buckets,
        registers,
      }),
      rankExamplesPerSecond: new Gauge({
        name: NAMES.rankExamplesPerSecond,
        help: `Training examples per second of one rank over the last ${this.#throughputWindowMs / 1000} s.`,
        labelNames: ['rank'] as const,
        registers,
        collect() {
          const at = now();
          for (const [rank, window] of rankThroughput) this.set({ rank: String(rank) }, window.perSecond(at));
        },
      }),
      rankState: new Gauge({
        name: NAMES.rankState,
        help: "1 for a rank's current connection state, 0 for the others.",
        labelNames: ['rank', 'state'] as const,
        registers,
      }),
      workers: new Gauge({
        name: NAMES.workers,
        help: 'Workers connected to the coordinator, by connection state.',
        labelNames: ['state'] as const,
        registers,
      }),
      worldSize: new Gauge({ name: NAMES.worldSize, help: 'Ranks in the current ring.', registers }),
      generation: new Gauge({ name: NAMES.generation, help: 'Membership generation of the current ring.', registers }),
      rendezvous: new Counter({
        name: NAMES.rendezvous,
        help: 'Rings formed; above 1 the ring was rebuilt after a worker was lost or added.',
        registers,
      }),
      membershipChanges: new Counter({
        name: NAMES.membershipChanges,
        help: 'Membership generations opened, by cause.',
        labelNames: ['cause'] as const,
        registers,
      }),
      recoveries: new Counter({ name: NAMES.recoveries, help: 'Times training went on again after losing a member.', registers }),
      recoverySeconds: new Counter({ name: NAMES.recoverySeconds, help: 'Time from losing a member to training again, summed.', registers }),
      stepsDiscarded: new Counter({ name: NAMES.stepsDiscarded, help: 'Steps cut short that no surviving replica had finished.', registers }),
      failures: new Counter({
        name: NAMES.failures,
        help: 'Failures the coordinator saw, by reason.',
        labelNames: ['reason'] as const,
        registers,
      }),
    };
    for (const reason of this.#failureReasons.values()) this.handles.failures.inc({ reason }, 0);
    for (const cause of MEMBERSHIP_CAUSES) this.handles.membershipChanges.inc({ cause }, 0);
    this.setRunState('waiting_for_workers');
    this.#refusals = new ConnectionRefusals(registry, NAMES.connectionsRefused, 'Connections refused before they said a valid hello, by reason.');
    if (options.processMetrics ?? true) registerProcessMetrics(registry);
  }

  /** The build info labels currently exported. */
  get buildInfo(): BuildInfo {
    return this.#buildInfo.info;
  }

  /** Changes build info labels, e.g. the backend once the workers have reported theirs. */
  setBuildInfo(change: Partial<BuildInfo>): void {
    this.#buildInfo.update(change);
  }

  /** The run moved to `state`. */
  setRunState(state: RunState): void {
    if (!RUN_STATES.includes(state)) {
      throw new InvalidMetricValueError(
        `run state must be one of ${RUN_STATES.join(', ')}, got ${JSON.stringify(state)}`,
      );
    }
    for (const s of RUN_STATES) this.handles.runState.set({ state: s }, s === state ? 1 : 0);
  }

  /** The run will train `epochs` epochs of `stepsPerEpoch` global steps each. */
  setPlan(plan: { epochs: number; stepsPerEpoch: number }): void {
    assertNonNegativeInteger('epochs', plan.epochs);
    assertNonNegativeInteger('stepsPerEpoch', plan.stepsPerEpoch);
    this.handles.plannedEpochs.set(plan.epochs);
    this.handles.plannedSteps.set(plan.epochs * plan.stepsPerEpoch);
  }

  /** A ring of `worldSize` ranks was formed as membership generation `generation`, because of `cause`. */
  startGeneration(ring: { generation: number; worldSize: number; cause?: MembershipCause }): void {
    assertNonNegativeInteger('generation', ring.generation);
    assertNonNegativeInteger('worldSize', ring.worldSize);
    const cause = ring.cause ?? 'start';
    if (!MEMBERSHIP_CAUSES.includes(cause)) {
      throw new InvalidMetricValueError(`membership cause must be one of ${MEMBERSHIP_CAUSES.join(', ')}, got ${JSON.stringify(cause)}`);
    }
    this.handles.generation.set(ring.generation);
    this.handles.worldSize.set(ring.worldSize);
    this.handles.rendezvous.inc();
    this.handles.membershipChanges.inc({ cause });
  }

  /** Training went on `seconds` after a member was lost. */
  recordRecovery(seconds: number): void {
    if (!Number.isFinite(seconds) || seconds < 0) throw new InvalidMetricValueError(`recovery seconds must be a finite number of at least 0, got ${seconds}`);
    this.handles.recoveries.inc();
    this.handles.recoverySeconds.inc(seconds);
  }

  /** `steps` steps in flight were discarded when a generation formed. */
  recordDiscardedSteps(steps: number): void {
    assertNonNegativeInteger('discarded steps', steps);
    this.handles.stepsDiscarded.inc(steps);
  }

  /** Every rank has reported global step `step`. */
  recordStep(completed: CompletedStep): void {
    assertNonNegativeInteger('epoch', completed.epoch);
    assertNonNegativeInteger('step', completed.step);
    if (completed.ranks.length === 0) {
      throw new InvalidMetricValueError(`step ${completed.step} has no rank reports`);
    }
    const seen = new Set<number>();
    for (const r of completed.ranks) {
      assertNonNegativeInteger('rank', r.rank);
      if (seen.has(r.rank)) {
        throw new InvalidMetricValueError(`step ${completed.step} has two reports from rank ${r.rank}`);
      }
      seen.add(r.rank);
      assertNonNegativeInteger(`rank ${r.rank} examples`, r.examples);
      assertNonNegativeInteger(`rank ${r.rank} correct`, r.correct);
      if (r.correct > r.examples) {
        throw new InvalidMetricValueError(
          `rank ${r.rank} reports ${r.correct} correct out of ${r.examples} examples at step ${completed.step}`,
        );
      }
      assertNumber(`rank ${r.rank} loss`, r.loss);
      assertNonNegative(`rank ${r.rank} computeSeconds`, r.computeSeconds);
      assertNonNegative(`rank ${r.rank} allReduceSeconds`, r.allReduceSeconds);
      assertNonNegative(`rank ${r.rank} waitSeconds`, r.waitSeconds);
    }

    const now = this.#now();
    let examples = 0;
    let correct = 0;
    let lossSum = 0;
    let slowestSeconds = 0;
    for (const r of completed.ranks) {
      const rank = String(r.rank);
      const seconds = { compute: r.computeSeconds, all_reduce: r.allReduceSeconds, waiting: r.waitSeconds };
      for (const phase of STEP_PHASES) this.handles.stepPhaseSeconds.observe({ rank, phase }, seconds[phase]);
      const stepSeconds = r.computeSeconds + r.allReduceSeconds + r.waitSeconds;
      slowestSeconds = Math.max(slowestSeconds, stepSeconds);
      let window = this.#rankThroughput.get(r.rank);
      if (window === undefined) {
        window = new ThroughputWindow(this.#throughputWindowMs);
        this.#rankThroughput.set(r.rank, window);
      }
      window.record(now, r.examples, stepSeconds);
      examples += r.examples;
      correct += r.correct;
      lossSum += r.loss * r.examples;
    }
    this.#throughput.record(now, examples, slowestSeconds);
    this.handles.examplesProcessed.inc(examples);
    this.handles.stepsCompleted.inc();
    this.handles.epoch.set(completed.epoch);
    this.handles.step.set(completed.step);
    if (examples > 0) {
      this.handles.trainLoss.set(lossSum / examples);
      this.handles.trainAccuracy.set(correct / examples);
    }
  }

  /** An evaluation of the test set finished. */
  recordEvaluation(evaluation: Evaluation): void {
    assertNonNegativeInteger('epoch', evaluation.epoch);
    assertNumber('loss', evaluation.loss);
    assertRatio('accuracy', evaluation.accuracy);
    this.handles.testLoss.set(evaluation.loss);
    this.handles.testAccuracy.set(evaluation.accuracy);
    this.handles.evaluatedEpoch.set(evaluation.epoch);
    this.handles.evaluations.inc();
  }

  /** The test accuracy first reached `target` (a ratio, one of the run's few configured targets) `seconds` after training started. */
  recordTargetReached(target: number, seconds: number): void {
    assertRatio('target', target);
    assertNumber('seconds', seconds);
    this.handles.timeToAccuracy.set({ target: String(target) }, seconds);
  }

  /**
   * The workers connected now, with their states. Replaces what was set before: states no
   * worker is in drop to 0, and the series of ranks no longer present are removed.
   */
  setWorkers(workers: readonly WorkerView[]): void {
    const counts = new Map<string, number>();
    const rankStates = new Map<number, string>();
    for (const w of workers) {
      const state = this.#workerStates.admit(w.state);
      counts.set(state, (counts.get(state) ?? 0) + 1);
      if (w.rank !== null) {
        assertNonNegativeInteger('worker rank', w.rank);
        if (rankStates.has(w.rank)) throw new InvalidMetricValueError(`two connected workers hold rank ${w.rank}`);
        rankStates.set(w.rank, state);
      }
    }
    const states = this.#workerStates.values();
    for (const state of states) this.handles.workers.set({ state }, counts.get(state) ?? 0);
    for (const rank of new Set([...this.#rankStates.keys(), ...this.#rankThroughput.keys()])) {
      if (rankStates.has(rank)) continue;
      for (const state of states) this.handles.rankState.remove({ rank: String(rank), state });
      this.handles.rankExamplesPerSecond.remove({ rank: String(rank) });
      this.#rankThroughput.delete(rank);
    }
    for (const [rank, current] of rankStates) {
      for (const state of states) this.handles.rankState.set({ rank: String(rank), state }, state === current ? 1 : 0);
    }
    this.#rankStates = rankStates;
  }

  /** The port refused a connection that had not said a valid `hello`. */
  recordRefusal(reason: RefusalReason): void {
    this.#refusals.record(reason);
  }

  /** Something went wrong for `reason`, a lower-case word such as `heartbeat_timeout`. */
  recordFailure(reason: string): void {
    this.handles.failures.inc({ reason: this.#failureReasons.admit(reason) });
  }
}

/** Builds the coordinator's metrics on `registry`. */
/** Why a generation was opened, as the `cause` label. */
export const MEMBERSHIP_CAUSES = ['start', 'worker_lost', 'worker_evicted', 'worker_joined', 'ring_failed'] as const;
export type MembershipCause = (typeof MEMBERSHIP_CAUSES)[number];

export function createCoordinatorMetrics(registry: Registry, options: CoordinatorMetricsOptions): CoordinatorMetrics {
  return new CoordinatorMetrics(registry, options);
}
