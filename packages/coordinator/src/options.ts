/**
 * Every limit, timeout and training setting of a coordinator, with its default, validated when
 * the coordinator is built (etcd's `Config.validate()`): a bad value is an error that names the
 * option, the value and what would do.
 */
import { DEFAULT_CROP_PADDING_PX } from '@ringtrain/data';
import { COMPRESSION_METHODS, CONVOLUTION_PRECISIONS, MAX_POWERSGD_RANK } from '@ringtrain/protocol';
import type { ConvolutionPrecision } from '@ringtrain/protocol';
import type { CompressionSpec, ModelSpec } from '@ringtrain/protocol';
import { InvalidCoordinatorOptionError } from './errors.ts';

/** The learning-rate schedule, in optimizer steps (the coordinator knows the steps per epoch). */
export interface LearningRateOptions {
  /** @default 'constant' */
  schedule?: 'constant' | 'step' | 'cosine' | 'onecycle';
  /** Rate at the global batch size of the run (no implicit scaling). @default 0.05 */
  baseLr?: number;
  /** Steps of linear warmup. @default 0 */
  warmupSteps?: number;
  /** Warmup as a share of the epochs instead (e.g. 0.3 of the first epoch); wins over `warmupSteps` when above 0. @default 0 */
  warmupEpochs?: number;
  /** `step` schedule: epochs after which the rate is multiplied by `gamma`. @default [] */
  milestoneEpochs?: number[];
  /** `step` schedule factor. @default 0.1 */
  gamma?: number;
  /** `cosine` and `onecycle` schedules: the rate they end at. @default 0 */
  minLr?: number;
}

