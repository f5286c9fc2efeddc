/**
 * Every failure mode of `@ringtrain/coordinator`, one class each, with a stable string `code`
 * that callers (the CLI, tests, log queries) match on instead of the message text.
 */

import { CONNECTION_ERROR_CODES } from '@ringtrain/protocol';

/** The stable codes of this package's errors (those a worker also sees come from the protocol's table). */
export const COORDINATOR_ERROR_CODES = {
  invalidOption: 'RINGTRAIN_COORDINATOR_INVALID_OPTION',
  rendezvousTimeout: 'RINGTRAIN_RENDEZVOUS_TIMEOUT',
  workerLost: 'RINGTRAIN_WORKER_LOST',
  stalled: 'RINGTRAIN_STALLED',
  divergence: 'RINGTRAIN_REPLICAS_DIVERGED',
  protocolViolation: CONNECTION_ERROR_CODES.protocolViolation,
  workerFailed: 'RINGTRAIN_WORKER_FAILED',
  checkpointCorrupt: 'RINGTRAIN_CHECKPOINT_CORRUPT',
  checkpointMismatch: 'RINGTRAIN_CHECKPOINT_MISMATCH',
  checkpointNotFound: 'RINGTRAIN_CHECKPOINT_NOT_FOUND',
  checkpointWrite: 'RINGTRAIN_CHECKPOINT_WRITE',
  interrupted: 'RINGTRAIN_INTERRUPTED',
  joinRefused: CONNECTION_ERROR_CODES.joinRefused,
  runOver: CONNECTION_ERROR_CODES.runOver,
  stragglerEvicted: CONNECTION_ERROR_CODES.stragglerEvicted,
  portUnavailable: 'RINGTRAIN_COORDINATOR_PORT_UNAVAILABLE',
} as const;

export type CoordinatorErrorCode = (typeof COORDINATOR_ERROR_CODES)[keyof typeof COORDINATOR_ERROR_CODES];

/** The base of every error thrown by `@ringtrain/coordinator`. */
export abstract class CoordinatorError extends Error {
  abstract readonly code: CoordinatorErrorCode;

  constructor(message: string, options?: ErrorOptions) {
    super(message, options);
    this.name = new.target.name;
  }
}

/** An option has a value the coordinator cannot use; the message names the option and the value. */
export class InvalidCoordinatorOptionError extends CoordinatorError {
  readonly code = COORDINATOR_ERROR_CODES.invalidOption;
}

/** Fewer than `minWorkers` workers joined within `rendezvousTimeoutMs`. */
export class RendezvousTimeoutError extends CoordinatorError {
  readonly code = COORDINATOR_ERROR_CODES.rendezvousTimeout;
}

/** A worker of the running generation disconnected or stopped answering heartbeats. */
export class WorkerLostError extends CoordinatorError {
  readonly code = COORDINATOR_ERROR_CODES.workerLost;
}

/** Some ranks did not answer within `stallTimeoutMs`; the message names them. */
export class StalledError extends CoordinatorError {
  readonly code = COORDINATOR_ERROR_CODES.stalled;
}

/** Replicas reported different weight checksums for the same step. */
export class ReplicaDivergenceError extends CoordinatorError {
  readonly code = COORDINATOR_ERROR_CODES.divergence;
}

/** A worker sent a valid message at a moment it makes no sense (wrong step, wrong phase). */
export class ProtocolViolationError extends CoordinatorError {
  readonly code = COORDINATOR_ERROR_CODES.protocolViolation;
}

/** A worker reported an error of its own and left. */
export class WorkerFailedError extends CoordinatorError {
  readonly code = COORDINATOR_ERROR_CODES.workerFailed;
}

/** A checkpoint file is truncated, has a bad header or fails its checksum. */
export class CheckpointCorruptError extends CoordinatorError {
  readonly code = COORDINATOR_ERROR_CODES.checkpointCorrupt;
}

/** A checkpoint was written for another model than the one asked for. */
export class CheckpointMismatchError extends CoordinatorError {
  readonly code = COORDINATOR_ERROR_CODES.checkpointMismatch;
}

/** `--resume` found no valid checkpoint in the directory. */
export class CheckpointNotFoundError extends CoordinatorError {
  readonly code = COORDINATOR_ERROR_CODES.checkpointNotFound;
}

/** Writing a checkpoint failed (disk full, permissions). */
export class CheckpointWriteError extends CoordinatorError {
  readonly code = COORDINATOR_ERROR_CODES.checkpointWrite;
}

/** The run was stopped from outside (Ctrl-C, `stop()`). */
export class InterruptedError extends CoordinatorError {
  readonly code = COORDINATOR_ERROR_CODES.interrupted;
}

/** A worker may not join now (duplicate id, ring full, run already started or over). */
export class JoinRefusedError extends CoordinatorError {
  readonly code = COORDINATOR_ERROR_CODES.joinRefused;
}

/** The coordinator's port could not be opened (in use, not permitted, no such address). */
export class PortUnavailableError extends CoordinatorError {
  readonly code = COORDINATOR_ERROR_CODES.portUnavailable;
}

/** The run ended in failure; `code` is the machine's code for why (worker lost, stalled, diverged...). */
export class RunFailedError extends CoordinatorError {
  constructor(
    readonly code: CoordinatorErrorCode,
    message: string,
  ) {
    super(message);
  }
}
