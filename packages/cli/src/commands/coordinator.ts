/** `ringtrain coordinator`: the control plane alone, for workers on other hosts. */
import { Command, Option } from 'commander';
import { integerIn } from '../arguments.ts';
import { dashboardUrl, startCoordinator } from '../coordinator-runner.ts';
import { createLogger } from '../logging.ts';
import { createProgressView } from '../progress.ts';
import { checkMemory, type MemoryCheckFlags } from '../memory-check.ts';
import { addTlsOptions, coordinatorTlsFrom, type TlsFlags } from '../tls-options.ts';
import { addMembershipOptions, membershipOptionsFrom, type MembershipFlags } from '../membership-options.ts';
import { addAdmissionOptions, admissionOptionsFrom, type AdmissionFlags } from '../admission-options.ts';
import { formatSummary, summarize, writeSummaryJson } from '../summary.ts';
import { addTokenOptions, requireToken, TOKEN_ENV, type TokenFlags, addHttpTokenOption, findHttpToken, httpTokenOption, type HttpTokenFlags } from '../token.ts';
import { addTrainingOptions, coordinatorOptionsFrom, recipeOf, type TrainingFlags } from '../training-options.ts';
import { describeRecipe } from '../recipes.ts';
import { resolvePrecision } from '../precision.ts';

export interface CoordinatorFlags extends TrainingFlags, MembershipFlags, AdmissionFlags, TokenFlags, HttpTokenFlags, MemoryCheckFlags, TlsFlags {
  host: string;
  port: number;
  minWorkers: number;
  maxWorkers?: number;
  rendezvousSettleMs: number;
  rendezvousTimeoutMs: number;
  ifFinished: IfFinished;
}

const IF_FINISHED = ['refuse', 'exit-0', 'serve'] as const;
type IfFinished = (typeof IF_FINISHED)[number];

export function addNetworkOptions(command: Command): Command {
  return command
    .addOption(new Option('--host <addr>', 'address the coordinator port binds to (0.0.0.0 for workers on other hosts)').default('127.0.0.1'))
    .addOption(new Option('--port <n>', 'the one port for workers (WebSocket) and HTTP: the dashboard at /, /status, /metrics, /healthz; 0 picks a free one').argParser(integerIn(0, 65_535)).default(7070))
    .addOption(new Option('--rendezvous-settle-ms <ms>', 'after --min-workers joined, wait this long for more').argParser(integerIn(0)).default(2000))
    .addOption(new Option('--rendezvous-timeout-ms <ms>', 'fail when --min-workers have not joined by then').argParser(integerIn(1)).default(600_000));
}

export function coordinatorCommand(): Command {
  const command = new Command('coordinator')
    .description('run the coordinator: accepts workers, shards the data, drives epochs, evaluation and checkpoints (kill -USR2 <pid> takes a checkpoint now)')
    .addOption(new Option('--min-workers <n>', 'workers needed to start, and to go on (below it the run waits for replacements)').argParser(integerIn(1, 1024)).default(2))
    .addOption(new Option('--max-workers <n>', 'workers accepted at most; more may join a running job up to this (default: --min-workers)').argParser(integerIn(1, 1024)));
  addNetworkOptions(command);
  addTokenOptions(command, 'the shared secret every worker must present', `$${TOKEN_ENV}`);
  addHttpTokenOption(command);
  addTlsOptions(command, 'coordinator');
  command.option('--no-memory-check', 'start even when the coordinator\'s estimated memory (the model\'s state, a few times over) exceeds this machine\'s');
  addMembershipOptions(command);
  addAdmissionOptions(command);
  addTrainingOptions(command);
  command.addOption(
    new Option(
      '--if-finished <what>',
      'a finished run (--resume finds its checkpoint of the last epoch): refuse it (exit 1, asking for more --epochs), exit-0 at once, or serve its dashboard, /status and /metrics until SIGTERM; serve also keeps serving a run that ends in this process instead of exiting',
    )
      .choices(IF_FINISHED)
      .default('refuse'),
  );
  return command.action(async (flags: CoordinatorFlags) => {
    process.exitCode = await runCoordinator(flags);
  });
}

