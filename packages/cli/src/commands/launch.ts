/**
 * `ringtrain launch`: a whole run on this machine. The coordinator runs in this process; each
 * worker is a child process (`ringtrain worker`) given a fresh random token through its
 * environment. Ctrl-C stops the run: workers get `stop`, and any still alive after a grace
 * period are killed.
 *
 * A worker that dies during the run does not end it: the coordinator goes on with the others
 * (down to `--min-workers`), and the launcher starts a replacement (up to `--max-restarts` per
 * worker), which joins the running job at the next generation.
 *
 * The children log in the launcher's format (`--log-format auto` is decided by the launcher's
 * own stderr, not by the pipe a child writes to) and level, and their lines are passed on to the
 * launcher's stderr as they come. With `--worker-metrics-port-base N` worker i serves its
 * `/metrics` and `/healthz` on port N+i.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Command, Option } from 'commander';
import { integerIn } from '../arguments.ts';
import { dashboardUrl, startCoordinator } from '../coordinator-runner.ts';
import { InvalidArgumentError, WorkerExitedError } from '../errors.ts';
import { checkMemory, type MemoryCheckFlags } from '../memory-check.ts';
import { addTlsOptions, coordinatorTlsFrom, tlsArguments, type TlsFlags } from '../tls-options.ts';
import { createLogger, resolveLogFormat, type LogFormat, type LogLevel } from '../logging.ts';
import { createProgressView } from '../progress.ts';
import { formatSummary, summarize, writeSummaryJson } from '../summary.ts';
import { addTokenOptions, findToken, generateToken, TOKEN_ENV, type TokenFlags, addHttpTokenOption, findHttpToken, httpTokenOption, type HttpTokenFlags } from '../token.ts';
import { addMembershipOptions, membershipOptionsFrom, type MembershipFlags } from '../membership-options.ts';
import { addAdmissionOptions, admissionOptionsFrom, type AdmissionFlags } from '../admission-options.ts';
import { addTrainingOptions, coordinatorOptionsFrom, recipeOf, type TrainingFlags } from '../training-options.ts';
import { describeRecipe } from '../recipes.ts';
import { resolvePrecision, workerBackendFor } from '../precision.ts';

export interface LaunchFlags extends TrainingFlags, MembershipFlags, AdmissionFlags, TokenFlags, HttpTokenFlags, MemoryCheckFlags, TlsFlags {
  workers: number;
  minWorkers: number;
  maxRestarts: number;
  host: string;
  port: number;
  stepLogDir?: string;
  workerMetricsPortBase: number;
  computeThread: boolean;
}

const BIN = fileURLToPath(new URL('../../bin/ringtrain.js', import.meta.url));
/** How long workers get to leave on their own after `stop` before they are killed. */
const KILL_GRACE_MS = 5000;
/**
 * How long the rendezvous waits for the last workers once --min-workers joined (the run starts at
 * once when all did), and how long joins settle before a replacement enters a running job.
 */
const SETTLE_MS = 30_000;

export function launchCommand(): Command {
  const command = new Command('launch')
    .description('train on this machine: a coordinator and N worker processes, with a live progress bar and a final summary (kill -USR2 <pid> takes a checkpoint now)')
    .addOption(new Option('--workers <n>', 'worker processes to start').argParser(integerIn(1, 64)).default(2))
    .addOption(new Option('--min-workers <n>', 'workers the run goes on with when others die (below it, it waits for replacements)').argParser(integerIn(1, 64)).default(1))
    .addOption(new Option('--max-restarts <n>', 'replacements started per worker that dies during the run').argParser(integerIn(0, 1000)).default(3))
    .addOption(new Option('--host <addr>', 'address the coordinator binds to').default('127.0.0.1'))
    .addOption(new Option('--port <n>', 'the coordinator\'s one port for workers and HTTP (the dashboard at /, /status, /metrics, /healthz); 0 picks a free one').argParser(integerIn(0, 65_535)).default(7070))
    .addOption(new Option('--step-log-dir <dir>', 'each worker writes the sample indices of every step it trains to DIR/worker-N.jsonl (diagnostics)'))
    .addOption(
      new Option('--worker-metrics-port-base <n>', 'worker i serves /metrics and /healthz on port N+i, on --host (0: workers serve no metrics)').argParser(integerIn(0, 65_535)).default(0),
    )
    .option('--no-compute-thread', 'workers compute steps on the thread that holds their connections (heartbeats then wait for each step)')
    .option('--no-memory-check', 'start even when the estimated memory of the workers and the coordinator exceeds this machine\'s');
  addTokenOptions(command, 'the shared secret of the run', 'a random one, passed to the workers in their environment');
  addHttpTokenOption(command);
  addTlsOptions(command, 'coordinator');
  addMembershipOptions(command);
  addAdmissionOptions(command);
  addTrainingOptions(command);
  return command.action(async (flags: LaunchFlags) => {
    process.exitCode = await runLaunch(flags);
  });
}

