/**
 * Loading the compiled Node-API addon (`build/Release/ringtrain_dnnl.node`) and its interface.
 *
 * The addon is built at install time by `scripts/install.mjs` when oneDNN's headers are present.
 * When it is missing or cannot load (no libdnnl-dev at install, libdnnl.so.2 removed since), the
 * backend is reported unavailable with the reason and the fix; loading never throws.
 */
import { existsSync, readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { fileURLToPath } from 'node:url';

/** What the install script records in `build/install-status.json` when it does not build. */
interface InstallStatus {
  readonly built: boolean;
  readonly reason: string;
}

/** The exact fix for a missing addon, part of every unavailability reason. */
export const INSTALL_FIX = 'apt-get install libdnnl-dev, then npm rebuild @ringtrain/backend-native';

/** Codes of the fused activations (native/kernels.h). */
export const ACTIVATION_CODES = {
  linear: 0,
  relu: 1,
  relu6: 2,
  elu: 3,
  leakyrelu: 4,
  sigmoid: 5,
} as const;

/** Codes of the element-wise binary operations (native/elementwise.cc). */
export const BINARY_CODES = {
  Add: 0,
  Sub: 1,
  Multiply: 2,
  RealDiv: 3,
  SquaredDifference: 4,
  Maximum: 5,
  Minimum: 6,
} as const;

/** Codes of the element-wise unary functions (native/elementwise.cc). */
export const UNARY_CODES = {
  Relu: 0,
  Relu6: 1,
  Step: 2,
  Neg: 3,
  Square: 4,
  Sqrt: 5,
  Rsqrt: 6,
  Exp: 7,
  Log: 8,
  Abs: 9,
  Sigmoid: 10,
  Elu: 11,
  LeakyRelu: 12,
  Tanh: 13,
} as const;

/** Codes of the SGD update variants (native/sgd.cc). */
export const SGD_KINDS = {
  plain: 0,
  firstMomentum: 1,
  momentum: 2,
  nesterov: 3,
} as const;

export const POOL_MAX = 0;
export const POOL_AVG = 1;
export const REDUCE_SUM = 0;
export const REDUCE_MEAN = 1;

/**
 * The functions of the addon. Every tensor argument is the backend's own `Float32Array`, read or
 * written in place; integer parameters come packed in an `Int32Array`.
 */
export interface NativeAddon {
  /** geometry: [n, h, w, c, kh, kw, o, oh, ow, sh, sw, dh, dw, padTop, padLeft, padBottom, padRight] */
  conv2d(x: Float32Array, filter: Float32Array, bias: Float32Array | null, out: Float32Array, geometry: Int32Array, activation: number, leakyreluAlpha: number): void;
  conv2dBackpropInput(dy: Float32Array, filter: Float32Array, dx: Float32Array, geometry: Int32Array): void;
  conv2dBackpropFilter(x: Float32Array, dy: Float32Array, dw: Float32Array, geometry: Int32Array): void;
  /** "fwd:…;bwd_data:…;bwd_weights:…[;cropped:HxW]": the oneDNN implementations chosen. */
  conv2dImplementation(geometry: Int32Array): string;
  /** geometry: [n, h, w, c, kh, kw, oh, ow, sh, sw, padTop, padLeft, padBottom, padRight] */
  pool2d(kind: number, x: Float32Array, out: Float32Array, geometry: Int32Array): void;
  maxPool2dBackward(dy: Float32Array, x: Float32Array, dx: Float32Array, geometry: Int32Array): void;
  avgPool2dBackward(dy: Float32Array, dx: Float32Array, geometry: Int32Array): void;
  /** params: [batchA, batchB, m, n, k, transposeA, transposeB] */
  matMul(a: Float32Array, b: Float32Array, out: Float32Array, params: Int32Array): void;
  /** shapes: [rank, out…, a…, b…], operands padded with leading 1s to the output's rank */
  binary(op: number, a: Float32Array, b: Float32Array, out: Float32Array, shapes: Int32Array): void;
  unary(op: number, x: Float32Array, out: Float32Array, alpha: number): void;
  /** dims: [outer, reduced, inner] */
  reduce(op: number, x: Float32Array, out: Float32Array, dims: Int32Array): void;
  batchNorm(
    x: Float32Array,
    mean: Float32Array,
    variance: Float32Array,
    offset: Float32Array | null,
    scale: Float32Array | null,
    out: Float32Array,
    varianceEpsilon: number,
  ): void;
  /** Training-mode batch norm over rows of `channels` values; writes y, mean and (biased) variance. */
  batchNormTrain(
    x: Float32Array,
    scale: Float32Array,
    offset: Float32Array,
    y: Float32Array,
    mean: Float32Array,
    variance: Float32Array,
    channels: number,
    epsilon: number,
    relu: 0 | 1,
  ): void;
  /** Its gradient; `y` is the forward output when a ReLU was fused, else null. */
  batchNormTrainGrad(
    dy: Float32Array,
    x: Float32Array,
    y: Float32Array | null,
    mean: Float32Array,
    variance: Float32Array,
    scale: Float32Array,
    dx: Float32Array,
    dScale: Float32Array,
    dOffset: Float32Array,
    epsilon: number,
  ): void;
  /**
   * One SGD update of @ringtrain/model's `Sgd`, bit-identical to its JavaScript loops.
   * kind: SGD_KINDS; segments: [start, end, decays (0 | 1)] triples; at most maxThreads threads.
   */
  sgdStep(
    kind: number,
    parameters: Float32Array,
    gradient: Float32Array,
    buffer: Float32Array | null,
    segments: Int32Array,
    weightDecay: number,
    momentum: number,
    keep: number,
    learningRate: number,
    maxThreads: number,
  ): void;
  setThreads(threads: number): void;
  getThreads(): number;
  /** 0: float32; 1: bf16 inputs, float32 outputs (refused without bf16 arithmetic). Per thread. */
  setConvolutionPrecision(code: number): void;
  getConvolutionPrecision(): number;
  /** 1 when the CPU multiplies bf16 in hardware (AVX512-BF16 or AMX), else 0. */
  bf16InHardware(): number;
  clearCache(): void;
  /** "entries,hits,misses,arenaBytes" */
  cacheStats(): string;
  /** "major.minor.patch,isa,runtime" */
  version(): string;
}

export type AddonLoad = { readonly ok: true; readonly addon: NativeAddon; readonly path: string } | { readonly ok: false; readonly reason: string };

/** Where `node-gyp rebuild` puts the addon, relative to this package. */
export const DEFAULT_ADDON_PATH = fileURLToPath(new URL('../build/Release/ringtrain_dnnl.node', import.meta.url));
const INSTALL_STATUS_PATH = fileURLToPath(new URL('../build/install-status.json', import.meta.url));

const loaded = new Map<string, AddonLoad>();

/** Loads the addon at `path` once per process; never throws. */
export function loadAddon(path: string = DEFAULT_ADDON_PATH): AddonLoad {
  const cached = loaded.get(path);
  if (cached !== undefined) return cached;
  const result = tryLoad(path);
  loaded.set(path, result);
  return result;
}

function tryLoad(path: string): AddonLoad {
  if (!existsSync(path)) {
    const why = path === DEFAULT_ADDON_PATH ? installStatusReason() : undefined;
    return { ok: false, reason: `the native addon is not built (${why ?? `no ${path}`}); ${INSTALL_FIX}` };
  }
  try {
    preferPassiveWaiting();
    const require = createRequire(import.meta.url);
    const addon = require(path) as NativeAddon;
    addon.version(); // proves libdnnl.so is there and callable
    return { ok: true, addon, path };
  } catch (error) {
    const message = error instanceof Error ? error.message.split('\n')[0] : String(error);
    return { ok: false, reason: `the native addon failed to load (${message}); ${INSTALL_FIX}` };
  }
}

/**
 * Makes OpenMP's idle threads sleep rather than spin, unless the environment already says how
 * they should wait. libgomp reads this once, when the addon loads it. Spinning wins about a tenth
 * on a machine with nothing else to run; on a shared one a spinning team stalls behind any other
 * busy process (measured: a ResNet-18 step from 125 ms to 490-2900 ms at two threads next to one
 * busy process, against 200 ms passive).
 */
function preferPassiveWaiting(): void {
  if (process.env.OMP_WAIT_POLICY === undefined && process.env.GOMP_SPINCOUNT === undefined) {
    process.env.OMP_WAIT_POLICY = 'PASSIVE';
  }
}

function installStatusReason(): string | undefined {
  try {
    const status = JSON.parse(readFileSync(INSTALL_STATUS_PATH, 'utf8')) as InstallStatus;
    return status.built ? undefined : status.reason;
  } catch {
    return undefined;
  }
}
