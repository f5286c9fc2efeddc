/**
 * Every message ringtrain sends, between the coordinator and its workers (control plane) and
 * between ring neighbours (data plane). Both sides import this file; nothing else defines a
 * wire shape.
 *
 * A run, as the messages tell it:
 *   A. A worker connects to the coordinator and sends `hello` with the shared token and the
 *      address its peer server listens on. The coordinator answers `welcome` or closes with
 *      `error`. From then on each side pings the other every `welcome.heartbeatIntervalMs`
 *      (WebSocket ping frames); the coordinator counts any frame from a worker as hearing from
 *      it and answers no ping, since a worker's ping may arrive while what the coordinator
 *      sends it (a relayed state) is still waiting to be read.
 *   B. Once `minWorkers` have joined, the coordinator opens generation g: it sends each member
 *      `assign` (rank, world size, ring order, model spec, hyper-parameters) and the `dataset`
 *      chunks of the images it will need (each image once; later only indices travel). A worker
 *      drops whatever it was doing for an older generation and answers `replica`: how many
 *      global steps its replica has done, or that it has none.
 *   C. With every member's `replica` in, the coordinator fixes the generation's starting step S:
 *      the most advanced replica among the members (or the coordinator's own starting state,
 *      initial weights or a checkpoint, when that is newer or no member has one). It sends each
 *      member `sync` {step S, keep}: `keep` when the member's replica is at S already, else the
 *      `state` pieces of S follow, relayed from the most advanced member (asked with
 *      `state-request`) or sent from the coordinator's own copy.
 *   D. Each member dials its ring predecessor's peer server and introduces itself with
 *      `peer-hello`; the predecessor answers with its own. Gradient data then flows from the
 *      server side to the client side of each link (server frames are not masked). With the
 *      state at S and both links up, a worker answers `ready` with its weight checksum; the
 *      coordinator compares them, so a generation never starts from replicas that differ.
 *   E. For each epoch the coordinator sends `plan` (the worker's sample indices for the steps it
 *      is to run and the learning rate of each step). Per step, every worker computes its local
 *      gradient, all-reduces it with its neighbours in `peer-chunk` messages, applies the average
 *      and reports `step-report`. Every `checksumEverySteps` steps the report carries a weight
 *      checksum, which the coordinator compares across ranks.
 *   F. After an epoch the coordinator sends `evaluate` (each worker's share of the test set); the
 *      workers answer `evaluation`, which the coordinator sums.
 *   G. For a checkpoint (or a state to relay, C) the coordinator sends `state-request`; the
 *      asked worker answers `state`.
 *   H. `stop` ends the run, saying whether it failed; `error` tells the other side why a
 *      connection is about to close.
 *
 * Membership is versioned by generation: every message after `assign` carries the generation it
 * belongs to, and a message of an older generation is dropped, so steps of two rings never mix.
 * A membership change (a worker lost, evicted or joining) opens generation g+1 at B.
 *
 * The step commit rule. A global step counts when every rank of its generation has finished it,
 * or when one surviving replica has finished it: the ring all-reduce completes nowhere before
 * every rank has contributed its gradient, so a replica that applied step s holds the full
 * average of s, and C makes it everyone's state. A step no survivor finished is discarded
 * everywhere (no replica applied it) and its samples are dealt out again with the rest of the
 * epoch. Replicas therefore never differ by more than the steps C brings them forward, and every
 * sample of an epoch is trained exactly once whatever the membership does. A worker whose ring
 * fails says so with `ring-failed` and waits for the next `assign`.
 */

/** The protocol version. A peer speaking another version is refused at `hello`/`peer-hello`. (3: workers say `heartbeatsDuringSteps` and ping with the interval `welcome` gives them; 4: `assign` carries the residual-γ initialisation, label smoothing, test-time flip and the gradient compression, and `step-report` the bytes sent; 5: `assign` may ask for the all-reduce to overlap the backward pass or to be delayed by a step, for a weight average to evaluate with and for alternating flips, and `hello` says whether the worker's peer port serves TLS.) */
export const PROTOCOL_VERSION = 5;

/** Where a worker's peer server listens, as its ring successor should dial it. */
export interface PeerAddress {
  host: string;
  port: number;
}

/** The model every replica builds. */
export interface ModelSpec {
  depth: 18 | 34 | 50 | 101 | 152;
  stem: 'd2l' | 'small' | 'compact';
  widthMultiplier: number;
  imageSize: number;
  channels: number;
  classes: number;
  seed: number;
  /** The batch-norm γ ending every residual path starts at 0 (each block begins as the identity). */
  zeroInitResidual: boolean;
}

