/**
 * What the control loop needs from the compute and data planes, as small interfaces: the
 * default implementations wrap `@ringtrain/model`'s `Trainer` (model-compute.ts) and the ring
 * all-reduce (ring-adapter.ts); tests may pass their own.
 */
import type { HyperParameters, ModelSpec, PeerAddress, RingMember } from '@ringtrain/protocol';

/** One replica's training step, cut between gradient and update. */
export interface ReplicaTrainer {
  computeGradients(x: Float32Array, labels: Int32Array): { loss: number; correct: number; count: number; flat: Float32Array };
  applyGradients(averaged: Float32Array, learningRate: number): void;
  /** Mean loss over the batch. */
  evaluate(x: Float32Array, labels: Int32Array): { loss: number; correct: number; count: number };
  getState(): Uint8Array;
  setState(bytes: Uint8Array): void;
  /** Every value (parameters, running statistics) in flat order; for the weight checksum. */
  getValues(): Float32Array;
  dispose(): void;
}

export interface ComputeProvider {
  /** The backend name reported in `hello`. */
  readonly backend: string;
  createTrainer(model: ModelSpec, hyper: HyperParameters): ReplicaTrainer | Promise<ReplicaTrainer>;
  /** Tensors and bytes the compute library holds now (`tf.memory()`), for the worker's metrics. */
  memory?(): { numTensors: number; numBytes: number };
}

/** This worker's place in a generation's ring. */
export interface RingAssignment {
  generation: number;
  rank: number;
  worldSize: number;
  ring: RingMember[];
  maxBucketBytes: number;
}

/** The peer server, listening from before `hello` (its address goes into `hello`). */
export interface RingEndpoint {
  readonly address: PeerAddress;
  /** Connects to the ring successor and waits for the predecessor; resolves when the ring is closed. */
  join(assignment: RingAssignment): Promise<RingSession>;
  close(): Promise<void>;
}

/** What one all-reduce did. */
export interface RingAllReduceOutcome {
  averaged: Float32Array;
  /** The part of the call spent waiting for slower peers. */
  waitMs: number;
  /** Bytes sent to the ring successor, when the ring counts them. */
  sentBytes?: number;
  /** Bytes received from the ring predecessor, when the ring counts them. */
  receivedBytes?: number;
}

export interface RingSession {
  /** Averages `flat` over every rank. */
  allReduce(flat: Float32Array, step: number): Promise<RingAllReduceOutcome>;
  close(): Promise<void>;
}

export type RingListen = (options: { host: string; port: number; advertiseHost: string; token: string }) => Promise<RingEndpoint>;
