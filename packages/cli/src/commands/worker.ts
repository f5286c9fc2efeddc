/** `ringtrain worker`: one training process; connects to a coordinator and joins the ring. */
import { writeFile } from 'node:fs/promises';
import { Command, Option } from 'commander';
import { listenForRing, modelCompute, Worker } from '@ringtrain/worker';
import { BACKEND_CHOICES, integerIn, websocketUrl } from '../arguments.ts';
import { createLogger } from '../logging.ts';
import { TOKEN_ENV, requireToken } from '../token.ts';

export interface WorkerFlags {
  coordinator: string;
  token?: string;
  backend: string;
  workerId?: string;
  peerHost: string;
  peerPort: number;
  advertiseHost?: string;
  connectTimeoutMs: number;
  evalBatchSize: number;
  logLevel: string;
  stepLog?: string;
}

export function workerCommand(): Command {
  return new Command('worker')
    .description('run a worker: trains its shard and all-reduces gradients with its ring neighbours')
    .requiredOption('--coordinator <url>', 'the coordinator, e.g. ws://10.0.0.5:7070', websocketUrl)
    .addOption(new Option('--token <token>', `the run's shared secret (default: $${TOKEN_ENV})`))
    .addOption(new Option('--backend <name>', 'compute backend').choices(BACKEND_CHOICES).default('auto'))
    .addOption(new Option('--worker-id <id>', 'stable name of this worker (default: host-pid-random)'))
    .addOption(new Option('--peer-host <addr>', 'address the peer server binds to').default('127.0.0.1'))
    .addOption(new Option('--peer-port <n>', 'port of the peer server; 0 picks a free one').argParser(integerIn(0, 65_535)).default(0))
    .addOption(new Option('--advertise-host <addr>', 'host ring neighbours dial (default: --peer-host)'))
    .addOption(new Option('--connect-timeout-ms <ms>', 'keep retrying the coordinator this long').argParser(integerIn(0)).default(30_000))
    .addOption(new Option('--eval-batch-size <n>', 'test images per forward pass when evaluating').argParser(integerIn(1)).default(256))
    .addOption(new Option('--log-level <level>', 'log level (JSON lines on stderr)').choices(['debug', 'info', 'warn', 'error', 'silent']).default('info'))
    .addOption(new Option('--step-log <file>', 'write the sample indices of every step trained to FILE as JSON lines (diagnostics)'))
    .action(async (flags: WorkerFlags) => {
      process.exitCode = await runWorker(flags);
    });
}

async function runWorker(flags: WorkerFlags): Promise<number> {
  const token = requireToken(flags.token);
  const logger = createLogger(flags.logLevel, 'worker');
  const compute = await modelCompute(flags.backend, (description) => logger.info({}, description));
  const worker = new Worker(
    {
      coordinatorUrl: flags.coordinator,
      token,
      peerHost: flags.peerHost,
      peerPort: flags.peerPort,
      connectTimeoutMs: flags.connectTimeoutMs,
      evalBatchSize: flags.evalBatchSize,
      ...(flags.workerId === undefined ? {} : { workerId: flags.workerId }),
      ...(flags.advertiseHost === undefined ? {} : { advertiseHost: flags.advertiseHost }),
    },
    { compute, listen: listenForRing, logger },
  );
  const onSignal = (signal: string): void => worker.shutdown(`interrupted by ${signal}`);
  process.once('SIGINT', onSignal);
  process.once('SIGTERM', onSignal);
  try {
    const outcome = await worker.run();
    if (flags.stepLog !== undefined) {
      const lines = worker.history.map((h) => JSON.stringify({ step: h.step, epoch: h.epoch, loss: h.loss, indices: [...h.indices] }));
      await writeFile(flags.stepLog, lines.map((l) => `${l}\n`).join(''));
    }
    logger.info({ steps: outcome.stepsDone }, `worker ${worker.workerId} stopped: ${outcome.reason}`);
    return 0;
  } catch (error) {
    const code = (error as { code?: string }).code ?? 'ERROR';
    process.stderr.write(`ringtrain worker ${worker.workerId}: ${(error as Error).message} (${code})\n`);
    return 1;
  }
}
