/**
 * Every failure mode of `@ringtrain/worker`'s control loop, one class each, with a stable string
 * `code` that the coordinator receives in the worker's last `error` message.
 */

/** The stable codes of this package's errors. */
export const WORKER_ERROR_CODES = {
  invalidOption: 'RINGTRAIN_WORKER_INVALID_OPTION',
  illegalTransition: 'RINGTRAIN_ILLEGAL_TRANSITION',
  refused: 'RINGTRAIN_REFUSED',
  unexpectedMessage: 'RINGTRAIN_UNEXPECTED_MESSAGE',
  connectionLost: 'RINGTRAIN_CONNECTION_LOST',
  connectFailed: 'RINGTRAIN_CONNECT_FAILED',
  missingData: 'RINGTRAIN_MISSING_DATA',
  trainingFailed: 'RINGTRAIN_TRAINING_FAILED',
  stopped: 'RINGTRAIN_STOPPED',
  metricsPort: 'RINGTRAIN_WORKER_METRICS_PORT',
  insufficientMemory: 'RINGTRAIN_WORKER_INSUFFICIENT_MEMORY',
} as const;

export type WorkerErrorCode = (typeof WORKER_ERROR_CODES)[keyof typeof WORKER_ERROR_CODES];

/** The base of every error thrown by `@ringtrain/worker`'s control loop. */
export abstract class WorkerError extends Error {
  abstract readonly code: WorkerErrorCode;
  /** The WebSocket close code this failure closes the coordinator connection with. */
  readonly closeCode: number = 1011;

  constructor(message: string, options?: ErrorOptions) {
    super(message, options);
    this.name = new.target.name;
  }
}

/** An option has a value the worker cannot use; the message names the option and the value. */
export class InvalidWorkerOptionError extends WorkerError {
  readonly code = WORKER_ERROR_CODES.invalidOption;
}

/** The connection lifecycle was asked to move between states that do not follow each other. */
export class IllegalTransitionError extends WorkerError {
  readonly code = WORKER_ERROR_CODES.illegalTransition;
}

/** The coordinator refused this worker (wrong token, wrong version, run full or over) and said why. */
export class RefusedError extends WorkerError {
  readonly code = WORKER_ERROR_CODES.refused;
  constructor(
    message: string,
    /** The coordinator's own error code. */
    readonly remoteCode: string,
  ) {
    super(message);
  }
}

/** The coordinator sent something this worker cannot accept now (malformed, wrong version, out of turn). */
export class RefusedMessageError extends WorkerError {
  readonly code = WORKER_ERROR_CODES.unexpectedMessage;
  constructor(
    message: string,
    override readonly closeCode: number = 1008,
  ) {
    super(message);
  }
}

/** The coordinator connection closed before `stop`. */
export class ConnectionLostError extends WorkerError {
  readonly code = WORKER_ERROR_CODES.connectionLost;
}

/** The coordinator could not be reached within `connectTimeoutMs`. */
export class ConnectFailedError extends WorkerError {
  readonly code = WORKER_ERROR_CODES.connectFailed;
}

/** A plan or evaluation names an image the coordinator never sent. */
export class MissingDataError extends WorkerError {
  readonly code = WORKER_ERROR_CODES.missingData;
  override readonly closeCode = 1008;
}

/** Training itself failed (model, backend, all-reduce). */
export class TrainingFailedError extends WorkerError {
  readonly code = WORKER_ERROR_CODES.trainingFailed;
}

/** The metrics port could not be opened (in use, not permitted, no such address). */
export class MetricsPortError extends WorkerError {
  readonly code = WORKER_ERROR_CODES.metricsPort;
}

/**
 * The compute thread failed or threw: a step, an evaluation or a state transfer went wrong there,
 * or the thread itself ended. The message carries the error thrown on the thread and its code.
 */
export class ComputeThreadError extends WorkerError {
  readonly code = WORKER_ERROR_CODES.trainingFailed;
  /** The `code` of the error thrown on the compute thread, when it had one. */
  readonly thrownCode: string | undefined;

  constructor(message: string, options?: ErrorOptions & { thrownCode?: string | undefined }) {
    super(message, options);
    this.thrownCode = options?.thrownCode;
  }
}

/** An assignment whose model and batch would not fit in the memory this worker may take. */
export class InsufficientMemoryError extends WorkerError {
  readonly code = WORKER_ERROR_CODES.insufficientMemory;
  override readonly closeCode = 1008;
}
