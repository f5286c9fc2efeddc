/**
 * The tfjs backend 'native': tfjs's JavaScript `cpu` backend with its hot kernels replaced by
 * oneDNN and native loops.
 *
 * `NativeBackend` extends `MathBackendCPU`, so tensors live exactly where they live on the cpu
 * backend (a `Float32Array` per tensor in the backend's data map, freed on dispose) and every cpu
 * kernel runs on it unchanged: registration copies all of them for 'native' and then overrides
 * the ones of `kernels/`. The addon reads and writes those arrays in place during a call; all
 * that stays native between calls is oneDNN's primitive cache and one scratch arena.
 */
import * as tf from '@tensorflow/tfjs-core';
import { MathBackendCPU } from '@tensorflow/tfjs-backend-cpu';
import type { DataType, KernelConfig, backend_util } from '@tensorflow/tfjs-core';

import { DEFAULT_ADDON_PATH, loadAddon } from './addon.ts';
import type { NativeAddon } from './addon.ts';
import { InvalidNativeOptionsError, NativeBackendUnavailableError } from './errors.ts';
import { batchNormKernels } from './kernels/batch-norm.ts';
import { batchNormTrainKernels } from './kernels/batch-norm-train.ts';
import { conv2dKernels } from './kernels/conv2d.ts';
import { elementwiseKernels } from './kernels/elementwise.ts';
import { KernelContext } from './kernels/kernel-context.ts';
import type { KernelCounts } from './kernels/kernel-context.ts';
import { matMulKernels } from './kernels/matmul.ts';
import { poolingKernels } from './kernels/pooling.ts';
import { reductionKernels } from './kernels/reduction.ts';
import { defaultNativeThreads } from './threads.ts';

/** The name the backend registers under with tfjs. */
export const NATIVE_BACKEND_NAME = 'native';

/** Default cap on the bytes of free arrays the backend keeps for reuse. */
export const DEFAULT_MAX_POOLED_BYTES = 512 * 1024 * 1024;

/**
 * The cpu backend with a pool of output arrays. A fresh `Float32Array` of a few megabytes costs
 * more than the kernel that fills it (the kernel zeroes and maps fresh pages, and the garbage
 * collector runs more often), and a training step allocates the same sizes over and over. Arrays
 * the native kernels allocate therefore go back to a pool when their last tensor is disposed,
 * unless they have been handed out: `readSync`/`read` (`dataSync()`, `data()`) return the
 * backend's own array, so anything read is never recycled. Uses are counted per `ArrayBuffer`
 * because some cpu kernels store views (`subarray`) of their input as their output.
 */
export class NativeBackend extends MathBackendCPU {
  readonly addon: NativeAddon;
  private readonly maxPooledBytes: number;
  private readonly pool = new Map<number, Float32Array[]>();
  private pooledBytes = 0;
  /** Buffers allocated by `allocate` and never handed out: the only ones that may be recycled. */
  private readonly recyclable = new WeakSet<ArrayBufferLike>();
  /** Live tensors (data ids) per recyclable buffer. */
  private readonly uses = new Map<ArrayBufferLike, number>();

  constructor(addon: NativeAddon, maxPooledBytes: number = DEFAULT_MAX_POOLED_BYTES) {
    super();
    this.addon = addon;
    this.maxPooledBytes = maxPooledBytes;
    // MathBackendCPU greets its first tensor with advice to install tfjs-node; not ours to give.
    (this as unknown as { firstUse: boolean }).firstUse = false;
  }

  /** An array of `length` floats for a kernel output; its contents are arbitrary. */
  allocate(length: number): Float32Array {
    const reused = this.pool.get(length)?.pop();
    if (reused !== undefined) {
      this.pooledBytes -= reused.byteLength;
      return reused;
    }
    const fresh = new Float32Array(length);
    this.recyclable.add(fresh.buffer);
    return fresh;
  }

  /** Bytes of arrays waiting in the pool. */
  get pooledByteCount(): number {
    return this.pooledBytes;
  }

  override write(values: backend_util.BackendValues, shape: number[], dtype: DataType): DataId {
    const dataId = super.write(values, shape, dtype);
    const buffer = bufferOf(values);
    if (buffer !== null && this.recyclable.has(buffer)) this.uses.set(buffer, (this.uses.get(buffer) ?? 0) + 1);
    return dataId;
  }

