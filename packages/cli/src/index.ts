export { buildProgram, main } from './main.ts';
export { CLI_ERROR_CODES, CliError, InvalidArgumentError, MissingTokenError, WorkerExitedError } from './errors.ts';
export type { CliErrorCode } from './errors.ts';
export { summarize, formatSummary, writeSummaryJson } from './summary.ts';
export type { RunSummary } from './summary.ts';
export { generateToken, requireToken, TOKEN_ENV } from './token.ts';
export { recipeOf, coordinatorOptionsFrom } from './training-options.ts';
export { DEFAULT_RECIPE, PRESETS, describeRecipe, resolveRecipe } from './recipes.ts';
export type { Recipe, PresetName } from './recipes.ts';
