/**
 * The 16-bit conversions of `half-precision.ts` as WebAssembly SIMD loops, four or eight elements
 * at a time, with exactly the rounding rules the scalar code there documents (its tests check
 * both against one reference). Each loop works on this module's own memory; the callers copy
 * blocks in and out, which costs far less than converting element by element in JavaScript.
 *
 * bf16 encode, per lane x (the float32 bits):
 *   r = (x + 0x7fff + ((x >> 16) & 1)) >> 16              round to nearest, ties to even
 *   NaN (|x| > inf): (x >> 16) | 0x40                     quiet, sign kept
 *   r rounded up to infinity from a finite x: (r & 0x8000) | 0x7f7f   saturate
 * f16 encode, per lane, m = |x| (bits):
 *   normal     (m - (112 << 23) + 0xfff + ((m >> 13) & 1)) >> 13
 *   m < 2^-14  bits(float(m) + 0.5) - bits(0.5): the float32 add rounds to a multiple of 2^-24
 *   m >= 65520 0x7bff; infinity 0x7c00; NaN 0x7e00; then the sign bit
 * f16 decode, per lane h:
 *   o = ((h & 0x7fff) << 13) + (112 << 23); exponent all ones: o += 112 << 23;
 *   exponent 0: o = float(o + (1 << 23)) - 2^-14; then the sign bit
 */
import { SIMD, TYPE, assemble, instantiate, op } from './wasm-simd.ts';
import type { WasmFunction } from './wasm-simd.ts';

/** Elements per block; the four block buffers take 12 bytes per element of this module's memory. */
export const HALF_BLOCK_ELEMENTS = 16 * 1024;

export interface HalfKernels {
  /** float32 values in `a`, or decoded ones. */
  a: Float32Array;
  /** A second float32 operand. */
  b: Float32Array;
  /** 16-bit values read in. */
  input: Uint16Array;
  /** 16-bit values written out. */
  output: Uint16Array;
  /** Encodes `count` floats of `a` into `output` (count rounded up to 8; extra lanes are junk). */
  encode(format: 'bf16' | 'f16', count: number): void;
  /** Decodes `count` values of `from` (`input` or `output`) into `a` (count rounded up to 4). */
  decode(format: 'bf16' | 'f16', from: Uint16Array, count: number): void;
  /** a += b over `count` floats (rounded up to 4). */
  add(count: number): void;
  /** a /= divisor over `count` floats (rounded up to 4), in float32. */
  divide(count: number, divisor: number): void;
}

// Parameters: 0 source address, 1 destination address, 2 source bytes. Local 3: the end address.
const SRC = 0;
const DST = 1;
const BYTES = 2;
const END = 3;
// v128 locals.
const X = 4;
const R = 5;
const M = 6;
const FIRST = 7;
const CONSTANTS = 8;

/**
 * A function that runs `body` once per `srcStep` bytes of the source, moving the destination by
 * `dstStep`, after `prologue`, with `constants` splatted into locals 8 and on.
 */
function loopFunction(name: string, constants: number[], srcStep: number, dstStep: number, body: number[], prologue: number[] = []): WasmFunction {
  return {
    name,
    locals: [
      [1, TYPE.i32],
      [CONSTANTS - X + constants.length, TYPE.v128],
    ],
    code: [
      ...constants.flatMap((value, i) => [...op.i32Const(value), ...op.simd(SIMD.i32x4Splat), ...op.localSet(CONSTANTS + i)]),
      ...prologue,
      ...op.localGet(SRC), ...op.localGet(BYTES), ...op.i32Add, ...op.localSet(END),
      ...op.block,
      ...op.loop,
      ...op.localGet(SRC), ...op.localGet(END), ...op.i32GeU, ...op.brIf(1),
      ...body,
      ...op.localGet(SRC), ...op.i32Const(srcStep), ...op.i32Add, ...op.localSet(SRC),
      ...op.localGet(DST), ...op.i32Const(dstStep), ...op.i32Add, ...op.localSet(DST),
      ...op.br(0),
      ...op.end,
      ...op.end,
    ],
  };
}

const get = op.localGet;
const simd = op.simd;
const load = (offset: number): number[] => [...get(SRC), ...op.simdMemory(SIMD.load, 2, offset)];
const store = (): number[] => op.simdMemory(SIMD.store, 2);
const shiftRight = (bits: number): number[] => [...op.i32Const(bits), ...simd(SIMD.i32x4ShrU)];
const shiftLeft = (bits: number): number[] => [...op.i32Const(bits), ...simd(SIMD.i32x4Shl)];

