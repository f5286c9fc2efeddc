/**
 * The worker's control loop: one connection to the coordinator, one peer server for the ring,
 * one replica that lives as long as the process, whatever generations come and go.
 *
 *   1. Start the peer server (its address goes into `hello`), connect to the coordinator
 *      (retrying until `connectTimeoutMs`), send `hello` with the token.      [connecting]
 *   2. `welcome`. Then, for every generation: `assign` drops whatever the previous generation
 *      was doing (its ring is closed, which cuts an all-reduce in flight short; a step in
 *      flight is never applied) and is answered with `replica` (steps the replica has applied,
 *      and the step that was cut short). `sync` says which step the generation starts from:
 *      keep the replica, or load the `state` pieces that follow. With the state in place and
 *      the ring joined, answer `ready` with the weight checksum.              [ready]
 *   3. Each `plan`: per step, preprocess the batch, compute the local gradient, say
 *      `gradient-ready`, average it over the ring, apply it with the step's learning rate,
 *      report the step (with the weight checksum when due). A ring that fails (a neighbour
 *      died) ends the plan without applying the step: the worker says `ring-failed` and waits
 *      for the coordinator's next `assign`. `evaluate` likewise; `state-request` is answered
 *      between steps.                                                         [in-round]
 *   4. `stop`: leave the ring, close the connection normally; `run()` resolves, saying whether
 *      the run failed.                                                         [draining, closed]
 *
 * With `metrics`, every step's time split (measured here with `performance.now()`), each
 * all-reduce's traffic and duration, the tensors TensorFlow.js holds and every failure go to the
 * worker's Prometheus metrics as they happen.
 *
 * Messages are validated by the protocol package before they are looked at. A malformed,
 * oversized, wrong-version or out-of-turn message closes the connection with an `error` and the
 * matching close code, and `run()` rejects with an error saying what was wrong: the process never
 * crashes, and training never goes on from a message it did not understand.
 */
import { hostname } from 'node:os';
import { randomBytes } from 'node:crypto';
import { DEFAULT_CROP_PADDING_PX, gatherLabels, preprocessBatch } from '@ringtrain/data';
import type { WorkerMetrics } from '@ringtrain/metrics';
import { describeResNet, estimateTrainingMemory, flatLayoutFor, formatBytes, type TrainingMemoryOptions } from '@ringtrain/model';
import type { AssignMessage, ConvolutionPrecision, CoordinatorToWorker, EvaluateMessage, ModelSpec, PlanMessage, StateMessage, SyncMessage, WorkerToCoordinator } from '@ringtrain/protocol';
import WebSocket from 'ws';
import { AllReduceError, startPeerServer, type PeerTls } from './allreduce/index.ts';
import { createGradientReducer, PlainReducer, type GradientReducer } from './compression/index.ts';
import { startOverlappedStep } from './overlapped-step.ts';
import { runDelayedSteps } from './delayed-steps.ts';
import type { ReduceOutcome } from './compression/gradient-reducer.ts';
import { DatasetStore } from './dataset-store.ts';
import {
  ConnectFailedError,
  ConnectionLostError,
  InsufficientMemoryError,
  InvalidWorkerOptionError,
  MissingDataError,
  RefusedError,
  TrainingFailedError,
  RefusedMessageError,
  WorkerError,
  WORKER_ERROR_CODES,
} from './errors.ts';
import { ConnectionLifecycle } from './lifecycle.ts';
import { resolveWorkerOptions, tlsOf, type ResolvedWorkerOptions, type WorkerOptions, type WorkerTls } from './options.ts';
import type { ComputeProvider, ListenForPeers, ReplicaTrainer, Ring, RingServer } from './ports.ts';
import { CLOSE_CODES, CONNECTION_ERROR_CODES, encodeMessage, parseCoordinatorToWorker, PROTOCOL_VERSION, ProtocolError, recoveryOf } from './wire.ts';

export interface WorkerLogger {
  debug(fields: object, message: string): void;
  info(fields: object, message: string): void;
  warn(fields: object, message: string): void;
  error(fields: object, message: string): void;
}

const quiet: WorkerLogger = { debug() {}, info() {}, warn() {}, error() {} };

/** How long forming a generation's ring may wait for its neighbours (a large state relayed to them takes a while). */
const RING_JOIN_TIMEOUT_MS = 600_000;

export interface WorkerDependencies {
  compute: ComputeProvider;
  /** Starts the peer server. @default startPeerServer */
  listen?: ListenForPeers;
  logger?: WorkerLogger;
  /** Where steps, all-reduces, tensor memory and failures are recorded (served on `/metrics`). */
  metrics?: WorkerMetrics;
  /** Called as each step's samples are trained (for step logs written as the run goes). */
  onStep?: (record: StepRecord) => void;
  /** A fault to inject at a chosen point of a chosen step, for failure tests (TorchFT's `fail_at`). */
  fault?: InjectedFault;
}

/** Where in a step a fault strikes. */
export type FaultPoint = 'compute' | 'before-allreduce' | 'during-allreduce' | 'after-allreduce';

export interface InjectedFault {
  step: number;
  point: FaultPoint;
  /** What happens there (the CLI kills its own process, or holds the step for a while). */
  strike(): void | Promise<void>;
}

/** How a worker's run ended without an error of its own. */
export interface WorkerOutcome {
  reason: string;
  /** Whether the coordinator said the run failed (the worker itself is fine). */
  runFailed: boolean;
  stepsDone: number;
}

/** A step whose samples this worker trained, for tests, step logs and the launcher. */
export interface StepRecord {
  step: number;
  epoch: number;
  generation: number;
  indices: Uint32Array;
  loss: number;
  /** 'self': this replica applied it; 'peers': it was cut short here but finished by a peer with this worker's gradient in it. */
  via: 'self' | 'peers';
}

/** The step whose all-reduce is under way, remembered in case a new generation cuts it short. */
interface InFlight {
  step: number;
  epoch: number;
  generation: number;
  indices: Uint32Array;
  loss: number;
}

/** A step whose gradient is computed, on its way to being applied. */
interface DoneStep {
  step: number;
  epoch: number;
  indices: Uint32Array;
  local: { loss: number; correct: number; count: number; flat: Float32Array };
  /** Preparing the batch and computing the gradient. */
  computeMs: number;
  /** Between the previous step and this one: waiting on the coordinator. */
  idleMs: number;
}

