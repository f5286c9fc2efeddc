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
 * The module, hand-assembled below, is:
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

interface WasmRuntime {
  Memory: new (descriptor: { initial: number }) => { buffer: ArrayBuffer };
  Module: new (bytes: Uint8Array) => object;
  Instance: new (module: object, imports: object) => { exports: Record<string, unknown> };
}

const BLOCK_BYTES = BLOCK_ELEMENTS * Float32Array.BYTES_PER_ELEMENT;
const PAGE_BYTES = 64 * 1024;

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

/** A memory of two scratch blocks and `extraBytes` more, with the add function over it. */
function createSimdMemory(extraBytes: number): SimdMemory | undefined {
  const leb = (value: number): number[] => {
    const out: number[] = [];
    do {
      let byte = value & 0x7f;
      value >>>= 7;
      if (value !== 0) byte |= 0x80;
      out.push(byte);
    } while (value !== 0);
    return out;
  };
  const name = (text: string): number[] => [text.length, ...Array.from(text, (c) => c.charCodeAt(0))];
  const section = (id: number, content: number[]): number[] => [id, ...leb(content.length), ...content];
  const [localGet, i32Add, simdPrefix] = [0x20, 0x6a, 0xfd];
  const address = (base: number): number[] => [localGet, base, localGet, 3, i32Add];
  const body = [
    ...[0x01, 0x01, 0x7f], // one local: i32 $i
    ...[0x02, 0x40, 0x03, 0x40], // block, loop
    ...[localGet, 3, localGet, 2, 0x4f, 0x0d, 0x01], // br_if 1 (i >= bytes)
    ...address(0), // store address
    ...address(0), ...[simdPrefix, 0x00, 0x02, 0x00], // v128.load dst+i
    ...address(1), ...[simdPrefix, 0x00, 0x02, 0x00], // v128.load src+i
    ...[simdPrefix, 0xe4, 0x01], // f32x4.add
    ...[simdPrefix, 0x0b, 0x02, 0x00], // v128.store
    ...[localGet, 3, 0x41, 0x10, i32Add, 0x21, 3], // i += 16
    ...[0x0c, 0x00, 0x0b, 0x0b, 0x0b], // br loop, end loop, end block, end func
  ];
  const bytes = new Uint8Array([
    ...[0x00, 0x61, 0x73, 0x6d, 0x01, 0x00, 0x00, 0x00],
    ...section(1, [0x01, 0x60, 0x03, 0x7f, 0x7f, 0x7f, 0x00]),
    ...section(2, [0x01, ...name('env'), ...name('memory'), 0x02, 0x00, 0x01]),
    ...section(3, [0x01, 0x00]),
    ...section(7, [0x01, ...name('add'), 0x00, 0x00]),
    ...section(10, [0x01, ...leb(body.length), ...body]),
  ]);
  // The project's type libraries (ES2022, Node) do not describe WebAssembly's constructors.
  const wasm = (globalThis as unknown as { WebAssembly?: WasmRuntime }).WebAssembly;
  if (wasm === undefined) return undefined;
  try {
    compiled ??= new wasm.Module(bytes);
    const memory = new wasm.Memory({ initial: Math.ceil((2 * BLOCK_BYTES + extraBytes) / PAGE_BYTES) });
    const instance = new wasm.Instance(compiled, { env: { memory } });
    const add = instance.exports.add as SimdMemory['add'];
    return {
      add,
      buffer: memory.buffer,
      dst: new Float32Array(memory.buffer, 0, BLOCK_ELEMENTS),
      src: new Float32Array(memory.buffer, BLOCK_BYTES, BLOCK_ELEMENTS),
    };
  } catch {
    // No WebAssembly SIMD here: the plain loop does the work.
    return undefined;
  }
}
