/**
 * What the control loop needs from the compute and data planes. The compute side is a small
 * interface over `@ringtrain/model`'s `Trainer` (model-compute.ts); the ring is the all-reduce's
 * own `PeerServer` and `RingAllReduce`, named here by the members the loop uses so that tests
 * may stand in a ring of their own.
 */
import type { ConvolutionPrecision, HyperParameters, ModelSpec, PeerAddress } from '@ringtrain/protocol';
import type { AllReduceCallOptions, AllReduceResult, JoinRingOptions, PeerServerOptions, PeerTls } from './allreduce/index.ts';

/** A value, or a promise of it: a trainer on another thread answers later. */
export type Awaitable<T> = T | Promise<T>;

/**
 * One replica's training step, cut between gradient and update. The arrays handed in belong to
 * the trainer from then on (one on another thread takes them by transfer): the batch, and the
 * averaged gradient, which becomes the buffer of the next step's gradient.
 */
export interface ReplicaTrainer {
  /**
   * The gradient goes to `into` when given (the model's flat length), else to a buffer of the
   * trainer's. With `onSegmentReady`, each segment of it is announced as soon as it is final
   * (from the end of the vector back; see `@ringtrain/model`'s `segmented-backward.ts`), and is
   * the listener's from then on: a trainer on another thread announces while it computes.
   */
  computeGradients(
    x: Float32Array,
    labels: Int32Array,
    into?: Float32Array,
    onSegmentReady?: SegmentListener,
  ): Awaitable<{ loss: number; correct: number; count: number; flat: Float32Array }>;
  applyGradients(averaged: Float32Array, learningRate: number): Awaitable<void>;
  /** Mean loss over the batch. */
  evaluate(x: Float32Array, labels: Int32Array): Awaitable<{ loss: number; correct: number; count: number }>;
  getState(): Awaitable<Uint8Array>;
  setState(bytes: Uint8Array): Awaitable<void>;
  /** The checksum of every value (parameters, running statistics) that replicas compare: `weightChecksum`. */
  weightChecksum(): Awaitable<string>;
  dispose(): Awaitable<void>;
}

/** `[start, end)` of the gradient `flat` is final. */
export type SegmentListener = (flat: Float32Array, start: number, end: number) => void;

export interface ComputeProvider {
  /** The backend name reported in `hello`. */
  readonly backend: string;
  /**
   * True when a training step runs off the thread that answers the coordinator's heartbeats, so
   * that silence means a frozen process, never a long step. Said in `hello`.
   */
  readonly heartbeatsDuringSteps?: boolean;
  /**
   * The convolution precisions `createTrainer` can compute in (`hyper.precision`). Said in
   * `hello`, so that the coordinator refuses a worker that cannot compute its run's.
   * @default ['f32']
   */
  readonly precisions?: readonly ConvolutionPrecision[];
  createTrainer(model: ModelSpec, hyper: HyperParameters): ReplicaTrainer | Promise<ReplicaTrainer>;
  /** Tensors and bytes the compute library holds now (`tf.memory()`), for the worker's metrics. */
  memory?(): { numTensors: number; numBytes: number };
}

/** A formed ring: `RingAllReduce`. */
export interface Ring {
  allReduce(vector: Float32Array, options?: AllReduceCallOptions): Promise<AllReduceResult>;
  close(): Promise<void>;
}

/** The worker's peer server: `PeerServer`, listening from before `hello`. */
export interface RingServer {
  readonly address: PeerAddress;
  joinRing(options: JoinRingOptions): Promise<Ring>;
  /** New certificate files for links from now on; only a server started with TLS has it. */
  reloadTls?(tls: PeerTls): void;
  close(): Promise<void>;
}

/** Starts the peer server (`startPeerServer`). */
export type ListenForPeers = (options: PeerServerOptions) => Promise<RingServer>;