export interface CoordinatorOptions {
  /** The shared secret every worker must present in `hello`. Required, at least 16 characters. */
  token: string;
  /** Address the WebSocket/HTTP port binds to. @default '127.0.0.1' */
  host?: string;
  /** The one port for WebSocket and HTTP; 0 picks a free one. @default 7070 */
  port?: number;
  /** Workers needed to start. @default 2 */
  minWorkers?: number;
  /** Workers accepted at most; the run starts at once when this many joined. @default minWorkers */
  maxWorkers?: number;
  /** After `minWorkers` joined, how long to wait for more. @default 2000 */
  rendezvousSettleMs?: number;
  /** How long to wait for `minWorkers` before failing. @default 600000 (10 min) */
  rendezvousTimeoutMs?: number;
  /** A new connection must say a valid `hello` within this time. @default 10000 */
  helloTimeoutMs?: number;
  /** How often each worker connection is pinged. @default 1000 */
  heartbeatIntervalMs?: number;
  /**
   * A worker that has not answered a ping for this long is lost, and a new generation goes on
   * without it (a process that died is noticed at once, by its closed connection). A silent
   * worker is noticed within this plus one `heartbeatIntervalMs`. A worker computes on a thread
   * of its own and answers pings during its steps; one that says in `hello` that it does not
   * (`--no-compute-thread`) gets twice its slowest reported step when that is longer.
   * @default 8000
   */
  heartbeatTimeoutMs?: number;
  /**
   * The heartbeat timeout, before its first step, of a worker whose steps hold the thread that
   * answers pings (its first step, with the backend's warm-up, is the slowest), when longer
   * than `heartbeatTimeoutMs`.
   * @default 60000
   */
  firstStepHeartbeatTimeoutMs?: number;
  /** After the start, how long the run waits with fewer than `minWorkers` for replacements before failing. @default 300000 (5 min) */
  minWorkersWaitMs?: number;
  /** A rank holding a step past `stallTimeoutMs`: 'evict' it so the rest go on, or 'fail' the run. @default 'evict' */
  onStall?: 'fail' | 'evict';
  /** Generations formed in a row without committing a step before the run fails (a ring that keeps breaking). @default 20 */
  maxRegroupsWithoutProgress?: number;
  /**
   * When the world changes size: keep the global batch ('fixed-global': each worker's batch
   * follows the world) or each worker's batch ('fixed-per-worker': the global batch follows the
   * world, and the learning rate with it, by the linear scaling rule).
   * @default 'fixed-global'
   */
  batchScaling?: 'fixed-global' | 'fixed-per-worker';
  /**
   * `hosts`: the ring puts the workers of each host group (a worker's `hostGroup`, by default
   * the host of its peer address) side by side, so that each host's network link carries one
   * stream however many workers it runs (`machine/ring-order.ts`). `joined`: ranks in join order.
   * @default 'hosts'
   */
  ringOrder?: 'hosts' | 'joined';
  /** Waiting this long for some ranks logs a warning naming them. @default 60000 */
  stallWarningMs?: number;
  /** Waiting this long for some ranks evicts or fails them (`onStall`), naming them; 0 never. @default 1800000 (30 min) */
  stallTimeoutMs?: number;
  /** How often the state machine's clock ticks. @default 1000 */
  tickIntervalMs?: number;
  /**
   * Largest message accepted on the port (ws `maxPayload`); larger ones close with 1009. At least
   * 2 MiB: workers send their state in 1 MiB pieces.
   * @default 67108864 (64 MiB)
   */
  maxMessageBytes?: number;
  /**
   * Bytes a connection may send before its `hello` is accepted (a hello is a few hundred); more
   * closes it with 1009, so an unauthenticated peer cannot make the coordinator buffer a
   * `maxMessageBytes` frame. @default 16384
   */
  maxHelloBytes?: number;
  /** Connections that have not said a valid `hello` yet; more are refused with HTTP 503. @default 64 */
  maxUnauthenticatedConnections?: number;
  /** WebSocket handshakes accepted per second (a burst of as many); more are refused with HTTP 503. @default 100 */
  maxHandshakesPerSecond?: number;
  /**
   * A bearer token for `/`, `/status`, `/events` and `/metrics` (`/healthz` stays open); a
   * browser opens `/?token=…` once and keeps it as a cookie. Keep it apart from `token`: whoever
   * reads the dashboard should not be able to join the run. @default none: anyone who reaches the port
   */
  httpToken?: string;
  /**
   * TLS on the port: workers dial `wss://`, the dashboard is `https://`. PEM text of the
   * certificate chain and key; with `requireClientCert`, only clients holding a certificate
   * signed by `ca` complete the handshake (the token is still checked). @default none: cleartext
   */
  tls?: CoordinatorTls;
  /** Images per `dataset` message are capped to this many bytes. @default min(4 MiB, maxMessageBytes / 4) */
  datasetChunkBytes?: number;
  /** A state is sent in pieces of at most this many bytes. @default min(16 MiB, maxMessageBytes / 4) */
  stateChunkBytes?: number;
  /** After `stop`, how long workers get to close before their connections are cut. @default 5000 */
  closeGraceMs?: number;
  /** @default 1 */
  epochs?: number;
  /** Samples per step over all workers; each takes floor(globalBatchSize / workers). @default 256 */
  globalBatchSize?: number;
  /** Drop the tail of an epoch that does not divide over the workers instead of padding with repeats. @default false */
  dropLast?: boolean;
  /** Shuffle the training set each epoch. @default true */
  shuffle?: boolean;
  /** Seed of the per-epoch orders. @default 0 */
  samplerSeed?: number;
  /** The model; see `DEFAULT_MODEL`. */
  model?: Partial<ModelSpec>;
  /** SGD momentum. @default 0 */
  momentum?: number;
  /** @default false */
  nesterov?: boolean;
  /** @default 0 */
  weightDecay?: number;
  /** Label smoothing ε of the training loss, in [0, 1). @default 0 */
  labelSmoothing?: number;
  /** Evaluate each test image and its mirror, averaging the predictions. @default false */
  testTimeFlip?: boolean;
  /**
   * Decay of the exponential moving average of the weights that every replica keeps (in its
   * checkpointed and relayed state) and evaluates with, in [0, 1]; 0 keeps none. @default 0
   */
  emaDecay?: number;
  /** Ramp the average's decay up as min(emaDecay, (1 + step)/(10 + step)); needs emaDecay above 0. @default false */
  emaWarmup?: boolean;
  /**
   * Test accuracies whose first crossing is timed: the wall time from the start of training to
   * the end of the first evaluation that reached each (summary, `/status`, metrics). @default []
   */
  targetAccuracies?: number[];
  /** End the run after the evaluation that first reaches every one of `targetAccuracies`. @default false */
  stopAtTargetAccuracy?: boolean;
  /** Random crop and flip on the workers. @default false */
  augment?: boolean;
  /** With `augment`, flip each image on every other epoch rather than at random. @default false */
  alternateFlips?: boolean;
  /**
   * With `augment`, background pixels added on each side before the random crop, at most half
   * the image side; 0 keeps the flip alone. @default 4
   */
  cropPaddingPx?: number;
  /** Seed of the augmentation. @default 0 */
  augmentSeed?: number;
  /** Every how many steps the replicas' weight checksums are compared; 0 never. @default 20 */
  checksumEverySteps?: number;
  /** Gradient bucket cap of the ring all-reduce. @default 26214400 (25 MiB) */
  maxBucketBytes?: number;
  /**
   * How gradients travel in the all-reduce, the same for every worker: `method` none, bf16, f16 or
   * powersgd; PowerSGD's `rank` and the global step it starts at (`startStep`; plain before).
   * @default { method: 'none', rank: 4, startStep: 20 } (see `COMPRESSION_DEFAULTS`)
   */
  compression?: Partial<CompressionSpec>;
  /**
   * Workers all-reduce each gradient bucket as soon as their backward pass has finished it, while
   * the rest computes; the averaged gradient is bit for bit the one without. Needs compression
   * `none`. Off until its gain is measured on more than one machine.
   * @default false
   */
  overlap?: boolean;
  /**
   * Workers average each step's gradient while the next step computes, and apply it after that:
   * the all-reduce hides behind a whole step, at the price of one step of staleness (the
   * worker's `delayed-steps.ts`). Not with `overlap`.
   * @default false
   */
  delayedAllReduce?: boolean;
  /**
   * The data type every worker's convolutions compute in: `bf16` is mixed precision with float32
   * master weights, on the native backend of a CPU with AVX512-BF16 or AMX (a worker that cannot
   * refuses its assignment). @default 'f32'
   */
  precision?: ConvolutionPrecision;
  learningRate?: LearningRateOptions;
  /** Where checkpoints go; none are written without it. */
  checkpointDir?: string;
  /** Append every committed step (each rank's sample indices) to this file as a JSON line, as it commits. */
  stepLog?: string;
  /** Checkpoint every this many epochs. @default 1 */
  checkpointEveryEpochs?: number;
  /** Checkpoint files kept; older ones are removed. @default 3 */
  keepCheckpoints?: number;
  /** Continue from the newest valid checkpoint in `checkpointDir`. @default false */
  resume?: boolean;
  /**
   * What `resume` does when the newest checkpoint was taken after the last epoch (the run is
   * finished): `refuse` it (`start()` throws, asking for more epochs), or start without training,
   * `finished` set, for the caller to exit (`exit-0`) or serve the run as it ended (`serve`: the
   * dashboard, `/status` and `/metrics` of the finished run, read from `finished-run.json`).
   * @default 'refuse'
   */
  ifFinished?: 'refuse' | 'exit-0' | 'serve';
  /** What differing replica checksums do to the run. @default 'fail' */
  onDivergence?: 'fail' | 'warn';
  /** Examples per second (metrics, status, dashboard) are counted over this much past time. @default 30000 */
  throughputWindowMs?: number;
  /** Points per curve kept for the dashboard; longer runs are thinned to this many. @default 2000 */
  maxSeriesPoints?: number;
  /** The dashboard's event stream sends the status at most this often. @default 500 */
  statusIntervalMs?: number;
}

