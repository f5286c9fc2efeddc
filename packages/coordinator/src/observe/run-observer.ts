/**
 * Watches the run from beside the state machine: the shell hands it every event it fed, the
 * state that came out and the outbox, and the observer keeps the Prometheus metrics
 * (`@ringtrain/metrics`) and the status document (`/status`, the dashboard) up to date. It
 * never changes the run; it only reads what the machine already decided.
 *
 * Where the figures come from:
 *   - each rank's step time split and examples: its `step-report`, once the machine accepted it;
 *   - a completed step (loss, accuracy, throughput): the machine's `step` progress, with the
 *     reports of that step gathered so far;
 *   - test accuracy per epoch: the machine's `epoch` progress;
 *   - worker states: derived from the machine's state after every event;
 *   - failures: the shell's refusals and lost heartbeats, and the machine's logs that carry an
 *     error code.
 */
import { createCoordinatorMetrics, ThroughputWindow, type CoordinatorMetrics, type MembershipCause, type RankStep, type RefusalReason, type RunState } from '@ringtrain/metrics';
import type { Registry } from 'prom-client';
import { COORDINATOR_ERROR_CODES } from '../errors.ts';
import type { Effect, EpochProgress, StepProgress } from '../machine/effects.ts';
import type { CoordinatorEvent, StepReportedEvent } from '../machine/events.ts';
import type { CoordinatorState, Phase, WorkerRecord } from '../machine/state.ts';
import type { ResolvedCoordinatorOptions } from '../options.ts';
import {
  finiteOrNull,
  RUN_STATUS_SCHEMA_VERSION,
  type EpochView,
  type LatestView,
  type RunConfigView,
  type RunStatus,
  type WorkerState,
  type WorkerStatus,
} from './run-status.ts';
import { StepSeries } from './step-series.ts';

export interface RunObserverOptions {
  options: ResolvedCoordinatorOptions;
  /** Sizes of the data set the coordinator serves. */
  counts: { train: number; test: number };
  /** ringtrain's version, for build info and the status. */
  version: string;
  /** Milliseconds since the Unix epoch; the shell's clock. */
  clock: () => number;
  /** Where the metrics are registered (a fresh one per server). */
  registry: Registry;
}

/** Step reports averaged for a worker's step-time split. */
const RECENT_STEPS = 20;

const RUN_STATE_OF_PHASE: Record<Phase, RunState> = {
  rendezvous: 'waiting_for_workers',
  waiting: 'waiting_for_workers',
  starting: 'waiting_for_workers',
  training: 'training',
  evaluating: 'evaluating',
  checkpointing: 'checkpointing',
  finished: 'finished',
  failed: 'failed',
};

/** Error codes in the machine's logs, as failure reasons of `ringtrain_failures_total`. */
const FAILURE_REASON_OF_CODE: Partial<Record<string, string>> = {
  [COORDINATOR_ERROR_CODES.divergence]: 'weight_divergence',
  [COORDINATOR_ERROR_CODES.protocolViolation]: 'protocol_error',
};

interface WorkerStats {
  examples: number;
  steps: number;
  lastStep: number | null;
  window: ThroughputWindow;
  recent: { compute: number; allReduce: number; waiting: number }[];
}

export class RunObserver {
  readonly metrics: CoordinatorMetrics;

  readonly #o: ResolvedCoordinatorOptions;
  readonly #counts: { train: number; test: number };
  readonly #version: string;
  readonly #clock: () => number;
  readonly #listeners = new Set<() => void>();
  readonly #throughput: ThroughputWindow;
  readonly #series: StepSeries;
  readonly #workerStats = new Map<string, WorkerStats>();
  /** Workers that left, as they were last seen. */
  readonly #departed = new Map<string, WorkerStatus>();
  /**
   * Reports of steps not every rank has finished yet, by global step, with the generation they
   * came in: a step discarded at a regroup is trained again by the next generation, whose
   * reports replace the old ones.
   */
  readonly #pending = new Map<number, { generation: number; ranks: RankStep[] }>();
  /** When the last steps completed, for the ETA. */
  readonly #recentStepEndsMs: number[] = [];
  readonly #epochs: EpochView[] = [];
  #state: CoordinatorState | null = null;
  #latest: LatestView = { step: null, trainLoss: null, trainAccuracy: null, epochTrainLoss: null, epochTrainAccuracy: null, testLoss: null, testAccuracy: null };
  #failure: { code: string; message: string } | null = null;
  #startedAtMs: number | null = null;
  /** When the run finished or failed; elapsed time and mean throughput stop there. */
  #endedAtMs: number | null = null;
  #examples = 0;
  #steps = 0;
  #phase: Phase | null = null;
  #workersKey = '';
  #backends: string[] = [];

