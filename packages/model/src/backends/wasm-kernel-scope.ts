/**
 * Calls wasm kernels from inside another wasm kernel and frees every intermediate afterwards.
 *
 * Kernels run here go straight to the registered kernel functions with the backend passed in, not
 * through the engine: nothing is recorded on a gradient tape, nothing is counted in
 * `tf.memory().numTensors`, and a kernel that returns one of its inputs with an extra reference
 * (reshape, identity) is balanced by disposing each result exactly once.
 *
 * Data movement is the exception. tfjs 4.22's wasm `StridedSlice`, `Reverse` and `GatherV2` copy
 * element by element (30–110 ms for a 3×3×512×512 filter, against 1–2 ms for a Transpose) and its `Slice`
 * first copies the whole input out of the heap, while `Transpose` and `PadV2` are fast. So slices,
 * tap selections and the interleaving of phases are done here with contiguous `TypedArray.set`
 * copies between views of the wasm heap, the way the wasm `Concat` kernel itself works.
 */
import { getKernel } from '@tensorflow/tfjs-core';
import type { DataType, KernelBackend, NamedAttrMap, NamedTensorInfoMap, TensorInfo } from '@tensorflow/tfjs-core';
import type { BackendWasm } from '@tensorflow/tfjs-backend-wasm';

import { MissingKernelError } from './errors.ts';

export type ExplicitPadding = [[number, number], [number, number], [number, number], [number, number]];
export type Shape4 = [number, number, number, number];

export class WasmKernelScope {
  private readonly owned: TensorInfo[] = [];
  private readonly backend: BackendWasm;

  constructor(backend: KernelBackend) {
    this.backend = backend as BackendWasm;
  }

  /** Runs `body` with a fresh scope; keeps its result and frees everything else it made. */
  static run(backend: KernelBackend, body: (scope: WasmKernelScope) => TensorInfo): TensorInfo {
    const scope = new WasmKernelScope(backend);
    try {
      return scope.keep(body(scope));
    } finally {
      scope.dispose();
    }
  }

  /** Runs the wasm kernel `kernelName`; its result is freed with the scope unless kept. */
  kernel(kernelName: string, inputs: NamedTensorInfoMap, attrs: NamedAttrMap = {}): TensorInfo {
    const config = getKernel(kernelName, 'wasm');
    if (config === undefined) throw new MissingKernelError(kernelName, 'wasm');
    const out = config.kernelFunc({ inputs, attrs, backend: this.backend });
    if (Array.isArray(out)) {
      for (const info of out) this.owned.push(info);
      throw new MissingKernelError(kernelName, 'wasm', 'it returned several tensors where one was expected');
    }
    this.owned.push(out);
    return out;
  }

  /** Takes `info` out of the scope so that it survives `dispose()`. */
  keep(info: TensorInfo): TensorInfo {
    const index = this.owned.lastIndexOf(info);
    if (index >= 0) this.owned.splice(index, 1);
    return info;
  }

  dispose(): void {
    for (const info of this.owned.splice(0)) this.backend.disposeData(info.dataId);
  }

  transpose(x: TensorInfo, perm: number[]): TensorInfo {
    return this.kernel('Transpose', { x }, { perm });
  }

  reshape(x: TensorInfo, shape: number[]): TensorInfo {
    return this.kernel('Reshape', { x }, { shape });
  }

  pad(x: TensorInfo, paddings: Array<[number, number]>): TensorInfo {
    return this.kernel('PadV2', { x }, { paddings, constantValue: 0 });
  }

  zeros(shape: number[], dtype: DataType = 'float32'): TensorInfo {
    return this.kernel('Fill', {}, { shape, value: 0, dtype });
  }

  /** NHWC convolution through the registered `Conv2D` (XNNPACK), with explicit padding. */
  conv2d(x: TensorInfo, filter: TensorInfo, strides: number, pad: ExplicitPadding, dilations: [number, number] = [1, 1]): TensorInfo {
    return this.kernel('Conv2D', { x, filter }, { strides, pad, dataFormat: 'NHWC', dilations });
  }

  /** `a · b` for 2-D a and b: the only BatchMatMul form the wasm backend runs through XNNPACK. */
  matMul(a: TensorInfo, b: TensorInfo): TensorInfo {
    const [m, k] = a.shape as [number, number];
    const n = (b.shape as [number, number])[1];
    const out = this.kernel(
      'BatchMatMul',
      { a: this.reshape(a, [1, m, k]), b: this.reshape(b, [1, k, n]) },
      { transposeA: false, transposeB: false },
    );
    return this.reshape(out, [m, n]);
  }

  /** A new, uninitialised tensor owned by the scope. */
  private allocate(shape: number[], dtype: DataType): TensorInfo {
    const out = this.backend.makeOutput(shape, dtype);
    this.owned.push(out);
    return out;
  }