async function runCoordinator(flags: CoordinatorFlags): Promise<number> {
  const startedAt = Date.now();
  const token = requireToken(flags, process.env, (text) => process.stderr.write(`ringtrain coordinator: warning: ${text}\n`));
  const precisionChoice = recipeOf(flags).precision;
  const trainingOptions = coordinatorOptionsFrom(flags, token, resolvePrecision(precisionChoice, { local: false }));
  if (precisionChoice === 'auto') {
    process.stderr.write(`ringtrain coordinator: precision auto${flags.precision === undefined ? ' (the preset\'s)' : ''} is f32 here, since this command cannot know what its workers compute on; pass --precision bf16 for workers with bf16 arithmetic\n`);
  }
  const tls = coordinatorTlsFrom(flags);
  const depth = trainingOptions.model?.depth;
  if (flags.memoryCheck && depth !== undefined) checkMemory({ ...trainingOptions.model, depth }, Math.max(1, Math.floor(recipeOf(flags).batchSize / flags.minWorkers)), 0, true, undefined, { weightAverage: recipeOf(flags).emaDecay > 0, delayedAllReduce: flags.delayedAllreduce });
  const logger = createLogger({ level: flags.logLevel ?? 'info', format: flags.logFormat, name: 'coordinator' });
  const view = createProgressView();
  const options = {
    ...trainingOptions,
    host: flags.host,
    port: flags.port,
    minWorkers: flags.minWorkers,
    maxWorkers: flags.maxWorkers ?? flags.minWorkers,
    ifFinished: flags.ifFinished,
    rendezvousSettleMs: flags.rendezvousSettleMs,
    rendezvousTimeoutMs: flags.rendezvousTimeoutMs,
    ...membershipOptionsFrom(flags),
    ...admissionOptionsFrom(flags),
    ...(tls === undefined ? {} : { tls }),
    ...httpTokenOption(findHttpToken(flags, process.env, (text) => process.stderr.write(`ringtrain coordinator: warning: ${text}\n`))),
  };
  const { server, url } = await startCoordinator(options, flags, { logger, onProgress: (p) => view.update(p) });
  // Deployments restart whatever exits, Jobs finish when it exits 0: a finished run either
  // exits 0 or stays up to answer for the run, so neither restarts it over and over.
  const stopped = new Promise<string>((resolve) => {
    process.once('SIGINT', () => resolve('SIGINT'));
    process.once('SIGTERM', () => resolve('SIGTERM'));
  });
  const finished = server.finished;
  if (finished !== null) {
    view.stop();
    if (flags.ifFinished === 'serve') {
      logger.info({ dashboard: dashboardUrl(url) }, 'the run is finished; serving its dashboard, /status and /metrics until stopped');
      logger.info({ signal: await stopped }, 'stopped serving the finished run');
    }
    await server.close();
    return 0;
  }
  view.note(`coordinator listening on ${url}; start workers with: ringtrain worker --coordinator ${url} --token-file FILE (or $${TOKEN_ENV} set to the token)`);
  view.note(`dashboard on ${dashboardUrl(url)}`);
  const onSignal = (signal: string): void => server.stop(`interrupted by ${signal}`);
  process.once('SIGINT', onSignal);
  process.once('SIGTERM', onSignal);
  process.on('SIGUSR2', () => server.requestCheckpoint());
  // New certificate files take effect for connections from now on.
  if (tls !== undefined) {
    process.on('SIGHUP', () => {
      try {
        const again = coordinatorTlsFrom(flags);
        if (again !== undefined) server.reloadTls(again);
      } catch (error) {
        logger.error({}, `kept the TLS certificate in use: ${(error as Error).message}`);
      }
    });
  }
  try {
    const result = await server.done;
    view.stop();
    const recipe = { ...recipeOf(flags), precision: resolvePrecision(recipeOf(flags).precision, { local: false }) };
    const summary = summarize(result, {
      wallSeconds: (Date.now() - startedAt) / 1000,
      model: flags.model,
      stem: recipe.stem,
      imageSize: recipe.imageSize,
      widthMultiplier: recipe.width,
      recipe: describeRecipe(recipe, flags.preset),
      backends: [...server.backends.values()],
      compression: server.options.compression,
      precision: server.options.precision,
    });
    process.stdout.write(`\n${formatSummary(summary)}\n`);
    if (flags.summaryJson !== undefined) await writeSummaryJson(flags.summaryJson, summary);
    if (flags.ifFinished === 'serve') {
      logger.info({ dashboard: dashboardUrl(url) }, `the run is finished; serving its dashboard, /status and /metrics until stopped`);
      logger.info({ signal: await stopped }, 'stopped serving the finished run');
    }
    return 0;
  } catch (error) {
    view.stop();
    process.stderr.write(`ringtrain coordinator: the run failed: ${(error as Error).message}\n`);
    return 1;
  } finally {
    await server.close();
  }
}
