/**
 * Copying float32 values between tensors and `Float32Array`s with as little allocation as the
 * backends allow.
 *
 * Reading: on the wasm backend `dataSync()` slices a fresh copy out of the wasm heap; for a
 * ResNet-18 that is ~45 MB of new memory per step, which costs several times the copy itself
 * (page faults). We copy straight from the tensor's bytes in the wasm heap instead
 * (tfjs-backend-wasm 4.22's `dataIdMap`, checked structurally; anything unexpected falls back
 * to `dataSync()`).
 *
 * On the cpu backend and those built on it (native), a tensor's values are a plain
 * `Float32Array` in the backend's data map; it is read from there directly rather than through
 * `dataSync()`, which hands that array out for good, so the native backend could never recycle it
 * for a later kernel output (and would map ~45 MB of fresh pages per step instead).
 *
 * Writing: the wasm backend copies what it is given into its heap, and its XNNPACK convolutions
 * cache their packed filters by tensor id, so a variable there gets a new tensor every time. The
 * cpu family keeps the very array it is given, so `bindVariable` can make a variable read a
 * caller's array in place: later changes to that array are the variable's new value, with no
 * copy at all (nothing in those backends caches weights between kernel calls).
 */
import { MathBackendCPU } from '@tensorflow/tfjs-backend-cpu';
import * as tf from '@tensorflow/tfjs-core';

interface WasmTensorData {
  readonly memoryOffset: number | null;
  readonly dtype: string;
}

interface WasmBackendInternals {
  readonly dataIdMap: { has(dataId: object): boolean; get(dataId: object): WasmTensorData | undefined };
  readonly wasm: { readonly HEAPU8: Uint8Array };
}

function wasmInternals(): WasmBackendInternals | null {
  if (tf.getBackend() !== 'wasm') return null;
  const backend = tf.backend() as unknown as Partial<WasmBackendInternals>;
  if (typeof backend.dataIdMap?.has !== 'function' || !(backend.wasm?.HEAPU8 instanceof Uint8Array)) return null;
  return backend as WasmBackendInternals;
}

/** The tensor's float32 bytes in the wasm heap (a view, to read only), or null when it does not live there. */
function wasmView(backend: WasmBackendInternals, tensor: tf.Tensor): Float32Array | null {
  const dataId = tensor.dataId as object;
  if (!backend.dataIdMap.has(dataId)) return null;
  const data = backend.dataIdMap.get(dataId);
  if (data === undefined || data.memoryOffset === null || data.dtype !== 'float32') return null;
  const heap = backend.wasm.HEAPU8;
  return new Float32Array(heap.buffer, heap.byteOffset + data.memoryOffset, tensor.size);
}

/** The current backend when it is the cpu backend or one built on it, else null. */
function cpuFamilyBackend(): MathBackendCPU | null {
  const backend = tf.backend();
  return backend instanceof MathBackendCPU ? backend : null;
}

/** The tensor's float32 array in a cpu-family backend's data map (to read only), or null. */
function cpuFamilyView(backend: MathBackendCPU, tensor: tf.Tensor): Float32Array | null {
  if (tensor.dtype !== 'float32') return null;
  const values = backend.data.get(tensor.dataId as object)?.values;
  return values instanceof Float32Array && values.length === tensor.size ? values : null;
}

/** Copies a float32 tensor's values into `out` starting at `offset`. */
export function readTensorInto(tensor: tf.Tensor, out: Float32Array, offset: number): void {
  if (offset < 0 || offset + tensor.size > out.length) {
    throw new RangeError(`cannot copy ${tensor.size} values to offset ${offset} of an array of ${out.length}`);
  }
  const cpuFamily = cpuFamilyBackend();
  const wasm = cpuFamily === null ? wasmInternals() : null;
  const view = cpuFamily !== null ? cpuFamilyView(cpuFamily, tensor) : wasm !== null ? wasmView(wasm, tensor) : null;
  if (view !== null) {
    out.set(view, offset);
    return;
  }
  out.set(tensor.dataSync() as Float32Array, offset);
}

/** Sets a float32 variable to a copy of `values` (exactly `variable.size` of them). */
export function writeVariable(variable: tf.Variable, values: Float32Array): void {
  checkSize(variable, values);
  const copied = wasmInternals() !== null;
  tf.tidy(() => {
    variable.assign(tf.tensor(copied ? values : values.slice(), variable.shape, 'float32'));
  });
}

/**
 * Makes `variable` read `values` in place when the current backend keeps the arrays it is given
 * (the cpu family), so that changing `values` changes the variable; returns whether it did. On
 * other backends it copies, as `writeVariable` does, and returns false.
 */
export function bindVariable(variable: tf.Variable, values: Float32Array): boolean {
  checkSize(variable, values);
  if (cpuFamilyBackend() === null) {
    writeVariable(variable, values);
    return false;
  }
  tf.tidy(() => {
    variable.assign(tf.tensor(values, variable.shape, 'float32'));
  });
  return true;
}

/** Whether `variable` still reads `values` in place (nothing has assigned it since `bindVariable`). */
export function isBoundTo(variable: tf.Variable, values: Float32Array): boolean {
  const backend = cpuFamilyBackend();
  return backend !== null && backend.data.get(variable.dataId as object)?.values === values;
}

function checkSize(variable: tf.Variable, values: Float32Array): void {
  if (values.length !== variable.size) {
    throw new RangeError(`cannot write ${values.length} values into a variable of ${variable.size}`);
  }
}
