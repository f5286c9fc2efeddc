import type { HyperParameters, ModelSpec, PeerAddress } from '@ringtrain/protocol';
import type { EpochProgress } from './effects.ts';
import type { EpochSharder, SamplerPosition, ShardPlan } from './sharder.ts';

/** The run as the machine needs to know it; fixed for the life of the run. */
export interface MachineConfig {
  minWorkers: number;
  maxWorkers: number;
  /** After `minWorkers` joined, how long to wait for more (up to `maxWorkers`) before starting. */
  rendezvousSettleMs: number;
  /** How long to wait for `minWorkers` before giving up. */
  rendezvousTimeoutMs: number;
  /** Waiting this long for some ranks logs a warning naming them (and again every as long). */
  stallWarningMs: number;
  /** Waiting this long fails the run naming the ranks (0: never). */
  stallTimeoutMs: number;
  epochs: number;
  /** Split across workers: each trains on floor(globalBatchSize / worldSize) per step. */
  globalBatchSize: number;
  /** Test-set examples to evaluate on after each epoch (0: no evaluation). */
  testCount: number;
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

export type Phase = 'rendezvous' | 'starting' | 'training' | 'evaluating' | 'checkpointing' | 'finished' | 'failed';

/** A worker that said hello and is still connected. */
export interface WorkerRecord {
  workerId: string;
  hostname: string;
  pid: number;
  backend: string;
  peerAddress: PeerAddress;
  joinedAtMs: number;
  /** Rank in the current generation; null before the first assignment. */
  rank: number | null;
  ready: boolean;
  /** Last global step this worker reported; stepsDone - 1 before its first report. */
  lastStep: number;
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
  /** Rank -> weight checksum, for the ranks that sent one. */
  checksums: Record<number, string>;
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
  /** Where in the epoch's order the current plan starts (non-zero in a resumed epoch). */
  planOffset: number;
  /** Global index of the first step of the current plan. */
  planFirstStep: number;
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
  timeSums: { computeMs: number; allReduceMs: number; waitMs: number; reports: number };
  /** Steps at which every replica's weight checksum agreed. */
  checksumsAgreed: number;
  pendingCheckpoint: 'epoch' | 'on-demand' | null;
  /** Since when the machine waits for the ranks it waits for now. */
  waitingSinceMs: number;
  lastStallWarningAtMs: number;
  history: EpochProgress[];
  /** The resume position, until the epoch it belongs to has been planned. */
  resumeFrom: SamplerPosition | null;
}

/** The state of a coordinator that has just opened its rendezvous. */
export function createCoordinatorState(config: MachineConfig, nowMs: number): CoordinatorState {
  return {
    config,
    phase: 'rendezvous',
    generation: 0,
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
    stepsPerEpoch: 0,
    nextStep: config.resume?.stepsDone ?? 0,
    tallies: new Map(),
    epochTotals: { lossSum: 0, correct: 0, count: 0 },
    epochStartedAtMs: nowMs,
    evalTotals: { lossSum: 0, correct: 0, count: 0 },
    trainingMs: 0,
    examples: 0,
    timeSums: { computeMs: 0, allReduceMs: 0, waitMs: 0, reports: 0 },
    checksumsAgreed: 0,
    pendingCheckpoint: null,
    waitingSinceMs: nowMs,
    lastStallWarningAtMs: nowMs,
    history: [],
    resumeFrom: config.resume?.position ?? null,
  };
}

/** A copy `step` may change without touching the state it was given. Bitmaps are copied on write. */
export function draftOf(state: CoordinatorState): CoordinatorState {
  return {
    ...state,
    workers: state.workers.map((w) => ({ ...w })),
    tallies: new Map([...state.tallies].map(([step, t]) => [step, { ...t, checksums: { ...t.checksums } }])),
    epochTotals: { ...state.epochTotals },
    evalTotals: { ...state.evalTotals },
    timeSums: { ...state.timeSums },
    history: [...state.history],
  };
}