/**
 * The `ringtrain` arguments of worker `index`: its id, the launcher's log level and resolved log
 * format, and its metrics port (base + index, or 0 for none).
 */
export function workerArguments(
  flags: Pick<LaunchFlags, 'backend' | 'host' | 'workerMetricsPortBase' | 'stepLogDir' | 'workers'> & { computeThread?: boolean; memoryCheck?: boolean } & TlsFlags,
  index: number,
  coordinatorUrl: string,
  log: { level: LogLevel; format: LogFormat },
  restart = 0,
): string[] {
  const metricsPort = flags.workerMetricsPortBase === 0 ? 0 : flags.workerMetricsPortBase + index;
  const id = restart === 0 ? `worker-${index}` : `worker-${index}-r${restart}`;
  const args = ['worker', '--coordinator', coordinatorUrl, '--backend', flags.backend, '--worker-id', id];
  // Local workers share this machine's cores; each takes its part for its thread pool.
  args.push('--workers-per-machine', String(flags.workers));
  args.push('--log-level', log.level, '--log-format', log.format, '--metrics-host', flags.host, '--metrics-port', String(metricsPort));
  if (flags.stepLogDir !== undefined) args.push('--step-log', join(flags.stepLogDir, `${id}.jsonl`));
  if (flags.computeThread === false) args.push('--no-compute-thread');
  if (flags.memoryCheck === false) args.push('--no-memory-check');
  // Local workers trust the coordinator's certificate and show it, to the coordinator and to each other.
  args.push(...tlsArguments({ ...flags, ...(flags.tlsCa === undefined && flags.tlsCert !== undefined ? { tlsCa: flags.tlsCert } : {}) }));
  return args;
}

/** Creates --step-log-dir up front: a worker that cannot write its log would die at every restart. */
function createStepLogDir(dir: string): void {
  try {
    mkdirSync(dir, { recursive: true });
  } catch (error) {
    throw new InvalidArgumentError(`--step-log-dir ${dir} cannot be created: ${(error as Error).message}`);
  }
}

interface Child {
  index: number;
  restart: number;
  process: ChildProcess;
  tail: string[];
  exited: Promise<number | null>;
}

