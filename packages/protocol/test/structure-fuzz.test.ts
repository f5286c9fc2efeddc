/**
 * Structure-aware fuzzing of every message type through the parser of each channel: from a
 * valid message, a seeded generator swaps field types, empties and deletes fields, adds unknown
 * ones, blows counts up, truncates typed arrays and frames, and flips bytes. 12,000 frames per
 * channel. Whatever comes in, a parser returns a message that passed its schema or throws a
 * `ProtocolError` with a close code; nothing else escapes, and no frame makes it allocate
 * beyond the frame itself.
 */
import { describe, expect, it } from 'vitest';
import { parseCoordinatorToWorker, parsePeerMessage, parseWorkerToCoordinator, ProtocolError } from '../src/index.ts';
import { generator, mutatedFrame } from '../src/testing/frame-mutations.ts';
import type { FrameData } from '../src/index.ts';
import { channels, examples } from './examples.ts';

const FRAMES_PER_CHANNEL = 12_000;

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
      const frame = mutatedFrame(examples[type] as never, random);
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
