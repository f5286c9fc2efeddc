/**
 * `target[i] += source[i]` over float32 arrays, the all-reduce's inner loop. V8 compiles the
 * plain loop to scalar code (each element widened to double and narrowed back); a WebAssembly
 * SIMD loop adds four lanes at a time and, even counting the copies in and out of its memory,
 * runs about three times faster. The work goes in blocks of 64 Ki elements so that the copies
 * and the adds stay in cache. A source that already lies in WebAssembly memory (a chunk received
 * into a {@link ChunkArena}) is added from where it is.
 *
 * The result is bit-identical to the scalar loop: a float32 sum computed in double and rounded
 * once to float32 is the correctly rounded float32 sum (double has more than 2·24 + 2 bits), and
 * that is what `f32x4.add` computes.
 *
 * The module, assembled below (see `wasm-simd.ts`), is:
 *
 *   (module
 *     (import "env" "memory" (memory 1))
 *     (func (export "add") (param $dst i32) (param $src i32) (param $bytes i32) (local $i i32)
 *       (block $done
 *         (loop $next
 *           (br_if $done (i32.ge_u (local.get $i) (local.get $bytes)))
 *           (v128.store (i32.add (local.get $dst) (local.get $i))
 *             (f32x4.add (v128.load (i32.add (local.get $dst) (local.get $i)))
 *                        (v128.load (i32.add (local.get $src) (local.get $i)))))
 *           (local.set $i (i32.add (local.get $i) (i32.const 16)))
 *           (br $next)))))
 */

import { SIMD, TYPE, assemble, instantiate, op } from './wasm-simd.ts';
import type { WasmFunction } from './wasm-simd.ts';

/** Elements per block: two operands of 256 KiB. */
const BLOCK_ELEMENTS = 64 * 1024;
/** Below this many elements the plain loop is as fast as the copies. */
const MIN_SIMD_ELEMENTS = 1024;

interface SimdMemory {
  add(dstByteOffset: number, srcByteOffset: number, bytes: number): void;
  buffer: ArrayBuffer;
  /** Scratch for a block of the target. */
  dst: Float32Array;
  /** Scratch for a block of a source that lies outside this memory. */
  src: Float32Array;
}

const BLOCK_BYTES = BLOCK_ELEMENTS * Float32Array.BYTES_PER_ELEMENT;

let compiled: object | undefined;
const shared = createSimdMemory(0);
/** The memories of {@link ChunkArena}s, by their (never replaced: they do not grow) buffer. */
const arenas = new WeakMap<ArrayBuffer, SimdMemory>();

/** Adds `source` into `target`, element by element; both have `target.length` elements at least. */
export function addInto(target: Float32Array, source: Float32Array): void {
  const length = target.length;
  const inArena = arenas.get(source.buffer as ArrayBuffer);
  const simd = inArena ?? shared;
  if (simd === undefined || length < MIN_SIMD_ELEMENTS) {
    addScalar(target, source, 0, length);
    return;
  }
  const { add, dst, src } = simd;
  let start = 0;
  while (length - start >= 4) {
    const count = Math.min(BLOCK_ELEMENTS, (length - start) & ~3);
    dst.set(target.subarray(start, start + count));
    let srcByteOffset = source.byteOffset + start * Float32Array.BYTES_PER_ELEMENT;
    if (inArena === undefined) {
      src.set(source.subarray(start, start + count));
      srcByteOffset = src.byteOffset;
    }
    add(dst.byteOffset, srcByteOffset, count * Float32Array.BYTES_PER_ELEMENT);
    target.set(dst.subarray(0, count), start);
    start += count;
  }
  addScalar(target, source, start, length);
}

/** Whether {@link addInto} uses WebAssembly SIMD on this runtime. */
export const simdAddAvailable: boolean = shared !== undefined;

/**
 * Fixed-size buffers inside a WebAssembly memory of their own, for received chunks: a chunk
 * received into one is added by {@link addInto} without first being copied into WebAssembly.
 * Without WebAssembly SIMD, or when all are in use, {@link acquire} returns `undefined` and the
 * caller falls back to ordinary buffers.
 */
export class ChunkArena {
  readonly #memory: SimdMemory | undefined;
  readonly #regionBytes: number;
  readonly #free: number[] = [];

  constructor(regionBytes: number, regions: number) {
    this.#regionBytes = Math.ceil(regionBytes / 16) * 16;
    this.#memory = shared === undefined ? undefined : createSimdMemory(this.#regionBytes * regions);
    if (this.#memory === undefined) return;
    arenas.set(this.#memory.buffer, this.#memory);
    for (let i = regions - 1; i >= 0; i--) this.#free.push(2 * BLOCK_BYTES + i * this.#regionBytes);
  }

  /** A free region as a byte view of `regionBytes`, or `undefined` when none is free. */
  acquireView(): Uint8Array | undefined {
    const offset = this.#free.pop();
    if (offset === undefined || this.#memory === undefined) return undefined;
    return new Uint8Array(this.#memory.buffer, offset, this.#regionBytes);
  }

  /** Takes back a region acquired here; false when `view` is not one of this arena's. */
  release(view: ArrayBufferView): boolean {
    if (this.#memory === undefined || view.buffer !== this.#memory.buffer) return false;
    this.#free.push(view.byteOffset);
    return true;
  }
}

function addScalar(target: Float32Array, source: Float32Array, start: number, end: number): void {
  for (let i = start; i < end; i++) target[i] = (target[i] as number) + (source[i] as number);
}

/** `dst += src` over `bytes` (a multiple of 16), four lanes at a time; `$i` is local 3. */
function addFunction(): WasmFunction {
  return {
    name: 'add',
    locals: [[1, TYPE.i32]],
    code: [
      ...op.block,
      ...op.loop,
      ...op.localGet(3), ...op.localGet(2), ...op.i32GeU, ...op.brIf(1),
      ...op.localGet(0), ...op.localGet(3), ...op.i32Add,
      ...op.localGet(0), ...op.localGet(3), ...op.i32Add, ...op.simdMemory(SIMD.load, 2),
      ...op.localGet(1), ...op.localGet(3), ...op.i32Add, ...op.simdMemory(SIMD.load, 2),
      ...op.simd(SIMD.f32x4Add),
      ...op.simdMemory(SIMD.store, 2),
      ...op.localGet(3), ...op.i32Const(16), ...op.i32Add, ...op.localSet(3),
      ...op.br(0),
      ...op.end,
      ...op.end,
    ],
  };
}

/** A memory of two scratch blocks and `extraBytes` more, with the add function over it. */
function createSimdMemory(extraBytes: number): SimdMemory | undefined {
  const instance = instantiate(compiled ?? assemble([addFunction()]), 2 * BLOCK_BYTES + extraBytes);
  if (instance === undefined) return undefined;
  compiled = instance.module;
  return {
    add: instance.exports['add'] as SimdMemory['add'],
    buffer: instance.buffer,
    dst: new Float32Array(instance.buffer, 0, BLOCK_ELEMENTS),
    src: new Float32Array(instance.buffer, BLOCK_BYTES, BLOCK_ELEMENTS),
  };
}