  constructor(options: RunObserverOptions) {
    this.#o = options.options;
    this.#counts = options.counts;
    this.#version = options.version;
    this.#clock = options.clock;
    this.#throughput = new ThroughputWindow(this.#o.throughputWindowMs);
    this.#series = new StepSeries(this.#o.maxSeriesPoints);
    this.metrics = createCoordinatorMetrics(options.registry, {
      version: options.version,
      backend: 'unknown',
      model: modelName(this.#o.model.depth),
      throughputWindowMs: this.#o.throughputWindowMs,
      now: options.clock,
    });
    this.metrics.setPlan({ epochs: this.#o.epochs, stepsPerEpoch: 0 });
  }

  /** Calls `listener` after every change; returns the function that stops it. */
  onChange(listener: () => void): () => void {
    this.#listeners.add(listener);
    return () => this.#listeners.delete(listener);
  }

  /** The machine's first state, before any event. */
  attach(state: CoordinatorState): void {
    this.#state = state;
    this.#sync();
  }

  /** The shell fed `event`; the machine answered with `state` and `outbox`. */
  observe(event: CoordinatorEvent, state: CoordinatorState, outbox: readonly Effect[]): void {
    const before = this.#state;
    this.#state = state;
    if (before !== null) {
      const discarded = state.recovery.stepsDiscarded - before.recovery.stepsDiscarded;
      if (discarded > 0) this.metrics.recordDiscardedSteps(discarded);
      if (state.recovery.recoveries > before.recovery.recoveries) this.metrics.recordRecovery((state.recovery.lostMs - before.recovery.lostMs) / 1000);
    }
    switch (event.type) {
      case 'worker-joined':
        this.#departed.delete(event.workerId);
        break;
      case 'step-reported':
        this.#onStepReport(event, state);
        break;
      case 'worker-left': {
        const w = before?.workers.find((x) => x.workerId === event.workerId);
        if (w !== undefined && before !== null) {
          // Leaving after the run ended is how a run ends; before, it is a loss.
          const over = before.phase === 'finished' || before.phase === 'failed';
          const last = this.#workerStatus(before, w, event.atMs);
          this.#departed.set(w.workerId, { ...last, state: over ? last.state : 'left', connected: false });
        }
        break;
      }
      default:
        break;
    }
    for (const effect of outbox) {
      if (effect.kind === 'progress') {
        const p = effect.progress;
        if (p.type === 'started') {
          this.#startedAtMs ??= event.atMs;
          this.metrics.setPlan({ epochs: p.epochs, stepsPerEpoch: p.stepsPerEpoch });
          this.metrics.startGeneration({ generation: p.generation, worldSize: p.worldSize, cause: p.cause.replaceAll('-', '_') as MembershipCause });
        } else if (p.type === 'step') {
          this.#onStepCompleted(p, event.atMs);
        } else if (p.type === 'epoch') {
          this.#onEpoch(p, state);
        } else if (p.type === 'target-reached') {
          this.metrics.recordTargetReached(p.target, p.wallSeconds);
        }
      } else if (effect.kind === 'log') {
        const code = effect.fields?.code;
        const reason = typeof code === 'string' ? FAILURE_REASON_OF_CODE[code] : undefined;
        if (reason !== undefined) this.metrics.recordFailure(reason);
      } else if (effect.kind === 'failed') {
        this.#failure = { code: effect.code, message: effect.message };
      }
    }
    this.#sync();
  }

  /** The shell saw a failure the machine does not know of (a refused connection, a lost heartbeat). */
  recordFailure(reason: 'heartbeat_timeout' | 'disconnected' | 'protocol_error' | 'auth_rejected'): void {
    this.metrics.recordFailure(reason);
    this.#notify();
  }

  /** A connection refused before it said a valid hello. */
  recordRefusal(reason: RefusalReason): void {
    this.metrics.recordRefusal(reason);
  }

  /** The run as `/status` shows it, now. */
  status(): RunStatus {
    const nowMs = this.#clock();
    const state = this.#state;
    const o = this.#o;
    const stepsPerEpoch = state !== null && state.stepsPerEpoch > 0 ? state.stepsPerEpoch : null;
    const totalSteps = stepsPerEpoch === null ? null : stepsPerEpoch * o.epochs;
    const stepsDone = state?.nextStep ?? 0;
    const epoch = state?.epoch ?? 0;
    const phase = state?.phase ?? 'rendezvous';
    const stepInEpoch = stepsPerEpoch === null ? 0 : Math.max(0, stepsDone - epoch * stepsPerEpoch);
    const run: RunConfigView = {
      model: modelName(o.model.depth),
      spec: { ...o.model },
      epochs: o.epochs,
      globalBatchSize: o.globalBatchSize,
      batchSizePerWorker: state !== null && state.batchSizePerWorker > 0 ? state.batchSizePerWorker : null,
      minWorkers: o.minWorkers,
      maxWorkers: o.maxWorkers,
      worldSize: state?.worldSize ?? 0,
      generation: state?.generation ?? 0,
      trainExamples: this.#counts.train,
      testExamples: this.#counts.test,
      learningRate: { ...o.learningRate, milestoneEpochs: [...o.learningRate.milestoneEpochs] },
      momentum: o.momentum,
      nesterov: o.nesterov,
      weightDecay: o.weightDecay,
      labelSmoothing: o.labelSmoothing,
      testTimeFlip: o.testTimeFlip,
      emaDecay: o.emaDecay,
      emaWarmup: o.emaWarmup,
      targetAccuracies: [...o.targetAccuracies],
      stopAtTargetAccuracy: o.stopAtTargetAccuracy,
      augment: o.augment,
      cropPaddingPx: o.augment ? o.cropPaddingPx : 0,
      alternateFlips: o.alternateFlips,
      samplerSeed: o.samplerSeed,
      checksumEverySteps: o.checksumEverySteps,
      maxBucketBytes: o.maxBucketBytes,
      compression: { ...o.compression },
      precision: o.precision,
      checkpointDir: o.checkpointDir,
      backends: [...this.#backends],
    };
    const untilMs = this.#endedAtMs ?? nowMs;
    const elapsedMs = this.#startedAtMs === null ? 0 : Math.max(0, untilMs - this.#startedAtMs);
    return {
      schemaVersion: RUN_STATUS_SCHEMA_VERSION,
      version: this.#version,
      atMs: nowMs,
      phase,
      failure: this.#failure === null ? null : { ...this.#failure },
      run,
      progress: {
        epoch,
        epochs: o.epochs,
        stepsDone,
        totalSteps,
        stepsPerEpoch,
        stepInEpoch,
        fraction: totalSteps === null || totalSteps === 0 ? 0 : Math.min(1, stepsDone / totalSteps),
        startedAtMs: this.#startedAtMs,
        elapsedSeconds: elapsedMs / 1000,
        etaSeconds: this.#eta(phase, totalSteps, stepsDone),
      },
      throughput: {
        examplesPerSecond: this.#throughput.perSecond(nowMs),
        windowSeconds: o.throughputWindowMs / 1000,
        meanExamplesPerSecond: this.#steps > 0 && elapsedMs > 0 ? (this.#examples * 1000) / elapsedMs : null,
        examplesProcessed: this.#examples,
        stepsCompleted: this.#steps,
      },
      latest: { ...this.#latest },
      epochs: this.#epochs.map((e) => ({ ...e })),
      timeToAccuracy: (state?.targetsReached ?? []).map((r) => ({ ...r })),
      workers: this.#workers(nowMs),
      membership: {
        generation: state?.generation ?? 0,
        batchScaling: o.batchScaling,
        ringOrder: o.ringOrder,
        minWorkers: o.minWorkers,
        maxWorkers: o.maxWorkers,
        recoveries: state?.recovery.recoveries ?? 0,
        recoverySeconds: (state?.recovery.lostMs ?? 0) / 1000,
        stepsDiscarded: state?.recovery.stepsDiscarded ?? 0,
        generations: (state?.generations ?? []).map((g) => ({ ...g, workerIds: [...g.workerIds] })),
      },
      series: this.#series.view(),
    };
  }

  // ---------------------------------------------------------------- events

  #onStepReport(event: StepReportedEvent, state: CoordinatorState): void {
    const r = event.report;
    const w = state.workers.find((x) => x.workerId === event.workerId);
    // Only reports the machine took: current generation, the step it expected from this worker.
    if (w === undefined || w.rank === null || r.generation !== state.generation || w.lastStep !== r.step) return;
    const stats = this.#statsOf(w.workerId);
    const stepSeconds = (r.computeMs + r.allReduceMs + r.waitMs) / 1000;
    stats.examples += r.count;
    stats.steps += 1;
    stats.lastStep = r.step;
    stats.window.record(event.atMs, r.count, stepSeconds);
    stats.recent.push({ compute: r.computeMs, allReduce: r.allReduceMs, waiting: r.waitMs });
    if (stats.recent.length > RECENT_STEPS) stats.recent.shift();
    const held = this.#pending.get(r.step);
    const ranks = held !== undefined && held.generation === r.generation ? held.ranks : [];
    ranks.push({
      rank: w.rank,
      examples: r.count,
      correct: r.correct,
      loss: r.loss,
      computeSeconds: r.computeMs / 1000,
      allReduceSeconds: r.allReduceMs / 1000,
      waitSeconds: r.waitMs / 1000,
    });
    this.#pending.set(r.step, { generation: r.generation, ranks });
  }

  #onStepCompleted(p: StepProgress, atMs: number): void {
    const ranks = this.#pending.get(p.step)?.ranks ?? [];
    for (const step of this.#pending.keys()) if (step <= p.step) this.#pending.delete(step);
    if (ranks.length > 0) this.metrics.recordStep({ epoch: p.epoch, step: p.step, ranks });
    let examples = 0;
    let slowestSeconds = 0;
    for (const r of ranks) {
      examples += r.examples;
      slowestSeconds = Math.max(slowestSeconds, r.computeSeconds + r.allReduceSeconds + r.waitSeconds);
    }
    this.#throughput.record(atMs, examples, slowestSeconds);
    this.#examples += examples;
    this.#steps += 1;
    this.#recentStepEndsMs.push(atMs);
    if (this.#recentStepEndsMs.length > RECENT_STEPS) this.#recentStepEndsMs.shift();
    this.#latest = {
      ...this.#latest,
      step: p.step,
      trainLoss: finiteOrNull(p.loss),
      trainAccuracy: finiteOrNull(p.accuracy),
      epochTrainLoss: finiteOrNull(p.epochLoss),
      epochTrainAccuracy: finiteOrNull(p.epochAccuracy),
    };
    this.#series.push({
      tSeconds: atMs / 1000,
      step: p.step + 1,
      examplesPerSecond: this.#throughput.perSecond(atMs),
      loss: p.loss,
      accuracy: p.accuracy,
      epochLoss: p.epochLoss,
      epochAccuracy: p.epochAccuracy,
    });
  }

  #onEpoch(p: EpochProgress, state: CoordinatorState): void {
    this.#epochs.push({
      epoch: p.epoch,
      trainLoss: finiteOrNull(p.trainLoss),
      trainAccuracy: finiteOrNull(p.trainAccuracy),
      testLoss: finiteOrNull(p.testLoss),
      testAccuracy: finiteOrNull(p.testAccuracy),
      examplesPerSecond: finiteOrNull(p.examplesPerSecond),
      trainingSeconds: p.trainingMs / 1000,
      endStep: state.nextStep,
    });
    if (Number.isFinite(p.testAccuracy)) {
      this.metrics.recordEvaluation({ epoch: p.epoch, loss: p.testLoss, accuracy: p.testAccuracy });
      this.#series.markEvaluation(state.nextStep, p.testLoss, p.testAccuracy);
      this.#latest = { ...this.#latest, testLoss: finiteOrNull(p.testLoss), testAccuracy: finiteOrNull(p.testAccuracy) };
    }
  }

  /** Brings the run state, worker and build-info metrics in line with the machine, then tells the listeners. */
  #sync(): void {
    const state = this.#state;
    if (state !== null) {
      if (state.phase !== this.#phase) {
        this.#phase = state.phase;
        if (state.phase === 'finished' || state.phase === 'failed') this.#endedAtMs ??= this.#clock();
        this.metrics.setRunState(RUN_STATE_OF_PHASE[state.phase]);
      }
      const views = state.workers.map((w) => ({ rank: w.rank, state: workerState(state, w) }));
      const key = JSON.stringify(views);
      if (key !== this.#workersKey) {
        this.#workersKey = key;
        this.metrics.setWorkers(views);
      }
      const backends = [...new Set([...this.#backends, ...state.workers.map((w) => w.backend)])].sort();
      if (backends.join(',') !== this.#backends.join(',')) {
        this.#backends = backends;
        this.metrics.setBuildInfo({ backend: backends.join(',').slice(0, 100) || 'unknown' });
      }
    }
    this.#notify();
  }

  #notify(): void {
    for (const listener of this.#listeners) listener();
  }

  // ---------------------------------------------------------------- views

  #statsOf(workerId: string): WorkerStats {
    let stats = this.#workerStats.get(workerId);
    if (stats === undefined) {
      stats = { examples: 0, steps: 0, lastStep: null, window: new ThroughputWindow(this.#o.throughputWindowMs), recent: [] };
      this.#workerStats.set(workerId, stats);
    }
    return stats;
  }

  #workerStatus(state: CoordinatorState, w: WorkerRecord, nowMs: number): WorkerStatus {
    const stats = this.#workerStats.get(w.workerId);
    let stepTimeMs: WorkerStatus['stepTimeMs'] = null;
    if (stats !== undefined && stats.recent.length > 0) {
      const n = stats.recent.length;
      const sum = stats.recent.reduce((s, x) => ({ compute: s.compute + x.compute, allReduce: s.allReduce + x.allReduce, waiting: s.waiting + x.waiting }), {
        compute: 0,
        allReduce: 0,
        waiting: 0,
      });
      stepTimeMs = { compute: sum.compute / n, allReduce: sum.allReduce / n, waiting: sum.waiting / n };
    }
    return {
      workerId: w.workerId,
      rank: w.rank,
      host: w.hostname,
      hostGroup: w.hostGroup,
      pid: w.pid,
      backend: w.backend,
      state: workerState(state, w),
      connected: true,
      examplesPerSecond: stats?.window.perSecond(nowMs) ?? 0,
      examples: stats?.examples ?? 0,
      steps: stats?.steps ?? 0,
      lastStep: stats?.lastStep ?? null,
      stepTimeMs,
      lastHeardAtMs: w.lastHeardAtMs,
      silentSeconds: Math.max(0, nowMs - w.lastHeardAtMs) / 1000,
    };
  }

  #workers(nowMs: number): WorkerStatus[] {
    const state = this.#state;
    const byRank = (a: { rank: number | null }, b: { rank: number | null }): number => (a.rank ?? Number.MAX_SAFE_INTEGER) - (b.rank ?? Number.MAX_SAFE_INTEGER);
    const connected = state === null ? [] : [...state.workers].sort((a, b) => byRank(a, b) || a.joinedAtMs - b.joinedAtMs).map((w) => this.#workerStatus(state, w, nowMs));
    const departed = [...this.#departed.values()].sort(byRank).map((w) => ({ ...w, examplesPerSecond: 0 }));
    return [...connected, ...departed];
  }

  #eta(phase: Phase, totalSteps: number | null, stepsDone: number): number | null {
    if (phase === 'finished') return 0;
    if (phase === 'failed' || totalSteps === null) return null;
    const ends = this.#recentStepEndsMs;
    if (ends.length < 2) return null;
    const secondsPerStep = (ends[ends.length - 1]! - ends[0]!) / 1000 / (ends.length - 1);
    return Math.max(0, totalSteps - stepsDone) * secondsPerStep;
  }
}

/** `resnet18` for depth 18. */
export function modelName(depth: number): string {
  return `resnet${depth}`;
}

/** What a worker is doing, as far as the machine's state tells. */
export function workerState(state: CoordinatorState, w: WorkerRecord): WorkerState {
  if (state.phase === 'finished') return 'finished';
  if (state.phase === 'failed') return 'stopped';
  if (w.rank === null || state.phase === 'rendezvous') return 'joined';
  switch (state.phase) {
    case 'starting':
      return w.ready ? 'ready' : 'starting';
    case 'training':
      return 'training';
    case 'evaluating':
      return w.evaluated ? 'evaluated' : 'evaluating';
    case 'checkpointing':
      return w.workerId === state.pendingState?.workerId ? 'checkpointing' : 'waiting';
    case 'waiting':
      return 'waiting';
  }
}
