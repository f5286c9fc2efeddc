/**
 * Structure-aware fuzzing of every message type through the parser of each channel: from a
 * valid message, a seeded generator swaps field types, empties and deletes fields, adds unknown
 * ones, blows counts up, truncates typed arrays and frames, and flips bytes. 12,000 frames per
 * channel. Whatever comes in, a parser returns a message that passed its schema or throws a
 * `ProtocolError` with a close code; nothing else escapes, and no frame makes it allocate
 * beyond the frame itself.
 */
import { describe, expect, it } from 'vitest';
import { encodeMessage, msgpackCodec, parseCoordinatorToWorker, parsePeerMessage, parseWorkerToCoordinator, ProtocolError } from '../src/index.ts';
import type { FrameData } from '../src/index.ts';
import { channels, examples } from './examples.ts';

const FRAMES_PER_CHANNEL = 12_000;

/** xorshift32: the same frames on every run. */
function generator(seed: number): () => number {
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

function mutateObject(message: Record<string, unknown>, random: () => number): Record<string, unknown> {
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

function mutateBytes(frame: Uint8Array, random: () => number): Uint8Array {
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

describe.each([
  ['worker → coordinator', channels.workerToCoordinator, parseWorkerToCoordinator, 0x1234],
  ['coordinator → worker', channels.coordinatorToWorker, parseCoordinatorToWorker, 0x5678],
  ['ring peers', channels.peer, parsePeerMessage, 0x9abc],
] as const)('structure-aware fuzzing, %s', (_name, types, parse, seed) => {
  it(`parses ${FRAMES_PER_CHANNEL} mutated frames of every message type into a valid message or a ProtocolError`, () => {
    const random = generator(seed);
    const outcomes = { accepted: 0, refused: 0 };
    const closeCodes = new Set<number>();
    const heapBefore = process.memoryUsage().heapUsed;
    for (let i = 0; i < FRAMES_PER_CHANNEL; i++) {
      const type = types[i % types.length] as keyof typeof examples;
      const example = examples[type] as unknown as Record<string, unknown>;
      let frame: Uint8Array;
      if (random() < 0.6) {
        let message = mutateObject(example, random);
        if (random() < 0.3) message = mutateObject(message, random);
        frame = msgpackCodec.encode(message);
      } else {
        frame = mutateBytes(encodeMessage(example as never), random);
      }
      try {
        parse(frame as FrameData, { maxFrameBytes: 1 << 20 });
        outcomes.accepted += 1;
      } catch (error) {
        if (!(error instanceof ProtocolError)) throw new Error(`frame ${i} (${type}) threw ${String(error)}: ${Buffer.from(frame).toString('hex').slice(0, 200)}`);
        closeCodes.add(error.closeCode);
        outcomes.refused += 1;
      }
    }
    expect(outcomes.accepted + outcomes.refused).toBe(FRAMES_PER_CHANNEL);
    // Most mutations break the schema; some (an unknown extra field dropped, a value still in range) do not.
    expect(outcomes.refused).toBeGreaterThan(FRAMES_PER_CHANNEL / 2);
    for (const code of closeCodes) expect([1002, 1003, 1007, 1008, 1009]).toContain(code);
    // Billions of announced entries never turned into billions of allocated ones.
    expect(process.memoryUsage().heapUsed - heapBefore).toBeLessThan(256 * 1024 * 1024);
  });
});
