/**
 * Choosing the tfjs backend a worker computes on.
 *
 * `auto` walks `AUTO_BACKEND_ORDER` and takes the first backend that starts: TensorFlow's C
 * library with a visible GPU (`@tensorflow/tfjs-node-gpu`), the same library on the CPU
 * (`@tensorflow/tfjs-node`), our native oneDNN backend, tfjs's WebAssembly backend (XNNPACK, with
 * the training kernels of this folder), and last the plain JavaScript `cpu` backend. The two
 * tfjs-node packages are optional peer dependencies whose install downloads libtensorflow; they
 * are looked for at run time, never imported statically. Every backend passed over is reported
 * with the reason, so a slow run explains itself.
 *
 * Adding a backend is adding one `Candidate` to `CANDIDATES` and its name to the order.
 */
import { createRequire } from 'node:module';

import { nativeBackendAvailability, registerNativeBackend } from '@ringtrain/backend-native';
import * as tf from '@tensorflow/tfjs-core';
import '@tensorflow/tfjs-backend-cpu';

import { BackendUnavailableError, InvalidBackendOptionsError, UnknownBackendError } from './errors.ts';
import { registerWasmTrainingKernels } from './register-wasm-kernels.ts';
import type { WasmTrainingKernelOptions } from './register-wasm-kernels.ts';
import { MAX_WASM_THREADS, initWasmBackend } from './wasm-init.ts';

export const BACKEND_NAMES = ['tfjs-node-gpu', 'tfjs-node', 'native', 'wasm', 'cpu'] as const;
export type BackendName = (typeof BACKEND_NAMES)[number];
export type BackendChoice = 'auto' | BackendName;

/** The order `auto` tries backends in: fastest first. */
export const AUTO_BACKEND_ORDER: readonly BackendName[] = ['tfjs-node-gpu', 'tfjs-node', 'native', 'wasm', 'cpu'];

export interface SkippedBackend {
  readonly backend: BackendName;
  readonly skippedBecause: string;
}

export interface BackendSelection {
  /** The backend chosen. */
  readonly name: BackendName;
  /** The tfjs backend now current (`tf.getBackend()`): 'tensorflow', 'wasm' or 'cpu'. */
  readonly tfBackend: string;
  /** How the chosen backend runs, e.g. 'simd build, 1 thread, training kernels registered'. */
  readonly detail: string;
  /** Backends tried before it, in order, and why each was passed over (empty for an explicit choice). */
  readonly reasons: readonly SkippedBackend[];
}

export interface SelectBackendOptions {
  /**
   * Threads of the wasm backend's XNNPACK pool (more than 1 loads the threaded build; see
   * `wasm-init.ts`).
   * @default 1
   */
  readonly wasmThreads?: number;
  /**
   * Threads of the native backend's oneDNN/OpenMP pool.
   * @default RINGTRAIN_NATIVE_THREADS, else OMP_NUM_THREADS, else cores ÷ `workersPerMachine`
   */
  readonly nativeThreads?: number;
  /**
   * How many workers share this machine; the native backend's default thread count divides the
   * cores among them.
   * @default 1
   */
  readonly workersPerMachine?: number;
  /**
   * Where the native backend's compiled addon is; another path lets a deployment ship its own build.
   * @default the addon `npm ci` builds in `@ringtrain/backend-native`
   */
  readonly nativeAddonPath?: string;
  /**
   * Which wasm training kernels to register when wasm is chosen; `false` registers none (the
   * wasm backend then cannot train convolutions).
   * @default {} (all of them)
   */
  readonly wasmKernels?: WasmTrainingKernelOptions | false;
  /**
   * Receives `describeBackendSelection(selection)` once, after the choice.
   * @default undefined (nothing is logged)
   */
  readonly log?: (message: string) => void;
  /**
   * Loads an optional package by name; replaceable so that callers can point at another copy.
   * @default Node's resolver, then `import(specifier)`
   */
  readonly importModule?: (specifier: string) => Promise<unknown>;
}

type Attempt = { readonly ok: true; readonly tfBackend: string; readonly detail: string } | { readonly ok: false; readonly reason: string };

interface ResolvedOptions {
  readonly nativeThreads: number | undefined;
  readonly workersPerMachine: number;
  readonly nativeAddonPath: string | undefined;
  readonly wasmThreads: number;
  readonly wasmKernels: WasmTrainingKernelOptions | false;
  readonly importModule: (specifier: string) => Promise<unknown>;
}

type Candidate = (options: ResolvedOptions) => Promise<Attempt>;

