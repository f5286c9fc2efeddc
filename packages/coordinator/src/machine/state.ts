import type { HyperParameters, ModelSpec, PeerAddress } from '@ringtrain/protocol';
import type { EpochProgress, TargetReached } from './effects.ts';
import type { EpochSharder, SamplerPosition, ShardPlan } from './sharder.ts';

/** The run as the machine needs to know it; fixed for the life of the run. */
export interface MachineConfig {
  minWorkers: number;
  maxWorkers: number;
  /** After `minWorkers` joined, how long to wait for more (up to `maxWorkers`) before starting. */
  rendezvousSettleMs: number;
  /** How long to wait for `minWorkers` before giving up. */
  rendezvousTimeoutMs: number;
  /** After the start, how long the run waits with fewer than `minWorkers` for replacements before failing. */
  minWorkersWaitMs: number;
  /** What a rank that holds a step past `stallTimeoutMs` does to the run: fail it, or be evicted so the rest go on. */
  onStall: 'fail' | 'evict';
  /** Generations opened in a row without a step being committed before the run fails (a ring that keeps breaking). */
  maxRegroupsWithoutProgress: number;
  /**
   * Across world sizes, keep the global batch (the per-worker batch follows the world) or the
   * per-worker batch (the global batch and, by the linear scaling rule, the learning rate follow).
   */
  batchScaling: 'fixed-global' | 'fixed-per-worker';
  /** Members of one host group side by side in the ring (see `ring-order.ts`), or join order. */
  ringOrder: 'hosts' | 'joined';
  /** How often the coordinator pings each worker, and each worker the coordinator (said in `welcome`). */
  heartbeatIntervalMs: number;
  /** A worker not heard from (messages, heartbeat answers) for this long counts as silent for the stall inspector. */
  silentAfterMs: number;
  /** Waiting this long for some ranks logs a warning naming them (and again every as long). */
  stallWarningMs: number;
  /** Waiting this long fails the run naming the ranks (0: never). */
  stallTimeoutMs: number;
  epochs: number;
  /**
   * Samples per step over all workers. With `fixed-global` each worker trains on
   * floor(globalBatchSize / worldSize); with `fixed-per-worker` the first generation fixes that
   * share and later generations keep it.
   */
  globalBatchSize: number;
  /** Test-set examples to evaluate on after each epoch (0: no evaluation). */
  testCount: number;
  /** Test accuracies whose first crossing is timed, ascending. */
  targetAccuracies: readonly number[];
  /** Finish after the evaluation that reached all of `targetAccuracies`. */
  stopAtTargetAccuracy: boolean;
  model: ModelSpec;
  hyper: Omit<HyperParameters, 'batchSizePerWorker'>;
  /** Checkpoint every this many epochs (0: no checkpoints). */
  checkpointEveryEpochs: number;
  /** What replicas with different weight checksums do to the run. */
  onDivergence: 'fail' | 'warn';
  sharder: EpochSharder;
  /** Learning rate of a global step; pure. */
  learningRate: (globalStep: number, stepsPerEpoch: number) => number;
  /** Where a resumed run starts (from a checkpoint); absent for a fresh run. */
  resume?: { position: SamplerPosition; stepsDone: number };
}

/**
 * rendezvous: the first members gather; waiting: too few workers after the start, waiting for
 * replacements; starting: a generation forms (replicas, the starting state, ready).
 */
export type Phase = 'rendezvous' | 'waiting' | 'starting' | 'training' | 'evaluating' | 'checkpointing' | 'finished' | 'failed';

/** Why a generation was opened. */
export type GenerationCause = 'start' | 'worker-lost' | 'worker-evicted' | 'worker-joined' | 'ring-failed';

