/**
 * Structure-aware mutations of protocol frames, for fuzzing a parser in memory or a port of a
 * running job: from a valid message, swap field types, delete and add fields, blow counts up,
 * truncate typed arrays, retag the message type or version; or, on the encoded bytes, flip
 * bytes, truncate, and splice in msgpack headers announcing billions of entries or bytes.
 * Seeded, so the same seed gives the same frames.
 */
import { msgpackCodec } from '../codec.ts';
import { encodeMessage } from '../validate.ts';
import type { Message } from '../messages.ts';

/** xorshift32: the same frames on every run. */
export function generator(seed: number): () => number {
  let state = seed >>> 0 || 1;
  return () => {
    state ^= state << 13;
    state ^= state >>> 17;
    state ^= state << 5;
    return (state >>> 0) / 2 ** 32;
  };
}

const STRANGE_VALUES: unknown[] = [
  null, -1, 2 ** 53, -(2 ** 31), 1.5, Number.NaN, Number.POSITIVE_INFINITY, '', 'x'.repeat(70_000), true,
  [], [1, 2, 3], {}, { nested: { deeper: [null] } }, new Uint8Array(0), new Float32Array(3), new Uint32Array(5), new Float64Array(2),
];

export function mutateObject(message: Record<string, unknown>, random: () => number): Record<string, unknown> {
  const copy: Record<string, unknown> = { ...message };
  const keys = Object.keys(copy);
  const key = keys[Math.floor(random() * keys.length)] ?? 'type';
  const value = copy[key];
  const choice = Math.floor(random() * 8);
  switch (choice) {
    case 0:
      copy[key] = STRANGE_VALUES[Math.floor(random() * STRANGE_VALUES.length)];
      break;
    case 1:
      delete copy[key];
      break;
    case 2:
      copy[`extra${Math.floor(random() * 3)}`] = STRANGE_VALUES[Math.floor(random() * STRANGE_VALUES.length)];
      break;
    case 3:
      // A typed array cut to an odd number of bytes, or to nothing.
      if (ArrayBuffer.isView(value)) copy[key] = new Uint8Array(value.buffer, value.byteOffset, Math.max(0, value.byteLength - 1 - Math.floor(random() * 3)));
      else copy[key] = new Uint8Array(7);
      break;
    case 4:
      if (typeof value === 'number') copy[key] = random() < 0.5 ? value + 2 ** 32 : -value - 1;
      else copy[key] = String(value);
      break;
    case 5:
      if (Array.isArray(value)) copy[key] = Array.from({ length: 1 + Math.floor(random() * 300) }, () => value[0]);
      else if (typeof value === 'object' && value !== null && !ArrayBuffer.isView(value)) copy[key] = mutateObject(value as Record<string, unknown>, random);
      else copy[key] = [value];
      break;
    case 6:
      copy['type'] = ['hello', 'plan', 'peer-chunk', 'nope', ''][Math.floor(random() * 5)];
      break;
    default:
      copy['v'] = Math.floor(random() * 5) - 1;
  }
  return copy;
}

export function mutateBytes(frame: Uint8Array, random: () => number): Uint8Array {
  const bytes = Uint8Array.from(frame);
  switch (Math.floor(random() * 4)) {
    case 0:
      for (let i = 0; i < 1 + Math.floor(random() * 4); i++) bytes[Math.floor(random() * bytes.length)] = Math.floor(random() * 256);
      return bytes;
    case 1:
      return bytes.subarray(0, Math.floor(random() * bytes.length));
    case 2: {
      // An array or map header claiming billions of entries, then nothing.
      const header = random() < 0.5 ? [0xdd, 0xff, 0xff, 0xff, 0xf0] : [0xdf, 0x7f, 0xff, 0xff, 0xff];
      const at = Math.floor(random() * bytes.length);
      return Uint8Array.from([...bytes.subarray(0, at), ...header, ...bytes.subarray(at)]);
    }
    default: {
      // A binary or string header announcing more bytes than follow.
      const header = random() < 0.5 ? [0xc6, 0x7f, 0xff, 0xff, 0xff] : [0xdb, 0x10, 0x00, 0x00, 0x00];
      return Uint8Array.from([...bytes.subarray(0, Math.floor(random() * bytes.length)), ...header, 1, 2, 3]);
    }
  }
}

/**
 * One mutated frame of `example`: 60% a mutated message re-encoded (sometimes mutated twice),
 * 40% the valid encoding with its bytes mutated.
 */
export function mutatedFrame(example: Message, random: () => number): Uint8Array {
  if (random() < 0.6) {
    let message = mutateObject(example as unknown as Record<string, unknown>, random);
    if (random() < 0.3) message = mutateObject(message, random);
    return msgpackCodec.encode(message);
  }
  return mutateBytes(encodeMessage(example), random);
}
