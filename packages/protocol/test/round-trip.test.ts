import { describe, expect, it } from 'vitest';
import { encodeMessage, parseCoordinatorToWorker, parsePeerMessage, parseWorkerToCoordinator } from '../src/index.ts';
import type { FrameData, Message } from '../src/index.ts';
import { channels, examples } from './examples.ts';

const parsers: Record<keyof typeof channels, (data: FrameData) => Message> = {
  coordinatorToWorker: parseCoordinatorToWorker,
  workerToCoordinator: parseWorkerToCoordinator,
  peer: parsePeerMessage,
};

const cases = Object.entries(channels).flatMap(([channel, types]) =>
  types.map((type) => [channel as keyof typeof channels, type] as const),
);

describe('every message survives encoding and validation unchanged', () => {
  it.each(cases)('on the %s connection, %s', (channel, type) => {
    const message = examples[type];
    const decoded = parsers[channel](encodeMessage(message));
    expect(decoded).toEqual(message);
    for (const [key, value] of Object.entries(message)) {
      if (ArrayBuffer.isView(value)) {
        const back = (decoded as unknown as Record<string, ArrayBufferView>)[key];
        expect(back?.constructor).toBe(value.constructor);
        expect((back?.byteOffset ?? 1) % 4).toBe(0);
      }
    }
  });

  it('covers every message type of the union', () => {
    const covered = new Set(cases.map(([, type]) => type));
    expect([...covered].sort()).toEqual(Object.keys(examples).sort());
  });
});

describe('typed arrays on the wire', () => {
  it('travel as raw bytes, not element by element', () => {
    const learningRates = new Float32Array(100_000).map((_, i) => i / 7);
    const indices = new Uint32Array(100_000 * 2).map((_, i) => i * 2_654_435_761);
    const bytes = encodeMessage({ ...examples.plan, indices, learningRates });
    // Per-element msgpack would spend 5 bytes per float and up to 5 per u32.
    expect(bytes.byteLength).toBeLessThan(learningRates.byteLength + indices.byteLength + 200);
  });

  it('decode to aligned Float32Array and Uint32Array even when the frame starts at an odd offset', () => {
    const frame = encodeMessage(examples.plan);
    const shifted = new Uint8Array(frame.byteLength + 1).subarray(1);
    shifted.set(frame);
    const plan = parseCoordinatorToWorker(shifted);
    if (plan.type !== 'plan') throw new Error(`expected a plan, got ${plan.type}`);
    expect(plan.learningRates).toBeInstanceOf(Float32Array);
    expect(plan.learningRates.byteOffset % 4).toBe(0);
    expect(Array.from(plan.learningRates)).toEqual(Array.from(examples.plan.learningRates));
    expect(plan.indices.byteOffset % 4).toBe(0);
    expect(Array.from(plan.indices)).toEqual(Array.from(examples.plan.indices));
  });

  it('keep NaN and infinite losses, which training reports rather than refuses', () => {
    const report = parseWorkerToCoordinator(encodeMessage({ ...examples['step-report'], loss: Number.NaN }));
    expect(report.type === 'step-report' && Number.isNaN(report.loss)).toBe(true);
  });

  it('ignores fields the schema does not name', () => {
    const decoded = parseWorkerToCoordinator(encodeMessage({ ...examples.ready, extra: 'ignored' } as Message));
    expect(decoded).toEqual(examples.ready);
  });
});