/** bf16 constants, by local. */
const B = { one: CONSTANTS, c7fff: CONSTANTS + 1, c40: CONSTANTS + 2, abs: CONSTANTS + 3, inf: CONSTANTS + 4, c8000: CONSTANTS + 5, c7f7f: CONSTANTS + 6, c7f80: CONSTANTS + 7 };
const BF16_CONSTANTS = [1, 0x7fff, 0x40, 0x7fff_ffff, 0x7f80_0000, 0x8000, 0x7f7f, 0x7f80];

/** The bf16 encoding of local X, left on the stack. */
function bf16EncodeLanes(): number[] {
  return [
    ...get(X), ...get(X), ...shiftRight(16), ...get(B.one), ...simd(SIMD.and), ...simd(SIMD.i32x4Add),
    ...get(B.c7fff), ...simd(SIMD.i32x4Add), ...shiftRight(16), ...op.localSet(R),
    // NaN
    ...get(X), ...shiftRight(16), ...get(B.c40), ...simd(SIMD.or),
    ...get(R),
    ...get(X), ...get(B.abs), ...simd(SIMD.and), ...op.localTee(M), ...get(B.inf), ...simd(SIMD.i32x4GtU),
    ...simd(SIMD.bitselect), ...op.localSet(R),
    // Saturation
    ...get(R), ...get(B.c8000), ...simd(SIMD.and), ...get(B.c7f7f), ...simd(SIMD.or),
    ...get(R),
    ...get(R), ...get(B.c7fff), ...simd(SIMD.and), ...get(B.c7f80), ...simd(SIMD.i32x4Eq),
    ...get(M), ...get(B.inf), ...simd(SIMD.i32x4Ne), ...simd(SIMD.and),
    ...simd(SIMD.bitselect),
  ];
}

/** f16 constants, by local. */
const F = {
  one: CONSTANTS, abs: CONSTANTS + 1, normal: CONSTANTS + 2, half: CONSTANTS + 3, minNormal: CONSTANTS + 4, saturate: CONSTANTS + 5,
  c7bff: CONSTANTS + 6, c7c00: CONSTANTS + 7, inf: CONSTANTS + 8, c7e00: CONSTANTS + 9, c8000: CONSTANTS + 10,
};
const F16_CONSTANTS = [1, 0x7fff_ffff, 0xc800_0fff | 0, 0x3f00_0000, 0x3880_0000, 0x477f_f000, 0x7bff, 0x7c00, 0x7f80_0000, 0x7e00, 0x8000];

/** The f16 encoding of local X, left on the stack. */
function f16EncodeLanes(): number[] {
  const select = (value: number, comparison: number[]): number[] => [...get(value), ...get(R), ...get(M), ...comparison, ...simd(SIMD.bitselect), ...op.localSet(R)];
  return [
    ...get(X), ...get(F.abs), ...simd(SIMD.and), ...op.localSet(M),
    // Normal
    ...get(M), ...get(F.normal), ...simd(SIMD.i32x4Add), ...get(M), ...shiftRight(13), ...get(F.one), ...simd(SIMD.and), ...simd(SIMD.i32x4Add),
    ...shiftRight(13), ...op.localSet(R),
    // Subnormal: bits(m + 0.5) - bits(0.5), selected when m < 2^-14
    ...get(M), ...get(F.half), ...simd(SIMD.f32x4Add), ...get(F.half), ...simd(SIMD.i32x4Sub),
    ...get(R),
    ...get(M), ...get(F.minNormal), ...simd(SIMD.i32x4LtU),
    ...simd(SIMD.bitselect), ...op.localSet(R),
    ...select(F.c7bff, [...get(F.saturate), ...simd(SIMD.i32x4GeU)]),
    ...select(F.c7c00, [...get(F.inf), ...simd(SIMD.i32x4Eq)]),
    ...select(F.c7e00, [...get(F.inf), ...simd(SIMD.i32x4GtU)]),
    ...get(R), ...get(X), ...shiftRight(16), ...get(F.c8000), ...simd(SIMD.and), ...simd(SIMD.or),
  ];
}

/** An encoder: eight floats (32 bytes) in, eight 16-bit values (16 bytes) out per step. */
function encoder(name: string, constants: number[], lanes: () => number[]): WasmFunction {
  return loopFunction(name, constants, 32, 16, [
    ...get(DST),
    ...load(0), ...op.localSet(X), ...lanes(), ...op.localSet(FIRST),
    ...load(16), ...op.localSet(X), ...lanes(), ...op.localSet(X),
    ...get(FIRST), ...get(X), ...simd(SIMD.i16x8NarrowI32x4U),
    ...store(),
  ]);
}

/** f16 decode constants, by local. */
const D = { c7fff: CONSTANTS, c7c00: CONSTANTS + 1, bias: CONSTANTS + 2, implicit: CONSTANTS + 3, magic: CONSTANTS + 4, c8000: CONSTANTS + 5, zero: CONSTANTS + 6 };
const F16_DECODE_CONSTANTS = [0x7fff, 0x7c00, 0x3800_0000, 0x0080_0000, 0x3880_0000, 0x8000, 0];

