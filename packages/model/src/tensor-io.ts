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
 * Writing never happens in place: the wasm backend's XNNPACK convolutions cache their packed
 * filters by tensor id, so a filter changed in place would go unnoticed. A variable gets a new
 * tensor; the wasm backend copies the values into its heap at once, so only the cpu backend
 * (which keeps the array it is given) needs a JavaScript copy.
 */
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

/** Copies a float32 tensor's values into `out` starting at `offset`. */
export function readTensorInto(tensor: tf.Tensor, out: Float32Array, offset: number): void {
  if (offset < 0 || offset + tensor.size > out.length) {
    throw new RangeError(`cannot copy ${tensor.size} values to offset ${offset} of an array of ${out.length}`);
  }
  const backend = wasmInternals();
  const view = backend === null ? null : wasmView(backend, tensor);
  if (view !== null) {
    out.set(view, offset);
    return;
  }
  out.set(tensor.dataSync() as Float32Array, offset);
}

/** Sets a float32 variable to `values` (exactly `variable.size` of them). */
export function writeVariable(variable: tf.Variable, values: Float32Array): void {
  if (values.length !== variable.size) {
    throw new RangeError(`cannot write ${values.length} values into a variable of ${variable.size}`);
  }
  const copied = wasmInternals() !== null;
  tf.tidy(() => {
    variable.assign(tf.tensor(copied ? values : values.slice(), variable.shape, 'float32'));
  });
}
