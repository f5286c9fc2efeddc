/**
 * The coordinator's socket shell: one port for WebSocket and HTTP, and the loop that feeds the
 * pure state machine (`machine/step.ts`) and executes its outbox.
 *
 * Connections live in two stages. A new connection must send a valid `hello` (right protocol
 * version, right token) within `helloTimeoutMs`; anything else closes it with a clear `error`
 * and a close code, and never reaches the machine, so a stranger on the port cannot disturb the
 * run. Once welcomed, the connection is a worker: its messages become events, its close a
 * `worker-left`, and it is pinged every `heartbeatIntervalMs` (a worker silent for
 * `heartbeatTimeoutMs` is cut and reported lost).
 *
 * Beside the machine runs a `RunObserver`: it sees every event, the state that came out and the
 * outbox, and keeps the metrics (`/metrics`, on a registry of this server's own) and the status
 * (`/status`, `/events`, the dashboard at `/`) current. See `http/routes.ts` for the HTTP side.
 */
import { randomUUID } from 'node:crypto';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { createServer as createTlsServer, type Server as TlsServer } from 'node:https';
import { createRequire } from 'node:module';
import type { AddressInfo, Socket } from 'node:net';
import type { TLSSocket } from 'node:tls';
import type { Duplex } from 'node:stream';
import type { LabelledImages } from '@ringtrain/data';
import type { ConvolutionPrecision, CoordinatorToWorker, HelloMessage, WorkerToCoordinator } from '@ringtrain/protocol';
import { ThrottledLog, type RefusalReason } from '@ringtrain/metrics';
import { Registry } from 'prom-client';
import { WebSocketServer, type RawData, type WebSocket } from 'ws';
import { findNewestValidCheckpoint, writeCheckpoint, type CheckpointHeader } from './checkpoint.ts';
import { readFinishedRun, writeFinishedRun, type FinishedRun } from './finished-run.ts';
import { CheckpointMismatchError, COORDINATOR_ERROR_CODES, PortUnavailableError, RunFailedError } from './errors.ts';
import { silentLogger, type Logger } from './logger.ts';
import type { Effect, ProgressUpdate, RunResult } from './machine/effects.ts';
import type { CoordinatorEvent } from './machine/events.ts';
import type { SamplerPosition } from './machine/sharder.ts';
import { isActive } from './machine/context.ts';
import { createCoordinatorState, type CoordinatorState } from './machine/state.ts';
import { step } from './machine/step.ts';
import { StepLog } from './step-log.ts';
import { HttpAccess } from './http/access.ts';
import { HttpRoutes } from './http/routes.ts';
import { RunObserver } from './observe/run-observer.ts';
import type { RunStatus } from './observe/run-status.ts';
import { resolveCoordinatorOptions, type CoordinatorOptions, type CoordinatorTls, type ResolvedCoordinatorOptions } from './options.ts';
import { machineConfig } from './run-config.ts';
import {
  Admission,
  CLOSE_CODES,
  CONNECTION_ERROR_CODES,
  encodeMessage,
  parseWorkerToCoordinator,
  PROTOCOL_ERROR_CODES,
  PROTOCOL_VERSION,
  ProtocolError,
  tokensEqual,
} from './wire.ts';

/** What the coordinator is given besides its options. */
export interface CoordinatorDependencies {
  /** The training and test images it ships to workers. */
  data: { train: LabelledImages; test: LabelledImages };
  /** The state every replica starts from in a fresh run (`Trainer.getState()` of the initial model). */
  initialState: () => Uint8Array | Promise<Uint8Array>;
  /** Milliseconds; injected so tests can drive time. @default Date.now */
  clock?: () => number;
  logger?: Logger;
  /** Milestones for progress displays. */
  onProgress?: (progress: ProgressUpdate) => void;
  /** ringtrain's version, in build info and the status. @default the coordinator package's version */
  version?: string;
}

const PACKAGE_VERSION = (createRequire(import.meta.url)('../package.json') as { version: string }).version;

/** Error codes of refused connections that are not failures of anything (the run is full or over). */
const NOT_A_FAILURE = new Set<string>([COORDINATOR_ERROR_CODES.joinRefused, COORDINATOR_ERROR_CODES.runOver, COORDINATOR_ERROR_CODES.protocolViolation]);


type ConnectionStage = 'awaiting-hello' | 'worker' | 'closing' | 'closed';

interface Connection {
  id: string;
  socket: WebSocket;
  remote: string;
  stage: ConnectionStage;
  workerId: string | null;
  lastHeardAtMs: number;
  helloTimer: NodeJS.Timeout | null;
  /** The worker's own `error` before it closed. */
  reportedError: { code: string; message: string } | null;
  /** A state arriving in pieces. */
  incomingState: { generation: number; step: number; bytes: Uint8Array; received: number } | null;
  /** Why it is closing: our reason, or the socket error that ended it. */
  closeReason: string | null;
  /** This side closed it (a refusal, a lost heartbeat), so its end is no news. */
  closedByUs: boolean;
  /** It was cut for not answering heartbeats. */
  silent: boolean;
  /** Its `hello` said its steps run off the thread that answers pings. */
  heartbeatsDuringSteps: boolean;
  /** Stops counting the bytes it sends before its `hello` (it authenticated, or closed). */
  settleAdmission: (() => void) | null;
}

export class CoordinatorServer {
  readonly options: ResolvedCoordinatorOptions;
  /** Settles when the run ends: the result, or a `RunFailedError`. */
  readonly done: Promise<RunResult>;

  /** This server's own metrics registry, served on `/metrics`. */
  readonly registry = new Registry();