/** The model the CLI's defaults describe: ResNet-18, d2l stem, Fashion-MNIST as is. */
export const DEFAULT_MODEL: ModelSpec = {
  depth: 18,
  stem: 'd2l',
  widthMultiplier: 1,
  imageSize: 28,
  channels: 1,
  classes: 10,
  seed: 0,
  zeroInitResidual: false,
};

export interface CoordinatorTls {
  cert: string;
  key: string;
  /** The CA whose client certificates are accepted. */
  ca?: string;
  /** Refuse clients without a certificate of `ca`. @default false */
  requireClientCert?: boolean;
}

export type ResolvedCoordinatorOptions = Required<Omit<CoordinatorOptions, 'checkpointDir' | 'stepLog' | 'model' | 'learningRate' | 'httpToken' | 'tls' | 'compression'>> & {
  compression: CompressionSpec;
  httpToken: string | null;
  tls: CoordinatorTls | null;
  checkpointDir: string | null;
  stepLog: string | null;
  model: ModelSpec;
  learningRate: Required<LearningRateOptions>;
};

const MIB = 1024 * 1024;

/**
 * The compression a run uses unless told otherwise: none. PowerSGD's rank is 4, not the paper's 2:
 * after one Fashion-MNIST epoch of ResNet-18, rank 2 cost 2.0 points of test accuracy and rank 4
 * 0.5 (docs/benchmarks.md, "Gradient compression"); its 20 plain steps let the first, largest
 * gradients through whole.
 */