export class Worker {
  readonly options: ResolvedWorkerOptions;
  readonly lifecycle = new ConnectionLifecycle();
  readonly workerId: string;
  /** Every step this worker trained, in order (indices included: tests check exactly-once coverage). */
  readonly history: StepRecord[] = [];

  private readonly deps: WorkerDependencies;
  private readonly log: WorkerLogger;
  private socket: WebSocket | null = null;
  private server: RingServer | null = null;
  private ring: Ring | null = null;
  /** Abandons forming the current generation's ring when a newer one is assigned. */
  private joining: AbortController | null = null;
  /** The generation whose ring this worker left (superseded, failed, or the run stopped): its messages are dropped. */
  private abandoned = -1;
  private trainer: ReplicaTrainer | null = null;
  /** What the replica's convolutions compute in, fixed when it is built. */
  private trainerPrecision: ConvolutionPrecision = 'f32';
  /** Averages each step's gradient over the ring as the run's compression says; lives as long as the replica. */
  private reducer: GradientReducer | null = null;
  /** Whether the trainer holds a replica of the run (a state was loaded), as against fresh weights. */
  private hasReplica = false;
  private assignment: AssignMessage | null = null;
  /** The state `sync` said is coming, while its pieces arrive. */
  private incomingState: { generation: number; step: number; position: { epoch: number; offset: number }; bytes: Uint8Array; received: number } | null = null;
  private readonly train = new DatasetStore('train');
  private readonly test = new DatasetStore('test');
  private stepsDone = 0;
  private inFlight: InFlight | null = null;
  /** The step the last change of generation cut short, until the next `replica`. */
  private abortedStep = -1;
  private queue: Promise<void> = Promise.resolve();
  private pendingStateRequests = 0;
  private stopReason: string | null = null;
  private runFailed = false;
  private shuttingDown = false;
  private settle!: { resolve: (o: WorkerOutcome) => void; reject: (e: Error) => void };
  private finished = false;
  /** The certificate files in use; `reloadTls` replaces them. */
  private tls: WorkerTls | null;
  private remoteError: { code: string; message: string } | null = null;
  private socketProblem: string | null = null;
  /** Where in its epoch's order the replica stands (after its last step, or as `sync` said). */
  private position: { epoch: number; offset: number } | null = null;
  /** The newest generation this worker was in, said in `hello` after a reconnect. */
  private lastGeneration = 0;
  /** Counts coordinator connections; messages of an earlier one still queued are dropped. */
  private connection = 0;
  private welcomed = false;
  private pinger: NodeJS.Timeout | null = null;

  constructor(options: WorkerOptions, deps: WorkerDependencies) {
    this.options = resolveWorkerOptions(options);
    this.tls = this.options.tls;
    this.deps = deps;
    this.log = deps.logger ?? quiet;
    this.workerId = this.options.workerId ?? `${hostname()}-${process.pid}-${randomBytes(3).toString('hex')}`;
  }

  /** This worker's rank in the current ring; null before its first assignment. */
  get rank(): number | null {
    return this.assignment?.rank ?? null;
  }

  /** The membership generation of the current ring; null before the first assignment. */
  get generation(): number | null {
    return this.assignment?.generation ?? null;
  }

  /** Global steps the replica has done. */
  get steps(): number {
    return this.stepsDone;
  }

  /** Whether the worker has joined its ring and can train. */
  get inRing(): boolean {
    return this.ring !== null;
  }

  /** Runs until `stop` (resolves) or a failure (rejects with a `WorkerError` saying what went wrong). */
  run(): Promise<WorkerOutcome> {
    const done = new Promise<WorkerOutcome>((resolve, reject) => {
      this.settle = { resolve, reject };
    });
    this.begin().catch((error: unknown) => this.fail(asWorkerError(error)));
    return done;
  }

  /**
   * Takes new certificate files (read again on SIGHUP) for the connections made from now on: to
   * the coordinator, to ring peers and from them (those open keep theirs). The links stay as
   * they are, TLS or cleartext, which the run's other workers agreed on at `hello`.
   */
  reloadTls(files: WorkerTls): void {
    const tls = tlsOf(files);
    const before = peerTls(this.tls);
    const after = peerTls(tls);
    if ((before === null) !== (after === null)) throw new InvalidWorkerOptionError(`new TLS files cannot turn the peer links ${before === null ? 'to TLS' : 'to cleartext'}: the run's workers agreed on them when they joined`);
    if (after !== null) this.server?.reloadTls?.(after);
    this.tls = tls;
  }

  /** Leaves: tells the coordinator why, closes the ring and the connection. */
  shutdown(reason: string): void {
    this.shuttingDown = true;
    this.fail(new ConnectionLostError(`the worker was shut down: ${reason}`), 1001);
  }

  private async begin(): Promise<void> {
    const o = this.options;
    const listen = this.deps.listen ?? startPeerServer;
    const metrics = this.deps.metrics;
    this.server = await listen({
      host: o.peerHost,
      port: o.peerPort,
      advertiseHost: o.advertiseHost,
      token: o.token,
      logger: this.log,
      maxUnauthenticated: o.peerMaxUnauthenticated,
      maxHandshakesPerSecond: o.peerMaxHandshakesPerSecond,
      ...(metrics === undefined ? {} : { onRefused: (reason) => metrics.recordPeerRefusal(reason) }),
      ...(peerTls(this.tls) === null ? {} : { tls: peerTls(this.tls) as PeerTls }),
    });
    const linkTls = peerTls(this.tls) === null ? 'cleartext' : "TLS, peers need a certificate of the run's CA";
    this.log.info({ peer: this.server.address }, `peer server listening on ${this.server.address.host}:${this.server.address.port} (${linkTls})`);
    const socket = await this.connect(o.connectTimeoutMs, false);
    this.attach(socket);
  }