  private readonly deps: CoordinatorDependencies;
  private readonly clock: () => number;
  private readonly logger: Logger;
  private readonly observer: RunObserver;
  private readonly routes: HttpRoutes;
  private http: Server | TlsServer | null = null;
  private wss: WebSocketServer | null = null;
  private state: CoordinatorState | null = null;
  private readonly connections = new Map<string, Connection>();
  private readonly byWorker = new Map<string, Connection>();
  /** Whether the run's peer ports serve TLS, as the first worker to join said; every later one must agree. */
  private peerTls: { tls: boolean; workerId: string } | null = null;
  private readonly backendsByWorker = new Map<string, string>();
  /**
   * The longest compute of a step each worker reported, kept across its reconnections: its event
   * loop answers no ping meanwhile.
   */
  private readonly slowestStepMs = new Map<string, number>();
  /** When the last heartbeat tick ran. */
  private lastHeartbeatAtMs: number | null = null;
  /** What the port lets in before `hello`. */
  private readonly admission: Admission;
  /** Refusals of unauthenticated connections are logged at a bounded pace. */
  private readonly refusalLog: ThrottledLog;
  private startState: { bytes: Uint8Array; step: number } | null = null;
  private stepLog: StepLog | null = null;
  private resumeHeader: CheckpointHeader | null = null;
  private tickTimer: NodeJS.Timeout | null = null;
  private heartbeatTimer: NodeJS.Timeout | null = null;
  private checkpointWrites: Promise<void> = Promise.resolve();
  /** The step of the newest checkpoint written (or resumed from): the step a finished-run record names. */
  private lastCheckpointStep: number | null = null;
  /** Set by `start()` when `resume` found a finished run and `ifFinished` is not `refuse`. */
  private finishedAtStart: FinishedAtStart | null = null;
  private resolveDone!: (result: RunResult) => void;
  private rejectDone!: (error: Error) => void;
  private ended = false;

  /** Validates the options; nothing listens until `start()`. */
  constructor(options: CoordinatorOptions, deps: CoordinatorDependencies) {
    this.options = resolveCoordinatorOptions(options);
    this.deps = deps;
    this.clock = deps.clock ?? Date.now;
    this.logger = deps.logger ?? silentLogger;
    this.observer = new RunObserver({
      options: this.options,
      counts: { train: deps.data.train.count, test: deps.data.test.count },
      version: deps.version ?? PACKAGE_VERSION,
      clock: this.clock,
      registry: this.registry,
    });
    this.admission = new Admission({ maxUnauthenticated: this.options.maxUnauthenticatedConnections, perSecond: this.options.maxHandshakesPerSecond, clock: this.clock });
    this.refusalLog = new ThrottledLog((text) => this.logger.warn({}, text), { clock: this.clock });
    // A coordinator started on a finished run shows the run as it ended, from its record.
    const frozen = (): FinishedRun | null => this.finishedAtStart?.record ?? null;
    this.routes = new HttpRoutes({
      source: { status: () => frozen()?.status ?? this.observer.status(), onChange: (listener) => this.observer.onChange(listener) },
      registry: { contentType: this.registry.contentType, metrics: async () => frozen()?.metrics ?? (await this.registry.metrics()) },
      health: () => this.health(),
      readiness: () => this.readiness(),
      statusIntervalMs: this.options.statusIntervalMs,
      logger: this.logger,
      access: new HttpAccess(this.options.httpToken),
    });
    this.done = new Promise<RunResult>((resolve, reject) => {
      this.resolveDone = resolve;
      this.rejectDone = reject;
    });
    // Callers may only look at `done` later; an early failure must not be an unhandled rejection.
    this.done.catch(() => {});
  }

  /**
   * Prepares the starting state (or loads the checkpoint to resume), then listens. Returns the port.
   *
   * On a finished run (`resume`, the newest checkpoint taken after the last epoch, `ifFinished`
   * not `refuse`) it trains nothing: `finished` says so, the port serves the run as it ended
   * and refuses workers as a finished run does, and `done` never settles.
   */
  async start(): Promise<{ port: number; url: string }> {
    const o = this.options;
    const counts = { train: this.deps.data.train.count, test: this.deps.data.test.count };
    let resume: { position: SamplerPosition; stepsDone: number } | undefined;
    if (o.resume && o.checkpointDir !== null) {
      const checkpoint = await findNewestValidCheckpoint(o.checkpointDir, (path, problem) => this.logger.warn({ path }, `skipped checkpoint: ${problem}`));
      const finished = this.checkResumable(checkpoint.header, checkpoint.path);
      this.resumeHeader = checkpoint.header;
      this.lastCheckpointStep = checkpoint.header.step;
      resume = { position: checkpoint.header.position, stepsDone: checkpoint.header.step };
      if (finished) {
        const found = await readFinishedRun(o.checkpointDir, checkpoint.header.step);
        const record = 'record' in found ? found.record : null;
        if (record === null) this.logger.warn({ path: checkpoint.path }, `the run is finished, but /status and /metrics show only what its checkpoint says: ${'problem' in found ? found.problem : ''}`);
        this.finishedAtStart = { checkpoint: checkpoint.path, step: checkpoint.header.step, epoch: checkpoint.header.position.epoch, record };
        this.logger.info(
          { path: checkpoint.path, step: checkpoint.header.step, epoch: checkpoint.header.position.epoch, ifFinished: o.ifFinished },
          `the run is finished: ${checkpoint.path} was taken after epoch ${checkpoint.header.position.epoch} of ${o.epochs}; nothing to train`,
        );
      } else {
        this.startState = { bytes: checkpoint.state, step: checkpoint.header.step };
        this.logger.info({ path: checkpoint.path, step: checkpoint.header.step, position: checkpoint.header.position }, `resuming from ${checkpoint.path}`);
      }
    } else {
      this.startState = { bytes: await this.deps.initialState(), step: 0 };
    }
    if (o.stepLog !== null && this.finishedAtStart === null) this.stepLog = new StepLog(o.stepLog, resume !== undefined);
    const initial = createCoordinatorState(machineConfig(o, counts, resume), this.clock());
    // A finished run takes no workers: the machine refuses them as it does at the end of a run.
    this.state = this.finishedAtStart === null ? initial : { ...initial, phase: 'finished' };
    if (this.finishedAtStart !== null) this.ended = true;
    this.observer.attach(this.state);

    const handle = (req: IncomingMessage, res: ServerResponse): void => {
      const probe = req.url === '/healthz' || req.url === '/readyz';
      const problem = probe ? null : clientCertificateProblem(o.tls, req.socket);
      if (problem !== null) {
        res.writeHead(403, { 'content-type': 'text/plain; charset=utf-8' }).end(`${problem}\n`);
        return;
      }
      this.routes.handle(req, res);
    };
    const http = o.tls === null ? createServer(handle) : createTlsServer(secureOptions(o.tls), handle);
    // A handshake that fails (a plaintext client, a certificate of another CA, an expired one)
    // never reaches the WebSocket layer: counted and logged here.
    http.on('tlsClientError', (error: Error, socket: Socket) => {
      this.countRefusal('tls_handshake', `refused a TLS handshake from ${socket.remoteAddress ?? '?'}:${socket.remotePort ?? '?'}: ${error.message}`);
    });
    this.http = http;
    await new Promise<void>((resolve, reject) => {
      const refuse = (error: Error & { code?: string }): void => {
        const why = error.code === 'EADDRINUSE' ? 'the port is in use (choose another --port, or 0 for a free one)' : error.message;
        reject(new PortUnavailableError(`cannot listen on ${o.host}:${o.port}: ${why}`, { cause: error }));
      };
      http.once('error', refuse);
      http.listen(o.port, o.host, () => {
        http.off('error', refuse);
        resolve();
      });
    });
    // Made once the port is open, so a failed listen is reported once, by the rejection above.
    // Workers' pings are their one-way sign of life and get no answer: an answer would wait
    // behind a large transfer to that worker, and ws cuts a connection with 60 answers pending.
    const wss = new WebSocketServer({ noServer: true, maxPayload: o.maxMessageBytes, autoPong: false });
    http.on('upgrade', (req: IncomingMessage, socket: Duplex, head: Buffer) => this.onUpgrade(wss, req, socket, head));
    this.wss = wss;
    const port = (http.address() as AddressInfo).port;
    this.tickTimer = setInterval(() => this.feed({ type: 'tick', atMs: this.clock(), lastHeardAtMs: this.lastHeard() }), o.tickIntervalMs);
    this.heartbeatTimer = setInterval(() => this.heartbeat(), o.heartbeatIntervalMs);
    const url = `${o.tls === null ? 'ws' : 'wss'}://${o.host}:${port}`;
    if (o.httpToken === null && !isLoopback(o.host)) {
      this.logger.warn(
        { host: o.host },
        `the dashboard, /status, /events and /metrics answer anyone who reaches ${o.host}:${port}; give them a token of their own (--http-token-file) or bind to 127.0.0.1`,
      );
    }
    this.logger.info({ url, dashboard: `${o.tls === null ? 'http' : 'https'}://${o.host}:${port}/`, minWorkers: o.minWorkers, maxWorkers: o.maxWorkers }, `coordinator listening on ${url}`);
    return { port, url };
  }

