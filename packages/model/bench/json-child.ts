/** Running one benchmark measurement in a child process of its own and reading its result. */
import { spawn } from 'node:child_process';

/**
 * Runs `command args`, and resolves with the JSON object the child prints as its last line of
 * standard output. A child that exits non-zero or prints no object rejects with `describe` and
 * its last line of standard error.
 */
export function runJsonChild<T>(command: string, args: readonly string[], describe: string): Promise<T> {
  return new Promise((resolve, reject) => {
    const child = spawn(command, args, { stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (chunk: Buffer) => (stdout += chunk.toString()));
    child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
    child.on('error', reject);
    child.on('close', (code) => {
      const line = stdout.trim().split('\n').at(-1) ?? '';
      if (code !== 0 || !line.startsWith('{')) {
        reject(new Error(`${describe} failed (exit ${code}): ${stderr.trim().split('\n').at(-1) ?? ''}`));
        return;
      }
      resolve(JSON.parse(line) as T);
    });
  });
}