export const COMPRESSION_DEFAULTS: CompressionSpec = { method: 'none', rank: 4, startStep: 20 };

function fail(message: string): never {
  throw new InvalidCoordinatorOptionError(message);
}

function integer(name: string, value: number, min: number, max = Number.MAX_SAFE_INTEGER): number {
  if (!Number.isInteger(value) || value < min || value > max) {
    fail(`${name} must be an integer from ${min}${max === Number.MAX_SAFE_INTEGER ? ' up' : ` to ${max}`}, got ${String(value)}`);
  }
  return value;
}

function finite(name: string, value: number, min: number, max = Number.MAX_VALUE): number {
  if (!Number.isFinite(value) || value < min || value > max) {
    fail(`${name} must be a number ${max === Number.MAX_VALUE ? `of at least ${min}` : `from ${min} to ${max}`}, got ${String(value)}`);
  }
  return value;
}

function oneOf<T extends string>(name: string, value: T, allowed: readonly T[]): T {
  if (!allowed.includes(value)) fail(`${name} must be one of ${allowed.join(', ')}, got ${String(value)}`);
  return value;
}

/** Fills in defaults and validates; throws `InvalidCoordinatorOptionError` naming the first bad option. */
export function resolveCoordinatorOptions(input: CoordinatorOptions): ResolvedCoordinatorOptions {
  if (typeof input.token !== 'string' || input.token.length < 16) {
    fail('token must be a string of at least 16 characters (every worker presents it in hello)');
  }
  const minWorkers = integer('minWorkers', input.minWorkers ?? 2, 1, 1024);
  const maxWorkers = integer('maxWorkers', input.maxWorkers ?? minWorkers, 1, 1024);
  if (maxWorkers < minWorkers) fail(`maxWorkers (${maxWorkers}) must be at least minWorkers (${minWorkers})`);
  checkBatch(input.globalBatchSize ?? 256, minWorkers, maxWorkers);
  const heartbeatIntervalMs = integer('heartbeatIntervalMs', input.heartbeatIntervalMs ?? 1000, 10);
  const heartbeatTimeoutMs = integer('heartbeatTimeoutMs', input.heartbeatTimeoutMs ?? 8000, 10);
  if (heartbeatTimeoutMs < heartbeatIntervalMs) {
    fail(`heartbeatTimeoutMs (${heartbeatTimeoutMs}) must be at least heartbeatIntervalMs (${heartbeatIntervalMs})`);
  }
  const stallWarningMs = integer('stallWarningMs', input.stallWarningMs ?? 60_000, 1);
  const stallTimeoutMs = integer('stallTimeoutMs', input.stallTimeoutMs ?? 1_800_000, 0);
  if (stallTimeoutMs !== 0 && stallTimeoutMs < stallWarningMs) {
    fail(`stallTimeoutMs (${stallTimeoutMs}) must be 0 or at least stallWarningMs (${stallWarningMs})`);
  }
  // Workers send their state in pieces of 1 MiB by default; every message must fit.
  const maxMessageBytes = integer('maxMessageBytes', input.maxMessageBytes ?? 64 * MIB, 2 * MIB);
  const datasetChunkBytes = integer('datasetChunkBytes', input.datasetChunkBytes ?? Math.min(4 * MIB, Math.floor(maxMessageBytes / 4)), 1024);
  const stateChunkBytes = integer('stateChunkBytes', input.stateChunkBytes ?? Math.min(16 * MIB, Math.floor(maxMessageBytes / 4)), 1024);
  // A chunk travels inside a message with a small envelope around it.
  for (const [name, value] of [['datasetChunkBytes', datasetChunkBytes], ['stateChunkBytes', stateChunkBytes]] as const) {
    if (value + 64 * 1024 > maxMessageBytes) fail(`${name} (${value}) must leave 64 KiB of room below maxMessageBytes (${maxMessageBytes})`);
  }
  const model = { ...DEFAULT_MODEL, ...input.model };
  oneOf('model.depth', String(model.depth), ['18', '34', '50', '101', '152']);
  oneOf('model.stem', model.stem, ['d2l', 'small', 'compact']);
  finite('model.widthMultiplier', model.widthMultiplier, Number.MIN_VALUE);
  integer('model.imageSize', model.imageSize, 8, 1024);
  integer('model.channels', model.channels, 1, 1);
  integer('model.classes', model.classes, 2, 100_000);
  integer('model.seed', model.seed, 0, 2 ** 32 - 1);
  if (typeof model.zeroInitResidual !== 'boolean') fail(`model.zeroInitResidual must be true or false, got ${String(model.zeroInitResidual)}`);
  const lr = input.learningRate ?? {};
  const learningRate: Required<LearningRateOptions> = {
    schedule: oneOf('learningRate.schedule', lr.schedule ?? 'constant', ['constant', 'step', 'cosine', 'onecycle']),
    baseLr: finite('learningRate.baseLr', lr.baseLr ?? 0.05, 0),
    warmupSteps: integer('learningRate.warmupSteps', lr.warmupSteps ?? 0, 0),
    warmupEpochs: finite('learningRate.warmupEpochs', lr.warmupEpochs ?? 0, 0),
    milestoneEpochs: (lr.milestoneEpochs ?? []).map((m, i) => integer(`learningRate.milestoneEpochs[${i}]`, m, 1)),
    gamma: finite('learningRate.gamma', lr.gamma ?? 0.1, 0),
    minLr: finite('learningRate.minLr', lr.minLr ?? 0, 0),
  };
  const resume = input.resume ?? false;
  if (resume && input.checkpointDir === undefined) fail('resume needs checkpointDir, the directory to resume from');
  if (input.checkpointDir !== undefined && input.checkpointDir.trim() === '') fail('checkpointDir must not be empty');
  return {
    token: input.token,
    host: input.host ?? '127.0.0.1',
    port: integer('port', input.port ?? 7070, 0, 65_535),
    minWorkers,
    maxWorkers,
    rendezvousSettleMs: integer('rendezvousSettleMs', input.rendezvousSettleMs ?? 2000, 0),
    rendezvousTimeoutMs: integer('rendezvousTimeoutMs', input.rendezvousTimeoutMs ?? 600_000, 1),
    helloTimeoutMs: integer('helloTimeoutMs', input.helloTimeoutMs ?? 10_000, 1),
    heartbeatIntervalMs,
    heartbeatTimeoutMs,
    firstStepHeartbeatTimeoutMs: integer('firstStepHeartbeatTimeoutMs', input.firstStepHeartbeatTimeoutMs ?? 60_000, 10),
    minWorkersWaitMs: integer('minWorkersWaitMs', input.minWorkersWaitMs ?? 300_000, 0),
    onStall: oneOf('onStall', input.onStall ?? 'evict', ['fail', 'evict']),
    maxRegroupsWithoutProgress: integer('maxRegroupsWithoutProgress', input.maxRegroupsWithoutProgress ?? 20, 1),
    batchScaling: oneOf('batchScaling', input.batchScaling ?? 'fixed-global', ['fixed-global', 'fixed-per-worker']),
    ringOrder: oneOf('ringOrder', input.ringOrder ?? 'hosts', ['hosts', 'joined']),
    stallWarningMs,
    stallTimeoutMs,
    tickIntervalMs: integer('tickIntervalMs', input.tickIntervalMs ?? 1000, 1),
    maxMessageBytes,
    maxHelloBytes: integer('maxHelloBytes', input.maxHelloBytes ?? 16 * 1024, 1024, maxMessageBytes),
    maxUnauthenticatedConnections: integer('maxUnauthenticatedConnections', input.maxUnauthenticatedConnections ?? 64, 1),
    maxHandshakesPerSecond: integer('maxHandshakesPerSecond', input.maxHandshakesPerSecond ?? 100, 1),
    httpToken: httpTokenOf(input),
    tls: tlsOf(input.tls),
    datasetChunkBytes,
    stateChunkBytes,
    closeGraceMs: integer('closeGraceMs', input.closeGraceMs ?? 5000, 0),
    epochs: integer('epochs', input.epochs ?? 1, 1),
    globalBatchSize: integer('globalBatchSize', input.globalBatchSize ?? 256, 1),
    dropLast: input.dropLast ?? false,
    shuffle: input.shuffle ?? true,
    samplerSeed: integer('samplerSeed', input.samplerSeed ?? 0, 0, 2 ** 32 - 1),
    model,
    momentum: finite('momentum', input.momentum ?? 0, 0),
    nesterov: input.nesterov ?? false,
    weightDecay: finite('weightDecay', input.weightDecay ?? 0, 0),
    labelSmoothing: finite('labelSmoothing', input.labelSmoothing ?? 0, 0, 0.999),
    testTimeFlip: input.testTimeFlip ?? false,
    emaDecay: finite('emaDecay', input.emaDecay ?? 0, 0, 1),
    emaWarmup: emaWarmupOf(input),
    targetAccuracies: targetAccuraciesOf(input.targetAccuracies ?? []),
    stopAtTargetAccuracy: stopAtTargetOf(input),
    augment: input.augment ?? false,
    alternateFlips: alternateFlipsOf(input),
    cropPaddingPx: cropPaddingOf(input, model.imageSize),
    augmentSeed: integer('augmentSeed', input.augmentSeed ?? 0, 0, 2 ** 32 - 1),
    checksumEverySteps: integer('checksumEverySteps', input.checksumEverySteps ?? 20, 0),
    maxBucketBytes: integer('maxBucketBytes', input.maxBucketBytes ?? 25 * MIB, 4),
    compression: {
      method: oneOf('compression.method', input.compression?.method ?? COMPRESSION_DEFAULTS.method, COMPRESSION_METHODS),
      rank: integer('compression.rank', input.compression?.rank ?? COMPRESSION_DEFAULTS.rank, 1, MAX_POWERSGD_RANK),
      // Its ring calls are numbered 2·step and 2·step + 1, which must fit the ring's 32 bits.
      startStep: integer('compression.startStep', input.compression?.startStep ?? COMPRESSION_DEFAULTS.startStep, 0, 2 ** 31 - 1),
    },
    overlap: overlapOf(input),
    delayedAllReduce: delayedAllReduceOf(input),
    precision: oneOf('precision', input.precision ?? 'f32', CONVOLUTION_PRECISIONS),
    learningRate,
    checkpointDir: input.checkpointDir ?? null,
    stepLog: input.stepLog ?? null,
    checkpointEveryEpochs: integer('checkpointEveryEpochs', input.checkpointEveryEpochs ?? 1, 1),
    keepCheckpoints: integer('keepCheckpoints', input.keepCheckpoints ?? 3, 1),
    resume,
    ifFinished: oneOf('ifFinished', input.ifFinished ?? 'refuse', ['refuse', 'exit-0', 'serve']),
    onDivergence: oneOf('onDivergence', input.onDivergence ?? 'fail', ['fail', 'warn']),
    throughputWindowMs: integer('throughputWindowMs', input.throughputWindowMs ?? 30_000, 1),
    maxSeriesPoints: integer('maxSeriesPoints', input.maxSeriesPoints ?? 2000, 16),
    statusIntervalMs: integer('statusIntervalMs', input.statusIntervalMs ?? 500, 0),
  };
}

