/**
 * Training state as one byte array and back, bit for bit: the values of every parameter and
 * running statistic (in flat-layout order), the SGD momentum buffer, the weight average (see
 * `weight-average.ts`) and the step counter. These bytes are what a checkpoint stores and what
 * a joining replica is sent, so everything a replica carries from step to step belongs here.
 *
 * Format, little-endian:
 *
 *   offset 0   "RTCK"                    magic
 *   offset 4   u32 version (2; version 1, without the weight average, is still read)
 *   offset 8   u32 header length H
 *   offset 12  H bytes of UTF-8 JSON     CheckpointHeader
 *   …          zero padding to a multiple of 4
 *   …          f32 × layout.totalLength   parameters then statistics (flat-layout order)
 *   …          f32 × layout.gradientLength  momentum buffer, only when header.hasMomentumBuffer
 *   …          f32 × layout.totalLength   weight average, only when header.hasWeightAverage
 *
 * The header carries the layout digest, so state is never loaded into another architecture.
 */
import { CheckpointStateCorruptError, CheckpointStateMismatchError } from './errors.ts';
import type { FlatLayout } from './flat-layout.ts';

const MAGIC = 'RTCK';
const VERSION = 2;
/** Versions `decodeTrainingState` reads: 1 is 2 without `hasWeightAverage` (never an average). */
const READABLE_VERSIONS: readonly number[] = [1, 2];
const PREFIX_BYTES = 12;

export interface TrainingState {
  /** Optimizer steps applied so far. */
  readonly step: number;
  /** Parameters and running statistics in flat-layout order (`layout.totalLength` values). */
  readonly values: Float32Array;
  /** SGD momentum buffer in gradient-section layout, null before the first step. */
  readonly momentumBuffer: Float32Array | null;
  /**
   * The weight average in the layout of `values`, null when the run keeps none.
   * @default null
   */
  readonly weightAverage?: Float32Array | null;
}

interface CheckpointHeader {
  readonly layoutDigest: string;
  readonly totalLength: number;
  readonly gradientLength: number;
  readonly step: number;
  readonly hasMomentumBuffer: boolean;
  /** Absent in version 1. */
  readonly hasWeightAverage?: boolean;
}

if (new Uint8Array(new Uint16Array([1]).buffer)[0] !== 1) {
  // Float32Arrays are copied byte for byte below; a big-endian host would write another format.
  throw new Error('@ringtrain/model checkpoints need a little-endian host');
}

export function encodeTrainingState(layout: FlatLayout, state: TrainingState): Uint8Array {
  if (state.values.length !== layout.totalLength) {
    throw new CheckpointStateMismatchError(
      `cannot encode ${state.values.length} values for a layout of ${layout.totalLength}`,
    );
  }
  if (state.momentumBuffer !== null && state.momentumBuffer.length !== layout.gradientLength) {
    throw new CheckpointStateMismatchError(
      `cannot encode a momentum buffer of ${state.momentumBuffer.length} values for a layout of ${layout.gradientLength} parameters`,
    );
  }
  const weightAverage = state.weightAverage ?? null;
  if (weightAverage !== null && weightAverage.length !== layout.totalLength) {
    throw new CheckpointStateMismatchError(
      `cannot encode a weight average of ${weightAverage.length} values for a layout of ${layout.totalLength}`,
    );
  }
  const header: CheckpointHeader = {
    layoutDigest: layout.digest,
    totalLength: layout.totalLength,
    gradientLength: layout.gradientLength,
    step: state.step,
    hasMomentumBuffer: state.momentumBuffer !== null,
    hasWeightAverage: weightAverage !== null,
  };
  const headerBytes = new TextEncoder().encode(JSON.stringify(header));
  const dataOffset = align4(PREFIX_BYTES + headerBytes.length);
  const momentumLength = state.momentumBuffer?.length ?? 0;
  const averageLength = weightAverage?.length ?? 0;
  const bytes = new Uint8Array(dataOffset + 4 * (layout.totalLength + momentumLength + averageLength));
  const view = new DataView(bytes.buffer);
  bytes.set(new TextEncoder().encode(MAGIC), 0);
  view.setUint32(4, VERSION, true);
  view.setUint32(8, headerBytes.length, true);
  bytes.set(headerBytes, PREFIX_BYTES);
  bytes.set(asBytes(state.values), dataOffset);
  if (state.momentumBuffer !== null) bytes.set(asBytes(state.momentumBuffer), dataOffset + 4 * layout.totalLength);
  if (weightAverage !== null) bytes.set(asBytes(weightAverage), dataOffset + 4 * (layout.totalLength + momentumLength));
  return bytes;
}

