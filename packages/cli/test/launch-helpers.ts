/**
 * Running `ringtrain` as a real child process, for the integration suites and the benchmark.
 */
import { spawn } from 'node:child_process';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { RunSummary } from '../src/index.ts';

export const BIN = fileURLToPath(new URL('../bin/ringtrain.js', import.meta.url));

export interface RunningCommand {
  /** Resolves with the exit code and everything printed. */
  exited: Promise<{ code: number | null; stdout: string; stderr: string }>;
  /** Resolves with the coordinator's URL once the launcher printed it. */
  url: Promise<string>;
  /** Everything printed so far, stdout then stderr. */
  output(): string;
  kill(signal?: NodeJS.Signals): void;
  /** The process id of `ringtrain`. */
  pid: number;
}

/** Starts `ringtrain ...args`; stdout is not a TTY, so progress comes as plain lines. */
export function runRingtrain(args: string[], env: NodeJS.ProcessEnv = {}): RunningCommand {
  const child = spawn(process.execPath, [BIN, ...args], { env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
  let stdout = '';
  let stderr = '';
  let resolveUrl!: (url: string) => void;
  let rejectUrl!: (error: Error) => void;
  const url = new Promise<string>((resolve, reject) => {
    resolveUrl = resolve;
    rejectUrl = reject;
  });
  url.catch(() => {});
  child.stdout.on('data', (chunk: Buffer) => {
    stdout += chunk.toString();
    const match = /coordinator (?:listening )?on (wss?:\/\/[\d.]+:\d+)/.exec(stdout);
    if (match?.[1] !== undefined) resolveUrl(match[1]);
  });
  child.stderr.on('data', (chunk: Buffer) => {
    stderr += chunk.toString();
  });
  const exited = new Promise<{ code: number | null; stdout: string; stderr: string }>((resolve) => {
    child.once('exit', (code) => {
      rejectUrl(new Error(`ringtrain exited (${String(code)}) before printing its coordinator URL:\n${stdout}\n${stderr}`));
      resolve({ code, stdout, stderr });
    });
  });
  return { exited, url, output: () => `${stdout}\n${stderr}`, kill: (signal = 'SIGINT') => child.kill(signal), pid: child.pid ?? -1 };
}

export async function readSummary(path: string): Promise<RunSummary> {
  return JSON.parse(await readFile(path, 'utf8')) as RunSummary;
}

/** One line of a worker's --step-log. */
export interface StepLine {
  step: number;
  epoch: number;
  loss: number;
  indices: number[];
}

export async function readStepLog(path: string): Promise<StepLine[]> {
  const text = await readFile(path, 'utf8');
  return text
    .split('\n')
    .filter((l) => l.trim() !== '')
    .map((l) => JSON.parse(l) as StepLine);
}

/**
 * The loss each worker of a launch computed at its first step, keyed by the samples of that
 * batch (sorted). Which worker joins first, and so which shard it trains, varies from run to run;
 * keying by the batch lets two launches be compared shard for shard.
 */
export async function firstStepLossByBatch(logDir: string, workers: number): Promise<Map<string, number>> {
  const losses = new Map<string, number>();
  for (let i = 0; i < workers; i++) {
    const first = (await readStepLog(join(logDir, `worker-${String(i)}.jsonl`))).find((line) => line.step === 0);
    if (first === undefined) throw new Error(`worker-${String(i)}.jsonl in ${logDir} has no line for step 0`);
    losses.set([...first.indices].sort((a, b) => a - b).join(','), first.loss);
  }
  return losses;
}