/** Decoders: four 16-bit values (8 bytes) in, four floats (16 bytes) out per step. */
function bf16Decoder(): WasmFunction {
  return loopFunction('bf16Decode', [], 8, 16, [...get(DST), ...get(SRC), ...op.simdMemory(SIMD.load16x4U, 1), ...shiftLeft(16), ...store()]);
}

function f16Decoder(): WasmFunction {
  return loopFunction('f16Decode', F16_DECODE_CONSTANTS, 8, 16, [
    ...get(DST),
    ...get(SRC), ...op.simdMemory(SIMD.load16x4U, 1), ...op.localSet(X),
    ...get(X), ...get(D.c7fff), ...simd(SIMD.and), ...shiftLeft(13), ...get(D.bias), ...simd(SIMD.i32x4Add), ...op.localSet(R),
    ...get(X), ...get(D.c7c00), ...simd(SIMD.and), ...op.localSet(M),
    // Infinity and NaN: the exponent all ones.
    ...get(R), ...get(D.bias), ...simd(SIMD.i32x4Add), ...get(R), ...get(M), ...get(D.c7c00), ...simd(SIMD.i32x4Eq), ...simd(SIMD.bitselect), ...op.localSet(R),
    // Zero and subnormals: renormalised by a float32 subtraction.
    ...get(R), ...get(D.implicit), ...simd(SIMD.i32x4Add), ...get(D.magic), ...simd(SIMD.f32x4Sub),
    ...get(R), ...get(M), ...get(D.zero), ...simd(SIMD.i32x4Eq), ...simd(SIMD.bitselect),
    ...get(X), ...get(D.c8000), ...simd(SIMD.and), ...shiftLeft(16), ...simd(SIMD.or),
    ...store(),
  ]);
}

/** a += b: parameters a's address (also the destination), b's address, bytes. */
function adder(): WasmFunction {
  return loopFunction('add', [], 16, 16, [
    ...get(SRC), ...get(SRC), ...op.simdMemory(SIMD.load, 2), ...get(DST), ...op.simdMemory(SIMD.load, 2), ...simd(SIMD.f32x4Add), ...store(),
  ]);
}

/** a /= divisor: parameters a's address, the divisor's float32 bits (in place of a destination), bytes. */
function divider(): WasmFunction {
  const divisor = [...get(DST), ...op.f32ReinterpretI32, ...simd(SIMD.f32x4Splat), ...op.localSet(M)];
  return loopFunction('divide', [], 16, 0, [...get(SRC), ...get(SRC), ...op.simdMemory(SIMD.load, 2), ...get(M), ...simd(SIMD.f32x4Div), ...store()], divisor);
}

type Kernel = (source: number, destination: number, bytes: number) => void;

/** The kernels over a memory of their own, or `undefined` without WebAssembly SIMD. */
export function createHalfKernels(): HalfKernels | undefined {
  const module = assemble([
    encoder('bf16Encode', BF16_CONSTANTS, bf16EncodeLanes),
    encoder('f16Encode', F16_CONSTANTS, f16EncodeLanes),
    bf16Decoder(),
    f16Decoder(),
    adder(),
    divider(),
  ]);
  const n = HALF_BLOCK_ELEMENTS;
  const instance = instantiate(module, 12 * n + 64);
  if (instance === undefined) return undefined;
  const { buffer, exports } = instance;
  const kernel = (name: string): Kernel => exports[name] as Kernel;
  const [bf16Encode, f16Encode, bf16Decode, f16Decode, add, divide] = ['bf16Encode', 'f16Encode', 'bf16Decode', 'f16Decode', 'add', 'divide'].map(kernel) as Kernel[];
  const a = new Float32Array(buffer, 0, n);
  const b = new Float32Array(buffer, 4 * n, n);
  const input = new Uint16Array(buffer, 8 * n, n);
  const output = new Uint16Array(buffer, 10 * n, n);
  const divisorBits = new Int32Array(1);
  const divisorFloat = new Float32Array(divisorBits.buffer);
  const up = (count: number, multiple: number): number => Math.ceil(count / multiple) * multiple;
  return {
    a,
    b,
    input,
    output,
    encode: (format, count) => (format === 'bf16' ? bf16Encode : f16Encode)!(a.byteOffset, output.byteOffset, up(count, 8) * 4),
    decode: (format, from, count) => (format === 'bf16' ? bf16Decode : f16Decode)!(from.byteOffset, a.byteOffset, up(count, 4) * 2),
    add: (count) => add!(a.byteOffset, b.byteOffset, up(count, 4) * 4),
    divide: (count, divisor) => {
      divisorFloat[0] = divisor;
      divide!(a.byteOffset, divisorBits[0] as number, up(count, 4) * 4);
    },
  };
}