  /** Takes a new certificate, key and CA for connections from now on (those open keep theirs). */
  reloadTls(tls: CoordinatorTls): void {
    const http = this.http;
    if (http === null || !('setSecureContext' in http)) throw new Error('reloadTls needs a coordinator started with tls');
    http.setSecureContext(secureOptions(tls));
    this.logger.info({}, 'reloaded the TLS certificate and key');
  }

  /** The run as `/status` shows it. */
  status(): RunStatus {
    return this.finishedAtStart?.record?.status ?? this.observer.status();
  }

  /** After `start()`: the finished run it found to resume (see `ifFinished`), or null when it trains. */
  get finished(): FinishedAtStart | null {
    return this.finishedAtStart;
  }

  /** Takes a checkpoint now (rank 0 sends its state after its current step). */
  requestCheckpoint(): void {
    this.feed({ type: 'checkpoint-requested', atMs: this.clock() });
  }

  /** Ends the run: every worker is told to stop, `done` rejects with an interruption. */
  stop(reason: string): void {
    this.feed({ type: 'stop-requested', atMs: this.clock(), reason });
  }

  /** The compute backend each worker that joined reported, by worker id. */
  get backends(): ReadonlyMap<string, string> {
    return this.backendsByWorker;
  }

  /** The machine's current state (for status pages and tests). */
  get snapshot(): CoordinatorState | null {
    return this.state;
  }

  /** Closes every connection and the port; waits for checkpoint writes in flight. */
  async close(): Promise<void> {
    if (this.tickTimer !== null) clearInterval(this.tickTimer);
    if (this.heartbeatTimer !== null) clearInterval(this.heartbeatTimer);
    this.tickTimer = null;
    this.heartbeatTimer = null;
    for (const conn of this.connections.values()) {
      if (conn.helloTimer !== null) clearTimeout(conn.helloTimer);
      conn.socket.terminate();
    }
    await this.checkpointWrites;
    this.routes.close();
    await new Promise<void>((resolve) => (this.wss === null ? resolve() : this.wss.close(() => resolve())));
    await new Promise<void>((resolve) => {
      if (this.http === null) return resolve();
      this.http.close(() => resolve());
      // Idle keep-alive connections of browsers and scrapers would hold the port open.
      this.http.closeAllConnections();
    });
    if (!this.ended) this.endRun(null, new RunFailedError(COORDINATOR_ERROR_CODES.interrupted, 'the coordinator was closed before the run ended'));
  }

  /** Throws when `header` cannot be resumed here; returns whether its run is finished (and `ifFinished` lets that be). */
  private checkResumable(header: CheckpointHeader, path: string): boolean {
    const o = this.options;
    const mismatches: string[] = [];
    for (const key of Object.keys(o.model) as (keyof typeof o.model)[]) {
      // How γ started says nothing about the weights a checkpoint holds.
      if (key === 'zeroInitResidual') continue;
      if (header.model[key] !== o.model[key]) mismatches.push(`model.${key} is ${String(header.model[key])} there and ${String(o.model[key])} here`);
    }
    if (mismatches.length > 0) throw new CheckpointMismatchError(`${path} cannot be resumed: ${mismatches.join('; ')}`);
    if (header.position.epoch < o.epochs) return false;
    if (o.ifFinished === 'refuse') {
      throw new CheckpointMismatchError(
        `${path} was taken after epoch ${header.position.epoch} of a run of ${o.epochs}; ask for more --epochs to continue it (or --if-finished exit-0 or serve)`,
      );
    }
    return true;
  }

