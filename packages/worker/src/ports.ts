/**
 * What the control loop needs from the compute and data planes. The compute side is a small
 * interface over `@ringtrain/model`'s `Trainer` (model-compute.ts); the ring is the all-reduce's
 * own `PeerServer` and `RingAllReduce`, named here by the members the loop uses so that tests
 * may stand in a ring of their own.
 */
import type { HyperParameters, ModelSpec, PeerAddress } from '@ringtrain/protocol';
import type { AllReduceCallOptions, AllReduceResult, JoinRingOptions, PeerServerOptions } from './allreduce/index.ts';

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

/** A formed ring: `RingAllReduce`. */
export interface Ring {
  allReduce(vector: Float32Array, options?: AllReduceCallOptions): Promise<AllReduceResult>;
  close(): Promise<void>;
}

/** The worker's peer server: `PeerServer`, listening from before `hello`. */
export interface RingServer {
  readonly address: PeerAddress;
  joinRing(options: JoinRingOptions): Promise<Ring>;
  close(): Promise<void>;
}

/** Starts the peer server (`startPeerServer`). */
export type ListenForPeers = (options: PeerServerOptions) => Promise<RingServer>;
