export { buildProgram, main } from './main.ts';
export { CLI_ERROR_CODES, CliError, InvalidArgumentError, MissingTokenError, WorkerExitedError } from './errors.ts';
export type { CliErrorCode } from './errors.ts';
export { summarize, formatSummary, writeSummaryJson } from './summary.ts';
export type { RunSummary } from './summary.ts';
export { generateToken, requireToken, TOKEN_ENV } from './token.ts';
export { PRESETS, recipeOf, coordinatorOptionsFrom } from './training-options.ts';
