/**
 * Every message ringtrain sends, between the coordinator and its workers (control plane) and
 * between ring neighbours (data plane). Both sides import this file; nothing else defines a
 * wire shape.
 *
 * A run, as the messages tell it:
 *   A. A worker connects to the coordinator and sends `hello` with the shared token and the
 *      address its peer server listens on. The coordinator answers `welcome` or closes with
 *      `rejected`.
 *   B. Once `minWorkers` have joined, the coordinator opens generation g: it sends each worker
 *      `assign` (rank, world size, ring order, model spec, hyper-parameters) followed by `state`
 *      (the initial weights and optimizer state, identical for all) and `dataset` chunks (each
 *      image a worker will need, once; later only indices travel).
 *   C. Each worker dials its ring predecessor's peer server and introduces itself with
 *      `peer-hello`; the predecessor answers with its own `peer-hello`. Gradient data then flows
 *      from the server side to the client side of each link (server frames are not masked).
 *      When both of its links are up a worker answers `ready`.
 *   D. For each epoch the coordinator sends `plan` (the worker's sample indices for the steps it
 *      is to run and the learning rate of each step). Per step, every worker computes its local
 *      gradient, all-reduces it with its neighbours in `peer-chunk` messages, applies the average
 *      and reports `step-report`. Every `checksumEverySteps` steps the report carries a weight
 *      checksum, which the coordinator compares across ranks.
 *   E. After an epoch the coordinator sends `evaluate` (each worker's share of the test set); the
 *      workers answer `evaluation`, which the coordinator sums.
 *   F. For a checkpoint the coordinator sends `state-request`; rank 0 answers `state`.
 *   G. `stop` ends the run; `error` tells the other side why a connection is about to close.
 *
 * Membership is versioned by generation: every message after `assign` carries the generation it
 * belongs to, and a message of an older generation is dropped, so a later re-rendezvous (a worker
 * lost or added) never mixes steps of two rings.
 */

/** The protocol version. A peer speaking another version is refused at `hello`/`peer-hello`. */
export const PROTOCOL_VERSION = 1;

/** Where a worker's peer server listens, as its ring successor should dial it. */
export interface PeerAddress {
  host: string;
  port: number;
}

/** The model every replica builds. */
export interface ModelSpec {
  depth: 18 | 34 | 50 | 101 | 152;
  stem: 'd2l' | 'small';
  widthMultiplier: number;
  imageSize: number;
  channels: number;
  classes: number;
  seed: number;
}

/** Optimizer and schedule settings, identical on every worker. */
export interface HyperParameters {
  /** Per-worker batch size; the global batch is this times the world size. */
  batchSizePerWorker: number;
  momentum: number;
  nesterov: boolean;
  weightDecay: number;
  /** Normalisation and augmentation applied by each worker before a step. */
  preprocess: {
    mean: number;
    std: number;
    augment: boolean;
    seed: number;
  };
  /** Every how many steps workers report a weight checksum (0: never). */
  checksumEverySteps: number;
  /** Gradient bucket cap for the ring all-reduce. */
  maxBucketBytes: number;
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
}

/** The worker has joined its ring for this generation and holds the initial state. */
export interface ReadyMessage {
  v: number;
  type: 'ready';
  generation: number;
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

/**
 * One piece of a bucket in a ring all-reduce. Unlike every other message it is not msgpack: it
 * travels as a fixed 32-byte binary header followed by the raw float32 bytes (see
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
  data: Float32Array;
}

export type CoordinatorToWorker =
  | WelcomeMessage
  | AssignMessage
  | StateMessage
  | DatasetMessage
  | PlanMessage
  | EvaluateMessage
  | StateRequestMessage
  | StopMessage
  | ErrorMessage;

export type WorkerToCoordinator =
  | HelloMessage
  | ReadyMessage
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