async function runLaunch(flags: LaunchFlags): Promise<number> {
  const startedAt = Date.now();
  const token = findToken(flags, {}, (text) => process.stderr.write(`ringtrain launch: warning: ${text}\n`)) ?? generateToken();
  const logLevel = flags.logLevel ?? 'warn';
  const logFormat = resolveLogFormat(flags.logFormat);
  if (flags.minWorkers > flags.workers) {
    throw new InvalidArgumentError(`--min-workers ${flags.minWorkers} is more than the ${flags.workers} --workers this launch starts`);
  }
  // The workers run here, so a precision they cannot compute is refused now, not by each of them.
  const recipe = { ...recipeOf(flags), precision: resolvePrecision(recipeOf(flags).precision, { local: true, backend: flags.backend }) };
  const { batchSize } = recipe;
  if (batchSize % flags.workers !== 0) {
    const below = batchSize - (batchSize % flags.workers);
    throw new InvalidArgumentError(
      `--batch-size ${batchSize} does not split evenly over --workers ${flags.workers} (${(batchSize / flags.workers).toFixed(2)} each): use ${below > 0 ? `${below} or ` : ''}${below + flags.workers}`,
    );
  }
  if (flags.workerMetricsPortBase !== 0 && flags.workerMetricsPortBase + flags.workers - 1 > 65_535) {
    throw new InvalidArgumentError(`--worker-metrics-port-base ${flags.workerMetricsPortBase} leaves no port for worker ${flags.workers - 1}: ports end at 65535`);
  }
  const trainingOptions = coordinatorOptionsFrom(flags, token, recipe.precision);
  const tls = coordinatorTlsFrom(flags);
  const depth = trainingOptions.model?.depth;
  if (flags.memoryCheck && depth !== undefined) checkMemory({ ...trainingOptions.model, depth }, batchSize / flags.workers, flags.workers, true, undefined, { weightAverage: recipe.emaDecay > 0, delayedAllReduce: flags.delayedAllreduce });
  // Once every check has passed, so that a refused launch leaves nothing behind.
  if (flags.stepLogDir !== undefined) createStepLogDir(flags.stepLogDir);
  const logger = createLogger({ level: logLevel, format: logFormat, name: 'coordinator' });
  const view = createProgressView();
  const options = {
    ...trainingOptions,
    host: flags.host,
    port: flags.port,
    ...membershipOptionsFrom(flags),
    ...admissionOptionsFrom(flags),
    ...(tls === undefined ? {} : { tls }),
    ...httpTokenOption(findHttpToken(flags, process.env, (text) => process.stderr.write(`ringtrain launch: warning: ${text}\n`))),
    minWorkers: flags.minWorkers,
    maxWorkers: flags.workers,
    rendezvousSettleMs: flags.minWorkers === flags.workers ? 0 : SETTLE_MS,
  };
  const { server, url } = await startCoordinator(options, flags, { logger, onProgress: (p) => view.update(p) });
  const { imageSize, epochs } = recipe;
  view.note(`ringtrain: ${flags.model} (${recipe.stem} stem, ${imageSize}×${imageSize}), ${epochs} epoch(s), ${flags.workers} workers, coordinator on ${url}`);
  view.note(describeRecipe(recipe, flags.preset));
  view.note(`dashboard on ${dashboardUrl(url)}`);
  // Colours survive the pipe when the launcher itself writes to a terminal.
  const childEnv: NodeJS.ProcessEnv = { ...process.env, [TOKEN_ENV]: token };
  if (logFormat === 'pretty' && process.stderr.isTTY === true) childEnv['FORCE_COLOR'] = '1';

  const children: Child[] = [];
  let ending = false;
  const spawnWorker = (index: number, restart: number): void => {
    const args = [BIN, ...workerArguments({ ...flags, backend: workerBackendFor(recipe.precision, flags.backend) }, index, url, { level: logLevel, format: logFormat }, restart)];
    // Own process group: Ctrl-C reaches the launcher alone, which stops the run in order. A worker
    // whose launcher dies loses its coordinator connection and exits by itself.
    const child = spawn(process.execPath, args, { env: childEnv, stdio: ['ignore', 'pipe', 'pipe'], detached: true });
    const record: Child = {
      index,
      restart,
      process: child,
      tail: [],
      exited: new Promise((resolve) => child.once('exit', (code) => resolve(code))),
    };
    // Whole lines only, so the children's lines never interleave mid-line on the launcher's stderr.
    let partial = '';
    const pass = (chunk: Buffer): void => {
      const lines = (partial + chunk.toString('utf8')).split('\n');
      partial = lines.pop() ?? '';
      const complete = lines.filter((line) => line.trim() !== '');
      if (complete.length === 0) return;
      record.tail.push(...complete);
      record.tail.splice(0, Math.max(0, record.tail.length - 20));
      view.note(complete.join('\n'), process.stderr);
    };
    child.stdout?.on('data', pass);
    child.stderr?.on('data', pass);
    child.once('exit', () => {
      if (partial.trim() !== '') view.note(partial, process.stderr);
    });
    void record.exited.then((code) => {
      if (ending || code === 0) return;
      const last = record.tail[record.tail.length - 1] ?? 'no output';
      const started = server.snapshot !== null && server.snapshot.phase !== 'rendezvous';
      if (started && restart < flags.maxRestarts) {
        view.note(`worker ${index} exited with code ${String(code)} (${last}); starting a replacement (restart ${restart + 1} of ${flags.maxRestarts})`, process.stderr);
        spawnWorker(index, restart + 1);
        return;
      }
      // A worker that dies before the run starts (a bad backend, no data) would leave the rendezvous waiting.
      if (!started) {
        server.stop(new WorkerExitedError(`worker ${index} exited with code ${String(code)} before the run started: ${last}`).message);
        return;
      }
      view.note(`worker ${index} exited with code ${String(code)} (${last}); no restarts left (--max-restarts ${flags.maxRestarts})`, process.stderr);
    });
    children.push(record);
  };
  for (let index = 0; index < flags.workers; index++) spawnWorker(index, 0);

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
      stem: recipe.stem,
      imageSize,
      widthMultiplier: recipe.width,
      recipe: describeRecipe(recipe, flags.preset),
      backends: [...server.backends.values()],
      compression: server.options.compression,
      precision: server.options.precision,
    });
    process.stdout.write(`\n${formatSummary(summary)}\n`);
    if (flags.summaryJson !== undefined) await writeSummaryJson(flags.summaryJson, summary);
  } catch (error) {
    ending = true;
    view.stop();
    process.stderr.write(`ringtrain launch: the run failed: ${(error as Error).message}\n`);
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