  // ---------------------------------------------------------------- HTTP

  /** `/healthz`: the process answers (a failed run is still alive: its status stays readable). */
  private health(): { healthy: boolean; body: Record<string, unknown> } {
    const s = this.state;
    return {
      healthy: true,
      body: {
        status: s === null || s.phase !== 'failed' ? 'ok' : 'failed',
        phase: s?.phase ?? 'starting',
        generation: s?.generation ?? 0,
        workers: s?.workers.length ?? 0,
        step: s?.nextStep ?? 0,
        epoch: s?.epoch ?? 0,
      },
    };
  }

  /**
   * `/readyz`: whether a worker that dials now can join, that is the port listens and the run
   * goes on. A full ring still counts as ready: its members reconnect through the same address
   * (a Service drops an unready pod), and a newcomer refused for a full ring dials again.
   */
  private readiness(): { ready: boolean; body: Record<string, unknown> } {
    const s = this.state;
    const ready = s !== null && isActive(s);
    const workers = s?.workers.length ?? 0;
    const maxWorkers = this.options.maxWorkers;
    return {
      ready,
      body: { status: ready ? 'ready' : (s?.phase ?? 'starting'), phase: s?.phase ?? 'starting', generation: s?.generation ?? 0, workers, maxWorkers, seats: Math.max(0, maxWorkers - workers) },
    };
  }

  // ---------------------------------------------------------------- connections

  /** A WebSocket handshake: refused with 503 when too many are unauthenticated or they come too fast. */
  private onUpgrade(wss: WebSocketServer, req: IncomingMessage, socket: Duplex, head: Buffer): void {
    const certificateProblem = clientCertificateProblem(this.options.tls, req.socket);
    if (certificateProblem !== null) {
      this.countRefusal('tls_handshake', `refused a connection from ${req.socket.remoteAddress ?? '?'}:${req.socket.remotePort ?? '?'}: ${certificateProblem}`);
      socket.on('error', () => {});
      socket.end(`HTTP/1.1 403 Forbidden\r\nConnection: close\r\nX-Ringtrain-Refusal: ${certificateProblem}\r\nContent-Type: text/plain\r\n\r\n${certificateProblem}\n`);
      setTimeout(() => socket.destroy(), 1000).unref();
      return;
    }
    const refusal = this.admission.admit();
    if (refusal !== null) {
      const remote = `${req.socket.remoteAddress ?? '?'}:${req.socket.remotePort ?? '?'}`;
      const why =
        refusal === 'unauthenticated_limit'
          ? `${this.admission.unauthenticated} connections have not said hello yet (maxUnauthenticatedConnections ${this.options.maxUnauthenticatedConnections})`
          : `handshakes come faster than maxHandshakesPerSecond (${this.options.maxHandshakesPerSecond})`;
      this.countRefusal(refusal, `refused a connection from ${remote}: ${why}`);
      socket.on('error', () => {});
      socket.end(`HTTP/1.1 503 Service Unavailable\r\nConnection: close\r\nRetry-After: 1\r\nContent-Type: text/plain\r\n\r\n${why}\n`);
      setTimeout(() => socket.destroy(), 1000).unref();
      return;
    }
    let settled = false;
    const settle = (): void => {
      if (settled) return;
      settled = true;
      this.admission.settled();
    };
    socket.once('close', settle);
    wss.handleUpgrade(req, socket, head, (ws) => this.onConnection(ws, req, settle));
  }

  private countRefusal(reason: RefusalReason, text: string): void {
    this.observer.recordRefusal(reason);
    this.refusalLog.say(reason, text);
  }

  private onConnection(socket: WebSocket, req: IncomingMessage, settle: () => void): void {
    const conn: Connection = {
      id: randomUUID(),
      socket,
      remote: `${req.socket.remoteAddress ?? '?'}:${req.socket.remotePort ?? '?'}`,
      stage: 'awaiting-hello',
      workerId: null,
      lastHeardAtMs: this.clock(),
      helloTimer: null,
      reportedError: null,
      incomingState: null,
      closeReason: null,
      closedByUs: false,
      silent: false,
      heartbeatsDuringSteps: false,
      settleAdmission: null,
    };
    this.connections.set(conn.id, conn);
    // Until its hello is accepted a connection may send maxHelloBytes: ws would otherwise buffer
    // a frame of up to maxMessageBytes from anyone who can reach the port.
    const raw: Socket = req.socket;
    let bytesBeforeHello = 0;
    const countBytes = (chunk: Buffer): void => {
      bytesBeforeHello += chunk.length;
      if (bytesBeforeHello <= this.options.maxHelloBytes || conn.stage !== 'awaiting-hello') return;
      // Nothing more of it is read: ws holds at most maxHelloBytes and this one read. The error
      // and the close frame still go out, and the socket is cut after the close grace.
      raw.pause();
      raw.removeAllListeners('data');
      conn.settleAdmission?.();
      this.refuse(conn, CLOSE_CODES.messageTooBig, CONNECTION_ERROR_CODES.helloTooBig, `sent ${bytesBeforeHello} bytes before a hello (maxHelloBytes ${this.options.maxHelloBytes})`);
    };
    raw.on('data', countBytes);
    conn.settleAdmission = () => {
      raw.off('data', countBytes);
      conn.settleAdmission = null;
      settle();
    };
    conn.helloTimer = setTimeout(
      () => this.refuse(conn, CLOSE_CODES.policyViolation, CONNECTION_ERROR_CODES.helloTimeout, `no hello within ${this.options.helloTimeoutMs} ms`),
      this.options.helloTimeoutMs,
    );
    // Heard: an answer to our ping, the worker's own ping (which reaches us even when ours waits
    // behind a large transfer to it), or any message.
    const heard = (): void => {
      conn.lastHeardAtMs = this.clock();
    };
    socket.on('pong', heard);
    socket.on('ping', heard);
    socket.on('message', (data, isBinary) => {
      if (conn.stage === 'worker') heard();
      this.onMessage(conn, data, isBinary);
    });
    socket.on('error', (error: Error & { code?: string }) => {
      // ws reports a frame over maxPayload here, then closes with 1009.
      const tooBig = error.code === 'WS_ERR_UNSUPPORTED_MESSAGE_LENGTH';
      conn.closeReason ??= tooBig ? `sent a message over maxMessageBytes (${this.options.maxMessageBytes} bytes)` : `socket error: ${error.message}`;
      if (tooBig) {
        conn.closedByUs = true;
        this.observer.recordFailure('protocol_error');
      }
      this.logger.warn({ remote: conn.remote, workerId: conn.workerId, code: error.code }, `connection ${conn.remote}: ${conn.closeReason}`);
    });
    socket.on('close', (code, reason) => this.onClose(conn, code, reason.toString()));
  }