  /** Takes a new coordinator connection into use and says hello on it. */
  private attach(socket: WebSocket): void {
    if (this.finished) {
      socket.terminate();
      return;
    }
    const o = this.options;
    const server = this.server;
    if (server === null) return;
    this.socket = socket;
    this.socketProblem = null;
    this.remoteError = null;
    const connection = this.connection;
    socket.on('message', (data, isBinary) => {
      if (connection === this.connection) this.onMessage(data, isBinary);
    });
    socket.on('close', (code, reason) => {
      if (connection === this.connection) this.onClose(code, reason.toString());
    });
    socket.on('error', (error: Error & { code?: string }) => {
      // ws reports a frame over maxPayload here, then closes with 1009.
      this.socketProblem =
        error.code === 'WS_ERR_UNSUPPORTED_MESSAGE_LENGTH'
          ? `the coordinator sent a message over maxMessageBytes (${this.options.maxMessageBytes} bytes)`
          : `connection error: ${error.message}`;
      this.log.warn({ code: error.code }, this.socketProblem);
    });
    this.sendToCoordinator({
      v: PROTOCOL_VERSION,
      type: 'hello',
      token: o.token,
      workerId: this.workerId,
      hostname: hostname(),
      pid: process.pid,
      backend: this.deps.compute.backend,
      peerAddress: server.address,
      ...(o.hostGroup === undefined ? {} : { hostGroup: o.hostGroup }),
      generation: this.lastGeneration,
      heartbeatsDuringSteps: this.deps.compute.heartbeatsDuringSteps === true,
      peerTls: peerTls(this.tls) !== null,
      // A replica keeps the precision it was built in (an assign asking for another is refused).
      precisions: this.trainer !== null ? [this.trainerPrecision] : [...(this.deps.compute.precisions ?? ['f32'])],
    });
  }

  /**
   * Connects, retrying until `timeoutMs` (the coordinator may start later, or be restarting):
   * every `connectRetryMs`, or from there doubling up to 5 s with `backOff`.
   */
  private async connect(timeoutMs: number, backOff: boolean): Promise<WebSocket> {
    const o = this.options;
    const deadline = Date.now() + timeoutMs;
    let pauseMs = o.connectRetryMs;
    let lastError = '';
    while (!this.finished) {
      try {
        return await new Promise<WebSocket>((resolve, reject) => {
          // Answers to the coordinator's pings would wait behind a large state this worker sends,
          // and ws cuts a connection with 60 of them pending: the coordinator hears this worker's
          // own pings and messages instead.
          const socket = new WebSocket(o.coordinatorUrl, { maxPayload: o.maxMessageBytes, handshakeTimeout: o.connectRetryMs * 4, autoPong: false, ...clientTls(this.tls) });
          socket.once('open', () => {
            socket.removeAllListeners('error');
            resolve(socket);
          });
          // A refusal the coordinator explains (a client certificate it does not accept) is final.
          socket.once('unexpected-response', (_req, res) => {
            const why = res.headers['x-ringtrain-refusal'];
            socket.terminate();
            if (res.statusCode === 403 && typeof why === 'string') reject(Object.assign(new Error(why), { code: 'RINGTRAIN_TLS_REFUSED' }));
            else reject(new Error(`the coordinator answered HTTP ${res.statusCode ?? '?'} instead of switching protocols`));
          });
          socket.once('error', (error) => {
            socket.terminate();
            reject(error);
          });
        });
      } catch (error) {
        const code = (error as { code?: string }).code;
        // A certificate refused is refused again on the next attempt.
        if (code !== undefined && TLS_REFUSALS.has(code)) {
          const what =
            code === 'RINGTRAIN_TLS_REFUSED'
              ? 'it refused this worker\'s TLS certificate'
              : code === 'ERR_SSL_WRONG_VERSION_NUMBER'
                ? 'it does not speak TLS there (dial ws://)'
                : 'its TLS certificate was refused';
          throw new ConnectFailedError(`could not reach the coordinator at ${o.coordinatorUrl}: ${what}: ${(error as Error).message} (${code})`);
        }
        lastError = (error as Error).message;
        if (o.coordinatorUrl.startsWith('ws:') && /socket hang up|ECONNRESET/.test(lastError)) lastError += ' (is its port TLS? then dial wss://)';
        if (Date.now() + pauseMs > deadline) break;
        await new Promise((r) => setTimeout(r, pauseMs));
        if (backOff) pauseMs = Math.min(2 * pauseMs, 5000);
      }
    }
    throw new ConnectFailedError(`could not reach the coordinator at ${o.coordinatorUrl} within ${timeoutMs} ms: ${lastError}`);
  }

  /**
   * The coordinator went away: keep the replica, the images and the peer server, drop the rest of
   * what the old coordinator had asked for, and reach it (or its restarted self) again.
   */
  private async reconnect(why: string): Promise<void> {
    this.connection += 1;
    this.socket = null;
    this.leaveGeneration();
    this.assignment = null;
    this.abandoned = -1;
    this.incomingState = null;
    this.pendingStateRequests = 0;
    this.lifecycle.moveTo('reconnecting', why);
    this.deps.metrics?.recordFailure('coordinator_lost');
    const timeoutMs = this.options.reconnectTimeoutMs;
    this.log.warn({ steps: this.stepsDone }, `${why}; keeping the replica at step ${this.stepsDone} and reconnecting for up to ${Math.round(timeoutMs / 1000)} s`);
    let socket: WebSocket;
    try {
      socket = await this.connect(timeoutMs, true);
    } catch (error) {
      return this.fail(new ConnectionLostError(`${why}, and reconnecting failed: ${(error as Error).message}`), null);
    }
    if (this.finished) {
      socket.terminate();
      return;
    }
    this.lifecycle.moveTo('connecting', 'reconnected');
    this.log.info({}, `reconnected to the coordinator at ${this.options.coordinatorUrl}`);
    this.attach(socket);
  }

  // ---------------------------------------------------------------- incoming

