/**
 * The binary encoding of `peer-chunk`, the one message on the all-reduce hot path. Every other
 * message is msgpack; a chunk is a fixed 32-byte header followed by the elements as raw
 * little-endian bytes, so the sender can hand the header and a view of its gradient to the socket
 * without building a combined buffer, and the receiver can read the elements in place.
 *
 *   offset  size  field
 *        0     1  marker 0xC1 (a byte msgpack never produces, so a chunk is told apart at byte 0)
 *        1     1  protocol version
 *        2     1  phase: 0 reduce-scatter, 1 all-gather
 *        3     1  element format: 0 f32 (4 bytes), 1 bf16, 2 f16 (2 bytes each)
 *        4     4  generation   (u32 LE)
 *        8     4  step         (u32 LE)
 *       12     4  bucket       (u32 LE)
 *       16     4  round        (u32 LE)
 *       20     4  segment      (u32 LE)
 *       24     4  data bytes   (u32 LE): the length of what follows, a whole number of elements
 *       28     4  reserved, 0
 *       32     …  data
 *
 * The header is a multiple of 4 bytes long, so when the whole frame sits at an aligned offset the
 * data does too. Over WebSocket the header and the data may travel as two fragments of one
 * message (the sender uses `fin: false` for the header). Byte 3 was reserved (0) before the
 * 16-bit formats existed, so f32 chunks are unchanged and a peer that predates them refuses a
 * 16-bit chunk as a bad field rather than misreading it.
 */
import { BadFieldError, MalformedFrameError, WrongVersionError } from './errors.ts';
import { PROTOCOL_VERSION } from './messages.ts';
import type { PeerChunkMessage, WireFormat } from './messages.ts';

/** The first byte of a binary `peer-chunk` frame. */
export const PEER_CHUNK_MARKER = 0xc1;

/** The length of a `peer-chunk` header; the data starts at this offset. */
export const PEER_CHUNK_HEADER_BYTES = 32;

/** The fields of a `peer-chunk` without its `v` and `type`. */
export type PeerChunk = Omit<PeerChunkMessage, 'v' | 'type'>;

const PHASES = ['reduce-scatter', 'all-gather'] as const;
/** Byte 3 of the header, by format. */
const FORMAT_CODES: Record<WireFormat, number> = { f32: 0, bf16: 1, f16: 2 };
const FORMATS_BY_CODE: readonly WireFormat[] = ['f32', 'bf16', 'f16'];
const MAX_U32 = 0xffff_ffff;
const TYPE = 'peer-chunk';

/** The 32-byte header that announces `chunk`; its data follows it on the wire. */
export function encodePeerChunkHeader(chunk: PeerChunk): Uint8Array {
  const header = new Uint8Array(PEER_CHUNK_HEADER_BYTES);
  const view = new DataView(header.buffer);
  header[0] = PEER_CHUNK_MARKER;
  header[1] = PROTOCOL_VERSION;
  header[2] = chunk.phase === 'reduce-scatter' ? 0 : 1;
  const format = chunk.format ?? 'f32';
  if (FORMAT_CODES[format] === undefined || chunk.data.BYTES_PER_ELEMENT !== wireElementBytes(format)) {
    throw new RangeError(`a peer-chunk of format ${String(format)} cannot carry a ${chunk.data.constructor.name}`);
  }
  header[3] = FORMAT_CODES[format];
  const words: [number, number][] = [
    [4, chunk.generation],
    [8, chunk.step],
    [12, chunk.bucket],
    [16, chunk.round],
    [20, chunk.segment],
    [24, chunk.data.byteLength],
  ];
  for (const [offset, value] of words) {
    if (!Number.isInteger(value) || value < 0 || value > MAX_U32) {
      throw new RangeError(`peer-chunk header field at offset ${offset} must be a u32, got ${value}`);
    }
    view.setUint32(offset, value, true);
  }
  return header;
}

/** A whole `peer-chunk` frame in one buffer: header, then data (a copy; the hot path sends the two apart). */
export function encodePeerChunk(chunk: PeerChunk): Uint8Array {
  const frame = new Uint8Array(PEER_CHUNK_HEADER_BYTES + chunk.data.byteLength);
  frame.set(encodePeerChunkHeader(chunk), 0);
  frame.set(new Uint8Array(chunk.data.buffer, chunk.data.byteOffset, chunk.data.byteLength), PEER_CHUNK_HEADER_BYTES);
  return frame;
}

/** Whether `firstBytes` starts a binary `peer-chunk` frame rather than a msgpack message. */
export function isPeerChunkFrame(firstBytes: Uint8Array): boolean {
  return firstBytes.byteLength > 0 && firstBytes[0] === PEER_CHUNK_MARKER;
}