  private onMessage(conn: Connection, data: RawData, isBinary: boolean): void {
    if (conn.stage === 'closed' || conn.stage === 'closing') return;
    let message: WorkerToCoordinator;
    try {
      message = parseWorkerToCoordinator(data, { isBinary, maxFrameBytes: this.options.maxMessageBytes });
    } catch (error) {
      const closeCode = error instanceof ProtocolError ? error.closeCode : CLOSE_CODES.invalidPayload;
      const code = error instanceof ProtocolError ? error.code : PROTOCOL_ERROR_CODES.malformedFrame;
      return this.refuse(conn, closeCode, code, `refused a message: ${(error as Error).message}`);
    }
    if (conn.stage === 'awaiting-hello') return this.onHello(conn, message);
    this.onWorkerMessage(conn, message);
  }

  private onHello(conn: Connection, message: WorkerToCoordinator): void {
    if (message.type !== 'hello') {
      return this.refuse(conn, CLOSE_CODES.policyViolation, CONNECTION_ERROR_CODES.expectedHello, `the first message must be hello, got ${message.type}`);
    }
    if (message.v !== PROTOCOL_VERSION) {
      return this.refuse(conn, CLOSE_CODES.policyViolation, PROTOCOL_ERROR_CODES.wrongVersion, `protocol version ${message.v} is not supported; this coordinator speaks version ${PROTOCOL_VERSION}`);
    }
    if (!tokensEqual(message.token, this.options.token)) {
      return this.refuse(conn, CLOSE_CODES.policyViolation, PROTOCOL_ERROR_CODES.badToken, `worker ${message.workerId} presented a wrong token`);
    }
    const precision = this.options.precision;
    // Every worker computes float32; a worker that does not say is older than the field.
    const offered = new Set(['f32', ...(message.precisions ?? [])]);
    if (!offered.has(precision)) {
      return this.refuse(conn, CLOSE_CODES.policyViolation, CONNECTION_ERROR_CODES.precisionUnsupported, precisionRefusal(precision, message, offered));
    }
    const agreed = this.peerTls;
    if (agreed !== null && agreed.tls !== message.peerTls) {
      const mode = (tls: boolean): string => (tls ? 'serves TLS (--tls-cert, --tls-key and --tls-ca)' : 'is plaintext');
      return this.refuse(
        conn,
        CLOSE_CODES.policyViolation,
        CONNECTION_ERROR_CODES.peerTlsMismatch,
        `worker ${message.workerId}'s peer port ${mode(message.peerTls)}, but the peer ports of this run's workers ${agreed.tls ? 'serve TLS' : 'are plaintext'} (as worker ${agreed.workerId} said first): ring neighbours could not connect; give every worker the same TLS options`,
      );
    }
    this.peerTls ??= { tls: message.peerTls, workerId: message.workerId };
    if (conn.helloTimer !== null) clearTimeout(conn.helloTimer);
    conn.helloTimer = null;
    conn.settleAdmission?.();
    conn.stage = 'worker';
    conn.workerId = message.workerId;
    conn.lastHeardAtMs = this.clock();
    conn.heartbeatsDuringSteps = message.heartbeatsDuringSteps;
    // A namesake already connected keeps its id; the machine refuses this connection by its id.
    if (!this.byWorker.has(message.workerId)) {
      this.byWorker.set(message.workerId, conn);
      this.backendsByWorker.set(message.workerId, message.backend);
    } else {
      conn.workerId = null;
    }
    this.feed({
      type: 'worker-joined',
      atMs: this.clock(),
      connectionId: conn.id,
      workerId: message.workerId,
      hostname: message.hostname,
      pid: message.pid,
      backend: message.backend,
      peerAddress: message.peerAddress,
      ...(message.hostGroup === undefined ? {} : { hostGroup: message.hostGroup }),
      generation: message.generation,
    });
  }

  private onWorkerMessage(conn: Connection, message: WorkerToCoordinator): void {
    const workerId = conn.workerId;
    if (workerId === null) return;
    const atMs = this.clock();
    switch (message.type) {
      case 'hello':
        return this.closeWorker(conn, CLOSE_CODES.policyViolation, PROTOCOL_ERROR_CODES.unexpectedMessage, 'said hello twice');
      case 'replica':
        return this.feed({
          type: 'replica-reported',
          atMs,
          workerId,
          generation: message.generation,
          stepsDone: message.stepsDone,
          abortedStep: message.abortedStep,
          position: message.epoch < 0 || message.offset < 0 ? null : { epoch: message.epoch, offset: message.offset },
        });
      case 'ready':
        return this.feed({ type: 'worker-ready', atMs, workerId, generation: message.generation, step: message.step, weightChecksum: message.weightChecksum });
      case 'ring-failed':
        return this.feed({ type: 'ring-failed', atMs, workerId, generation: message.generation, step: message.step, code: message.code, message: message.message });
      case 'gradient-ready':
        return this.feed({ type: 'gradient-ready', atMs, workerId, generation: message.generation, step: message.step });
      case 'step-report': {
        this.slowestStepMs.set(workerId, Math.max(this.slowestStepMs.get(workerId) ?? 0, message.computeMs));
        const { v: _v, type: _t, ...report } = message;
        return this.feed({ type: 'step-reported', atMs, workerId, report });
      }
      case 'evaluation': {
        const { v: _v, type: _t, ...evaluation } = message;
        return this.feed({ type: 'evaluation-reported', atMs, workerId, evaluation });
      }
      case 'state':
        return this.onStatePiece(conn, workerId, message);
      case 'error':
        conn.reportedError = { code: message.code, message: message.message };
        this.logger.error({ workerId, code: message.code }, `worker ${workerId} reported: ${message.message}`);
        return;
      default: {
        const unknown: never = message;
        return this.closeWorker(conn, CLOSE_CODES.policyViolation, PROTOCOL_ERROR_CODES.unexpectedMessage, `sent an unexpected message ${JSON.stringify(unknown)}`);
      }
    }
  }

