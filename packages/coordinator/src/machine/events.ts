import type {
  EvaluationMessage,
  PeerAddress,
  StepReportMessage,
} from '@ringtrain/protocol';

/**
 * Everything that can happen to the coordinator, as input to `step`. The socket shell turns
 * validated messages, disconnections, timers and operator requests into these; every event
 * carries the time it happened (`atMs`, from the shell's injected clock), so the machine never
 * reads a clock itself.
 */
export type CoordinatorEvent =
  | WorkerJoinedEvent
  | ReplicaReportedEvent
  | WorkerReadyEvent
  | RingFailedEvent
  | GradientReadyEvent
  | StepReportedEvent
  | EvaluationReportedEvent
  | StateReportedEvent
  | WorkerLeftEvent
  | CheckpointRequestedEvent
  | CheckpointWrittenEvent
  | StopRequestedEvent
  | TickEvent;

/** An authenticated worker said `hello`. */
export interface WorkerJoinedEvent {
  type: 'worker-joined';
  atMs: number;
  /** The shell's name for the connection, so a refusal reaches the newcomer, not a namesake. */
  connectionId: string;
  workerId: string;
  hostname: string;
  pid: number;
  backend: string;
  peerAddress: PeerAddress;
  /** The worker's `hostGroup` in `hello`; absent: the host of its peer address. */
  hostGroup?: string;
  /** The last generation the worker was in (0 for none): a restarted coordinator numbers after it. */
  generation: number;
}

/** A member answered `assign`: what its replica holds. */
export interface ReplicaReportedEvent {
  type: 'replica-reported';
  atMs: number;
  workerId: string;
  generation: number;
  /** Global steps its replica applied; -1 for none. */
  stepsDone: number;
  /** The step whose all-reduce the new generation cut short, or -1. */
  abortedStep: number;
  /** Where its replica stands in the epoch's order; null when it does not know. */
  position: { epoch: number; offset: number } | null;
}

/** A member joined its ring and holds the generation's starting state. */
export interface WorkerReadyEvent {
  type: 'worker-ready';
  atMs: number;
  workerId: string;
  generation: number;
  step: number;
  weightChecksum: string;
}

/** A member's ring failed; it waits for a new generation. */
export interface RingFailedEvent {
  type: 'ring-failed';
  atMs: number;
  workerId: string;
  generation: number;
  step: number;
  code: string;
  message: string;
}

/** A worker computed its gradient of a step and entered the all-reduce. */
export interface GradientReadyEvent {
  type: 'gradient-ready';
  atMs: number;
  workerId: string;
  generation: number;
  step: number;
}

/** A worker finished a step. */
export interface StepReportedEvent {
  type: 'step-reported';
  atMs: number;
  workerId: string;
  report: Omit<StepReportMessage, 'v' | 'type'>;
}

/** A worker evaluated its share of the test set. */
export interface EvaluationReportedEvent {
  type: 'evaluation-reported';
  atMs: number;
  workerId: string;
  evaluation: Omit<EvaluationMessage, 'v' | 'type'>;
}

/** A worker answered `state-request` with its replica's state. */
export interface StateReportedEvent {
  type: 'state-reported';
  atMs: number;
  workerId: string;
  generation: number;
  /** Global steps the replica has completed. */
  step: number;
  bytes: Uint8Array;
}

/** A worker's connection is gone: closed, failed a heartbeat, sent garbage, or reported an error. */
export interface WorkerLeftEvent {
  type: 'worker-left';
  atMs: number;
  workerId: string;
  reason: string;
  /** Set when the worker was cut for silence (heartbeat), as against a closed connection. */
  silent?: boolean;
  /** The worker's own error code, when it said why before leaving. */
  errorCode?: string;
}

/** The operator asked for a checkpoint now. */
export interface CheckpointRequestedEvent {
  type: 'checkpoint-requested';
  atMs: number;
}

/** The shell finished (or failed) writing a checkpoint the machine asked for. */
export interface CheckpointWrittenEvent {
  type: 'checkpoint-written';
  atMs: number;
  path: string;
  step: number;
  /** Set when writing failed. */
  error?: string;
}

/** The operator asked the run to end (Ctrl-C). */
export interface StopRequestedEvent {
  type: 'stop-requested';
  atMs: number;
  reason: string;
}

/** Time passed; drives rendezvous deadlines and the stall inspector. */
export interface TickEvent {
  type: 'tick';
  atMs: number;
  /** When the shell last heard from each worker (heartbeat answers), by worker id. */
  lastHeardAtMs?: Record<string, number>;
}
