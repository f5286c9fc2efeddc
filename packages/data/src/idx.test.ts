import { gzipSync } from 'node:zlib';
import { describe, expect, it } from 'vitest';
import {
  IdxBadDimensionsError,
  IdxBadGzipError,
  IdxBadMagicError,
  IdxBadTypeError,
  IdxTrailingBytesError,
  IdxTruncatedError,
} from './errors.ts';
import { IDX_IMAGES_MAGIC, IDX_LABELS_MAGIC, decompressIdx, decompressIdxAsync, isGzip, parseIdx } from './idx.ts';

/** Builds IDX bytes: two zero bytes, the type, the dimension count, the sizes, the payload. */
function idxBytes(dims: number[], payload: ArrayLike<number>, type = 0x08): Uint8Array {
  const bytes = new Uint8Array(4 + 4 * dims.length + payload.length);
  const view = new DataView(bytes.buffer);
  bytes[2] = type;
  bytes[3] = dims.length;
  dims.forEach((size, d) => view.setUint32(4 + 4 * d, size, false));
  bytes.set(Array.from(payload), 4 + 4 * dims.length);
  return bytes;
}

const twoImages = idxBytes([2, 2, 3], [0, 1, 2, 3, 4, 5, 250, 251, 252, 253, 254, 255]);

describe('parseIdx', () => {
  it('reads the dimensions and the payload of a raw images file', () => {
    const parsed = parseIdx(twoImages, 'images.idx', { expectedMagic: IDX_IMAGES_MAGIC });
    expect(parsed.dims).toEqual([2, 2, 3]);
    expect(Array.from(parsed.data)).toEqual([0, 1, 2, 3, 4, 5, 250, 251, 252, 253, 254, 255]);
  });

  it('gives the same result for the gzipped file as for the raw one', () => {
    const gz = gzipSync(twoImages);
    expect(isGzip(gz)).toBe(true);
    expect(isGzip(twoImages)).toBe(false);
    const parsed = parseIdx(gz, 'images.idx.gz');
    expect(parsed.dims).toEqual([2, 2, 3]);
    expect(parsed.data).toEqual(parseIdx(twoImages, 'images.idx').data);
  });

  it('decompresses the same bytes synchronously and on the thread pool', async () => {
    const gz = gzipSync(twoImages);
    expect(await decompressIdxAsync(gz, 'x.gz')).toEqual(decompressIdx(gz, 'x.gz'));
    expect(await decompressIdxAsync(twoImages, 'x')).toBe(twoImages);
  });

  it('reads a labels file with the labels magic', () => {
    const parsed = parseIdx(idxBytes([3], [7, 0, 9]), 'labels.idx', { expectedMagic: IDX_LABELS_MAGIC });
    expect(parsed.dims).toEqual([3]);
    expect(Array.from(parsed.data)).toEqual([7, 0, 9]);
  });

  it('accepts a file with zero examples', () => {
    expect(parseIdx(idxBytes([0, 28, 28], []), 'empty.idx').data.length).toBe(0);
  });

  it.each([0, 1, 2, 3])('rejects a header cut to %i bytes as truncated', (length) => {
    expect(() => parseIdx(twoImages.subarray(0, length), 'short.idx')).toThrow(IdxTruncatedError);
  });

  it('rejects a header whose dimension sizes are cut off, naming the file', () => {
    expect(() => parseIdx(twoImages.subarray(0, 10), 'cut-dims.idx')).toThrowError(
      /cut-dims\.idx: truncated IDX header: 10 bytes, the 3 dimensions need 16/,
    );
  });

  it('rejects a payload shorter than the dimensions announce', () => {
    const error = catchError(() => parseIdx(twoImages.subarray(0, twoImages.length - 1), 'train-images'));
    expect(error).toBeInstanceOf(IdxTruncatedError);
    expect(error.code).toBe('RINGTRAIN_IDX_TRUNCATED');
    expect(error.message).toBe(
      'train-images: truncated IDX payload: dimensions [2, 2, 3] need 12 bytes, the file has 11',
    );
  });

  it('rejects a truncated gzipped file, naming the file', () => {
    const gz = gzipSync(twoImages);
    const error = catchError(() => parseIdx(gz.subarray(0, gz.length - 6), 'cut.gz'));
    expect(error).toBeInstanceOf(IdxBadGzipError);
    expect(error.message).toMatch(/^cut\.gz: starts like gzip but does not decompress/);
  });

  it('rejects bytes after the payload', () => {
    const longer = new Uint8Array(twoImages.length + 2);
    longer.set(twoImages);
    const error = catchError(() => parseIdx(longer, 'long.idx'));
    expect(error).toBeInstanceOf(IdxTrailingBytesError);
    expect(error.code).toBe('RINGTRAIN_IDX_TRAILING_BYTES');
    expect(error.message).toMatch(/long\.idx: 2 trailing bytes/);
  });

  it('rejects a labels file where an images file is expected, naming both magics', () => {
    const error = catchError(() => parseIdx(idxBytes([1], [3]), 'train-images-idx3-ubyte', { expectedMagic: IDX_IMAGES_MAGIC }));
    expect(error).toBeInstanceOf(IdxBadMagicError);
    expect(error.code).toBe('RINGTRAIN_IDX_BAD_MAGIC');
    expect(error.message).toBe(
      'train-images-idx3-ubyte: wrong IDX magic 2049 (0x00000801), expected 2051 (0x00000803)',
    );
  });

  it('rejects a file whose first two bytes are not zero', () => {
    const bytes = twoImages.slice();
    bytes[0] = 0x50;
    bytes[1] = 0x4b;
    expect(() => parseIdx(bytes, 'archive.zip')).toThrowError(IdxBadMagicError);
    expect(() => parseIdx(bytes, 'archive.zip')).toThrowError(/archive\.zip: not an IDX file/);
  });

  it('rejects a type code other than unsigned byte', () => {
    const floats = idxBytes([1], [0, 0, 0, 0], 0x0d);
    const error = catchError(() => parseIdx(floats, 'floats.idx'));
    expect(error).toBeInstanceOf(IdxBadTypeError);
    expect(error.code).toBe('RINGTRAIN_IDX_BAD_TYPE');
    expect(error.message).toMatch(/floats\.idx: IDX type code 0x0d is not supported/);
  });

  it('rejects a file that declares no dimensions', () => {
    expect(() => parseIdx(idxBytes([], []), 'scalar.idx')).toThrowError(IdxBadDimensionsError);
  });
});

function catchError(fn: () => unknown): Error & { code: string } {
  try {
    fn();
  } catch (error) {
    return error as Error & { code: string };
  }
  throw new Error('expected an error');
}
