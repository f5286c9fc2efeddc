/**
 * A worker process that outlives its run (`--after-run wait`). A StatefulSet restarts whatever
 * exits, and a restarted worker is refused by a finished run: its pods would crash-loop once the
 * run is over. Instead, between runs the process stays up, alive but not ready, and dials the
 * coordinator every `rejoinIntervalMs`; when a run takes it (the same run given more epochs, or
 * a new one) it joins with a fresh `Worker`, whose replica that run's `assign` fills.
 */
import { ConnectFailedError, RefusedError } from './errors.ts';
import type { ConnectionState } from './lifecycle.ts';
import type { WorkerTls } from './options.ts';
import { CONNECTION_ERROR_CODES } from './wire.ts';
import type { Worker, WorkerLogger, WorkerOutcome } from './worker.ts';

/** What a worker does once its run is over: `exit`, or `wait` for the next one. */
export type AfterRun = 'exit' | 'wait';

export const AFTER_RUN_CHOICES: readonly AfterRun[] = Object.freeze(['exit', 'wait']);

/** The state `/healthz` shows while a waiting worker is between runs: alive, in no ring. */
export const BETWEEN_RUNS = 'between-runs';

export interface SuccessiveRunsOptions {
  afterRun: AfterRun;
  /** Pause between dials while no run takes this worker. */
  rejoinIntervalMs: number;
  /** A new worker for the next run (the first one included). */
  newWorker: () => RunnableWorker;
  log: WorkerLogger;
}

/** What of a `Worker` the runs use. */
export type RunnableWorker = Pick<Worker, 'run' | 'shutdown' | 'reloadTls' | 'workerId' | 'rank' | 'generation' | 'steps' | 'inRing' | 'lifecycle'>;

/** What `/healthz` and `/readyz` read: the worker of the run in progress, or the pause between runs. */
export interface WorkerHealthView {
  readonly workerId: string;
  readonly rank: number | null;
  readonly generation: number | null;
  readonly steps: number;
  readonly inRing: boolean;
  readonly lifecycle: { readonly state: ConnectionState | typeof BETWEEN_RUNS };
}

export class SuccessiveRuns implements WorkerHealthView {
  private worker: RunnableWorker;
  private between = false;
  private stopped: string | null = null;
  private wake: (() => void) | null = null;
  /** The replica's steps at the end of the last run, shown between runs. */
  private lastSteps = 0;

  constructor(private readonly options: SuccessiveRunsOptions) {
    this.worker = options.newWorker();
  }

  get workerId(): string {
    return this.worker.workerId;
  }
  get rank(): number | null {
    return this.between ? null : this.worker.rank;
  }
  get generation(): number | null {
    return this.between ? null : this.worker.generation;
  }
  get steps(): number {
    return this.between ? this.lastSteps : this.worker.steps;
  }
  get inRing(): boolean {
    return !this.between && this.worker.inRing;
  }
  get lifecycle(): { readonly state: ConnectionState | typeof BETWEEN_RUNS } {
    return this.between ? { state: BETWEEN_RUNS } : this.worker.lifecycle;
  }

  /**
   * Runs until a run is over (`exit`), a failure, or `shutdown`. Under `wait` a run that ended,
   * a finished run's refusal and, once a run has ended, a coordinator out of reach all lead to
   * the pause and the next dial; a failed run or any other refusal ends it as under `exit`.
   */
  async run(): Promise<WorkerOutcome> {
    const o = this.options;
    let ranBefore = false;
    for (;;) {
      let outcome: WorkerOutcome;
      try {
        outcome = await this.worker.run();
        if (outcome.runFailed || o.afterRun === 'exit' || this.stopped !== null) return outcome;
        ranBefore = true;
        this.lastSteps = outcome.stepsDone;
        o.log.info({ steps: outcome.stepsDone }, `the run is over (${outcome.reason}); waiting for the next, dialling the coordinator every ${o.rejoinIntervalMs} ms`);
      } catch (error) {
        const runOver = error instanceof RefusedError && error.remoteCode === CONNECTION_ERROR_CODES.runOver;
        const unreachable = error instanceof ConnectFailedError && ranBefore;
        if (o.afterRun === 'exit' || !(runOver || unreachable)) throw error;
        o.log.debug({ code: (error as Error & { code?: string }).code }, `no run to join yet: ${(error as Error).message}`);
      }
      this.between = true;
      await this.pause(o.rejoinIntervalMs);
      if (this.stopped !== null) return { reason: this.stopped, runFailed: false, stepsDone: this.lastSteps };
      this.worker = o.newWorker();
      this.between = false;
    }
  }

  /** New certificate files for the worker of the run in progress (later runs' are made with them by `newWorker`). */
  reloadTls(files: WorkerTls): void {
    this.worker.reloadTls(files);
  }

  /** Leaves the run in progress (as `Worker.shutdown`), or ends the pause between runs. */
  shutdown(reason: string): void {
    this.stopped = reason;
    if (this.between) this.wake?.();
    else this.worker.shutdown(reason);
  }

  private pause(ms: number): Promise<void> {
    return new Promise((resolve) => {
      const timer = setTimeout(resolve, ms);
      this.wake = () => {
        clearTimeout(timer);
        resolve();
      };
    });
  }
}