  private onMessage(data: WebSocket.RawData, isBinary: boolean): void {
    if (this.finished) return;
    let message: CoordinatorToWorker;
    try {
      message = parseCoordinatorToWorker(data, { isBinary, maxFrameBytes: this.options.maxMessageBytes });
    } catch (error) {
      const closeCode = error instanceof ProtocolError ? error.closeCode : 1007;
      return this.fail(new RefusedMessageError(`the coordinator sent a message this worker refuses: ${(error as Error).message}`, closeCode));
    }
    // These must not wait behind a running plan or a ring being formed.
    switch (message.type) {
      case 'stop':
        this.stopReason = message.reason;
        this.runFailed = message.failed;
        this.leaveGeneration();
        break;
      case 'assign':
        if (this.assignment !== null && message.generation > this.assignment.generation) this.leaveGeneration();
        break;
      case 'state-request':
        // A checkpoint of the generation in training is taken between steps.
        if (this.lifecycle.state === 'in-round' && message.generation === this.assignment?.generation) {
          this.pendingStateRequests += 1;
          return;
        }
        break;
      case 'error':
        // The close that follows ends the run with this text.
        this.remoteError = message;
        return;
      default:
        break;
    }
    const connection = this.connection;
    this.queue = this.queue
      .then(() => (connection === this.connection ? this.handle(message) : undefined))
      .catch((error: unknown) =>
        // Peers leave when the run stops; a step cut short by that is part of stopping, not a failure.
        this.stopReason !== null ? this.finish(this.stopReason) : this.fail(asWorkerError(error)),
      );
  }

  private async handle(message: CoordinatorToWorker): Promise<void> {
    if (this.finished) return;
    const state = this.lifecycle.state;
    if ('generation' in message && message.type !== 'dataset' && message.generation === this.abandoned) {
      this.log.debug({ generation: message.generation }, `dropped ${message.type} of generation ${message.generation}, which this worker has left`);
      return;
    }
    const outOfTurn = (): never => {
      throw new RefusedMessageError(`the coordinator sent ${message.type} while this worker is ${state}${this.assignment === null ? ' without an assignment' : ''}`);
    };
    switch (message.type) {
      case 'welcome':
        if (state !== 'connecting') outOfTurn();
        this.lifecycle.moveTo('ready', 'welcomed');
        this.welcomed = true;
        this.startPinging(message.heartbeatIntervalMs);
        this.log.info({}, `joined the coordinator as ${message.workerId}`);
        return;
      case 'assign':
        if (state !== 'ready') outOfTurn();
        return this.onAssign(message);
      case 'sync':
        if (state !== 'ready' || message.generation !== this.assignment?.generation) outOfTurn();
        return this.onSync(message);
      case 'state':
        if (state !== 'ready' || this.assignment === null) outOfTurn();
        return this.onStatePiece(message);
      case 'dataset':
        // Images do not belong to a generation: the coordinator ships each once, whatever happens to rings.
        if (state === 'connecting' || this.assignment === null) outOfTurn();
        (message.split === 'train' ? this.train : this.test).add(message);
        return;
      case 'plan':
        if (this.assignment !== null && message.generation !== this.assignment.generation) return;
        if (state !== 'ready' || this.ring === null) outOfTurn();
        return this.runPlan(message);
      case 'evaluate':
        if (this.assignment !== null && message.generation !== this.assignment.generation) return;
        if (state !== 'ready' || this.trainer === null) outOfTurn();
        return this.runEvaluation(message);
      case 'state-request':
        if (state !== 'ready' || this.trainer === null || !this.hasReplica) outOfTurn();
        return this.sendState();
      case 'stop':
        return this.finish(message.reason);
      case 'error':
        return;
      default: {
        const unknown: never = message;
        throw new RefusedMessageError(`unknown message ${JSON.stringify(unknown)}`);
      }
    }
  }

  /** Drops what the current generation was doing: the ring (an all-reduce in flight rejects), a ring being formed. */
  private leaveGeneration(): void {
    if (this.assignment !== null) this.abandoned = this.assignment.generation;
    // Checkpoint requests of the generation left are void: the next one asks again.
    this.pendingStateRequests = 0;
    this.joining?.abort(new Error('a newer generation was assigned'));
    this.joining = null;
    const ring = this.ring;
    this.ring = null;
    void ring?.close().catch(() => {});
  }

  private async onAssign(message: AssignMessage): Promise<void> {
    const previous = this.assignment;
    if (previous !== null && message.generation <= previous.generation) {
      throw new RefusedMessageError(`an assignment of generation ${message.generation} follows one of generation ${previous.generation}`);
    }
    this.leaveGeneration();
    this.assignment = message;
    this.lastGeneration = Math.max(this.lastGeneration, message.generation);
    this.incomingState = null;
    const { rank, worldSize, generation, model } = message;
    const precision = message.hyper.precision ?? 'f32';
    this.log.info({ rank, worldSize, generation, precision }, `assigned rank ${rank} of ${worldSize} in generation ${generation} (ResNet-${model.depth}, ${model.stem} stem, ${precision} convolutions)`);
    this.deps.metrics?.setRank(rank);
    this.deps.metrics?.setBuildInfo({ model: `resnet${model.depth}` });
    if (message.hyper.overlap === true && message.hyper.compression.method !== 'none') {
      throw new RefusedMessageError(`an assignment asks for overlap with compression ${message.hyper.compression.method}; overlap needs compression none`);
    }
    if (message.hyper.overlap === true && message.hyper.delayedAllReduce === true) {
      throw new RefusedMessageError('an assignment asks for both overlap and the delayed all-reduce; they are two ways of hiding the same all-reduce, choose one');
    }
    if (this.trainer === null) this.checkMemory(model, message.hyper.batchSizePerWorker, { weightAverage: (message.hyper.emaDecay ?? 0) > 0, delayedAllReduce: message.hyper.delayedAllReduce === true });
    // The replica outlives generations: it is what the next one may start from. Its precision is
    // fixed when it is built, so a coordinator that comes back asking for another is refused.
    if (this.trainer !== null && this.trainerPrecision !== precision) {
      throw new RefusedMessageError(`an assignment asks for ${precision} convolutions, but this worker's replica computes in ${this.trainerPrecision}; restart the worker to change precision`);
    }
    if (this.trainer === null) {
      this.trainer = await this.deps.compute.createTrainer(model, message.hyper);
      this.trainerPrecision = precision;
    }
    if (this.reducer === null || JSON.stringify(this.reducer.compression) !== JSON.stringify(message.hyper.compression)) {
      this.reducer = createGradientReducer(message.hyper.compression, flatLayoutFor(describeResNet(model)), model.seed);
    }
    this.recordMemory();
    const stepsDone = this.hasReplica ? this.stepsDone : -1;
    const position = this.hasReplica ? this.position : null;
    this.sendToCoordinator({
      v: PROTOCOL_VERSION,
      type: 'replica',
      generation,
      stepsDone,
      abortedStep: this.abortedStep,
      epoch: position?.epoch ?? -1,
      offset: position?.offset ?? -1,
    });
  }

