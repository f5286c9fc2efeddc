/**
 * Starting the tfjs wasm backend in Node.
 *
 * What tfjs 4.22 does by itself in Node 20: SIMD is detected (WebAssembly.validate of a SIMD
 * module) and on, so `tfjs-backend-wasm-simd.wasm` runs XNNPACK's SIMD kernels; multithreading is
 * hard-wired off in Node (`WASM_HAS_MULTITHREAD_SUPPORT` returns false when `IS_NODE`), because
 * its loader hands the pthread workers a `blob:` URL, which Node's worker_threads refuse.
 *
 * The threaded build itself works in Node: its Emscripten glue knows worker_threads. With
 * `threads > 1` we load it ourselves, giving the workers a real file (the worker script tfjs ships
 * as a string, written once to a temporary directory) and the main script's path. One more
 * obstacle: the C++ side sizes its pool as min(requested, logical cores / 2), assuming two
 * hyper-threads per core, so on a 2-vCPU machine it would always pick 1. While the module starts we
 * therefore report `2 × threads` logical cores to it.
 *
 * With 2 threads the pool does run `Conv2D` and `BatchMatMul` on both (each thread's CPU time in
 * /proc grows alike), but the elementwise kernels, the JS parts of our kernels and everything
 * else stay on one. The default is 1: no worker threads, and the figure the project compares
 * against is one core; data-parallel workers can instead run one process per core.
 */
import { createRequire } from 'node:module';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import { dirname, join } from 'node:path';

import * as tf from '@tensorflow/tfjs-core';
import { BackendWasm, getThreadsCount, setThreadsCount } from '@tensorflow/tfjs-backend-wasm';

import { BackendUnavailableError, InvalidBackendOptionsError } from './errors.ts';

/** Most threads the wasm backend's pool takes (its C++ caps the pool at 8). */
export const MAX_WASM_THREADS = 8;

export interface WasmInitOptions {
  /**
   * XNNPACK threads. 1 runs the single-threaded SIMD build; more loads the threaded SIMD build,
   * whose pthreads are Node worker threads. Fixed once the backend has started.
   * @default 1
   */
  readonly threads?: number;
}

export type WasmBuild = 'plain' | 'simd' | 'threaded-simd';

export interface WasmBackendInfo {
  /** Which of the three binaries tfjs ships is running. */
  readonly build: WasmBuild;
  readonly simd: boolean;
  /** Threads in XNNPACK's pool, as the backend reports them. */
  readonly threads: number;
}

let startedBuild: WasmBuild | undefined;

/**
 * Starts the wasm backend (if it is not running yet) and makes it the current tfjs backend.
 * @throws InvalidBackendOptionsError when `threads` is out of range or differs from the running backend's
 * @throws BackendUnavailableError when the backend fails to start
 */
export async function initWasmBackend(options: WasmInitOptions = {}): Promise<WasmBackendInfo> {
  const threads = options.threads ?? 1;
  if (!Number.isInteger(threads) || threads < 1 || threads > MAX_WASM_THREADS) {
    throw new InvalidBackendOptionsError(`wasm threads must be an integer in [1, ${MAX_WASM_THREADS}], got ${String(threads)}`);
  }
  const simd = (await tf.env().getAsync('WASM_HAS_SIMD_SUPPORT')) === true;
  const running = tf.findBackend('wasm');
  if (running != null) {
    const current = getThreadsCount();
    if (current !== threads) {
      throw new InvalidBackendOptionsError(
        `the wasm backend is already running with ${current} thread(s); its thread count is fixed when it starts, ` +
          `so ${threads} cannot be used in this process`,
      );
    }
  } else if (threads > 1) {
    if (!simd) {
      throw new BackendUnavailableError('wasm', `${threads} threads need the threaded SIMD build, but this runtime has no WebAssembly SIMD`);
    }
    setThreadsCount(threads);
    tf.removeBackend('wasm');
    tf.registerBackend('wasm', () => startThreadedBackend(threads), WASM_PRIORITY);
    startedBuild = 'threaded-simd';
  } else {
    startedBuild = simd ? 'simd' : 'plain';
  }
  let ok: boolean;
  try {
    ok = await tf.setBackend('wasm');
    await tf.ready();
  } catch (error) {
    throw new BackendUnavailableError('wasm', `it failed to start: ${error instanceof Error ? error.message : String(error)}`);
  }
  if (!ok || tf.getBackend() !== 'wasm') {
    throw new BackendUnavailableError('wasm', 'it failed to start (tf.setBackend returned false); see the warning tfjs printed');
  }
  return { build: startedBuild ?? (simd ? 'simd' : 'plain'), simd, threads: getThreadsCount() };
}