/** Overlap sends the gradient as computed, so it cannot be combined with a compression. */
function overlapOf(input: CoordinatorOptions): boolean {
  const overlap = input.overlap ?? false;
  if (typeof overlap !== 'boolean') fail(`overlap must be true or false, got ${String(overlap)}`);
  const method = input.compression?.method ?? COMPRESSION_DEFAULTS.method;
  if (overlap && method !== 'none') fail(`overlap needs compression none, got compression ${method}`);
  return overlap;
}

/** The delayed all-reduce and overlap hide the same all-reduce two ways; a run takes one. */
function delayedAllReduceOf(input: CoordinatorOptions): boolean {
  const delayed = input.delayedAllReduce ?? false;
  if (typeof delayed !== 'boolean') fail(`delayedAllReduce must be true or false, got ${String(delayed)}`);
  if (delayed && input.overlap === true) fail('delayedAllReduce and overlap cannot both be on: they hide the same all-reduce two ways');
  return delayed;
}

/** Each in (0, 1], ascending, no repeats, so the summary lists them in the order they are met. */
function targetAccuraciesOf(targets: readonly number[]): number[] {
  const sorted = targets.map((t, i) => finite(`targetAccuracies[${i}]`, t, Number.MIN_VALUE, 1)).sort((a, b) => a - b);
  const repeated = sorted.find((t, i) => i > 0 && t === sorted[i - 1]);
  if (repeated !== undefined) fail(`targetAccuracies lists ${repeated} twice`);
  return sorted;
}