/**
 * The fields of a validated `peer-chunk` header, with the data length it announces. `format` is
 * absent for f32, as in a {@link PeerChunk} built without one.
 */
export type PeerChunkHeader = Omit<PeerChunk, 'data'> & { dataBytes: number };

/**
 * The fields of a 32-byte `peer-chunk` header, checked: marker, version, phase, element format,
 * reserved bytes, and a data length of whole elements. The data itself is checked by the caller
 * against `dataBytes` (see {@link decodePeerChunk}).
 */
export function decodePeerChunkHeader(header: Uint8Array): PeerChunkHeader {
  if (header.byteLength !== PEER_CHUNK_HEADER_BYTES || header[0] !== PEER_CHUNK_MARKER) {
    throw new MalformedFrameError(`a peer-chunk frame needs a ${PEER_CHUNK_HEADER_BYTES}-byte header starting with 0xc1`, {
      messageType: TYPE,
    });
  }
  const view = new DataView(header.buffer, header.byteOffset, header.byteLength);
  const version = view.getUint8(1);
  if (version !== PROTOCOL_VERSION) {
    throw new WrongVersionError(`'peer-chunk' speaks protocol version ${version}, this side speaks ${PROTOCOL_VERSION}`, {
      messageType: TYPE,
      field: 'v',
    });
  }
  const phase = PHASES[view.getUint8(2)];
  if (phase === undefined) {
    throw new BadFieldError(`bad field 'phase' in 'peer-chunk': expected 0 (reduce-scatter) or 1 (all-gather), got ${view.getUint8(2)}`, {
      messageType: TYPE,
      field: 'phase',
    });
  }
  const format = FORMATS_BY_CODE[view.getUint8(3)];
  if (format === undefined) {
    throw new BadFieldError(`bad field 'format' in 'peer-chunk': expected 0 (f32), 1 (bf16) or 2 (f16), got ${view.getUint8(3)}`, {
      messageType: TYPE,
      field: 'format',
    });
  }
  if (view.getUint32(28, true) !== 0) {
    throw new BadFieldError("bad field 'reserved' in 'peer-chunk': reserved header bytes must be 0", {
      messageType: TYPE,
      field: 'reserved',
    });
  }
  const dataBytes = view.getUint32(24, true);
  if (dataBytes % wireElementBytes(format) !== 0) {
    const element = format === 'f32' ? 'float32' : format;
    throw new BadFieldError(`bad field 'data' in 'peer-chunk': ${dataBytes} bytes is not a whole number of ${element} elements`, {
      messageType: TYPE,
      field: 'data',
    });
  }
  const fields = {
    generation: view.getUint32(4, true),
    step: view.getUint32(8, true),
    bucket: view.getUint32(12, true),
    phase,
    round: view.getUint32(16, true),
    segment: view.getUint32(20, true),
    dataBytes,
  };
  return format === 'f32' ? fields : { ...fields, format };
}

/** The bytes of one element of `format` on the wire. */
export function wireElementBytes(format: WireFormat): number {
  return format === 'f32' ? Float32Array.BYTES_PER_ELEMENT : Uint16Array.BYTES_PER_ELEMENT;
}

/**
 * The validated chunk of a header and its data. `data` (a Float32Array for f32, a Uint16Array of
 * the raw 16-bit values otherwise) is a view of `payload` when the payload is aligned for it, and
 * an aligned copy otherwise.
 */
export function decodePeerChunk(header: Uint8Array, payload: Uint8Array): PeerChunkMessage {
  const { dataBytes, ...fields } = decodePeerChunkHeader(header);
  if (dataBytes !== payload.byteLength) {
    throw new BadFieldError(
      `bad field 'data' in 'peer-chunk': the header announces ${dataBytes} bytes, the frame carries ${payload.byteLength}`,
      { messageType: TYPE, field: 'data' },
    );
  }
  return { v: PROTOCOL_VERSION, type: TYPE, ...fields, data: elementView(payload, fields.format ?? 'f32') };
}

/** `bytes` as elements of `format`: a view when aligned, else an aligned copy. */
export function elementView(bytes: Uint8Array, format: WireFormat): Float32Array | Uint16Array {
  const Elements = format === 'f32' ? Float32Array : Uint16Array;
  const length = bytes.byteLength / Elements.BYTES_PER_ELEMENT;
  if (bytes.byteOffset % Elements.BYTES_PER_ELEMENT === 0) return new Elements(bytes.buffer as ArrayBuffer, bytes.byteOffset, length);
  const copy = new Elements(length);
  new Uint8Array(copy.buffer).set(bytes);
  return copy;
}
