/**
 * How many threads the native kernels use. oneDNN (built on OpenMP in Debian) and the addon's own
 * loops share one pool; several workers on one machine should split the cores between them
 * rather than each taking all of them, which oversubscribes the machine and makes every
 * OpenMP barrier wait on a descheduled thread. (Idle OpenMP threads sleep rather than spin by
 * default, see `addon.ts`; OMP_WAIT_POLICY=active wins about a tenth on a dedicated machine.)
 */
import { availableParallelism } from 'node:os';

import { InvalidNativeOptionsError } from './errors.ts';

export interface ThreadDefaultsOptions {
  /**
   * Workers computing on this machine at the same time; each gets its share of the cores.
   * @default 1
   */
  readonly workersPerMachine?: number;
  /**
   * Cores of the machine.
   * @default os.availableParallelism()
   */
  readonly cores?: number;
  /**
   * Environment consulted for an explicit count: `RINGTRAIN_NATIVE_THREADS`, then `OMP_NUM_THREADS`.
   * @default process.env
   */
  readonly env?: Readonly<Record<string, string | undefined>>;
}

/**
 * An explicit count from the environment when there is one, else the machine's cores divided
 * among its workers, at least 1.
 * @throws InvalidNativeOptionsError for a count in the environment that is not a positive integer
 */
export function defaultNativeThreads(options: ThreadDefaultsOptions = {}): number {
  const env = options.env ?? process.env;
  for (const name of ['RINGTRAIN_NATIVE_THREADS', 'OMP_NUM_THREADS']) {
    const value = env[name];
    if (value === undefined || value.trim() === '') continue;
    // OMP_NUM_THREADS may list counts per nesting level ("4,2"); the first is ours.
    const count = Number(value.split(',')[0]);
    if (!Number.isInteger(count) || count < 1) {
      throw new InvalidNativeOptionsError(`${name} must be a positive integer, got '${value}'`);
    }
    return count;
  }
  const workers = options.workersPerMachine ?? 1;
  if (!Number.isInteger(workers) || workers < 1) {
    throw new InvalidNativeOptionsError(`workersPerMachine must be a positive integer, got ${String(workers)}`);
  }
  const cores = options.cores ?? availableParallelism();
  return Math.max(1, Math.floor(cores / workers));
}
