/**
 * Worker processes started by hand against a coordinator (as on separate hosts), each with its
 * own step log, and polling until something shows in their output or on disk.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { BIN } from '../launch-helpers.ts';

export interface WorkerProcess {
  child: ChildProcess;
  exited: Promise<number | null>;
  output: () => string;
}

/** `ringtrain worker` with id `id`, its step log at `dir/id.jsonl`, the token in the environment. */
export function startWorker(url: string, dir: string, id: string, token: string, extra: string[] = []): WorkerProcess {
  const child = spawn(
    process.execPath,
    [BIN, 'worker', '--coordinator', url, '--worker-id', id, '--workers-per-machine', '3', '--metrics-port', '0', '--log-format', 'json', '--step-log', join(dir, `${id}.jsonl`), ...extra],
    { env: { ...process.env, RINGTRAIN_TOKEN: token }, stdio: ['ignore', 'pipe', 'pipe'] },
  );
  let output = '';
  child.stdout?.on('data', (chunk: Buffer) => (output += chunk.toString()));
  child.stderr?.on('data', (chunk: Buffer) => (output += chunk.toString()));
  return { child, exited: new Promise((resolve) => child.once('exit', (code) => resolve(code))), output: () => output };
}

export async function readJsonLines<T>(path: string): Promise<T[]> {
  const text = await readFile(path, 'utf8').catch(() => '');
  return text
    .split('\n')
    .filter((l) => l.trim() !== '')
    .map((l) => JSON.parse(l) as T);
}

/** Polls `condition` every 50 ms; the clock only bounds how long it may take. */
export async function until(what: string, condition: () => Promise<boolean> | boolean, timeoutMs = 240_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await condition())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting until ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}