  /** Refuses a model and batch estimated to need more than `memoryLimitBytes`, before building anything. */
  private checkMemory(model: ModelSpec, batchPerWorker: number, training: TrainingMemoryOptions): void {
    const limit = this.options.memoryLimitBytes;
    if (limit === 0) return;
    const estimate = estimateTrainingMemory(model, batchPerWorker, training);
    if (estimate.workerBytes <= limit) return;
    throw new InsufficientMemoryError(
      `ResNet-${model.depth} (width ×${model.widthMultiplier}, ${model.imageSize}×${model.imageSize}, ${(estimate.parameters / 1e6).toFixed(1)} M parameters) at ${batchPerWorker} images per worker ` +
        `needs about ${formatBytes(estimate.workerBytes)}, more than the ${formatBytes(limit)} this worker may take (its machine's memory over --workers-per-machine; --no-memory-check skips this)`,
    );
  }

  private async onSync(message: SyncMessage): Promise<void> {
    const inFlight = this.inFlight;
    // Cut short here, finished by a peer with this worker's gradient in it: its samples were trained.
    if (message.finishedByPeers > 0 && inFlight !== null && inFlight.step === this.stepsDone) {
      this.recordStep({ ...inFlight, via: 'peers' });
    }
    this.inFlight = null;
    this.abortedStep = -1;
    const position = { epoch: message.epoch, offset: message.offset };
    if (!message.keep) {
      // The replica stands where it stood until the state is in place.
      this.incomingState = { generation: message.generation, step: message.step, position, bytes: new Uint8Array(0), received: -1 };
      return;
    }
    if (!this.hasReplica || this.stepsDone !== message.step) {
      throw new RefusedMessageError(`told to keep a replica of step ${message.step}, but this replica ${this.hasReplica ? `has done ${this.stepsDone} steps` : 'holds no state'}`);
    }
    this.position = position;
    await this.joinRing(message.generation);
  }

  private async onStatePiece(message: StateMessage): Promise<void> {
    const incoming = this.incomingState;
    if (incoming === null || message.generation !== incoming.generation || message.step !== incoming.step) {
      if (message.generation < (this.assignment?.generation ?? 0)) return;
      throw new RefusedMessageError(`a state of step ${message.step} (generation ${message.generation}) arrived unannounced`);
    }
    if (message.offset === 0) {
      incoming.bytes = new Uint8Array(message.totalBytes);
      incoming.received = 0;
    }
    if (message.offset !== incoming.received || message.offset + message.bytes.length > incoming.bytes.length) {
      throw new RefusedMessageError(`a state piece at offset ${message.offset} of ${message.totalBytes} arrived out of order (expected offset ${Math.max(0, incoming.received)})`);
    }
    incoming.bytes.set(message.bytes, message.offset);
    incoming.received += message.bytes.length;
    if (incoming.received < incoming.bytes.length) return;
    this.incomingState = null;
    const trainer = this.trainer;
    if (trainer === null) throw new RefusedMessageError('a state arrived before the assignment');
    await trainer.setState(incoming.bytes);
    this.hasReplica = true;
    this.stepsDone = incoming.step;
    this.position = incoming.position;
    this.recordMemory();
    await this.joinRing(incoming.generation);
  }

  /** Forms the generation's ring and says `ready`; a ring that cannot form is reported, not fatal. */
  private async joinRing(generation: number): Promise<void> {
    const assignment = this.assignment;
    const server = this.server;
    const trainer = this.trainer;
    if (assignment === null || server === null || trainer === null || assignment.generation !== generation) return;
    const joining = new AbortController();
    this.joining = joining;
    try {
      this.ring = await server.joinRing({
        generation,
        rank: assignment.rank,
        worldSize: assignment.worldSize,
        ring: assignment.ring,
        maxBucketBytes: assignment.hyper.maxBucketBytes,
        // The neighbours may still be loading a relayed state; a newer generation aborts the wait.
        connectTimeoutMs: RING_JOIN_TIMEOUT_MS,
        signal: joining.signal,
      });
    } catch (error) {
      if (joining.signal.aborted || this.assignment?.generation !== generation) return;
      if (!(error instanceof AllReduceError)) throw error;
      this.log.warn({ code: error.code }, `the ring of generation ${generation} did not form: ${error.message}`);
      this.abandoned = generation;
      this.sendToCoordinator({ v: PROTOCOL_VERSION, type: 'ring-failed', generation, step: this.stepsDone, code: error.code, message: error.message });
      return;
    } finally {
      if (this.joining === joining) this.joining = null;
    }
    if (this.assignment?.generation !== generation) {
      void this.ring?.close();
      this.ring = null;
      return;
    }
    // Every member starts the generation from the same step, so compression state reset here is alike everywhere.
    this.reducer?.startGeneration(this.stepsDone);
    this.log.info({ generation }, `ring of ${assignment.worldSize} closed at step ${this.stepsDone}; ready`);
    this.sendToCoordinator({ v: PROTOCOL_VERSION, type: 'ready', generation, step: this.stepsDone, weightChecksum: await trainer.weightChecksum() });
  }

  // ---------------------------------------------------------------- training

