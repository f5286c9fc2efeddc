/** `ringtrain worker`: one training process; connects to a coordinator and joins the ring. */
import { randomBytes } from 'node:crypto';
import { appendFileSync, writeFileSync } from 'node:fs';
import { hostname, totalmem } from 'node:os';
import { Command, Option } from 'commander';
import { AFTER_RUN_CHOICES, createWorkerMetricsRegistry, MAX_STAND_IN_STEP_MS, modelCompute, standInCompute, startWorkerMetricsServer, SuccessiveRuns, threadedCompute, Worker, type AfterRun, type ComputeProvider, type InjectedFault, type StepRecord, type WorkerMetricsServer } from '@ringtrain/worker';
import { BACKEND_CHOICES, faultSpec, integerIn, numberIn, websocketUrl, type FaultSpec } from '../arguments.ts';
import { createLogger, LOG_FORMATS, LOG_LEVELS, type LogFormatChoice, type LogLevel } from '../logging.ts';
import { workerTlsFrom } from '../tls-options.ts';
import { addTokenOptions, requireToken, TOKEN_ENV, type TokenFlags } from '../token.ts';
import { VERSION } from '../version.ts';

/** The worker's metrics port unless told otherwise (the port every deploy file uses). */
export const DEFAULT_METRICS_PORT = 7072;

export interface WorkerFlags extends TokenFlags {
  coordinator: string;
  backend: string;
  computeThread: boolean;
  memoryCheck: boolean;
  peerMaxUnauthenticated: number;
  peerMaxHandshakesPerSecond: number;
  tlsCert?: string;
  tlsKey?: string;
  tlsCa?: string;
  workerId?: string;
  peerHost: string;
  peerPort: number;
  advertiseHost?: string;
  hostGroup?: string;
  metricsHost: string;
  metricsPort: number;
  connectTimeoutMs: number;
  reconnectTimeoutMs: number;
  afterRun: AfterRun;
  rejoinIntervalMs: number;
  evalBatchSize: number;
  logLevel: LogLevel;
  logFormat: LogFormatChoice;
  stepLog?: string;
  threads?: number;
  workersPerMachine: number;
  injectFault?: FaultSpec;
  standInComputeMs?: number;
}

