/**
 * The IDX format (LeCun's MNIST files, and Fashion-MNIST's):
 *
 *   bytes 0-1  zero
 *   byte  2    type code (0x08 = unsigned byte, the only one used here)
 *   byte  3    number of dimensions d
 *   then       d big-endian uint32 sizes
 *   then       the payload, product(sizes) elements, row-major
 *
 * Read as one big-endian uint32, the first four bytes are the "magic number": 2051 (0x00000803)
 * for an images file, 2049 (0x00000801) for a labels file.
 *
 * Parsing is a pure function of the bytes; reading files is `read-dir.ts`.
 */
import { promisify } from 'node:util';
import { gunzip, gunzipSync } from 'node:zlib';
import {
  IdxBadDimensionsError,
  IdxBadGzipError,
  IdxBadMagicError,
  IdxBadTypeError,
  IdxTrailingBytesError,
  IdxTruncatedError,
} from './errors.ts';

/** The magic number of an IDX images file (unsigned bytes, 3 dimensions). */
export const IDX_IMAGES_MAGIC = 2051;
/** The magic number of an IDX labels file (unsigned bytes, 1 dimension). */
export const IDX_LABELS_MAGIC = 2049;
/** The IDX type code of unsigned bytes. */
export const IDX_TYPE_UBYTE = 0x08;

/** A parsed IDX file. */
export interface IdxFile {
  /** The size of each dimension, outermost first (e.g. `[60000, 28, 28]`). */
  dims: number[];
  /** The payload, row-major; a view into the (decompressed) input bytes, not a copy. */
  data: Uint8Array;
}

export interface ParseIdxOptions {
  /** The magic number the file must have (e.g. {@link IDX_IMAGES_MAGIC}); any ubyte IDX file when absent. */
  expectedMagic?: number;
}

const gunzipAsync = promisify(gunzip);

// zlib's default 16 KiB output chunks cost a thread-pool round trip each; 1 MiB chunks make
// decompressing the 47 MB training images about twice as fast.
const GUNZIP_CHUNK_BYTES = 1 << 20;

/** Whether `bytes` start with the gzip magic (0x1f 0x8b). */
export function isGzip(bytes: Uint8Array): boolean {
  return bytes.length >= 2 && bytes[0] === 0x1f && bytes[1] === 0x8b;
}

/** Returns the bytes gunzipped when they are gzip, else the bytes themselves. `name` is for errors. */
export function decompressIdx(bytes: Uint8Array, name: string): Uint8Array {
  if (!isGzip(bytes)) return bytes;
  try {
    return asUint8Array(gunzipSync(bytes, { chunkSize: GUNZIP_CHUNK_BYTES }));
  } catch (cause) {
    throw badGzip(name, cause);
  }
}

/**
 * {@link decompressIdx} on the libuv thread pool, so several files decompress in parallel
 * without blocking the event loop.
 */
export async function decompressIdxAsync(bytes: Uint8Array, name: string): Promise<Uint8Array> {
  if (!isGzip(bytes)) return bytes;
  try {
    return asUint8Array(await gunzipAsync(bytes, { chunkSize: GUNZIP_CHUNK_BYTES }));
  } catch (cause) {
    throw badGzip(name, cause);
  }
}

function asUint8Array(buffer: Buffer): Uint8Array {
  return new Uint8Array(buffer.buffer, buffer.byteOffset, buffer.byteLength);
}

function badGzip(name: string, cause: unknown): IdxBadGzipError {
  return new IdxBadGzipError(`${name}: starts like gzip but does not decompress (${(cause as Error).message})`, {
    cause,
  });
}

/**
 * Parses an IDX file of unsigned bytes, gunzipping first when the bytes are gzip.
 *
 * @param bytes the file's contents, gzipped or raw
 * @param name the file's name or path, used in every error message
 * @throws {IdxTruncatedError} the header or payload is shorter than announced
 * @throws {IdxTrailingBytesError} bytes follow the announced payload
 * @throws {IdxBadMagicError} the first two bytes are not zero, or the magic is not `expectedMagic`
 * @throws {IdxBadTypeError} the type code is not 0x08 (unsigned byte)
 * @throws {IdxBadDimensionsError} the file has no dimensions
 * @throws {IdxBadGzipError} the bytes look like gzip but do not decompress
 */
export function parseIdx(bytes: Uint8Array, name: string, options: ParseIdxOptions = {}): IdxFile {
  const raw = decompressIdx(bytes, name);
  if (raw.length < 4) {
    throw new IdxTruncatedError(`${name}: truncated IDX header: ${raw.length} bytes, an IDX file starts with 4`);
  }
  const view = new DataView(raw.buffer, raw.byteOffset, raw.byteLength);
  const magic = view.getUint32(0, false);
  if (raw[0] !== 0 || raw[1] !== 0) {
    throw new IdxBadMagicError(
      `${name}: not an IDX file: magic 0x${hex(magic)} does not start with two zero bytes`,
    );
  }
  if (options.expectedMagic !== undefined && magic !== options.expectedMagic) {
    throw new IdxBadMagicError(
      `${name}: wrong IDX magic ${magic} (0x${hex(magic)}), expected ${options.expectedMagic} (0x${hex(options.expectedMagic)})`,
    );
  }
  const type = raw[2] as number;
  if (type !== IDX_TYPE_UBYTE) {
    throw new IdxBadTypeError(`${name}: IDX type code 0x${type.toString(16).padStart(2, '0')} is not supported, only 0x08 (unsigned byte)`);
  }
  const rank = raw[3] as number;
  if (rank === 0) {
    throw new IdxBadDimensionsError(`${name}: IDX file declares 0 dimensions`);
  }
  const headerBytes = 4 + 4 * rank;
  if (raw.length < headerBytes) {
    throw new IdxTruncatedError(
      `${name}: truncated IDX header: ${raw.length} bytes, the ${rank} dimensions need ${headerBytes}`,
    );
  }
  const dims: number[] = [];
  let payloadBytes = 1;
  for (let d = 0; d < rank; d++) {
    const size = view.getUint32(4 + 4 * d, false);
    dims.push(size);
    payloadBytes *= size;
  }
  const actual = raw.length - headerBytes;
  if (actual < payloadBytes) {
    throw new IdxTruncatedError(
      `${name}: truncated IDX payload: dimensions [${dims.join(', ')}] need ${payloadBytes} bytes, the file has ${actual}`,
    );
  }
  if (actual > payloadBytes) {
    throw new IdxTrailingBytesError(
      `${name}: ${actual - payloadBytes} trailing bytes after the IDX payload of dimensions [${dims.join(', ')}] (${payloadBytes} bytes)`,
    );
  }
  // A plain Uint8Array view whatever the input's class (a Buffer's subarray is a Buffer).
  return { dims, data: new Uint8Array(raw.buffer, raw.byteOffset + headerBytes, payloadBytes) };
}

function hex(n: number): string {
  return n.toString(16).padStart(8, '0');
}
