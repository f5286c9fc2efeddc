/**
 * `ringtrain launch`: a whole run on this machine. The coordinator runs in this process; each
 * worker is a child process (`ringtrain worker`) given a fresh random token through its
 * environment. Ctrl-C stops the run: workers get `stop`, and any still alive after a grace
 * period are killed.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Command, Option } from 'commander';
import { integerIn } from '../arguments.ts';
import { startCoordinator } from '../coordinator-runner.ts';
import { WorkerExitedError } from '../errors.ts';
import { createLogger } from '../logging.ts';
import { createProgressView } from '../progress.ts';
import { formatSummary, summarize, writeSummaryJson } from '../summary.ts';
import { generateToken, TOKEN_ENV } from '../token.ts';
import { addTrainingOptions, coordinatorOptionsFrom, recipeOf, type TrainingFlags } from '../training-options.ts';

export interface LaunchFlags extends TrainingFlags {
  workers: number;
  host: string;
  port: number;
  token?: string;
  heartbeatTimeoutMs: number;
  stallTimeoutMs: number;
  stepLogDir?: string;
}

const BIN = fileURLToPath(new URL('../../bin/ringtrain.js', import.meta.url));
/** How long workers get to leave on their own after `stop` before they are killed. */
const KILL_GRACE_MS = 5000;

export function launchCommand(): Command {
  const command = new Command('launch')
    .description('train on this machine: a coordinator and N worker processes, with a live progress bar and a final summary (kill -USR2 <pid> takes a checkpoint now)')
    .addOption(new Option('--workers <n>', 'worker processes to start').argParser(integerIn(1, 64)).default(2))
    .addOption(new Option('--host <addr>', 'address the coordinator binds to').default('127.0.0.1'))
    .addOption(new Option('--port <n>', 'the coordinator\'s one port for WebSocket and HTTP (/healthz); 0 picks a free one').argParser(integerIn(0, 65_535)).default(7070))
    .addOption(new Option('--token <token>', 'shared secret of the run (default: a random one, passed to the workers)'))
    .addOption(new Option('--heartbeat-timeout-ms <ms>', 'a worker silent this long is lost').argParser(integerIn(10)).default(120_000))
    .addOption(new Option('--stall-timeout-ms <ms>', 'fail the run when a step waits this long (0: never)').argParser(integerIn(0)).default(1_800_000))
    .addOption(new Option('--step-log-dir <dir>', 'each worker writes the sample indices of every step it trains to DIR/worker-N.jsonl (diagnostics)'));
  addTrainingOptions(command);
  return command.action(async (flags: LaunchFlags) => {
    process.exitCode = await runLaunch(flags);
  });
}

interface Child {
  index: number;
  process: ChildProcess;
  tail: string[];
  exited: Promise<number | null>;
}

async function runLaunch(flags: LaunchFlags): Promise<number> {
  const startedAt = Date.now();
  const token = flags.token ?? generateToken();
  const logLevel = flags.logLevel ?? 'warn';
  const logger = createLogger(logLevel, 'coordinator');
  const view = createProgressView();
  const options = {
    ...coordinatorOptionsFrom(flags, token),
    host: flags.host,
    port: flags.port,
    minWorkers: flags.workers,
    maxWorkers: flags.workers,
    rendezvousSettleMs: 0,
    heartbeatTimeoutMs: flags.heartbeatTimeoutMs,
    stallTimeoutMs: flags.stallTimeoutMs,
  };
  const { server, url } = await startCoordinator(options, flags, { logger, onProgress: (p) => view.update(p) });
  const { imageSize, epochs } = recipeOf(flags);
  view.note(`ringtrain: ${flags.model} (${flags.stem} stem, ${imageSize}×${imageSize}), ${epochs} epoch(s), ${flags.workers} workers, coordinator on ${url}`);

  const children: Child[] = [];
  let ending = false;
  for (let index = 0; index < flags.workers; index++) {
    const args = [BIN, 'worker', '--coordinator', url, '--backend', flags.backend, '--worker-id', `worker-${index}`, '--log-level', logLevel];
    if (flags.stepLogDir !== undefined) args.push('--step-log', join(flags.stepLogDir, `worker-${index}.jsonl`));
    // Own process group: Ctrl-C reaches the launcher alone, which stops the run in order. A worker
    // whose launcher dies loses its coordinator connection and exits by itself.
    const child = spawn(process.execPath, args, { env: { ...process.env, [TOKEN_ENV]: token }, stdio: ['ignore', 'pipe', 'pipe'], detached: true });
    const record: Child = {
      index,
      process: child,
      tail: [],
      exited: new Promise((resolve) => child.once('exit', (code) => resolve(code))),
    };
    const keep = (chunk: Buffer): void => {
      for (const line of chunk.toString('utf8').split('\n')) if (line.trim() !== '') record.tail.push(line);
      record.tail.splice(0, Math.max(0, record.tail.length - 20));
    };
    child.stdout?.on('data', keep);
    child.stderr?.on('data', keep);
    void record.exited.then((code) => {
      // A worker that dies before it joined would leave the rendezvous waiting; end the run instead.
      if (!ending && code !== 0) {
        const error = new WorkerExitedError(`worker ${index} exited with code ${String(code)}: ${record.tail[record.tail.length - 1] ?? 'no output'}`);
        server.stop(error.message);
      }
    });
    children.push(record);
  }

  let interrupted = false;
  const onSignal = (signal: string): void => {
    interrupted = true;
    view.note(`\n${signal}: stopping the run`);
    server.stop(`interrupted by ${signal}`);
  };
  const onSigint = (): void => onSignal('SIGINT');
  const onSigterm = (): void => onSignal('SIGTERM');
  const onSigusr2 = (): void => server.requestCheckpoint();
  process.once('SIGINT', onSigint);
  process.once('SIGTERM', onSigterm);
  process.on('SIGUSR2', onSigusr2);

  let exitCode = 0;
  try {
    const result = await server.done;
    ending = true;
    view.stop();
    const summary = summarize(result, {
      wallSeconds: (Date.now() - startedAt) / 1000,
      model: flags.model,
      stem: flags.stem,
      imageSize,
      widthMultiplier: flags.width,
      backends: [...server.backends.values()],
    });
    process.stdout.write(`\n${formatSummary(summary)}\n`);
    if (flags.summaryJson !== undefined) await writeSummaryJson(flags.summaryJson, summary);
  } catch (error) {
    ending = true;
    view.stop();
    process.stderr.write(`ringtrain launch: the run failed: ${(error as Error).message}\n`);
    for (const child of children) {
      if (child.tail.length > 0) process.stderr.write(`--- last output of worker ${child.index}:\n${child.tail.join('\n')}\n`);
    }
    exitCode = interrupted ? 130 : 1;
  } finally {
    process.off('SIGINT', onSigint);
    process.off('SIGTERM', onSigterm);
    process.off('SIGUSR2', onSigusr2);
    await stopChildren(children);
    await server.close();
  }
  return exitCode;
}

/** Waits for the workers to leave after `stop`; kills those still alive after the grace period. */
async function stopChildren(children: Child[]): Promise<void> {
  await Promise.all(
    children.map(async (child) => {
      if (child.process.exitCode !== null) return;
      const timer = setTimeout(() => child.process.kill('SIGKILL'), KILL_GRACE_MS);
      await child.exited;
      clearTimeout(timer);
    }),
  );
}
