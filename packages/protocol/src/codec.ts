/**
 * The byte encoding of messages behind a small interface, so handlers never depend on msgpack:
 * they get messages from the `parse*` functions of `validate.ts`, which decode through a
 * {@link Codec} and then check every field.
 *
 * The msgpack implementation writes typed arrays as raw bytes in msgpackr's typed-array
 * extension (type 0x74: one byte naming the array type, then the elements' bytes), never element
 * by element. Decoding copies each typed array into a fresh `ArrayBuffer`, so a `Float32Array`
 * or `Uint32Array` is always aligned, whatever its offset in the frame.
 */
import { Packr, Unpackr } from 'msgpackr';
import { MalformedFrameError } from './errors.ts';

/** Turns a message into bytes and bytes back into an unvalidated value. */
export interface Codec {
  /** The bytes of one message. */
  encode(message: unknown): Uint8Array;
  /**
   * The one value `bytes` hold, not yet validated.
   * @throws {MalformedFrameError} when the bytes are not exactly one encoded value.
   */
  decode(bytes: Uint8Array): unknown;
}

/** A {@link Codec} over msgpackr with typed arrays as raw bytes. */
export function createMsgpackCodec(): Codec {
  // Records (msgpackr's shared structures) are off: both ends must decode every frame alone.
  const packr = new Packr({ useRecords: false, moreTypes: true });
  const unpackr = new Unpackr({ useRecords: false, moreTypes: true, mapsAsObjects: true });
  return {
    encode: (message) => packr.pack(message),
    decode: (bytes) => {
      if (bytes.byteLength === 0) throw new MalformedFrameError('empty frame: expected one msgpack-encoded message');
      try {
        return unpackr.unpack(bytes);
      } catch (error) {
        throw new MalformedFrameError(`frame is not valid msgpack: ${(error as Error).message}`, {}, { cause: error });
      }
    },
  };
}

/** The codec both ends of every ringtrain connection use. */
export const msgpackCodec: Codec = createMsgpackCodec();
