/**
 * Just enough of a WebAssembly assembler for the all-reduce's SIMD loops (`add-into.ts`,
 * `half-simd.ts`): modules of functions of type (i32, i32, i32) -> () over one imported memory,
 * written as byte arrays with the helpers below. A hand-written module keeps the worker free of a
 * compiler toolchain; each loop is short, and its tests compare it with plain code.
 */

/** Instruction encodings used by the loops (https://webassembly.github.io/spec/core/binary/instructions.html). */
export const op = {
  block: [0x02, 0x40],
  loop: [0x03, 0x40],
  end: [0x0b],
  br: (depth: number) => [0x0c, depth],
  brIf: (depth: number) => [0x0d, depth],
  localGet: (index: number) => [0x20, index],
  localSet: (index: number) => [0x21, index],
  localTee: (index: number) => [0x22, index],
  i32Const: (value: number) => [0x41, ...sleb(value)],
  i32LtU: [0x49],
  i32GeU: [0x4f],
  i32Add: [0x6a],
  f32ReinterpretI32: [0xbe],
  /** An instruction of the SIMD proposal, by its opcode. */
  simd: (opcode: number) => [0xfd, ...leb(opcode)],
  /** A SIMD load or store with its memory argument (alignment hint, offset). */
  simdMemory: (opcode: number, align: number, offset = 0) => [0xfd, ...leb(opcode), align, ...leb(offset)],
} as const;

/** SIMD opcodes. */
export const SIMD = {
  load: 0x00,
  load16x4U: 0x04,
  store: 0x0b,
  i32x4Splat: 0x11,
  f32x4Splat: 0x13,
  i32x4Eq: 0x37,
  i32x4Ne: 0x38,
  i32x4LtU: 0x3a,
  i32x4GtU: 0x3c,
  i32x4GeU: 0x40,
  and: 0x4e,
  or: 0x50,
  bitselect: 0x52,
  i16x8NarrowI32x4U: 0x86,
  i32x4Shl: 0xab,
  i32x4ShrU: 0xad,
  i32x4Add: 0xae,
  i32x4Sub: 0xb1,
  f32x4Add: 0xe4,
  f32x4Sub: 0xe5,
  f32x4Div: 0xe7,
} as const;

/** Value types of locals. */
export const TYPE = { i32: 0x7f, v128: 0x7b } as const;

export function leb(value: number): number[] {
  const out: number[] = [];
  let rest = value >>> 0;
  do {
    let byte = rest & 0x7f;
    rest >>>= 7;
    if (rest !== 0) byte |= 0x80;
    out.push(byte);
  } while (rest !== 0);
  return out;
}

/** Signed LEB128 of a 32-bit integer (i32.const takes its operand so). */
export function sleb(value: number): number[] {
  const out: number[] = [];
  let rest = value | 0;
  for (;;) {
    const byte = rest & 0x7f;
    rest >>= 7;
    if ((rest === 0 && (byte & 0x40) === 0) || (rest === -1 && (byte & 0x40) !== 0)) {
      out.push(byte);
      return out;
    }
    out.push(byte | 0x80);
  }
}

export interface WasmFunction {
  name: string;
  /** Local declarations beyond the three i32 parameters: [count, type] pairs. */
  locals: [number, number][];
  /** The instructions, without the final `end`. */
  code: number[];
}

/** A module exporting `functions`, each (i32, i32, i32) -> (), over the imported memory env.memory. */
export function assemble(functions: WasmFunction[]): Uint8Array {
  const name = (text: string): number[] => [text.length, ...Array.from(text, (c) => c.charCodeAt(0))];
  const section = (id: number, content: number[]): number[] => [id, ...leb(content.length), ...content];
  const vector = (items: number[][]): number[] => [...leb(items.length), ...items.flat()];
  const bodies = functions.map((f) => {
    const body = [...vector(f.locals.map(([count, type]) => [...leb(count), type])), ...f.code, ...op.end];
    return [...leb(body.length), ...body];
  });
  return new Uint8Array([
    ...[0x00, 0x61, 0x73, 0x6d, 0x01, 0x00, 0x00, 0x00],
    ...section(1, vector([[0x60, 0x03, TYPE.i32, TYPE.i32, TYPE.i32, 0x00]])),
    ...section(2, vector([[...name('env'), ...name('memory'), 0x02, 0x00, 0x01]])),
    ...section(3, vector(functions.map(() => [0x00]))),
    ...section(7, vector(functions.map((f, index) => [...name(f.name), 0x00, ...leb(index)]))),
    ...section(10, vector(bodies)),
  ]);
}

interface WasmRuntime {
  Memory: new (descriptor: { initial: number }) => { buffer: ArrayBuffer };
  Module: new (bytes: Uint8Array) => object;
  Instance: new (module: object, imports: object) => { exports: Record<string, unknown> };
}

/** One instance of a module over a fresh memory of `bytes`, or `undefined` without WebAssembly SIMD. */
export function instantiate(module: Uint8Array | object, bytes: number): { module: object; buffer: ArrayBuffer; exports: Record<string, unknown> } | undefined {
  // The project's type libraries (ES2022, Node) do not describe WebAssembly's constructors.
  const wasm = (globalThis as unknown as { WebAssembly?: WasmRuntime }).WebAssembly;
  if (wasm === undefined) return undefined;
  try {
    const compiled = module instanceof Uint8Array ? new wasm.Module(module) : module;
    const memory = new wasm.Memory({ initial: Math.ceil(bytes / 65_536) });
    const instance = new wasm.Instance(compiled, { env: { memory } });
    return { module: compiled, buffer: memory.buffer, exports: instance.exports };
  } catch {
    // No WebAssembly SIMD here.
    return undefined;
  }
}