  /** `x[b0 + i0, b1 + i1, b2 + i2, b3 + i3]` for `i < size` of a rank-4 tensor, in contiguous runs. */
  slice4d(x: TensorInfo, begin: Shape4, size: Shape4): TensorInfo {
    const out = this.allocate(size, x.dtype);
    // Views are taken after allocating: a growing heap detaches older ones.
    const src = this.backend.typedArrayFromHeap(x);
    const dst = this.backend.typedArrayFromHeap(out);
    const [, d1, d2, d3] = x.shape as Shape4;
    const [b0, b1, b2, b3] = begin;
    const [n0, n1, n2, n3] = size;
    // Whole rows of the last two axes copy as one run.
    const merged = b3 === 0 && n3 === d3;
    const run = merged ? n2 * n3 : n3;
    const steps = merged ? 1 : n2;
    let offset = 0;
    for (let i0 = 0; i0 < n0; i0++) {
      for (let i1 = 0; i1 < n1; i1++) {
        const rowStart = ((b0 + i0) * d1 + b1 + i1) * d2 + b2;
        for (let i2 = 0; i2 < steps; i2++) {
          const start = (rowStart + i2) * d3 + b3;
          dst.set(src.subarray(start, start + run), offset);
          offset += run;
        }
      }
    }
    return out;
  }

  /**
   * The taps `(rows[r], cols[c])` of an HWIO filter, in that order: `out[r, c] = filter[rows[r], cols[c]]`.
   * Reversing and sub-sampling a filter are both tap selections.
   */
  selectTaps(filter: TensorInfo, rows: readonly number[], cols: readonly number[]): TensorInfo {
    const [, width, inChannels, outChannels] = filter.shape as Shape4;
    const block = inChannels * outChannels;
    const out = this.allocate([rows.length, cols.length, inChannels, outChannels], filter.dtype);
    const src = this.backend.typedArrayFromHeap(filter);
    const dst = this.backend.typedArrayFromHeap(out);
    let offset = 0;
    for (const r of rows) {
      for (const c of cols) {
        const start = (r * width + c) * block;
        dst.set(src.subarray(start, start + block), offset);
        offset += block;
      }
    }
    return out;
  }

  /**
   * Patches as columns: `out[(u, v, c), (n, i, j)] = x[c, n, i·sh + u, j·sw + v]` for
   * `u < patchHeight`, `v < patchWidth`, `i < rows`, `j < cols`, from a channels-first `x`
   * ([c, n, h, w], already padded), so that the innermost copy walks along a row of the image. With
   * the patch index first, `out · dy` is a filter gradient already in HWIO order.
   */
  patchColumns(
    x: TensorInfo,
    [patchHeight, patchWidth]: [number, number],
    [sh, sw]: [number, number],
    [rows, cols]: [number, number],
  ): TensorInfo {
    const [channels, batch, height, width] = x.shape as Shape4;
    const out = this.allocate([patchHeight * patchWidth * channels, batch * rows * cols], x.dtype);
    const src = this.backend.typedArrayFromHeap(x);
    const dst = this.backend.typedArrayFromHeap(out);
    const rowStride = sh * width;
    let offset = 0;
    for (let u = 0; u < patchHeight; u++) {
      for (let v = 0; v < patchWidth; v++) {
        for (let c = 0; c < channels; c++) {
          for (let n = 0; n < batch; n++) {
            const imageStart = ((c * batch + n) * height + u) * width + v;
            for (let i = 0; i < rows; i++) {
              const rowStart = imageStart + i * rowStride;
              if (sw === 1) {
                for (let j = 0; j < cols; j++) dst[offset + j] = src[rowStart + j] as number;
              } else {
                for (let j = 0; j < cols; j++) dst[offset + j] = src[rowStart + j * sw] as number;
              }
              offset += cols;
            }
          }
        }
      }
    }
    return out;
  }

  /**
   * Interleaves stride phases into an NHWC tensor of `[n, height, width, c]`:
   * `out[n, i·sh + a, j·sw + b] = phases[a][b][n, i, j]`, positions past height/width dropped and
   * `null` phases read as zeros.
   */
  interleave(phases: ReadonlyArray<ReadonlyArray<TensorInfo | null>>, shape: Shape4): TensorInfo {
    const [batch, height, width, channels] = shape;
    const sh = phases.length;
    const sw = phases[0]?.length ?? 1;
    const out = this.allocate(shape, 'float32');
    const dst = this.backend.typedArrayFromHeap(out);
    if (phases.some((row) => row.some((phase) => phase === null))) dst.fill(0);
    for (let a = 0; a < sh; a++) {
      for (let b = 0; b < sw; b++) {
        const phase = phases[a]?.[b] ?? null;
        if (phase === null) continue;
        const src = this.backend.typedArrayFromHeap(phase);
        const [, phaseRows, phaseCols] = phase.shape as Shape4;
        for (let n = 0; n < batch; n++) {
          for (let i = 0; i < phaseRows; i++) {
            const y = i * sh + a;
            if (y >= height) break;
            for (let j = 0; j < phaseCols; j++) {
              const x = j * sw + b;
              if (x >= width) break;
              const start = ((n * phaseRows + i) * phaseCols + j) * channels;
              dst.set(src.subarray(start, start + channels), ((n * height + y) * width + x) * channels);
            }
          }
        }
      }
    }
    return out;
  }
}