/** One generation of the run's membership, for the status and the metrics. */
export interface GenerationRecord {
  generation: number;
  cause: GenerationCause;
  openedAtMs: number;
  /** When every member was ready and training went on; null while it forms. */
  readyAtMs: number | null;
  worldSize: number;
  /** Its global batch: `--batch-size` when that splits evenly over the world, else less (see `generation.ts`). */
  globalBatchSize: number;
  /** The global step it started from. */
  step: number;
  workerIds: string[];
}

/** The state the shell holds for newcomers (initial weights, a checkpoint, or the last relayed state). */
export interface HeldState {
  step: number;
  position: SamplerPosition;
}

/** A worker that said hello and is still connected. */
export interface WorkerRecord {
  workerId: string;
  hostname: string;
  pid: number;
  backend: string;
  peerAddress: PeerAddress;
  /** Workers that share a network link: with `ringOrder` 'hosts' the ring keeps them side by side. */
  hostGroup: string;
  joinedAtMs: number;
  /** Rank in the current generation; null while it waits to enter one. */
  rank: number | null;
  /** What its replica held when it answered the current generation's `assign`; null before. */
  replica: { stepsDone: number; abortedStep: number; position: SamplerPosition | null } | null;
  ready: boolean;
  /** Its weight checksum in `ready`. */
  readyChecksum: string;
  /** The last time anything was heard from it (a message, or a heartbeat answer the shell saw). */
  lastHeardAtMs: number;
  /** Last global step this worker reported; stepsDone - 1 before its first report. */
  lastStep: number;
  /** Last global step it computed its gradient of and entered the all-reduce with. */
  contributedStep: number;
  evaluated: boolean;
  /** Which training/test images the worker holds already (one byte per data-set index). */
  sentTrain: Uint8Array | null;
  sentTest: Uint8Array | null;
}

/** What the ranks reported for one global step so far. */
export interface StepTally {
  reports: number;
  lossSum: number;
  correct: number;
  count: number;
  computeMs: number;
  allReduceMs: number;
  waitMs: number;
  sentBytes: number;
  /** Rank -> weight checksum, for the ranks that sent one. */
  checksums: Record<number, string>;
}

/** A step nobody has reported yet. */
export function emptyTally(): StepTally {
  return { reports: 0, lossSum: 0, correct: 0, count: 0, computeMs: 0, allReduceMs: 0, waitMs: 0, sentBytes: 0, checksums: {} };
}

export interface Totals {
  lossSum: number;
  correct: number;
  count: number;
}

export interface CoordinatorState {
  readonly config: MachineConfig;
  phase: Phase;
  generation: number;
  /** The highest generation a joining worker was in: the next generation opened comes after it. */
  generationFloor: number;
  workers: WorkerRecord[];
  worldSize: number;
  batchSizePerWorker: number;
  rendezvousOpenedAtMs: number;
  minReachedAtMs: number | null;
  /** When the current generation was assigned. */
  startedAtMs: number | null;
  epoch: number;
  /** What the current epoch has left, dealt out over the ranks. */
  plan: ShardPlan | null;
  /** Where in the epoch's order the current plan starts (non-zero in a resumed epoch or after a regroup). */
  planOffset: number;
  /** Global index of the first step of the current plan. */
  planFirstStep: number;
  /** The per-worker batch the current plan was dealt with (the world may have changed since). */
  planBatchSize: number;
  /** Whether the current epoch's training has begun (its figures and clock run from then). */
  epochOpen: boolean;
  /** Steps of a full epoch in this world. */
  stepsPerEpoch: number;
  /** Lowest global step not yet finished by every rank; equals global steps done. */
  nextStep: number;
  tallies: Map<number, StepTally>;
  epochTotals: Totals;
  epochStartedAtMs: number;
  evalTotals: Totals;
  trainingMs: number;
  examples: number;
  timeSums: { computeMs: number; allReduceMs: number; waitMs: number; sentBytes: number; reports: number };
  /** Steps at which every replica's weight checksum agreed. */
  checksumsAgreed: number;
  /** Why a worker was asked for its state: a checkpoint, or to relay it to the members that lag. */
  pendingState: { reason: 'epoch' | 'on-demand' | 'relay'; workerId: string } | null;
  /** The step and position of the state the shell holds. */
  held: HeldState;
  /** Whether the current epoch has been evaluated, and its end-of-epoch checkpoint taken. */
  epochEvaluated: boolean;
  epochCheckpointed: boolean;
  /** Since when the run has had fewer than `minWorkers` after its start; null otherwise. */
  belowMinimumSinceMs: number | null;
  /** The last time a worker joined while the run was going; joiners enter once it settles. */
  lastJoinAtMs: number;
  /** Generations opened since the last committed step. */
  regroupsWithoutProgress: number;
  /** The per-worker batch of the first generation and its world (the linear scaling rule's reference). */
  reference: { batchSizePerWorker: number; worldSize: number } | null;
  generations: GenerationRecord[];
  /** Recovery figures: steps no survivor finished, and time from a loss to training again. */
  recovery: { stepsDiscarded: number; recoveries: number; lostMs: number; lostAtMs: number | null };
  /** Since when the machine waits for the ranks it waits for now. */
  waitingSinceMs: number;
  lastStallWarningAtMs: number;
  history: EpochProgress[];
  /** The targets of `targetAccuracies` reached so far, in the order they were. */
  targetsReached: TargetReached[];
}