  override readSync(dataId: DataId): backend_util.BackendValues {
    const buffer = bufferOf(this.data.get(dataId)?.values);
    if (buffer !== null) {
      this.recyclable.delete(buffer);
      this.uses.delete(buffer);
    }
    return super.readSync(dataId);
  }

  override disposeData(dataId: DataId, force = false): boolean {
    const values = this.data.get(dataId)?.values;
    const released = super.disposeData(dataId, force);
    if (values !== undefined && !this.data.has(dataId)) this.release(values);
    return released;
  }

  override dispose(): void {
    this.pool.clear();
    this.pooledBytes = 0;
    super.dispose();
  }

  private release(values: backend_util.BackendValues): void {
    const buffer = bufferOf(values);
    if (buffer === null || !this.recyclable.has(buffer)) return;
    const remaining = (this.uses.get(buffer) ?? 1) - 1;
    if (remaining > 0) {
      this.uses.set(buffer, remaining);
      return;
    }
    this.uses.delete(buffer);
    if (this.pooledBytes + buffer.byteLength > this.maxPooledBytes) return; // left to the garbage collector
    const array = new Float32Array(buffer);
    let list = this.pool.get(array.length);
    if (list === undefined) {
      list = [];
      this.pool.set(array.length, list);
    }
    list.push(array);
    this.pooledBytes += buffer.byteLength;
  }
}

type DataId = object;

function bufferOf(values: backend_util.BackendValues | undefined): ArrayBufferLike | null {
  return ArrayBuffer.isView(values) ? values.buffer : null;
}

export interface NativeBackendOptions {
  /**
   * Threads of oneDNN and of the native loops (one OpenMP pool). Changing it later empties the
   * primitive cache.
   * @default defaultNativeThreads({ workersPerMachine }) (RINGTRAIN_NATIVE_THREADS, OMP_NUM_THREADS, or cores / workers)
   */
  readonly threads?: number;
  /**
   * Workers sharing this machine, used for the default thread count.
   * @default 1
   */
  readonly workersPerMachine?: number;
  /**
   * Bytes of freed kernel outputs kept for reuse (see `NativeBackend`); 0 disables the pool.
   * @default 512 MiB
   */
  readonly maxPooledBytes?: number;
  /**
   * The compiled addon to load.
   * @default the package's build/Release/ringtrain_dnnl.node
   */
  readonly addonPath?: string;
}

export interface NativeBackendInfo {
  /** The tfjs backend name, 'native'. */
  readonly name: string;
  /** The oneDNN version the addon runs on, e.g. '2.6.3'. */
  readonly dnnlVersion: string;
  /** The instruction set oneDNN dispatches to, e.g. 'avx512_core_bf16'. */
  readonly isa: string;
  /** oneDNN's CPU threading runtime: 'omp' for Debian's build. */
  readonly runtime: string;
  readonly threads: number;
  /** How idle OpenMP threads wait: OMP_WAIT_POLICY as libgomp read it ('PASSIVE' unless set). */
  readonly waitPolicy: string;
  /** Kernels that run natively (all others are tfjs's cpu kernels). */
  readonly nativeKernels: readonly string[];
}

export type NativeAvailability = { readonly available: true } | { readonly available: false; readonly reason: string };

/** Whether the addon is built and loads here; never throws. The reason names the fix. */
export function nativeBackendAvailability(addonPath: string = DEFAULT_ADDON_PATH): NativeAvailability {
  const load = loadAddon(addonPath);
  return load.ok ? { available: true } : { available: false, reason: load.reason };
}

let registered: { context: KernelContext; nativeKernels: string[]; threads: number } | undefined;

/**
 * Registers the backend 'native' with tfjs and returns what it runs on. Make it current with
 * `await tf.setBackend('native')`. Registration happens once per process: later calls change
 * the thread count, while `maxPooledBytes` and `addonPath` keep the values of the first call.
 * @throws NativeBackendUnavailableError when the addon is not built or does not load
 * @throws InvalidNativeOptionsError for a thread count that is not a positive integer
 */
