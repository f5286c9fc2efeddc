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
  | WorkerReadyEvent
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
}

/** A worker joined its ring and holds the initial state. */
export interface WorkerReadyEvent {
  type: 'worker-ready';
  atMs: number;
  workerId: string;
  generation: number;
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
}
