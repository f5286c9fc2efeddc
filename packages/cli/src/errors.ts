/**
 * Every failure mode of the `ringtrain` command, one class each, with a stable string `code`.
 */

export const CLI_ERROR_CODES = {
  invalidArgument: 'RINGTRAIN_CLI_INVALID_ARGUMENT',
  missingToken: 'RINGTRAIN_CLI_MISSING_TOKEN',
  workerExited: 'RINGTRAIN_CLI_WORKER_EXITED',
} as const;

export type CliErrorCode = (typeof CLI_ERROR_CODES)[keyof typeof CLI_ERROR_CODES];

export abstract class CliError extends Error {
  abstract readonly code: CliErrorCode;

  constructor(message: string, options?: ErrorOptions) {
    super(message, options);
    this.name = new.target.name;
  }
}

/** A command-line option has a value the command cannot use. */
export class InvalidArgumentError extends CliError {
  readonly code = CLI_ERROR_CODES.invalidArgument;
}

/** `coordinator` and `worker` need the run's token (`--token` or RINGTRAIN_TOKEN). */
export class MissingTokenError extends CliError {
  readonly code = CLI_ERROR_CODES.missingToken;
}

/** A worker process the launcher started exited before the run ended. */
export class WorkerExitedError extends CliError {
  readonly code = CLI_ERROR_CODES.workerExited;
}