export function registerNativeBackend(options: NativeBackendOptions = {}): NativeBackendInfo {
  const load = loadAddon(options.addonPath ?? DEFAULT_ADDON_PATH);
  if (!load.ok) throw new NativeBackendUnavailableError(load.reason);
  const { addon } = load;
  const threads = options.threads ?? defaultNativeThreads({ workersPerMachine: options.workersPerMachine });
  if (!Number.isInteger(threads) || threads < 1 || threads > 1024) {
    throw new InvalidNativeOptionsError(`threads must be an integer in [1, 1024], got ${String(threads)}`);
  }
  const maxPooledBytes = options.maxPooledBytes ?? DEFAULT_MAX_POOLED_BYTES;
  if (!Number.isInteger(maxPooledBytes) || maxPooledBytes < 0) {
    throw new InvalidNativeOptionsError(`maxPooledBytes must be a non-negative integer, got ${String(maxPooledBytes)}`);
  }
  addon.setThreads(threads);

  if (registered === undefined) {
    const context = new KernelContext(addon, NATIVE_BACKEND_NAME);
    const nativeConfigs: KernelConfig[] = [
      ...conv2dKernels(context),
      ...poolingKernels(context),
      ...matMulKernels(context),
      ...batchNormKernels(context),
      ...batchNormTrainKernels(context),
      ...elementwiseKernels(context),
      ...reductionKernels(context),
    ];
    const byName = new Map<string, KernelConfig>();
    for (const config of tf.getKernelsForBackend('cpu')) byName.set(config.kernelName, { ...config, backendName: NATIVE_BACKEND_NAME });
    for (const config of nativeConfigs) byName.set(config.kernelName, config);
    for (const config of byName.values()) tf.registerKernel(config);
    tf.registerBackend(NATIVE_BACKEND_NAME, () => new NativeBackend(addon, maxPooledBytes), 0);
    registered = { context, nativeKernels: nativeConfigs.map((c) => c.kernelName), threads };
  }
  registered.threads = threads;

  const [dnnlVersion = '', isa = '', runtime = ''] = addon.version().split(',');
  return {
    name: NATIVE_BACKEND_NAME,
    dnnlVersion,
    isa,
    runtime,
    threads: addon.getThreads(),
    waitPolicy: process.env.OMP_WAIT_POLICY ?? (process.env.GOMP_SPINCOUNT === undefined ? 'default' : `GOMP_SPINCOUNT=${process.env.GOMP_SPINCOUNT}`),
    nativeKernels: registered.nativeKernels,
  };
}

/** The thread count of the registered backend, or null before `registerNativeBackend`. */
export function registeredNativeThreads(): number | null {
  return registered === undefined ? null : registered.threads;
}

/** Changes the thread count of a registered backend (empties the primitive cache). */
export function setNativeThreads(threads: number): void {
  if (registered === undefined) throw new NativeBackendUnavailableError('registerNativeBackend() has not been called');
  if (!Number.isInteger(threads) || threads < 1 || threads > 1024) {
    throw new InvalidNativeOptionsError(`threads must be an integer in [1, 1024], got ${String(threads)}`);
  }
  registered.context.addon.setThreads(threads);
  registered.threads = threads;
}

export interface NativeBackendStats {
  /** Per kernel: calls run natively and calls handed to the cpu kernel. */
  readonly kernels: ReadonlyMap<string, Readonly<KernelCounts>>;
  /** Cached oneDNN primitives. */
  readonly cachedPrimitives: number;
  readonly cacheHits: number;
  readonly cacheMisses: number;
  /** Bytes of the native scratch arena (oneDNN scratchpads and reordered weights). */
  readonly arenaBytes: number;
}

/** Counters of the registered backend, for tests and profiles. */
export function nativeBackendStats(): NativeBackendStats {
  if (registered === undefined) throw new NativeBackendUnavailableError('registerNativeBackend() has not been called');
  const [entries = 0, hits = 0, misses = 0, arena = 0] = registered.context.addon.cacheStats().split(',').map(Number);
  return { kernels: registered.context.counts, cachedPrimitives: entries, cacheHits: hits, cacheMisses: misses, arenaBytes: arena };
}