  private onStatePiece(conn: Connection, workerId: string, message: Extract<WorkerToCoordinator, { type: 'state' }>): void {
    const maxStateBytes = 4 * 1024 ** 3;
    if (message.offset === 0) {
      if (message.totalBytes > maxStateBytes) {
        return this.closeWorker(conn, CLOSE_CODES.messageTooBig, CONNECTION_ERROR_CODES.stateTooBig, `announced a state of ${message.totalBytes} bytes, over ${maxStateBytes}`);
      }
      conn.incomingState = { generation: message.generation, step: message.step, bytes: new Uint8Array(message.totalBytes), received: 0 };
    }
    const incoming = conn.incomingState;
    if (incoming === null || message.offset !== incoming.received || message.offset + message.bytes.length > incoming.bytes.length || message.step !== incoming.step) {
      return this.closeWorker(
        conn,
        CLOSE_CODES.policyViolation,
        CONNECTION_ERROR_CODES.stateOutOfOrder,
        `sent a state piece at offset ${message.offset} of ${message.totalBytes} for step ${message.step}, expected offset ${incoming?.received ?? 0}`,
      );
    }
    incoming.bytes.set(message.bytes, message.offset);
    incoming.received += message.bytes.length;
    if (incoming.received < incoming.bytes.length) return;
    conn.incomingState = null;
    this.feed({ type: 'state-reported', atMs: this.clock(), workerId, generation: incoming.generation, step: incoming.step, bytes: incoming.bytes });
  }

  /** Closes a connection that is not (or no longer) a worker of the run, with an `error` first. */
  private refuse(conn: Connection, closeCode: number, errorCode: string, reason: string): void {
    if (conn.stage === 'closed' || conn.stage === 'closing') return;
    if (!NOT_A_FAILURE.has(errorCode)) this.observer.recordFailure(errorCode === PROTOCOL_ERROR_CODES.badToken ? 'auth_rejected' : 'protocol_error');
    if (conn.stage === 'awaiting-hello') {
      this.countRefusal(refusalReasonOf(errorCode), `refused connection ${conn.remote}: ${reason} (${errorCode})`);
    } else {
      this.logger.warn({ remote: conn.remote, code: errorCode }, `refused connection ${conn.remote}: ${reason}`);
    }
    this.sendError(conn, errorCode, reason);
    this.closeSocket(conn, closeCode, reason);
  }

  /** Closes a worker's connection; its close then reaches the machine as `worker-left`. */
  private closeWorker(conn: Connection, closeCode: number, errorCode: string, reason: string): void {
    this.refuse(conn, closeCode, errorCode, `worker ${conn.workerId ?? '?'} ${reason}`);
  }

  private sendError(conn: Connection, code: string, message: string): void {
    if (conn.socket.readyState !== conn.socket.OPEN) return;
    try {
      conn.socket.send(encodeMessage({ v: PROTOCOL_VERSION, type: 'error', code, message }));
    } catch {
      /* the socket is going away anyway */
    }
  }

  private closeSocket(conn: Connection, code: number, reason: string): void {
    conn.closeReason ??= reason;
    conn.closedByUs = true;
    // Nothing it sends from now on is read: a hello that comes after its refusal is no join.
    if (conn.stage === 'awaiting-hello') conn.stage = 'closing';
    if (conn.helloTimer !== null) clearTimeout(conn.helloTimer);
    conn.helloTimer = null;
    // Close reasons are limited to 123 bytes by RFC 6455; the `error` message carries the whole text.
    const short = Buffer.from(reason, 'utf8').subarray(0, 120).toString('utf8');
    conn.socket.close(code, short);
    // A peer that never completes the closing handshake is cut.
    setTimeout(() => conn.socket.terminate(), 2000).unref();
  }

  private onClose(conn: Connection, code: number, reason: string): void {
    if (conn.helloTimer !== null) clearTimeout(conn.helloTimer);
    conn.settleAdmission?.();
    conn.stage = 'closed';
    this.connections.delete(conn.id);
    const workerId = conn.workerId;
    if (workerId === null || this.byWorker.get(workerId) !== conn) return;
    this.byWorker.delete(workerId);
    // Closed from the other end (or the network) while the run needed it.
    if (!conn.closedByUs && this.state !== null && this.state.phase !== 'finished' && this.state.phase !== 'failed') {
      this.observer.recordFailure('disconnected');
    }
    const why = conn.reportedError?.message ?? conn.closeReason ?? `connection closed (code ${code}${reason === '' ? '' : `, ${reason}`})`;
    const event: CoordinatorEvent = { type: 'worker-left', atMs: this.clock(), workerId, reason: why, ...(conn.silent ? { silent: true } : {}) };
    if (conn.reportedError !== null) event.errorCode = conn.reportedError.code;
    this.feed(event);
  }

  /** When each worker last answered a heartbeat, for the machine's stall inspector. */
  private lastHeard(): Record<string, number> {
    const heard: Record<string, number> = {};
    for (const [workerId, conn] of this.byWorker) heard[workerId] = conn.lastHeardAtMs;
    return heard;
  }