  private async runPlan(plan: PlanMessage): Promise<void> {
    const trainer = this.trainer;
    const ring = this.ring;
    const assignment = this.assignment;
    const reducer = this.reducer;
    if (trainer === null || ring === null || assignment === null || reducer === null) throw new RefusedMessageError('a plan arrived before the ring was joined');
    const b = assignment.hyper.batchSizePerWorker;
    const steps = plan.learningRates.length;
    if (Math.ceil(plan.indices.length / b) !== steps) {
      throw new RefusedMessageError(`a plan of ${plan.indices.length} indices in batches of ${b} has ${Math.ceil(plan.indices.length / b)} steps, but ${steps} learning rates`);
    }
    if (plan.firstStep !== this.stepsDone) {
      throw new RefusedMessageError(`a plan starts at step ${plan.firstStep}, but this replica has done ${this.stepsDone} steps`);
    }
    this.train.requireAll(plan.indices, `the plan of epoch ${plan.epoch}`);
    this.lifecycle.moveTo('in-round', `plan of epoch ${plan.epoch}`);
    const { preprocess, checksumEverySteps } = assignment.hyper;
    const delayed = assignment.hyper.delayedAllReduce === true;
    const imageSize = assignment.model.imageSize;
    const generation = assignment.generation;
    const current = (): boolean => this.ring === ring && this.stopReason === null && !this.finished;
    let idleSinceMs = performance.now();
    const batchOf = (i: number): { step: number; indices: Uint32Array; x: Float32Array; labels: Int32Array } => {
      const indices = plan.indices.subarray(i * b, Math.min(plan.indices.length, (i + 1) * b));
      const x = preprocessBatch(this.train.images, this.train.rows, this.train.cols, indices, {
        imageSize,
        mean: preprocess.mean,
        std: preprocess.std,
        ...(preprocess.augment ? { augment: { seed: preprocess.seed, epoch: plan.epoch, alternateFlips: preprocess.alternateFlips === true, cropPaddingPx: preprocess.cropPaddingPx ?? DEFAULT_CROP_PADDING_PX } } : {}),
      });
      return { step: plan.firstStep + i, indices, x, labels: gatherLabels(this.train.labels, indices) };
    };
    /** This step's gradient is on its way round the ring. */
    const sent = async (step: number, indices: Uint32Array, loss: number): Promise<void> => {
      this.inFlight = { step, epoch: plan.epoch, generation, indices: indices.slice(), loss };
      this.sendToCoordinator({ v: PROTOCOL_VERSION, type: 'gradient-ready', generation, step });
      await this.faultAt(step, 'before-allreduce');
    };
    const duringAllReduce = async (step: number): Promise<void> => {
      if (this.deps.fault?.step !== step || this.deps.fault.point !== 'during-allreduce') return;
      // Once the first chunks are on their way and some have come back.
      await new Promise((r) => setTimeout(r, 1));
      await this.faultAt(step, 'during-allreduce');
    };
    /** Applies a step's average and reports it; false when the plan should stop. */
    const applied = async (done: DoneStep, reduced: ReduceOutcome, exposedMs: number): Promise<boolean> => {
      await this.faultAt(done.step, 'after-allreduce');
      const t2 = performance.now();
      await trainer.applyGradients(reduced.data, plan.learningRates[done.step - plan.firstStep] as number);
      const t3 = performance.now();
      // Delayed, the ring's wait for its peers mostly passed while the next step computed.
      const waitedInRing = delayed ? Math.min(reduced.waitMs, exposedMs) : reduced.waitMs;
      const split = { computeMs: done.computeMs + (t3 - t2), allReduceMs: Math.max(0, exposedMs - waitedInRing), waitMs: waitedInRing + done.idleMs, exposedMs };
      await this.reportStep(plan, done, reduced, split, checksumEverySteps);
      await this.answerStateRequests();
      // Let socket events (pings, stop, state requests, a new generation) in between steps.
      await new Promise((r) => setImmediate(r));
      idleSinceMs = performance.now();
      return current();
    };
    try {
      if (delayed) {
        await runDelayedSteps<DoneStep>(steps, {
          compute: async (i, into) => {
            const t0 = performance.now();
            const { step, indices, x, labels } = batchOf(i);
            await this.faultAt(step, 'compute');
            const local = await trainer.computeGradients(x, labels, into);
            if (!current()) return null;
            return { step, epoch: plan.epoch, indices, local, computeMs: performance.now() - t0, idleMs: t0 - idleSinceMs };
          },
          gradientOf: (done) => done.local.flat,
          reduce: async (_i, done) => {
            await sent(done.step, done.indices, done.local.loss);
            const reducing = reducer.reduce(ring, done.local.flat, done.step);
            await duringAllReduce(done.step);
            return reducing;
          },
          apply: (_i, done, reduced, exposedMs) => applied(done, reduced, exposedMs),
          abandoned: (_i, done, error) => {
            this.abortedStep = done.step;
            if (error !== null && current()) this.ringFailed(ring, generation, done.step, error);
          },
        });
        return;
      }
      for (let i = 0; i < steps && current(); i++) {
        const t0 = performance.now();
        const { step, indices, x, labels } = batchOf(i);
        await this.faultAt(step, 'compute');
        // Overlapped, the ring reduces each bucket as the backward pass finishes it; t1 is still the end of the backward.
        const overlapped = assignment.hyper.overlap === true && reducer instanceof PlainReducer ? startOverlappedStep(trainer, reducer, ring, x, labels, step) : null;
        const local = await (overlapped?.computed ?? trainer.computeGradients(x, labels));
        const t1 = performance.now();
        if (!current()) return;
        await sent(step, indices, local.loss);
        let reduced;
        try {
          const reducing = overlapped?.reducing ?? reducer.reduce(ring, local.flat, step);
          await duringAllReduce(step);
          reduced = await reducing;
        } catch (error) {
          // Nothing of this step was applied: the replica stays at the steps it has done.
          this.abortedStep = step;
          if (!current()) return;
          this.ringFailed(ring, generation, step, error);
          return;
        }
        const done: DoneStep = { step, epoch: plan.epoch, indices, local, computeMs: t1 - t0, idleMs: t0 - idleSinceMs };
        if (!(await applied(done, reduced, performance.now() - t1))) return;
      }
    } finally {
      if (this.lifecycle.state === 'in-round') this.lifecycle.moveTo('ready', `plan of epoch ${plan.epoch} ended`);
    }
    await this.answerStateRequests();
  }

  /** The ring of `generation` failed in the all-reduce of `step`: leave it, and wait for the coordinator's next `assign`. */
  private ringFailed(ring: Ring, generation: number, step: number, error: unknown): void {
    if (!(error instanceof AllReduceError)) throw error;
    this.log.warn({ code: error.code, step }, `the all-reduce of step ${step} failed (${error.message}); waiting for the coordinator to form a new ring`);
    this.deps.metrics?.recordFailure('peer_lost');
    this.abandoned = generation;
    this.ring = null;
    void ring.close().catch(() => {});
    this.sendToCoordinator({ v: PROTOCOL_VERSION, type: 'ring-failed', generation, step, code: error.code, message: error.message });
  }