function emaWarmupOf(input: CoordinatorOptions): boolean {
  const warmup = input.emaWarmup ?? false;
  if (warmup && (input.emaDecay ?? 0) === 0) fail('emaWarmup needs emaDecay above 0: without a weight average there is nothing to warm up');
  return warmup;
}

function stopAtTargetOf(input: CoordinatorOptions): boolean {
  const stop = input.stopAtTargetAccuracy ?? false;
  if (stop && (input.targetAccuracies ?? []).length === 0) fail('stopAtTargetAccuracy needs targetAccuracies, the accuracies to stop at');
  return stop;
}

function httpTokenOf(input: CoordinatorOptions): string | null {
  const httpToken = input.httpToken === undefined || input.httpToken === '' ? null : input.httpToken;
  if (httpToken !== null && httpToken === input.token) fail('httpToken must differ from token: whoever reads the dashboard could otherwise join the run');
  return httpToken;
}

/** Batch norm in training mode needs two images per worker at least; fewer is no statistic. */
const MIN_BATCH_PER_WORKER = 2;

/**
 * The global batch must split evenly over the world a run starts with (`minWorkers`), and leave
 * every worker of the largest world two images. A world of another size takes floor(global /
 * world) each, which the log and `/status` show; the rest of the epoch's samples go to later steps.
 */