export function workerCommand(): Command {
  const command = new Command('worker')
    .description('run a worker: trains its shard and all-reduces gradients with its ring neighbours')
    .requiredOption('--coordinator <url>', 'the coordinator, e.g. ws://10.0.0.5:7070', websocketUrl);
  return addTokenOptions(command, "the run's shared secret", `$${TOKEN_ENV}`)
    .addOption(new Option('--backend <name>', 'compute backend').choices(BACKEND_CHOICES).default('auto'))
    .option('--no-compute-thread', 'compute steps on the thread that holds the connections (heartbeats then wait for each step)')
    .option('--tls-ca <file>', 'PEM CA that signed the coordinator\'s and the peers\' certificates (a wss:// coordinator)')
    .option('--tls-cert <file>', 'PEM certificate of this worker: its peer port serves TLS with it, and it shows it to a coordinator or peer that asks (with --tls-key and --tls-ca)')
    .option('--tls-key <file>', 'PEM private key of --tls-cert')
    .addOption(new Option('--peer-max-unauthenticated <n>', 'connections to the peer port that have not said peer-hello yet; more are refused with HTTP 503').argParser(integerIn(1)).default(16))
    .addOption(new Option('--peer-max-handshakes-per-second <n>', 'handshakes the peer port takes per second (a burst of as many); more are refused with HTTP 503').argParser(integerIn(1)).default(50))
    .option('--no-memory-check', 'accept an assignment even when its model and batch are estimated to need more than this machine\'s memory over --workers-per-machine')
    .addOption(new Option('--worker-id <id>', 'stable name of this worker (default: host-pid-random)'))
    .addOption(new Option('--threads <n>', 'compute threads of the native backend (default: cores ÷ --workers-per-machine)').argParser(integerIn(1, 1024)))
    .addOption(new Option('--workers-per-machine <n>', 'workers sharing this machine\'s cores').argParser(integerIn(1, 1024)).default(1))
    .addOption(new Option('--peer-host <addr>', 'address the peer server binds to').default('127.0.0.1'))
    .addOption(new Option('--peer-port <n>', 'port of the peer server; 0 picks a free one').argParser(integerIn(0, 65_535)).default(0))
    .addOption(new Option('--advertise-host <addr>', 'host ring neighbours dial (default: --peer-host)'))
    .addOption(
      new Option('--host-group <name>', 'workers sharing one network link (a machine; on Kubernetes, the node name): the ring keeps them side by side so the link carries one stream (default: --advertise-host)'),
    )
    .addOption(new Option('--metrics-host <addr>', 'address the metrics port binds to; another than loopback lets anyone who reaches it read the worker\'s metrics').default('127.0.0.1'))
    .addOption(new Option('--metrics-port <n>', 'port serving /metrics (Prometheus) and /healthz; 0 serves neither').argParser(integerIn(0, 65_535)).default(DEFAULT_METRICS_PORT))
    .addOption(new Option('--connect-timeout-ms <ms>', 'keep retrying the coordinator this long').argParser(integerIn(0)).default(30_000))
    .addOption(
      new Option('--reconnect-timeout-ms <ms>', 'when the coordinator goes away mid-run, keep the replica and keep trying to reach it this long (0: exit at once)').argParser(integerIn(0)).default(600_000),
    )
    .addOption(
      new Option('--after-run <what>', 'once the run is over (it ended, or a finished run refuses this worker): exit, or wait, alive and dialling the coordinator every --rejoin-interval-ms until a run takes it (workers a StatefulSet restarts whenever they exit)')
        .choices(AFTER_RUN_CHOICES)
        .default('exit'),
    )
    .addOption(new Option('--rejoin-interval-ms <ms>', 'with --after-run wait: pause between dials while no run takes this worker').argParser(integerIn(100)).default(30_000))
    .addOption(new Option('--eval-batch-size <n>', 'test images per forward pass when evaluating').argParser(integerIn(1)).default(256))
    .addOption(new Option('--log-level <level>', 'lowest level of the log lines written to stderr').choices(LOG_LEVELS).default('info'))
    .addOption(new Option('--log-format <format>', 'log lines for people (pretty) or for machines (json); auto: pretty on a terminal').choices(LOG_FORMATS).default('auto'))
    .addOption(new Option('--step-log <file>', 'append the sample indices of every step this worker trains to FILE as JSON lines, as it trains them (diagnostics)'))
    .addOption(
      new Option('--inject-fault <spec>', 'kill this worker\'s own process at a chosen point of a chosen step, or hold the step there for MS, e.g. kill@12:during-allreduce, stall@12:compute:8000 (for failure tests)').argParser(faultSpec),
    )
    .addOption(
      new Option('--stand-in-compute-ms <ms>', 'BENCHMARK DEVICE, not training: replace the model\'s compute by a wait of MS per step and a deterministic gradient of the model\'s size, applied to a real parameter vector (default: off, the model computes)')
        .argParser(numberIn(0, MAX_STAND_IN_STEP_MS)),
    )
    .action(async (flags: WorkerFlags) => {
      process.exitCode = await runWorker(flags);
    });
}

