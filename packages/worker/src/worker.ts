/**
 * The worker's control loop: one connection to the coordinator, one peer server for the ring.
 *
 *   1. Start the peer server (its address goes into `hello`), connect to the coordinator
 *      (retrying until `connectTimeoutMs`), send `hello` with the token.      [connecting]
 *   2. `welcome`; then `assign` (build the replica), `state` pieces (load the starting weights),
 *      `dataset` chunks (store images at their data-set index). With the state loaded, join the
 *      ring and answer `ready`.                                               [ready]
 *   3. Each `plan`: per step, preprocess the batch, compute the local gradient, average it over
 *      the ring, apply it with the step's learning rate, report the step (with the weight
 *      checksum when due). `evaluate` likewise. `state-request` is answered between steps.
 *                                                                            [in-round]
 *   4. `stop`: leave the ring, close the connection normally.                 [draining, closed]
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
import { gatherLabels, preprocessBatch } from '@ringtrain/data';
import type { WorkerMetrics } from '@ringtrain/metrics';
import type { AssignMessage, CoordinatorToWorker, EvaluateMessage, PlanMessage, StateMessage, WorkerToCoordinator } from '@ringtrain/protocol';
import WebSocket from 'ws';
import { AllReduceError } from './allreduce/index.ts';
import { weightChecksum } from './checksum.ts';
import { DatasetStore } from './dataset-store.ts';
import {
  ConnectFailedError,
  ConnectionLostError,
  MissingDataError,
  RefusedError,
  TrainingFailedError,
  UnexpectedMessageError,
  WorkerError,
  WORKER_ERROR_CODES,
} from './errors.ts';
import { ConnectionLifecycle } from './lifecycle.ts';
import { resolveWorkerOptions, type ResolvedWorkerOptions, type WorkerOptions } from './options.ts';
import type { ComputeProvider, ReplicaTrainer, RingEndpoint, RingListen, RingSession } from './ports.ts';
import { encodeMessage, parseCoordinatorToWorker, PROTOCOL_VERSION, ProtocolError } from './wire.ts';

export interface WorkerLogger {
  debug(fields: object, message: string): void;
  info(fields: object, message: string): void;
  warn(fields: object, message: string): void;
  error(fields: object, message: string): void;
}

const quiet: WorkerLogger = { debug() {}, info() {}, warn() {}, error() {} };

export interface WorkerDependencies {
  compute: ComputeProvider;
  listen: RingListen;
  logger?: WorkerLogger;
  /** Where steps, all-reduces, tensor memory and failures are recorded (served on `/metrics`). */
  metrics?: WorkerMetrics;
}

/** How a worker's run ended without error. */
export interface WorkerOutcome {
  reason: string;
  stepsDone: number;
}

/** Steps reported by this worker, for tests and the launcher. */
export interface StepRecord {
  step: number;
  epoch: number;
  indices: Uint32Array;
  loss: number;
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
  private endpoint: RingEndpoint | null = null;
  private ring: RingSession | null = null;
  private trainer: ReplicaTrainer | null = null;
  private assignment: AssignMessage | null = null;
  private incomingState: { generation: number; step: number; bytes: Uint8Array; received: number } | null = null;
  private readonly train = new DatasetStore('train');
  private readonly test = new DatasetStore('test');
  private stepsDone = 0;
  private queue: Promise<void> = Promise.resolve();
  private pendingStateRequests = 0;
  private stopReason: string | null = null;
  private shuttingDown = false;
  private settle!: { resolve: (o: WorkerOutcome) => void; reject: (e: Error) => void };
  private finished = false;