  /** A step applied: the replica has done it; the coordinator and the metrics hear of it. */
  private async reportStep(plan: PlanMessage, done: DoneStep, reduced: ReduceOutcome, split: { computeMs: number; allReduceMs: number; waitMs: number; exposedMs: number }, checksumEverySteps: number): Promise<void> {
    const trainer = this.trainer as ReplicaTrainer;
    const { step, local } = done;
    this.inFlight = null;
    this.abortedStep = -1;
    this.position = { epoch: plan.epoch, offset: plan.positions[step - plan.firstStep] as number };
    this.stepsDone = step + 1;
    const due = checksumEverySteps > 0 && (step + 1) % checksumEverySteps === 0;
    this.recordStep({ step, epoch: plan.epoch, generation: plan.generation, indices: done.indices.slice(), loss: local.loss, via: 'self' });
    this.sendToCoordinator({
      v: PROTOCOL_VERSION,
      type: 'step-report',
      generation: plan.generation,
      epoch: plan.epoch,
      step,
      loss: local.loss,
      correct: local.correct,
      count: local.count,
      computeMs: split.computeMs,
      allReduceMs: split.allReduceMs,
      waitMs: split.waitMs,
      sentBytes: reduced.bytesSent,
      weightChecksum: due ? await trainer.weightChecksum() : '',
    });
    const metrics = this.deps.metrics;
    if (metrics !== undefined) {
      metrics.recordStep({ examples: local.count, computeSeconds: split.computeMs / 1000, allReduceSeconds: split.allReduceMs / 1000, waitSeconds: split.waitMs / 1000 });
      metrics.recordAllReduce({
        gradientBytes: local.flat.byteLength,
        sentBytes: reduced.bytesSent,
        receivedBytes: reduced.bytesReceived,
        seconds: split.exposedMs / 1000,
      });
      this.recordMemory();
    }
  }

  private async faultAt(step: number, point: FaultPoint): Promise<void> {
    const fault = this.deps.fault;
    if (fault === undefined || fault.step !== step || fault.point !== point) return;
    this.log.warn({ step, point }, `injecting the fault asked for at step ${step}, ${point}`);
    await fault.strike();
  }

  private async answerStateRequests(): Promise<void> {
    while (this.pendingStateRequests > 0) {
      this.pendingStateRequests -= 1;
      await this.sendState();
    }
  }

  private recordStep(record: StepRecord): void {
    this.history.push(record);
    this.deps.onStep?.(record);
  }

  private async runEvaluation(message: EvaluateMessage): Promise<void> {
    const trainer = this.trainer;
    const assignment = this.assignment;
    if (trainer === null || assignment === null) throw new RefusedMessageError('an evaluation arrived before the assignment');
    this.test.requireAll(message.indices, `the evaluation of epoch ${message.epoch}`);
    this.lifecycle.moveTo('in-round', `evaluation of epoch ${message.epoch}`);
    const batch = this.options.evalBatchSize;
    const { preprocess } = assignment.hyper;
    let lossSum = 0;
    let correct = 0;
    let count = 0;
    try {
      for (let start = 0; start < message.indices.length; start += batch) {
        const indices = message.indices.subarray(start, start + batch);
        const x = preprocessBatch(this.test.images, this.test.rows, this.test.cols, indices, {
          imageSize: assignment.model.imageSize,
          mean: preprocess.mean,
          std: preprocess.std,
        });
        const result = await trainer.evaluate(x, gatherLabels(this.test.labels, indices));
        lossSum += result.loss * result.count;
        correct += result.correct;
        count += result.count;
        await new Promise((r) => setImmediate(r));
        // A new generation evaluates again with shares of its own.
        if (this.assignment !== assignment || this.stopReason !== null) return;
      }
    } finally {
      if (this.lifecycle.state === 'in-round') this.lifecycle.moveTo('ready', `evaluation of epoch ${message.epoch} ended`);
    }
    this.recordMemory();
    this.sendToCoordinator({ v: PROTOCOL_VERSION, type: 'evaluation', generation: assignment.generation, epoch: message.epoch, lossSum, correct, count });
  }

  private async sendState(): Promise<void> {
    const trainer = this.trainer;
    const assignment = this.assignment;
    if (trainer === null || assignment === null) return;
    const step = this.stepsDone;
    const bytes = await trainer.getState();
    // A generation that opened meanwhile asks again, from its own starting state.
    if (this.assignment !== assignment) return;
    const chunk = this.options.stateChunkBytes;
    let offset = 0;
    do {
      const piece = bytes.subarray(offset, Math.min(bytes.length, offset + chunk));
      this.sendToCoordinator({ v: PROTOCOL_VERSION, type: 'state', generation: assignment.generation, step, offset, totalBytes: bytes.length, bytes: piece });
      offset += piece.length;
    } while (offset < bytes.length);
  }

  // ---------------------------------------------------------------- the end

  private sendToCoordinator(message: WorkerToCoordinator): void {
    const socket = this.socket;
    if (socket === null || socket.readyState !== WebSocket.OPEN) return;
    socket.send(encodeMessage(message));
  }

  private async finish(reason: string): Promise<void> {
    if (this.finished) return;
    this.log.info({ reason }, `stopping: ${reason}`);
    this.lifecycle.moveTo('draining', `stop: ${reason}`);
    this.finished = true;
    await this.release();
    this.socket?.close(1000, 'stopped');
    this.lifecycle.moveTo('closed', 'stopped');
    this.settle.resolve({ reason, runFailed: this.runFailed, stepsDone: this.stepsDone });
  }

  /**
   * Pings the coordinator every `intervalMs`: this worker's own sign of life, which reaches it
   * even when its pings to this worker wait behind a large transfer still to be read here.
   */
  private startPinging(intervalMs: number): void {
    this.stopPinging();
    const socket = this.socket;
    if (socket === null) return;
    this.pinger = setInterval(() => {
      if (socket.readyState === WebSocket.OPEN) socket.ping();
    }, intervalMs);
    this.pinger.unref();
  }