const TENSORFLOW = 'tensorflow';

const CANDIDATES: Readonly<Record<BackendName, Candidate>> = {
  'tfjs-node-gpu': async (options) => {
    const loaded = await loadOptionalPackage('@tensorflow/tfjs-node-gpu', options);
    if (!loaded.ok) return loaded;
    const started = await startTensorflowBackend('@tensorflow/tfjs-node-gpu');
    if (!started.ok) return started;
    // NodeJSKernelBackend asks TensorFlow at construction whether it placed ops on a GPU.
    const backend = tf.backend() as { isUsingGpuDevice?: unknown };
    if (backend.isUsingGpuDevice !== true) {
      return { ok: false, reason: '@tensorflow/tfjs-node-gpu loaded, but TensorFlow sees no GPU device (isUsingGpuDevice is false)' };
    }
    return { ok: true, tfBackend: TENSORFLOW, detail: 'TensorFlow C library on a GPU device' };
  },
  'tfjs-node': async (options) => {
    const registeredByGpuPackage = tf.findBackendFactory(TENSORFLOW) != null;
    const loaded = await loadOptionalPackage('@tensorflow/tfjs-node', options);
    if (!loaded.ok && !registeredByGpuPackage) return loaded;
    const started = await startTensorflowBackend('@tensorflow/tfjs-node');
    if (!started.ok) return started;
    const detail = loaded.ok ? 'TensorFlow C library on the CPU' : 'TensorFlow C library on the CPU, from @tensorflow/tfjs-node-gpu';
    return { ok: true, tfBackend: TENSORFLOW, detail };
  },
  native: async (options) => {
    const availability = nativeBackendAvailability(...(options.nativeAddonPath === undefined ? [] : [options.nativeAddonPath]));
    if (!availability.available) return { ok: false, reason: availability.reason };
    const info = registerNativeBackend({
      threads: options.nativeThreads,
      workersPerMachine: options.workersPerMachine,
      ...(options.nativeAddonPath === undefined ? {} : { addonPath: options.nativeAddonPath }),
    });
    if (!(await tf.setBackend('native'))) return { ok: false, reason: 'the native backend failed to start' };
    return { ok: true, tfBackend: 'native', detail: `oneDNN ${info.dnnlVersion} (${info.isa}), ${info.threads} thread(s)` };
  },
  wasm: async (options) => {
    if (options.wasmKernels !== false) registerWasmTrainingKernels(options.wasmKernels);
    const info = await initWasmBackend({ threads: options.wasmThreads });
    const kernels = options.wasmKernels === false ? 'no training kernels (cannot train convolutions)' : 'training kernels registered';
    return { ok: true, tfBackend: 'wasm', detail: `${info.build} build, ${info.threads} thread(s), ${kernels}` };
  },
  cpu: async () => {
    const ok = await tf.setBackend('cpu');
    if (!ok) return { ok: false, reason: "tfjs's JavaScript backend failed to start" };
    return { ok: true, tfBackend: 'cpu', detail: 'JavaScript kernels' };
  },
};

/**
 * Makes a backend current for tfjs and says which and why. An explicit choice that cannot run
 * throws; `auto` passes over what cannot run and records why.
 * @throws UnknownBackendError for a name that is not a backend
 * @throws BackendUnavailableError when the chosen backend (or, for `auto`, every backend) fails
 * @throws InvalidBackendOptionsError for out-of-range options
 */
export async function selectBackend(choice: BackendChoice | string, options: SelectBackendOptions = {}): Promise<BackendSelection> {
  const resolved = resolveOptions(options);
  if (choice !== 'auto' && !isBackendName(choice)) throw new UnknownBackendError(choice, ['auto', ...BACKEND_NAMES]);

  let selection: BackendSelection;
  if (choice === 'auto') {
    const reasons: SkippedBackend[] = [];
    let chosen: BackendSelection | undefined;
    for (const backend of AUTO_BACKEND_ORDER) {
      const attempt = await tryCandidate(backend, resolved);
      if (attempt.ok) {
        chosen = { name: backend, tfBackend: attempt.tfBackend, detail: attempt.detail, reasons };
        break;
      }
      reasons.push({ backend, skippedBecause: attempt.reason });
    }
    if (chosen === undefined) {
      const all = reasons.map((r) => `${r.backend}: ${r.skippedBecause}`).join('; ');
      throw new BackendUnavailableError('auto', `no backend could start: ${all}`);
    }
    selection = chosen;
  } else {
    const attempt = await tryCandidate(choice, resolved);
    if (!attempt.ok) throw new BackendUnavailableError(choice, attempt.reason);
    selection = { name: choice, tfBackend: attempt.tfBackend, detail: attempt.detail, reasons: [] };
  }
  options.log?.(describeBackendSelection(selection));
  return selection;
}