function checkBatch(globalBatchSize: number, minWorkers: number, maxWorkers: number): void {
  if (!Number.isInteger(globalBatchSize) || globalBatchSize < 1) return;
  if (globalBatchSize % minWorkers !== 0) {
    const below = globalBatchSize - (globalBatchSize % minWorkers);
    const above = below + minWorkers;
    fail(
      `globalBatchSize ${globalBatchSize} does not split evenly over minWorkers ${minWorkers} (${(globalBatchSize / minWorkers).toFixed(2)} each): use ${below > 0 ? `${below} or ` : ''}${above}`,
    );
  }
  const smallest = Math.floor(globalBatchSize / maxWorkers);
  if (smallest < MIN_BATCH_PER_WORKER) {
    fail(
      `globalBatchSize ${globalBatchSize} over up to ${maxWorkers} workers (maxWorkers) leaves ${smallest} image(s) per worker per step; batch norm needs at least ${MIN_BATCH_PER_WORKER}: use a globalBatchSize of ${MIN_BATCH_PER_WORKER * maxWorkers} or more, or fewer maxWorkers`,
    );
  }
}

function tlsOf(tls: CoordinatorTls | undefined): CoordinatorTls | null {
  if (tls === undefined) return null;
  if (!tls.cert.includes('-----BEGIN')) fail('tls.cert must be a PEM certificate (chain)');
  if (!tls.key.includes('-----BEGIN')) fail('tls.key must be a PEM private key');
  if (tls.requireClientCert === true && (tls.ca === undefined || !tls.ca.includes('-----BEGIN'))) fail('tls.requireClientCert needs tls.ca, the CA whose client certificates are accepted');
  return tls;
}

/** Alternating flips change how `augment` flips: without it there is nothing to alternate. */
function alternateFlipsOf(input: CoordinatorOptions): boolean {
  const alternate = input.alternateFlips ?? false;
  if (alternate && input.augment !== true) fail('alternateFlips needs augment: without the augmentation no image is flipped (give --augment with --alternate-flips)');
  return alternate;
}

/** The crop's padding: only with `augment`, and small enough that a crop still shows most of the image. */
function cropPaddingOf(input: CoordinatorOptions, imageSize: number): number {
  if (input.cropPaddingPx === undefined) return DEFAULT_CROP_PADDING_PX;
  if (input.augment !== true) fail('cropPaddingPx needs augment: without the augmentation no image is cropped (give --augment with --crop-padding)');
  return integer('cropPaddingPx', input.cropPaddingPx, 0, Math.floor(imageSize / 2));
}
