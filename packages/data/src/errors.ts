/**
 * Every failure mode of `@ringtrain/data`, one class each, with a stable string `code` that
 * callers (the CLI, tests, log queries) match on instead of the message text.
 */

/** The stable codes of this package's errors. */
export const DATA_ERROR_CODES = {
  idxTruncated: 'RINGTRAIN_IDX_TRUNCATED',
  idxTrailingBytes: 'RINGTRAIN_IDX_TRAILING_BYTES',
  idxBadMagic: 'RINGTRAIN_IDX_BAD_MAGIC',
  idxBadType: 'RINGTRAIN_IDX_BAD_TYPE',
  idxBadDims: 'RINGTRAIN_IDX_BAD_DIMS',
  idxBadGzip: 'RINGTRAIN_IDX_BAD_GZIP',
  countMismatch: 'RINGTRAIN_DATA_COUNT_MISMATCH',
  badLabel: 'RINGTRAIN_DATA_BAD_LABEL',
  checksum: 'RINGTRAIN_DATA_CHECKSUM',
  notFound: 'RINGTRAIN_DATA_NOT_FOUND',
  download: 'RINGTRAIN_DATA_DOWNLOAD',
  invalidOption: 'RINGTRAIN_DATA_INVALID_OPTION',
  indexRange: 'RINGTRAIN_DATA_INDEX_RANGE',
  samplerRange: 'RINGTRAIN_SAMPLER_RANGE',
} as const;

export type DataErrorCode = (typeof DATA_ERROR_CODES)[keyof typeof DATA_ERROR_CODES];

/** The base of every error thrown by `@ringtrain/data`. */
export abstract class DataError extends Error {
  abstract readonly code: DataErrorCode;

  constructor(message: string, options?: ErrorOptions) {
    super(message, options);
    this.name = new.target.name;
  }
}

/** An IDX file ends before its header or its payload does. */
export class IdxTruncatedError extends DataError {
  readonly code = DATA_ERROR_CODES.idxTruncated;
}

/** An IDX file holds more bytes than its dimensions announce. */
export class IdxTrailingBytesError extends DataError {
  readonly code = DATA_ERROR_CODES.idxTrailingBytes;
}

/** An IDX file's magic number is malformed or is not the one expected (2051 images, 2049 labels). */
export class IdxBadMagicError extends DataError {
  readonly code = DATA_ERROR_CODES.idxBadMagic;
}

/** An IDX file stores a data type other than unsigned bytes (type code 0x08). */
export class IdxBadTypeError extends DataError {
  readonly code = DATA_ERROR_CODES.idxBadType;
}

/** An IDX file's dimensions are unusable (no dimensions, or a shape unlike its companions'). */
export class IdxBadDimensionsError extends DataError {
  readonly code = DATA_ERROR_CODES.idxBadDims;
}

/** A file starts with the gzip magic but does not decompress. */
export class IdxBadGzipError extends DataError {
  readonly code = DATA_ERROR_CODES.idxBadGzip;
}

/** An images file and its labels file disagree on the number of examples. */
export class DataCountMismatchError extends DataError {
  readonly code = DATA_ERROR_CODES.countMismatch;
}

/** A labels file holds a label outside the class range. */
export class DataBadLabelError extends DataError {
  readonly code = DATA_ERROR_CODES.badLabel;
}

/** A file's SHA-256 (of its decompressed IDX bytes) differs from the known one. */
export class DataChecksumError extends DataError {
  readonly code = DATA_ERROR_CODES.checksum;
}

/** Fashion-MNIST is in none of the places looked; the message lists them and every way to get it. */
export class DataNotFoundError extends DataError {
  readonly code = DATA_ERROR_CODES.notFound;

  constructor(
    message: string,
    /** Every directory looked at, in order, with why it did not do. */
    readonly places: readonly { dir: string; source: string; problem: string }[],
  ) {
    super(message);
  }
}

/** Downloading a file failed (network error, HTTP status, timeout). */
export class DataDownloadError extends DataError {
  readonly code = DATA_ERROR_CODES.download;
}

/** An option or argument has a value this package cannot use. */
export class InvalidDataOptionError extends DataError {
  readonly code = DATA_ERROR_CODES.invalidOption;
}

/** A sample index points outside the data set. */
export class DataIndexRangeError extends DataError {
  readonly code = DATA_ERROR_CODES.indexRange;
}

/** A rank or step asked of a sampler plan does not exist in it. */
export class SamplerRangeError extends DataError {
  readonly code = DATA_ERROR_CODES.samplerRange;
}