async function runWorker(flags: WorkerFlags): Promise<number> {
  const token = requireToken(flags, process.env, (text) => process.stderr.write(`ringtrain worker: warning: ${text}\n`));
  const workerId = flags.workerId ?? `${hostname()}-${process.pid}-${randomBytes(3).toString('hex')}`;
  // The logger exists before the worker; its lines pick up the rank once one is assigned.
  let worker: Worker | null = null;
  const logger = createLogger({ level: flags.logLevel, format: flags.logFormat, name: 'worker', base: { workerId }, mixin: () => ({ rank: worker?.rank ?? null }) });
  // Read again on SIGHUP: new certificate files serve the connections made from then on.
  let tls = workerTlsFrom(flags);
  const threads = { workersPerMachine: flags.workersPerMachine, ...(flags.threads === undefined ? {} : { threads: flags.threads }) };
  const onSelected = (description: string): void => logger.info({}, description);
  // Opened before the compute thread starts, which would keep a process that failed here alive.
  // Written as steps are trained, so a worker that is killed leaves every step it trained on disk.
  const stepLog = flags.stepLog;
  if (stepLog !== undefined) {
    try {
      writeFileSync(stepLog, '');
    } catch (error) {
      process.stderr.write(`ringtrain worker ${workerId}: --step-log ${stepLog} cannot be written: ${(error as Error).message}\n`);
      return 1;
    }
  }
  let compute: ComputeProvider & { close?: () => Promise<void> };
  try {
    if (flags.standInComputeMs !== undefined) {
      compute = standInCompute(flags.standInComputeMs);
      logger.warn({ standInComputeMs: flags.standInComputeMs }, `benchmark device: no model computes here; each step takes ${flags.standInComputeMs} ms and a stand-in gradient`);
    } else compute = flags.computeThread ? await threadedCompute(flags.backend, onSelected, threads) : await modelCompute(flags.backend, onSelected, threads);
  } catch (error) {
    process.stderr.write(`ringtrain worker ${workerId}: ${(error as Error).message} (${(error as { code?: string }).code ?? 'ERROR'})\n`);
    return 1;
  }
  const { registry, metrics } = createWorkerMetricsRegistry({ version: VERSION, backend: compute.backend });
  const onStep = (h: StepRecord): void => {
    if (stepLog === undefined) return;
    appendFileSync(stepLog, `${JSON.stringify({ step: h.step, epoch: h.epoch, generation: h.generation, via: h.via, loss: h.loss, indices: [...h.indices] })}\n`);
  };
  // Each run gets a fresh worker; under --after-run wait the process outlives a run and joins the next.
  const newWorker = (): Worker => {
    worker = new Worker(
      {
        coordinatorUrl: flags.coordinator,
        token,
        workerId,
        peerHost: flags.peerHost,
        peerPort: flags.peerPort,
        connectTimeoutMs: flags.connectTimeoutMs,
        reconnectTimeoutMs: flags.reconnectTimeoutMs,
        evalBatchSize: flags.evalBatchSize,
        peerMaxUnauthenticated: flags.peerMaxUnauthenticated,
        peerMaxHandshakesPerSecond: flags.peerMaxHandshakesPerSecond,
        ...(flags.memoryCheck ? { memoryLimitBytes: Math.floor(totalmem() / flags.workersPerMachine) } : {}),
        ...(tls === undefined ? {} : { tls }),
        ...(flags.advertiseHost === undefined ? {} : { advertiseHost: flags.advertiseHost }),
        ...(flags.hostGroup === undefined ? {} : { hostGroup: flags.hostGroup }),
      },
      {
        compute,
        logger,
        metrics,
        onStep,
        ...(flags.injectFault === undefined ? {} : { fault: injectedFault(flags.injectFault) }),
      },
    );
    return worker;
  };
  const running = new SuccessiveRuns({ afterRun: flags.afterRun, rejoinIntervalMs: flags.rejoinIntervalMs, newWorker, log: logger });
  let metricsServer: WorkerMetricsServer | null = null;
  if (flags.metricsPort !== 0) {
    try {
      metricsServer = await startWorkerMetricsServer({ host: flags.metricsHost, port: flags.metricsPort, registry, worker: running });
    } catch (error) {
      process.stderr.write(`ringtrain worker ${running.workerId}: ${(error as Error).message} (${(error as { code?: string }).code ?? 'ERROR'})\n`);
      // The compute thread would keep the process alive.
      await compute.close?.();
      return 1;
    }
    const { host, port } = metricsServer.address;
    logger.info({ metrics: `http://${host}:${port}/metrics` }, `serving /metrics and /healthz on ${host}:${port}`);
  }
  const onSignal = (signal: string): void => running.shutdown(`interrupted by ${signal}`);
  process.once('SIGINT', onSignal);
  process.once('SIGTERM', onSignal);
  if (tls !== undefined) {
    process.on('SIGHUP', () => {
      try {
        const again = workerTlsFrom(flags);
        if (again === undefined) return;
        running.reloadTls(again);
        tls = again;
        logger.info({}, 'reloaded the TLS certificate, key and CA');
      } catch (error) {
        logger.error({}, `kept the TLS files in use: ${(error as Error).message}`);
      }
    });
  }
  try {
    const outcome = await running.run();
    if (outcome.runFailed) {
      process.stderr.write(`ringtrain worker ${running.workerId}: the run failed: ${outcome.reason}\n`);
      return 1;
    }
    logger.info({ steps: outcome.stepsDone }, `worker ${running.workerId} stopped: ${outcome.reason}`);
    return 0;
  } catch (error) {
    const code = (error as { code?: string }).code ?? 'ERROR';
    process.stderr.write(`ringtrain worker ${running.workerId}: ${(error as Error).message} (${code})\n`);
    return 1;
  } finally {
    await metricsServer?.close();
    await compute.close?.();
  }
}

function injectedFault(spec: FaultSpec): InjectedFault {
  const { step, point, stallMs } = spec;
  if (spec.kind === 'kill') return { step, point, strike: () => void process.kill(process.pid, 'SIGKILL') };
  return { step, point, strike: () => new Promise((resolve) => setTimeout(resolve, stallMs)) };
}