/** The state of a coordinator that has just opened its rendezvous. */
export function createCoordinatorState(config: MachineConfig, nowMs: number): CoordinatorState {
  return {
    config,
    phase: 'rendezvous',
    generation: 0,
    generationFloor: 0,
    workers: [],
    worldSize: 0,
    batchSizePerWorker: 0,
    rendezvousOpenedAtMs: nowMs,
    minReachedAtMs: null,
    startedAtMs: null,
    epoch: config.resume?.position.epoch ?? 0,
    plan: null,
    planOffset: 0,
    planFirstStep: 0,
    planBatchSize: 0,
    epochOpen: false,
    stepsPerEpoch: 0,
    nextStep: config.resume?.stepsDone ?? 0,
    tallies: new Map(),
    epochTotals: { lossSum: 0, correct: 0, count: 0 },
    epochStartedAtMs: nowMs,
    evalTotals: { lossSum: 0, correct: 0, count: 0 },
    trainingMs: 0,
    examples: 0,
    timeSums: { computeMs: 0, allReduceMs: 0, waitMs: 0, sentBytes: 0, reports: 0 },
    checksumsAgreed: 0,
    pendingState: null,
    held: { step: config.resume?.stepsDone ?? 0, position: config.resume?.position ?? { epoch: 0, offset: 0 } },
    epochEvaluated: false,
    epochCheckpointed: false,
    belowMinimumSinceMs: null,
    lastJoinAtMs: nowMs,
    regroupsWithoutProgress: 0,
    reference: null,
    generations: [],
    recovery: { stepsDiscarded: 0, recoveries: 0, lostMs: 0, lostAtMs: null },
    waitingSinceMs: nowMs,
    lastStallWarningAtMs: nowMs,
    history: [],
    targetsReached: [],
  };
}

/** A copy `step` may change without touching the state it was given. Bitmaps are copied on write. */
export function draftOf(state: CoordinatorState): CoordinatorState {
  return {
    ...state,
    workers: state.workers.map((w) => ({ ...w, replica: w.replica === null ? null : { ...w.replica } })),
    tallies: new Map([...state.tallies].map(([step, t]) => [step, { ...t, checksums: { ...t.checksums } }])),
    epochTotals: { ...state.epochTotals },
    evalTotals: { ...state.evalTotals },
    timeSums: { ...state.timeSums },
    history: [...state.history],
    held: { ...state.held },
    generations: state.generations.map((g) => ({ ...g })),
    recovery: { ...state.recovery },
  };
}