  private heartbeat(): void {
    const now = this.clock();
    // A tick that comes late means this process was the one not running (a long pause, a
    // SIGSTOP, a slow load): the pongs that came meanwhile are still unread, so nobody is judged
    // silent before the next tick has read them.
    const late = this.lastHeartbeatAtMs !== null && now - this.lastHeartbeatAtMs > 2 * this.options.heartbeatIntervalMs;
    this.lastHeartbeatAtMs = now;
    for (const conn of this.connections.values()) {
      if (conn.stage !== 'worker') continue;
      const silentMs = late ? 0 : now - conn.lastHeardAtMs;
      // A worker that computes a step on the thread that answers pings is given its slowest step
      // (twice over), or before its first step any step, before it is taken for a frozen process.
      const slowest = conn.workerId === null ? undefined : this.slowestStepMs.get(conn.workerId);
      const allowanceMs = conn.heartbeatsDuringSteps ? 0 : slowest === undefined ? this.options.firstStepHeartbeatTimeoutMs : 2 * slowest;
      const timeoutMs = Math.max(this.options.heartbeatTimeoutMs, allowanceMs);
      if (silentMs >= timeoutMs) {
        conn.closedByUs = true;
        conn.silent = true;
        conn.closeReason = `no heartbeat answer for ${Math.round(silentMs / 1000)} s (heartbeatTimeoutMs ${this.options.heartbeatTimeoutMs}${timeoutMs > this.options.heartbeatTimeoutMs ? `, raised to ${timeoutMs} ms ${slowest === undefined ? 'until its first step' : 'by its slowest step'}` : ''})`;
        this.logger.warn({ workerId: conn.workerId, remote: conn.remote }, `worker ${conn.workerId ?? '?'}: ${conn.closeReason}`);
        this.observer.recordFailure('heartbeat_timeout');
        // terminate() fires 'close' at once, which reports the worker lost.
        conn.socket.terminate();
        continue;
      }
      try {
        conn.socket.ping();
      } catch {
        /* closing */
      }
    }
  }

  // ---------------------------------------------------------------- the machine

  private feed(event: CoordinatorEvent): void {
    if (this.state === null) return;
    const { state, outbox } = step(this.state, event);
    this.state = state;
    this.observer.observe(event, state, outbox);
    for (const effect of outbox) this.execute(effect);
  }

  private execute(effect: Effect): void {
    switch (effect.kind) {
      case 'send':
        return this.send(effect.workerId, effect.message);
      case 'send-state':
        return this.sendState(effect.workerId, effect.generation, effect.step);
      case 'ship-data':
        return this.shipData(effect.workerId, effect.generation, effect.split, effect.indices);
      case 'close': {
        const conn = this.byWorker.get(effect.workerId);
        if (conn !== undefined) this.refuse(conn, effect.code, effect.errorCode, effect.reason);
        return;
      }
      case 'refuse': {
        const conn = this.connections.get(effect.connectionId);
        if (conn !== undefined) {
          if (conn.workerId !== null && this.byWorker.get(conn.workerId) === conn) this.byWorker.delete(conn.workerId);
          conn.workerId = null;
          this.refuse(conn, effect.code, effect.errorCode, effect.reason);
        }
        return;
      }
      case 'write-checkpoint':
        return this.queueCheckpoint(effect);
      case 'hold-state':
        this.startState = { bytes: effect.bytes, step: effect.step };
        return;
      case 'step-committed':
        return this.stepLog?.append(effect);
      case 'steps-undone':
        return this.stepLog?.undo(effect.fromStep);
      case 'log':
        return this.logger[effect.level](effect.fields ?? {}, effect.message);
      case 'progress':
        this.deps.onProgress?.(effect.progress);
        return;
      case 'finished':
        return this.endRun(effect.result, null);
      case 'failed':
        return this.endRun(null, new RunFailedError(effect.code, effect.message));
      default: {
        const unknown: never = effect;
        throw new Error(`unknown effect ${JSON.stringify(unknown)}`);
      }
    }
  }

  private send(workerId: string, message: CoordinatorToWorker): void {
    const conn = this.byWorker.get(workerId);
    if (conn === undefined || conn.socket.readyState !== conn.socket.OPEN) return;
    conn.socket.send(encodeMessage(message));
  }

  private sendState(workerId: string, generation: number, stepsDone: number): void {
    const bytes = this.startState?.bytes ?? new Uint8Array(0);
    const chunk = this.options.stateChunkBytes;
    let offset = 0;
    do {
      const piece = bytes.subarray(offset, Math.min(bytes.length, offset + chunk));
      this.send(workerId, { v: PROTOCOL_VERSION, type: 'state', generation, step: stepsDone, offset, totalBytes: bytes.length, bytes: piece });
      offset += piece.length;
    } while (offset < bytes.length);
  }

  private shipData(workerId: string, generation: number, split: 'train' | 'test', indices: Uint32Array): void {
    const set = this.deps.data[split];
    const pixels = set.rows * set.cols;
    const perChunk = Math.max(1, Math.floor(this.options.datasetChunkBytes / pixels));
    for (let start = 0; start < indices.length; start += perChunk) {
      const part = indices.slice(start, start + perChunk);
      const images = new Uint8Array(part.length * pixels);
      const labels = new Uint8Array(part.length);
      part.forEach((index, i) => {
        images.set(set.images.subarray(index * pixels, (index + 1) * pixels), i * pixels);
        labels[i] = set.labels[index] ?? 0;
      });
      this.send(workerId, { v: PROTOCOL_VERSION, type: 'dataset', generation, split, rows: set.rows, cols: set.cols, indices: part, images, labels });
    }
  }

