/** Runs Debian's `promtool` (package `prometheus`) and returns what it said. */
import { spawnSync } from 'node:child_process';

export interface PromtoolResult {
  status: number | null;
  stdout: string;
  stderr: string;
  /** stdout and stderr together, for assertion messages. */
  output: string;
}

/** Runs `promtool ...args`, feeding `input` on stdin when given. */
export function promtool(args: readonly string[], options: { input?: string; cwd?: string } = {}): PromtoolResult {
  const result = spawnSync('promtool', args, {
    input: options.input ?? '',
    cwd: options.cwd,
    encoding: 'utf8',
    timeout: 60_000,
  });
  if (result.error) {
    throw new Error(`could not run promtool (install Debian's prometheus package): ${result.error.message}`);
  }
  return {
    status: result.status,
    stdout: result.stdout,
    stderr: result.stderr,
    output: `${result.stdout}${result.stderr}`.trim(),
  };
}