  constructor(options: WorkerOptions, deps: WorkerDependencies) {
    this.options = resolveWorkerOptions(options);
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

  /** Leaves: tells the coordinator why, closes the ring and the connection. */
  shutdown(reason: string): void {
    this.shuttingDown = true;
    this.fail(new ConnectionLostError(`the worker was shut down: ${reason}`), 1001);
  }

  private async begin(): Promise<void> {
    const o = this.options;
    this.endpoint = await this.deps.listen({ host: o.peerHost, port: o.peerPort, advertiseHost: o.advertiseHost, token: o.token });
    this.log.info({ peer: this.endpoint.address }, `peer server listening on ${this.endpoint.address.host}:${this.endpoint.address.port}`);
    const socket = await this.connect();
    if (this.finished) {
      socket.terminate();
      return;
    }
    this.socket = socket;
    socket.on('message', (data, isBinary) => this.onMessage(data, isBinary));
    socket.on('close', (code, reason) => this.onClose(code, reason.toString()));
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
      peerAddress: this.endpoint.address,
    });
  }

  /** Connects, retrying every `connectRetryMs` until `connectTimeoutMs` (the coordinator may start later). */
  private async connect(): Promise<WebSocket> {
    const o = this.options;
    const deadline = Date.now() + o.connectTimeoutMs;
    let lastError = '';
    while (!this.finished) {
      try {
        return await new Promise<WebSocket>((resolve, reject) => {
          const socket = new WebSocket(o.coordinatorUrl, { maxPayload: o.maxMessageBytes, handshakeTimeout: o.connectRetryMs * 4 });
          socket.once('open', () => {
            socket.removeAllListeners('error');
            resolve(socket);
          });
          socket.once('error', (error) => {
            socket.terminate();
            reject(error);
          });
        });
      } catch (error) {
        lastError = (error as Error).message;
        if (Date.now() + o.connectRetryMs > deadline) break;
        await new Promise((r) => setTimeout(r, o.connectRetryMs));
      }
    }
    throw new ConnectFailedError(`could not reach the coordinator at ${o.coordinatorUrl} within ${o.connectTimeoutMs} ms: ${lastError}`);
  }

  // ---------------------------------------------------------------- incoming

  private onMessage(data: WebSocket.RawData, isBinary: boolean): void {
    if (this.finished) return;
    let message: CoordinatorToWorker;
    try {
      message = parseCoordinatorToWorker(data, { isBinary, maxFrameBytes: this.options.maxMessageBytes });
    } catch (error) {
      const closeCode = error instanceof ProtocolError ? error.closeCode : 1007;
      return this.fail(new UnexpectedMessageError(`the coordinator sent a message this worker refuses: ${(error as Error).message}`, closeCode));
    }
    // Asked between steps of a running plan, or to end it: these must not wait behind the plan.
    if (message.type === 'stop') {
      this.stopReason = message.reason;
    } else if (message.type === 'state-request' && this.lifecycle.state === 'in-round') {
      this.pendingStateRequests += 1;
      return;
    } else if (message.type === 'error') {
      // The close that follows ends the run with this text.
      this.remoteError = message;
      return;
    }
    this.queue = this.queue
      .then(() => this.handle(message))
      .catch((error: unknown) =>
        // Peers leave when the run stops; a step cut short by that is part of stopping, not a failure.
        this.stopReason !== null ? this.finish(this.stopReason) : this.fail(asWorkerError(error)),
      );
  }

  private remoteError: { code: string; message: string } | null = null;
  private socketProblem: string | null = null;

  private async handle(message: CoordinatorToWorker): Promise<void> {
    if (this.finished) return;
    const state = this.lifecycle.state;
    const outOfTurn = (): never => {
      throw new UnexpectedMessageError(`the coordinator sent ${message.type} while this worker is ${state}${this.assignment === null ? ' without an assignment' : ''}`);
    };
    switch (message.type) {
      case 'welcome':
        if (state !== 'connecting') outOfTurn();
        this.lifecycle.moveTo('ready', 'welcomed');
        this.log.info({}, `joined the coordinator as ${message.workerId}`);
        return;
      case 'assign':
        if (state !== 'ready') outOfTurn();
        return this.onAssign(message);
      case 'state':
        if (state !== 'ready' || this.assignment === null) outOfTurn();
        return this.onStatePiece(message);
      case 'dataset':
        if (state === 'connecting' || this.assignment === null) outOfTurn();
        if (message.generation !== this.assignment?.generation) return;
        (message.split === 'train' ? this.train : this.test).add(message);
        return;
      case 'plan':
        if (state !== 'ready' || this.ring === null) outOfTurn();
        if (message.generation !== this.assignment?.generation) return;
        return this.runPlan(message);
      case 'evaluate':
        if (state !== 'ready' || this.trainer === null) outOfTurn();
        if (message.generation !== this.assignment?.generation) return;
        return this.runEvaluation(message);
      case 'state-request':
        if (state !== 'ready' || this.trainer === null) outOfTurn();
        return this.sendState();
      case 'stop':
        return this.finish(message.reason);
      case 'error':
        return;
      default: {
        const unknown: never = message;
        throw new UnexpectedMessageError(`unknown message ${JSON.stringify(unknown)}`);
      }
    }
  }

  private async onAssign(message: AssignMessage): Promise<void> {
    if (this.ring !== null) await this.ring.close();
    this.ring = null;
    this.trainer?.dispose();
    this.trainer = null;
    this.assignment = message;
    this.incomingState = null;
    const { rank, worldSize, generation, model } = message;
    this.log.info({ rank, worldSize, generation }, `assigned rank ${rank} of ${worldSize} in generation ${generation} (ResNet-${model.depth}, ${model.stem} stem)`);
    this.deps.metrics?.setRank(rank);
    this.deps.metrics?.setBuildInfo({ model: `resnet${model.depth}` });
    this.trainer = await this.deps.compute.createTrainer(model, message.hyper);
    this.recordMemory();
  }

  private async onStatePiece(message: StateMessage): Promise<void> {
    if (message.generation !== this.assignment?.generation) return;
    if (message.offset === 0) {
      this.incomingState = { generation: message.generation, step: message.step, bytes: new Uint8Array(message.totalBytes), received: 0 };
    }
    const incoming = this.incomingState;
    if (incoming === null || message.offset !== incoming.received || message.offset + message.bytes.length > incoming.bytes.length) {
      throw new UnexpectedMessageError(`a state piece at offset ${message.offset} of ${message.totalBytes} arrived out of order (expected offset ${incoming?.received ?? 0})`);
    }
    incoming.bytes.set(message.bytes, message.offset);
    incoming.received += message.bytes.length;
    if (incoming.received < incoming.bytes.length) return;
    this.incomingState = null;
    const trainer = this.trainer;
    const assignment = this.assignment;
    if (trainer === null || this.endpoint === null) throw new UnexpectedMessageError('a state arrived before the assignment');
    trainer.setState(incoming.bytes);
    this.stepsDone = incoming.step;
    this.recordMemory();
    this.ring = await this.endpoint.join({
      generation: assignment.generation,
      rank: assignment.rank,
      worldSize: assignment.worldSize,
      ring: assignment.ring,
      maxBucketBytes: assignment.hyper.maxBucketBytes,
    });
    this.log.info({ generation: assignment.generation }, `ring of ${assignment.worldSize} closed; ready`);
    this.sendToCoordinator({ v: PROTOCOL_VERSION, type: 'ready', generation: assignment.generation });
  }

  // ---------------------------------------------------------------- training

  private async runPlan(plan: PlanMessage): Promise<void> {
    const trainer = this.trainer;
    const ring = this.ring;
    const assignment = this.assignment;
    if (trainer === null || ring === null || assignment === null) throw new UnexpectedMessageError('a plan arrived before the ring was joined');
    const b = assignment.hyper.batchSizePerWorker;
    const steps = plan.learningRates.length;
    if (Math.ceil(plan.indices.length / b) !== steps) {
      throw new UnexpectedMessageError(`a plan of ${plan.indices.length} indices in batches of ${b} has ${Math.ceil(plan.indices.length / b)} steps, but ${steps} learning rates`);
    }
    if (plan.firstStep !== this.stepsDone) {
      throw new UnexpectedMessageError(`a plan starts at step ${plan.firstStep}, but this replica has done ${this.stepsDone} steps`);
    }
    this.train.requireAll(plan.indices, `the plan of epoch ${plan.epoch}`);
    this.lifecycle.moveTo('in-round', `plan of epoch ${plan.epoch}`);
    const { preprocess, checksumEverySteps } = assignment.hyper;
    const imageSize = assignment.model.imageSize;
    let idleSinceMs = performance.now();
    for (let i = 0; i < steps; i++) {
      if (this.stopReason !== null || this.finished) return;
      const step = plan.firstStep + i;
      const indices = plan.indices.subarray(i * b, Math.min(plan.indices.length, (i + 1) * b));
      const t0 = performance.now();
      const x = preprocessBatch(this.train.images, this.train.rows, this.train.cols, indices, {
        imageSize,
        mean: preprocess.mean,
        std: preprocess.std,
        ...(preprocess.augment ? { augment: { seed: preprocess.seed, epoch: plan.epoch } } : {}),
      });
      const labels = gatherLabels(this.train.labels, indices);
      const local = trainer.computeGradients(x, labels);
      const t1 = performance.now();
      const reduced = await ring.allReduce(local.flat, step);
      const t2 = performance.now();
      trainer.applyGradients(reduced.averaged, plan.learningRates[i] as number);
      const t3 = performance.now();
      const computeMs = t1 - t0 + (t3 - t2);
      const allReduceMs = Math.max(0, t2 - t1 - reduced.waitMs);
      // Waiting: on slower peers inside the all-reduce, and on the coordinator before this step.
      const waitMs = reduced.waitMs + (t0 - idleSinceMs);
      this.stepsDone = step + 1;
      const due = checksumEverySteps > 0 && (step + 1) % checksumEverySteps === 0;
      this.history.push({ step, epoch: plan.epoch, indices: indices.slice(), loss: local.loss });
      this.sendToCoordinator({
        v: PROTOCOL_VERSION,
        type: 'step-report',
        generation: assignment.generation,
        epoch: plan.epoch,
        step,
        loss: local.loss,
        correct: local.correct,
        count: local.count,
        computeMs,
        allReduceMs,
        waitMs,
        weightChecksum: due ? weightChecksum(trainer.getValues()) : '',
      });
      const metrics = this.deps.metrics;
      if (metrics !== undefined) {
        metrics.recordStep({ examples: local.count, computeSeconds: computeMs / 1000, allReduceSeconds: allReduceMs / 1000, waitSeconds: waitMs / 1000 });
        metrics.recordAllReduce({
          gradientBytes: local.flat.byteLength,
          sentBytes: reduced.sentBytes ?? 0,
          receivedBytes: reduced.receivedBytes ?? 0,
          seconds: (t2 - t1) / 1000,
        });
        this.recordMemory();
      }
      while (this.pendingStateRequests > 0) {
        this.pendingStateRequests -= 1;
        this.sendState();
      }
      // Let socket events (pings, stop, state requests) in between steps.
      await new Promise((r) => setImmediate(r));
      idleSinceMs = performance.now();
    }
    this.lifecycle.moveTo('ready', `plan of epoch ${plan.epoch} done`);
    while (this.pendingStateRequests > 0) {
      this.pendingStateRequests -= 1;
      this.sendState();
    }
  }

  private async runEvaluation(message: EvaluateMessage): Promise<void> {
    const trainer = this.trainer;
    const assignment = this.assignment;
    if (trainer === null || assignment === null) throw new UnexpectedMessageError('an evaluation arrived before the assignment');
    this.test.requireAll(message.indices, `the evaluation of epoch ${message.epoch}`);
    this.lifecycle.moveTo('in-round', `evaluation of epoch ${message.epoch}`);
    const batch = this.options.evalBatchSize;
    const { preprocess } = assignment.hyper;
    let lossSum = 0;
    let correct = 0;
    let count = 0;
    for (let start = 0; start < message.indices.length; start += batch) {
      const indices = message.indices.subarray(start, start + batch);
      const x = preprocessBatch(this.test.images, this.test.rows, this.test.cols, indices, {
        imageSize: assignment.model.imageSize,
        mean: preprocess.mean,
        std: preprocess.std,
      });
      const result = trainer.evaluate(x, gatherLabels(this.test.labels, indices));
      lossSum += result.loss * result.count;
      correct += result.correct;
      count += result.count;
      await new Promise((r) => setImmediate(r));
    }
    this.recordMemory();
    this.lifecycle.moveTo('ready', `evaluation of epoch ${message.epoch} done`);
    this.sendToCoordinator({ v: PROTOCOL_VERSION, type: 'evaluation', generation: assignment.generation, epoch: message.epoch, lossSum, correct, count });
  }

  private sendState(): void {
    const trainer = this.trainer;
    const assignment = this.assignment;
    if (trainer === null || assignment === null) return;
    const bytes = trainer.getState();
    const chunk = this.options.stateChunkBytes;
    let offset = 0;
    do {
      const piece = bytes.subarray(offset, Math.min(bytes.length, offset + chunk));
      this.sendToCoordinator({ v: PROTOCOL_VERSION, type: 'state', generation: assignment.generation, step: this.stepsDone, offset, totalBytes: bytes.length, bytes: piece });
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
    this.settle.resolve({ reason, stepsDone: this.stepsDone });
  }

  private onClose(code: number, reason: string): void {
    if (this.finished) return;
    const remote = this.remoteError;
    if (remote !== null) {
      return this.fail(new RefusedError(`the coordinator closed the connection: ${remote.message} (${remote.code})`, remote.code), null);
    }
    // A stop may still be queued behind a running step; the close that follows it is not a loss.
    if (this.stopReason !== null) {
      void this.queue.then(() => this.finish(this.stopReason ?? 'stopped'));
      return;
    }
    const why = this.socketProblem ?? (reason === '' ? 'no reason given' : reason);
    const error =
      code === 1009 ? new UnexpectedMessageError(`${why} (close code 1009)`, 1009) : new ConnectionLostError(`the coordinator connection closed unexpectedly (code ${code}: ${why})`);
    this.fail(error, null);
  }

  /** Reports the failure to the coordinator (when still connected), closes everything, rejects `run()`. */
  private fail(error: WorkerError, closeCode: number | null = error.closeCode): void {
    if (this.finished) return;
    this.finished = true;
    this.log.error({ code: error.code }, error.message);
    if (!this.shuttingDown) this.deps.metrics?.recordFailure(failureReason(error));
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
    const ring = this.ring;
    const endpoint = this.endpoint;
    this.ring = null;
    this.endpoint = null;
    try {
      await ring?.close();
      await endpoint?.close();
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
  if (error instanceof UnexpectedMessageError || error instanceof RefusedError || error instanceof MissingDataError) return 'protocol_error';
  return 'step_error';
}

function asWorkerError(error: unknown): WorkerError {
  if (error instanceof WorkerError) return error;
  const message = error instanceof Error ? error.message : String(error);
  return new TrainingFailedError(`training failed: ${message}`, { cause: error });
}

export { WORKER_ERROR_CODES };