/** The priority tfjs-backend-wasm registers itself with. */
const WASM_PRIORITY = 2;

const THREADED_SCRIPT = 'tfjs-backend-wasm-threaded-simd.js';
const THREADED_WORKER = 'tfjs-backend-wasm-threaded-simd.worker.js';
const THREADED_BINARY = 'tfjs-backend-wasm-threaded-simd.wasm';

interface EmscriptenModule {
  cwrap(name: string, returnType: string | null, argTypes: string[]): (...args: number[]) => number;
  tfjs?: unknown;
}

type ThreadedFactory = (config: Record<string, unknown>) => Promise<EmscriptenModule>;

async function startThreadedBackend(threads: number): Promise<BackendWasm> {
  const require = createRequire(import.meta.url);
  const wasmOut = join(dirname(require.resolve('@tensorflow/tfjs-backend-wasm')), '..', 'wasm-out');
  const factory = require(join(wasmOut, THREADED_SCRIPT)) as ThreadedFactory;
  const { wasmWorkerContents } = require(join(wasmOut, THREADED_WORKER)) as { wasmWorkerContents: string };
  const workerPath = writeWorkerScript(wasmWorkerContents);
  const module = await withReportedLogicalCores(2 * threads, () =>
    factory({
      locateFile: (path: string, prefix: string) => {
        if (path.endsWith('.worker.js')) return workerPath;
        if (path.endsWith('.wasm')) return join(wasmOut, THREADED_BINARY);
        return prefix + path;
      },
      mainScriptUrlOrBlob: join(wasmOut, THREADED_SCRIPT),
    }),
  );
  // The same bridge tfjs-backend-wasm's own init() attaches.
  module.tfjs = {
    init: module.cwrap('init', null, []),
    initWithThreadsCount: module.cwrap('init_with_threads_count', null, ['number']),
    getThreadsCount: module.cwrap('get_threads_count', 'number', []),
    registerTensor: module.cwrap('register_tensor', null, ['number', 'number', 'number']),
    disposeData: module.cwrap('dispose_data', null, ['number']),
    dispose: module.cwrap('dispose', null, []),
  };
  // The constructor starts XNNPACK's pool, whose threads wait for work on ref'd workers.
  const backend = new BackendWasm(module as unknown as ConstructorParameters<typeof BackendWasm>[0]);
  // Unref'd, they no longer keep the process alive once the main thread is done.
  const pthreads = (module as { PThread?: { runningWorkers?: unknown[]; unusedWorkers?: unknown[] } }).PThread;
  for (const worker of [...(pthreads?.runningWorkers ?? []), ...(pthreads?.unusedWorkers ?? [])]) {
    (worker as { unref?: () => void }).unref?.();
  }
  return backend;
}

/**
 * tfjs ships the worker script as a JS string whose `\n` escapes its template literal turned into
 * newlines; its own loader escapes them back before making a blob, and so do we.
 */
function writeWorkerScript(contents: string): string {
  const dir = mkdtempSync(join(os.tmpdir(), 'ringtrain-wasm-'));
  const path = join(dir, THREADED_WORKER);
  writeFileSync(path, contents.replace(/\n/g, '\\n'));
  process.once('exit', () => rmSync(dir, { recursive: true, force: true }));
  return path;
}

/** Runs `start` while `os.cpus()` reports `count` logical cores (the Emscripten glue asks it). */
async function withReportedLogicalCores<T>(count: number, start: () => Promise<T>): Promise<T> {
  const actual = os.cpus;
  const cores = actual();
  const first = cores[0];
  if (first === undefined || cores.length >= count) return start();
  os.cpus = () => Array.from({ length: count }, () => first);
  try {
    return await start();
  } finally {
    os.cpus = actual;
  }
}