/** Optimizer and schedule settings, identical on every worker. */
export interface HyperParameters {
  /** Per-worker batch size; the global batch is this times the world size. */
  batchSizePerWorker: number;
  momentum: number;
  nesterov: boolean;
  weightDecay: number;
  /** Label smoothing ε of the training loss: the target puts 1 − ε on the label and ε/classes on every class. */
  labelSmoothing: number;
  /** Evaluate on each test image and its mirror image, averaging the two predictions. */
  testTimeFlip: boolean;
  /**
   * Decay of the exponential moving average of the weights that each replica keeps and evaluates
   * with, in [0, 1]; it travels in the replica's state. Absent or 0: none.
   */
  emaDecay?: number;
  /** Ramp the average's decay up as min(emaDecay, (1 + step)/(10 + step)). Absent means false. */
  emaWarmup?: boolean;
  /** Normalisation and augmentation applied by each worker before a step. */
  preprocess: {
    mean: number;
    std: number;
    augment: boolean;
    seed: number;
    /** With `augment`, flip each image on every other epoch. Absent means false. */
    alternateFlips?: boolean;
    /** With `augment`, background pixels added on each side before the random crop (0: flip only). Absent means 4. */
    cropPaddingPx?: number;
  };
  /** Every how many steps workers report a weight checksum (0: never). */
  checksumEverySteps: number;
  /** Gradient bucket cap for the ring all-reduce. */
  maxBucketBytes: number;
  /** How gradients travel in the all-reduce; one choice for the whole run. */
  compression: CompressionSpec;
  /**
   * All-reduce each bucket of the gradient as soon as the backward pass has finished it, while the
   * rest is still computing; the averaged gradient is bit for bit the one without. Only with
   * compression `none`. Absent means false.
   */
  overlap?: boolean;
  /**
   * Average each step's gradient while the next step computes, and apply it after: one step of
   * staleness within a plan (see the worker's `delayed-steps.ts`). Not with `overlap`. Absent means false.
   */
  delayedAllReduce?: boolean;
  /**
   * The data type convolutions compute in: `bf16` reads their inputs in bf16 and accumulates in
   * float32, with float32 master weights (mixed precision). Every replica computes alike, so one
   * choice for the whole run. Absent means `f32`.
   */
  precision?: ConvolutionPrecision;
}

/** The ways a gradient may travel in the all-reduce. */
export const COMPRESSION_METHODS = ['none', 'bf16', 'f16', 'powersgd'] as const;

/** The data types convolutions may compute in (`hyper.precision`). */
export const CONVOLUTION_PRECISIONS = ['f32', 'bf16'] as const;
export type ConvolutionPrecision = (typeof CONVOLUTION_PRECISIONS)[number];

/**
 * Gradient compression of a run. `none`: the f32 gradient as computed; `bf16`/`f16`: every value
 * sent in 16 bits, summed in f32, with error feedback; `powersgd`: every weight matrix as a rank-r
 * product (PowerSGD, with error feedback and warm start), the rest uncompressed.
 */
export interface CompressionSpec {
  method: (typeof COMPRESSION_METHODS)[number];
  /** PowerSGD's rank r; the other methods ignore it. */
  rank: number;
  /** PowerSGD all-reduces uncompressed before this global step; the other methods ignore it. */
  startStep: number;
}

/** One member of the ring. */
export interface RingMember {
  rank: number;
  workerId: string;
  address: PeerAddress;
}

// ---------------------------------------------------------------- worker -> coordinator

/** A worker introduces itself (first message on a coordinator connection). */
export interface HelloMessage {
  v: number;
  type: 'hello';
  token: string;
  /** Stable for the life of the worker process. */
  workerId: string;
  hostname: string;
  pid: number;
  backend: string;
  peerAddress: PeerAddress;
  /**
   * Which workers share this one's network link (a machine, a Kubernetes node): the ring keeps
   * them side by side. Absent: the host of `peerAddress`.
   */
  hostGroup?: string;
  /**
   * The last generation this worker was in (0 for none). A worker that outlived its coordinator
   * says it, so a restarted coordinator numbers its generations after it.
   */
  generation: number;
  /**
   * True when this worker's training steps run off the thread that answers heartbeats: its
   * silence then means a frozen process or a cut link, and is timed by `heartbeatTimeoutMs`
   * alone. False gives it its slowest step (twice over) before it is taken for silent.
   */
  heartbeatsDuringSteps: boolean;
  /**
   * True when this worker's peer port serves TLS and asks its peers for a certificate of the
   * run's CA. Ring neighbours must agree: a TLS worker cannot dial a plaintext one or take its
   * connection, so the coordinator refuses a worker whose setting differs from the run's.
   */
  peerTls: boolean;
  /**
   * The convolution precisions (`hyper.precision`) this worker can compute: names, so that a
   * later worker may offer one this coordinator does not know (it is ignored). The coordinator
   * refuses a worker that cannot compute the run's. Absent: a worker older than this field, which
   * would ignore `hyper.precision` and compute in float32 whatever the run asks.
   */
  precisions?: string[];
}