  private queueCheckpoint(effect: Extract<Effect, { kind: 'write-checkpoint' }>): void {
    const o = this.options;
    const dir = o.checkpointDir;
    if (dir === null) return;
    const header: CheckpointHeader = {
      formatVersion: 1,
      createdAt: new Date(this.clock()).toISOString(),
      reason: effect.reason,
      step: effect.step,
      position: effect.position,
      model: o.model,
      hyper: this.state?.config.hyper ?? this.resumeHeader?.hyper ?? ({} as CheckpointHeader['hyper']),
      run: {
        epochs: o.epochs,
        globalBatchSize: o.globalBatchSize,
        samplerSeed: o.samplerSeed,
        shuffle: o.shuffle,
        dropLast: o.dropLast,
        learningRate: o.learningRate,
        trainCount: this.deps.data.train.count,
        testCount: this.deps.data.test.count,
      },
      stateBytes: effect.bytes.length,
    };
    this.checkpointWrites = this.checkpointWrites.then(async () => {
      try {
        const path = await writeCheckpoint(dir, header, effect.bytes, o.keepCheckpoints);
        this.lastCheckpointStep = effect.step;
        this.feed({ type: 'checkpoint-written', atMs: this.clock(), path, step: effect.step });
      } catch (error) {
        this.feed({ type: 'checkpoint-written', atMs: this.clock(), path: dir, step: effect.step, error: (error as Error).message });
      }
    });
  }

  /**
   * Leaves the final status and metrics beside the checkpoints, for a coordinator restarted on
   * this finished run to show. A run without checkpoints has nothing to restart from.
   */
  private async recordFinishedRun(): Promise<void> {
    const dir = this.options.checkpointDir;
    if (dir === null || this.lastCheckpointStep === null) return;
    try {
      const status = this.observer.status();
      const path = await writeFinishedRun(dir, {
        formatVersion: 1,
        finishedAt: new Date(this.clock()).toISOString(),
        step: this.lastCheckpointStep,
        epoch: this.state?.epoch ?? status.progress.epoch,
        status,
        metrics: await this.registry.metrics(),
      });
      this.logger.info({ path }, `recorded the finished run in ${path}`);
    } catch (error) {
      this.logger.error({}, `a coordinator restarted on this run will show only what its checkpoint says: ${(error as Error).message}`);
    }
  }

  private endRun(result: RunResult | null, error: Error | null): void {
    if (this.ended) return;
    this.ended = true;
    // Workers got `stop`; give them `closeGraceMs` to leave on their own, then cut what is left.
    setTimeout(() => {
      for (const conn of this.connections.values()) conn.socket.terminate();
    }, this.options.closeGraceMs).unref();
    void this.checkpointWrites.then(async () => {
      if (result !== null) await this.recordFinishedRun();
      if (result !== null) this.resolveDone(result);
      else this.rejectDone(error ?? new Error('the run failed'));
    });
  }
}

/** A finished run found by `start()`, which trains nothing on it. */
export interface FinishedAtStart {
  /** The newest checkpoint, taken after the last epoch. */
  checkpoint: string;
  step: number;
  epoch: number;
  /** What the run left at its end; null when it left none (`/status` then says only what the checkpoint does). */
  record: FinishedRun | null;
}

/** Why a worker that cannot compute the run's precision is refused, and what would let it in. */
function precisionRefusal(precision: ConvolutionPrecision, hello: HelloMessage, offered: ReadonlySet<string>): string {
  const run = `this run computes its convolutions in ${precision} (--precision ${precision}), but worker ${hello.workerId} (backend ${hello.backend})`;
  if (hello.precisions === undefined) return `${run} does not say which precisions it computes: it is older than this coordinator and would compute float32; upgrade it, or run with --precision f32`;
  const has = `computes them in ${[...offered].join(', ')} only`;
  if (hello.backend === 'native') return `${run} ${has}: its CPU has no bf16 arithmetic (AVX512-BF16 or AMX); run it on one that has, or run with --precision f32`;
  return `${run} ${has}: bf16 convolutions run on the native backend only; start it with --backend native on a CPU with AVX512-BF16 or AMX, or run with --precision f32`;
}

/** The metric's reason for an error code sent to a connection that had not authenticated. */
function refusalReasonOf(errorCode: string): RefusalReason {
  switch (errorCode) {
    case CONNECTION_ERROR_CODES.helloTooBig:
      return 'hello_too_big';
    case CONNECTION_ERROR_CODES.helloTimeout:
      return 'hello_timeout';
    case PROTOCOL_ERROR_CODES.badToken:
      return 'bad_token';
    case PROTOCOL_ERROR_CODES.wrongVersion:
      return 'wrong_version';
    case CONNECTION_ERROR_CODES.peerTlsMismatch:
    case CONNECTION_ERROR_CODES.precisionUnsupported:
      return 'misconfigured';
    default:
      return 'malformed';
  }
}

/** Whether `host` is reachable from this machine only. */
function isLoopback(host: string): boolean {
  return host === 'localhost' || host === '::1' || host.startsWith('127.');
}

/**
 * The handshake asks for a client certificate when the port wants one but does not fail without
 * it: the refusal comes at the HTTP level (`clientCertificateProblem`), as a 403 that says why,
 * where a failed handshake would reach the client as a bare reset.
 */
function secureOptions(tls: CoordinatorTls): { cert: string; key: string; ca?: string; requestCert: boolean; rejectUnauthorized: boolean; minVersion: 'TLSv1.2' } {
  return { cert: tls.cert, key: tls.key, ...(tls.ca === undefined ? {} : { ca: tls.ca }), requestCert: tls.requireClientCert === true, rejectUnauthorized: false, minVersion: 'TLSv1.2' };
}

/** Why the client certificate on `socket` is not accepted, or null when it is (or none is wanted). */
function clientCertificateProblem(tls: CoordinatorTls | null, socket: unknown): string | null {
  if (tls?.requireClientCert !== true) return null;
  const secure = socket as TLSSocket;
  if (secure.authorized === true) return null;
  const certificate = typeof secure.getPeerCertificate === 'function' ? secure.getPeerCertificate() : undefined;
  if (certificate === undefined || Object.keys(certificate).length === 0) return 'no client certificate: this coordinator wants one signed by the run\'s CA (--tls-cert and --tls-key)';
  const code = String(secure.authorizationError ?? '');
  const why =
    code === 'CERT_HAS_EXPIRED'
      ? 'certificate expired'
      : code === 'CERT_NOT_YET_VALID'
        ? 'certificate not yet valid'
        : `not signed by the run's CA${code === '' ? '' : ` (${code})`}`;
  return `client certificate refused: ${why}`;
}