/** One line: the backend chosen, how it runs, and every backend passed over with its reason. */
export function describeBackendSelection(selection: BackendSelection): string {
  const chosen = `backend ${selection.name} (${selection.detail})`;
  if (selection.reasons.length === 0) return chosen;
  return `${chosen}; skipped ${selection.reasons.map((r) => `${r.backend}: ${r.skippedBecause}`).join('; ')}`;
}

export function isBackendName(name: string): name is BackendName {
  return (BACKEND_NAMES as readonly string[]).includes(name);
}

function resolveOptions(options: SelectBackendOptions): ResolvedOptions {
  const wasmThreads = options.wasmThreads ?? 1;
  if (!Number.isInteger(wasmThreads) || wasmThreads < 1 || wasmThreads > MAX_WASM_THREADS) {
    throw new InvalidBackendOptionsError(`wasmThreads must be an integer in [1, ${MAX_WASM_THREADS}], got ${String(wasmThreads)}`);
  }
  const workersPerMachine = options.workersPerMachine ?? 1;
  if (!Number.isInteger(workersPerMachine) || workersPerMachine < 1) {
    throw new InvalidBackendOptionsError(`workersPerMachine must be a positive integer, got ${String(workersPerMachine)}`);
  }
  const nativeThreads = options.nativeThreads;
  if (nativeThreads !== undefined && (!Number.isInteger(nativeThreads) || nativeThreads < 1)) {
    throw new InvalidBackendOptionsError(`nativeThreads must be a positive integer, got ${String(nativeThreads)}`);
  }
  return {
    nativeThreads,
    workersPerMachine,
    nativeAddonPath: options.nativeAddonPath,
    wasmThreads,
    wasmKernels: options.wasmKernels ?? {},
    importModule: options.importModule ?? importInstalledPackage,
  };
}

async function tryCandidate(backend: BackendName, options: ResolvedOptions): Promise<Attempt> {
  try {
    return await CANDIDATES[backend](options);
  } catch (error) {
    // Option errors are the caller's to fix, not a reason to fall through to a slower backend.
    if (error instanceof InvalidBackendOptionsError) throw error;
    if (error instanceof BackendUnavailableError) return { ok: false, reason: error.reason };
    return { ok: false, reason: `it failed to start: ${error instanceof Error ? error.message : String(error)}` };
  }
}

async function loadOptionalPackage(specifier: string, options: ResolvedOptions): Promise<Attempt> {
  try {
    await options.importModule(specifier);
    return { ok: true, tfBackend: TENSORFLOW, detail: specifier };
  } catch (error) {
    if (isModuleNotFound(error, specifier)) {
      return { ok: false, reason: `${specifier} is not installed (an optional peer dependency; its install downloads libtensorflow)` };
    }
    return { ok: false, reason: `${specifier} is installed but failed to load: ${error instanceof Error ? error.message : String(error)}` };
  }
}

/**
 * Imports a package after checking with Node's resolver that it is installed, so that a missing
 * package fails the same way (MODULE_NOT_FOUND) under any loader, bundler or test runner.
 */
async function importInstalledPackage(specifier: string): Promise<unknown> {
  createRequire(import.meta.url).resolve(specifier);
  return import(specifier);
}

/** A "cannot find" error about the package itself, not about something it imports. */
function isModuleNotFound(error: unknown, specifier: string): boolean {
  if (!(error instanceof Error)) return false;
  const code = (error as { code?: unknown }).code;
  const firstLine = error.message.split('\n')[0] ?? '';
  return (code === 'ERR_MODULE_NOT_FOUND' || code === 'MODULE_NOT_FOUND') && firstLine.includes(`'${specifier}'`);
}

async function startTensorflowBackend(specifier: string): Promise<Attempt> {
  if (tf.findBackendFactory(TENSORFLOW) == null) {
    return {
      ok: false,
      reason:
        `${specifier} loaded but registered no '${TENSORFLOW}' backend with this copy of @tensorflow/tfjs-core ` +
        '(a second, different version installed?)',
    };
  }
  if (!(await tf.setBackend(TENSORFLOW))) {
    return { ok: false, reason: `${specifier} loaded but its '${TENSORFLOW}' backend failed to start (see the warning tfjs printed)` };
  }
  return { ok: true, tfBackend: TENSORFLOW, detail: specifier };
}