/** Answer to `assign`: what this worker's replica holds, before the generation's state is fixed. */
export interface ReplicaMessage {
  v: number;
  type: 'replica';
  generation: number;
  /** Global steps the replica has applied; -1 when the worker holds no replica yet. */
  stepsDone: number;
  /** The step whose all-reduce was cut short by the change of generation, or -1. */
  abortedStep: number;
  /** Where in its epoch's order the replica stands (what `sync` or the last applied step of a plan said); -1 for unknown. */
  epoch: number;
  offset: number;
}

/** The worker has joined its ring for this generation and holds the generation's starting state. */
export interface ReadyMessage {
  v: number;
  type: 'ready';
  generation: number;
  /** Global steps done in the state the replica starts the generation from. */
  step: number;
  /** Checksum of the replica's weights, compared across the generation's members. */
  weightChecksum: string;
}

/** The worker's ring failed (a neighbour vanished, a link broke); it waits for the next `assign`. */
export interface RingFailedMessage {
  v: number;
  type: 'ring-failed';
  generation: number;
  /** The step whose all-reduce failed. */
  step: number;
  /** The stable error code of the failure. */
  code: string;
  message: string;
}

/**
 * The worker computed its gradient of a step and entered the all-reduce. The coordinator's stall
 * inspector names the ranks that have not, which are the ones the ring waits on.
 */
export interface GradientReadyMessage {
  v: number;
  type: 'gradient-ready';
  generation: number;
  step: number;
}

/** One finished step: local loss/accuracy and the time split. */
export interface StepReportMessage {
  v: number;
  type: 'step-report';
  generation: number;
  epoch: number;
  step: number;
  loss: number;
  correct: number;
  count: number;
  computeMs: number;
  allReduceMs: number;
  waitMs: number;
  /** Bytes this worker sent in the step's all-reduces: what the gradient cost on the wire. */
  sentBytes: number;
  /** Checksum of the weights after the step (empty when not due). */
  weightChecksum: string;
}

/** A worker's share of an evaluation. */
export interface EvaluationMessage {
  v: number;
  type: 'evaluation';
  generation: number;
  epoch: number;
  lossSum: number;
  correct: number;
  count: number;
}

// ---------------------------------------------------------------- coordinator -> worker

/** The worker is accepted. */
export interface WelcomeMessage {
  v: number;
  type: 'welcome';
  workerId: string;
  /**
   * How often the worker pings the coordinator. Its pings are its own sign of life: they reach
   * the coordinator even when the coordinator's pings wait behind a large transfer to the worker
   * (a relayed state of hundreds of MB on a slow link), which the worker must read first.
   */
  heartbeatIntervalMs: number;
}

/** Opens a generation: the worker's place in the ring and what to train. */
export interface AssignMessage {
  v: number;
  type: 'assign';
  generation: number;
  rank: number;
  worldSize: number;
  ring: RingMember[];
  model: ModelSpec;
  hyper: HyperParameters;
}

/**
 * Fixes the state generation g starts from: global step `step`. With `keep` the worker's own
 * replica is at that step already; without, `state` pieces of that step follow.
 */
export interface SyncMessage {
  v: number;
  type: 'sync';
  generation: number;
  step: number;
  keep: boolean;
  /** Where in the epoch's order that step leaves the run. */
  epoch: number;
  offset: number;
  /**
   * Steps from `abortedStep` of the worker's `replica` up to `step` that peers finished with
   * this worker's gradient in them (see the step commit rule): the worker counts them as trained.
   */
  finishedByPeers: number;
}

