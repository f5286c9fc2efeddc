import { describe, expect, it } from 'vitest';
import { encodeMessage, parseCoordinatorToWorker, parseWorkerToCoordinator } from '../src/index.ts';
import type { AssignMessage, HelloMessage } from '../src/index.ts';
import { examples } from './examples.ts';

const assignWith = (precision: unknown): Uint8Array =>
  encodeMessage({ ...examples.assign, hyper: { ...examples.assign.hyper, precision } } as AssignMessage);

describe("assign's hyper.precision field", () => {
  it.each(['f32', 'bf16'])('carries %s through encoding and validation', (value) => {
    const parsed = parseCoordinatorToWorker(assignWith(value)) as AssignMessage;
    expect(parsed.hyper.precision).toBe(value);
  });

  it('may be left out (float32), and then is absent rather than undefined', () => {
    const parsed = parseCoordinatorToWorker(encodeMessage(examples.assign)) as AssignMessage;
    expect(Object.hasOwn(parsed.hyper, 'precision')).toBe(false);
  });

  it.each([['f16'], ['BF16'], [1], [null]])('refuses %j, naming the field', (value) => {
    expect(() => parseCoordinatorToWorker(assignWith(value))).toThrow(/hyper\.precision/);
  });
});

const helloWith = (precisions: unknown): Uint8Array => encodeMessage({ ...examples.hello, precisions } as HelloMessage);

describe("hello's precisions field", () => {
  it('carries the precisions a worker can compute', () => {
    const parsed = parseWorkerToCoordinator(helloWith(['f32', 'bf16'])) as HelloMessage;
    expect(parsed.precisions).toEqual(['f32', 'bf16']);
  });

  it('may be left out (a worker older than the field)', () => {
    const parsed = parseWorkerToCoordinator(encodeMessage(examples.hello)) as HelloMessage;
    expect(Object.hasOwn(parsed, 'precisions')).toBe(false);
  });

  it('carries names this version does not know, for the coordinator to ignore', () => {
    const parsed = parseWorkerToCoordinator(helloWith(['f32', 'fp8'])) as HelloMessage;
    expect(parsed.precisions).toEqual(['f32', 'fp8']);
  });

  it.each([['bf16'], [['']], [Array.from({ length: 9 }, () => 'f32')], [[1]]])('refuses %j, naming the field', (value) => {
    expect(() => parseWorkerToCoordinator(helloWith(value))).toThrow(/precisions/);
  });
});