  private stopPinging(): void {
    if (this.pinger !== null) clearInterval(this.pinger);
    this.pinger = null;
  }

  private onClose(code: number, reason: string): void {
    this.stopPinging();
    if (this.finished) return;
    const remote = this.remoteError;
    const mayRetry = this.options.reconnectTimeoutMs > 0 && this.lifecycle.canMoveTo('reconnecting');
    if (remote !== null) {
      // Evicted, or the run had no room: the run may take this worker back later. A wrong token is final.
      if (recoveryOf(remote.code) === 'retryable' && mayRetry) {
        void this.reconnect(`the coordinator closed the connection: ${remote.message} (${remote.code})`);
        return;
      }
      return this.fail(new RefusedError(`the coordinator closed the connection: ${remote.message} (${remote.code})`, remote.code), null);
    }
    // A stop may still be queued behind a running step; the close that follows it is not a loss.
    if (this.stopReason !== null) {
      void this.queue.then(() => this.finish(this.stopReason ?? 'stopped'));
      return;
    }
    const why = this.socketProblem ?? (reason === '' ? 'no reason given' : reason);
    if (this.welcomed && code !== CLOSE_CODES.messageTooBig && mayRetry) {
      void this.reconnect(`the coordinator connection closed unexpectedly (code ${code}: ${why})`);
      return;
    }
    const error =
      code === 1009 ? new RefusedMessageError(`${why} (close code 1009)`, 1009) : new ConnectionLostError(`the coordinator connection closed unexpectedly (code ${code}: ${why})`);
    this.fail(error, null);
  }

  /** Reports the failure to the coordinator (when still connected), closes everything, rejects `run()`. */
  private fail(error: WorkerError, closeCode: number | null = error.closeCode): void {
    if (this.finished) return;
    this.finished = true;
    // A finished run turning this worker away is no fault of the worker's.
    const runOver = error instanceof RefusedError && error.remoteCode === CONNECTION_ERROR_CODES.runOver;
    if (runOver) this.log.info({ code: error.code }, error.message);
    else this.log.error({ code: error.code }, error.message);
    if (!this.shuttingDown && !runOver) this.deps.metrics?.recordFailure(failureReason(error));
    if (this.lifecycle.canMoveTo('draining')) this.lifecycle.moveTo('draining', error.message);
    const socket = this.socket;
    if (closeCode !== null && socket !== null && socket.readyState === WebSocket.OPEN) {
      try {
        socket.send(encodeMessage({ v: PROTOCOL_VERSION, type: 'error', code: error.code, message: error.message }));
      } catch {
        /* closing anyway */
      }
      socket.close(closeCode, Buffer.from(error.message).subarray(0, 120).toString());
    }
    void this.release().finally(() => {
      if (this.lifecycle.canMoveTo('closed')) this.lifecycle.moveTo('closed', error.message);
      this.settle.reject(error);
    });
  }

  /** Tells the metrics what the compute library holds now. */
  private recordMemory(): void {
    const memory = this.deps.compute.memory?.();
    if (memory !== undefined) this.deps.metrics?.setTensorMemory(memory);
  }

  private async release(): Promise<void> {
    this.stopPinging();
    const ring = this.ring;
    const server = this.server;
    this.joining?.abort(new Error('the worker is leaving'));
    this.ring = null;
    this.server = null;
    try {
      await ring?.close();
      await server?.close();
    } catch (error) {
      this.log.warn({}, `closing the ring failed: ${(error as Error).message}`);
    }
    this.trainer?.dispose();
    this.trainer = null;
    setTimeout(() => this.socket?.terminate(), 2000).unref();
  }
}

/** The `reason` label of a failure in the worker's metrics. */
function failureReason(error: WorkerError): string {
  if (error instanceof ConnectionLostError || error instanceof ConnectFailedError) return 'coordinator_lost';
  if (error.cause instanceof AllReduceError) return 'peer_lost';
  if (error instanceof RefusedMessageError || error instanceof RefusedError || error instanceof MissingDataError) return 'protocol_error';
  return 'step_error';
}

/** Errors of a TLS handshake that no retry mends: the peer's certificate is not one to trust. */
const TLS_REFUSALS = new Set([
  'RINGTRAIN_TLS_REFUSED',
  'CERT_HAS_EXPIRED',
  'CERT_NOT_YET_VALID',
  'UNABLE_TO_VERIFY_LEAF_SIGNATURE',
  'UNABLE_TO_GET_ISSUER_CERT_LOCALLY',
  'SELF_SIGNED_CERT_IN_CHAIN',
  'DEPTH_ZERO_SELF_SIGNED_CERT',
  'ERR_TLS_CERT_ALTNAME_INVALID',
  'ERR_SSL_WRONG_VERSION_NUMBER',
  'ERR_SSL_TLSV1_ALERT_UNKNOWN_CA',
  'ERR_SSL_SSLV3_ALERT_BAD_CERTIFICATE',
  'ERR_SSL_SSLV3_ALERT_CERTIFICATE_EXPIRED',
  'ERR_SSL_TLSV13_ALERT_CERTIFICATE_REQUIRED',
]);

/** The ring's links are TLS when this worker has a certificate, its key and the run's CA. */
function peerTls(tls: WorkerTls | null): PeerTls | null {
  if (tls === null || tls.ca === undefined || tls.cert === undefined || tls.key === undefined) return null;
  return { ca: tls.ca, cert: tls.cert, key: tls.key };
}

/** The `ws` client options for `tls`: whom to trust, and the certificate to show. */
function clientTls(tls: WorkerTls | null): { ca?: string; cert?: string; key?: string } {
  if (tls === null) return {};
  return { ...(tls.ca === undefined ? {} : { ca: tls.ca }), ...(tls.cert === undefined ? {} : { cert: tls.cert }), ...(tls.key === undefined ? {} : { key: tls.key }) };
}

function asWorkerError(error: unknown): WorkerError {
  if (error instanceof WorkerError) return error;
  const message = error instanceof Error ? error.message : String(error);
  return new TrainingFailedError(`training failed: ${message}`, { cause: error });
}

export { WORKER_ERROR_CODES };