/** Images and labels a worker needs, sent once per image; later messages carry indices only. */
export interface DatasetMessage {
  v: number;
  type: 'dataset';
  generation: number;
  split: 'train' | 'test';
  rows: number;
  cols: number;
  /** Data-set indices of the images in this chunk. */
  indices: Uint32Array;
  /** rows·cols bytes per index, in the order of `indices`. */
  images: Uint8Array;
  labels: Uint8Array;
}

/** The steps a worker is to run in an epoch. */
export interface PlanMessage {
  v: number;
  type: 'plan';
  generation: number;
  epoch: number;
  /** Global step number of the first step in this plan. */
  firstStep: number;
  /** Sample indices, `batchSizePerWorker` per step, step after step. */
  indices: Uint32Array;
  /** Learning rate of each step. */
  learningRates: Float32Array;
  /** The position in the epoch's order after each step (samples of the order used). */
  positions: Uint32Array;
}

/** Evaluate a share of the test set with the current weights. */
export interface EvaluateMessage {
  v: number;
  type: 'evaluate';
  generation: number;
  epoch: number;
  indices: Uint32Array;
}

/** Asks for the replica's state (weights + optimizer), e.g. for a checkpoint. */
export interface StateRequestMessage {
  v: number;
  type: 'state-request';
  generation: number;
  step: number;
}

/** The end of the run. */
export interface StopMessage {
  v: number;
  type: 'stop';
  reason: string;
  /** Whether the run failed (a worker then exits non-zero). */
  failed: boolean;
}

// ---------------------------------------------------------------- either direction

/**
 * Weights and optimizer state as bytes: coordinator -> worker to start, worker -> coordinator on
 * request. A state larger than one message may be (ResNet-152 with momentum is about 480 MB) travels
 * as consecutive pieces: `bytes` is the piece starting at `offset` of `totalBytes`, pieces in order.
 */
export interface StateMessage {
  v: number;
  type: 'state';
  generation: number;
  step: number;
  /** Where this piece starts in the whole state. */
  offset: number;
  /** Length of the whole state; the last piece ends there. */
  totalBytes: number;
  bytes: Uint8Array;
}

/** Why the sender is about to close the connection. */
export interface ErrorMessage {
  v: number;
  type: 'error';
  code: string;
  message: string;
}

// ---------------------------------------------------------------- worker -> worker

/**
 * A worker introduces itself on a ring link: first the dialling successor, then the accepting
 * predecessor in answer. Both prove they hold the shared token.
 */
export interface PeerHelloMessage {
  v: number;
  type: 'peer-hello';
  token: string;
  generation: number;
  rank: number;
}

/** The element formats a ring all-reduce may send: float32, or 16-bit bfloat16 / IEEE half. */
export const WIRE_FORMATS = ['f32', 'bf16', 'f16'] as const;
export type WireFormat = (typeof WIRE_FORMATS)[number];

/**
 * One piece of a bucket in a ring all-reduce. Unlike every other message it is not msgpack: it
 * travels as a fixed 32-byte binary header followed by the raw element bytes (see
 * `peer-chunk.ts`).
 */
export interface PeerChunkMessage {
  v: number;
  type: 'peer-chunk';
  generation: number;
  step: number;
  bucket: number;
  phase: 'reduce-scatter' | 'all-gather';
  /** Ring round within the phase, 0 .. worldSize-2. */
  round: number;
  /** Index of the segment within the bucket. */
  segment: number;
  /**
   * The element format of `data`; absent means f32. With `bf16` or `f16`, `data` holds the raw
   * 16-bit values.
   */
  format?: WireFormat;
  /** Float32Array for f32, Uint16Array for the 16-bit formats. */
  data: Float32Array | Uint16Array;
}

export type CoordinatorToWorker =
  | WelcomeMessage
  | AssignMessage
  | SyncMessage
  | StateMessage
  | DatasetMessage
  | PlanMessage
  | EvaluateMessage
  | StateRequestMessage
  | StopMessage
  | ErrorMessage;

export type WorkerToCoordinator =
  | HelloMessage
  | ReplicaMessage
  | ReadyMessage
  | RingFailedMessage
  | GradientReadyMessage
  | StepReportMessage
  | EvaluationMessage
  | StateMessage
  | ErrorMessage;

export type PeerMessage = PeerHelloMessage | PeerChunkMessage | ErrorMessage;

export type Message = CoordinatorToWorker | WorkerToCoordinator | PeerMessage;
export type MessageType = Message['type'];

/** For exhaustive switches over message types. */
export function assertNever(value: never): never {
  throw new Error(`unexpected message: ${JSON.stringify(value)}`);
}