export function decodeTrainingState(layout: FlatLayout, bytes: Uint8Array): TrainingState & { readonly weightAverage: Float32Array | null } {
  if (bytes.length < PREFIX_BYTES) {
    throw new CheckpointStateCorruptError(`checkpoint is truncated: ${bytes.length} bytes, the prefix alone has ${PREFIX_BYTES}`);
  }
  const magic = new TextDecoder().decode(bytes.subarray(0, 4));
  if (magic !== MAGIC) {
    throw new CheckpointStateCorruptError(`checkpoint has magic '${magic}', expected '${MAGIC}'`);
  }
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const version = view.getUint32(4, true);
  if (!READABLE_VERSIONS.includes(version)) {
    throw new CheckpointStateCorruptError(
      `checkpoint format version ${version} is not supported (this build reads ${READABLE_VERSIONS.join(' and ')})`,
    );
  }
  const headerLength = view.getUint32(8, true);
  if (PREFIX_BYTES + headerLength > bytes.length) {
    throw new CheckpointStateCorruptError(
      `checkpoint is truncated: the header claims ${headerLength} bytes, only ${bytes.length - PREFIX_BYTES} follow`,
    );
  }
  const header = parseHeader(bytes.subarray(PREFIX_BYTES, PREFIX_BYTES + headerLength));
  if (header.layoutDigest !== layout.digest) {
    throw new CheckpointStateMismatchError(
      `checkpoint was written for flat layout ${header.layoutDigest.slice(0, 12)}… (${header.totalLength} values), ` +
        `this model has ${layout.digest.slice(0, 12)}… (${layout.totalLength} values)`,
    );
  }
  const dataOffset = align4(PREFIX_BYTES + headerLength);
  const momentumLength = header.hasMomentumBuffer ? layout.gradientLength : 0;
  const averageLength = header.hasWeightAverage === true ? layout.totalLength : 0;
  const expected = dataOffset + 4 * (layout.totalLength + momentumLength + averageLength);
  if (bytes.length !== expected) {
    throw new CheckpointStateCorruptError(`checkpoint has ${bytes.length} bytes, its header implies ${expected}`);
  }
  const values = readFloats(bytes, dataOffset, layout.totalLength);
  const momentumBuffer = header.hasMomentumBuffer
    ? readFloats(bytes, dataOffset + 4 * layout.totalLength, layout.gradientLength)
    : null;
  const weightAverage =
    averageLength === 0 ? null : readFloats(bytes, dataOffset + 4 * (layout.totalLength + momentumLength), layout.totalLength);
  return { step: header.step, values, momentumBuffer, weightAverage };
}

function parseHeader(bytes: Uint8Array): CheckpointHeader {
  let parsed: unknown;
  try {
    parsed = JSON.parse(new TextDecoder('utf-8', { fatal: true }).decode(bytes));
  } catch (error) {
    throw new CheckpointStateCorruptError(`checkpoint header is not valid JSON: ${(error as Error).message}`);
  }
  const header = parsed as Partial<CheckpointHeader> | null;
  if (
    header === null ||
    typeof header !== 'object' ||
    typeof header.layoutDigest !== 'string' ||
    !Number.isInteger(header.totalLength) ||
    !Number.isInteger(header.gradientLength) ||
    !Number.isInteger(header.step) ||
    (header.step ?? -1) < 0 ||
    typeof header.hasMomentumBuffer !== 'boolean' ||
    (header.hasWeightAverage !== undefined && typeof header.hasWeightAverage !== 'boolean')
  ) {
    throw new CheckpointStateCorruptError(`checkpoint header is missing fields or has wrong types: ${JSON.stringify(parsed)}`);
  }
  return header as CheckpointHeader;
}

function align4(n: number): number {
  return (n + 3) & ~3;
}

function asBytes(values: Float32Array): Uint8Array {
  return new Uint8Array(values.buffer, values.byteOffset, values.byteLength);
}

/** Copies (the source may be unaligned for a Float32Array view). */
function readFloats(bytes: Uint8Array, offset: number, length: number): Float32Array {
  const out = new Float32Array(length);
  new Uint8Array(out.buffer).set(bytes.subarray(offset, offset + 4 * length));
  return out;
}
