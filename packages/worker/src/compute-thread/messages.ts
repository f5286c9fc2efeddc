/**
 * What the worker's control thread and its compute thread say to each other. A batch crosses by
 * transfer. The gradient lives in shared memory that both threads see: the compute thread
 * writes it, the ring averages it in place, and the compute thread applies it, each in turn (a
 * message hands it over). A step cut short leaves the buffer with a ring that may still hold it,
 * so the next step asks for a fresh one. Transferring 45 MB back and forth instead would count
 * as new external memory in each thread every step, and cost a full garbage collection each.
 */
import type { ConvolutionPrecision, HyperParameters, ModelSpec } from '@ringtrain/protocol';

export interface ComputeThreadData {
  /** The backend choice ('auto', 'native', 'wasm', 'cpu', ...). */
  readonly backend: string;
  readonly threads?: number;
  readonly workersPerMachine?: number;
}

export type ComputeRequest =
  | { id: number; op: 'create'; model: ModelSpec; hyper: HyperParameters }
  /** `into`: a shared buffer the caller has freed, to write the gradient to (else the thread's own, fresh if `freshBuffer`). */
  | { id: number; op: 'compute-gradients'; x: Float32Array; labels: Int32Array; freshBuffer: boolean; segmented?: boolean; into?: Float32Array }
  | { id: number; op: 'apply-gradients'; averaged: Float32Array; learningRate: number }
  | { id: number; op: 'evaluate'; x: Float32Array; labels: Int32Array }
  | { id: number; op: 'get-state' }
  | { id: number; op: 'set-state'; bytes: Uint8Array }
  | { id: number; op: 'weight-checksum' }
  | { id: number; op: 'dispose' };

/** An error thrown on the compute thread, as it crosses to the control thread. */
export interface ThrownOnThread {
  name: string;
  message: string;
  /** The error's stable `code`, when it has one (every ringtrain error does). */
  code?: string;
}

export interface MemoryReading {
  numTensors: number;
  numBytes: number;
}

export type ComputeReply =
  | { kind: 'selected'; backend: string; precisions: readonly ConvolutionPrecision[]; description: string }
  | { kind: 'start-failed'; error: ThrownOnThread }
  | { kind: 'result'; id: number; value: unknown; memory: MemoryReading | null }
  /** During a segmented `compute-gradients`: `[start, end)` of the shared gradient `flat` is final. */
  | { kind: 'segment-ready'; id: number; flat: Float32Array; start: number; end: number }
  | { kind: 'thrown'; id: number; error: ThrownOnThread; memory: MemoryReading | null };

export function describeThrown(error: unknown): ThrownOnThread {
  if (!(error instanceof Error)) return { name: 'Error', message: String(error) };
  const code = (error as { code?: unknown }).code;
  return { name: error.name, message: error.message, ...(typeof code === 'string' ? { code } : {}) };
}
