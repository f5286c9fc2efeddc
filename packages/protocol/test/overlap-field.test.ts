import { describe, expect, it } from 'vitest';
import { encodeMessage, parseCoordinatorToWorker } from '../src/index.ts';
import type { AssignMessage } from '../src/index.ts';
import { examples } from './examples.ts';

const assignWith = (hyper: Record<string, unknown>): Uint8Array =>
  encodeMessage({ ...examples.assign, hyper: { ...examples.assign.hyper, ...hyper } } as AssignMessage);

describe("assign's overlap field", () => {
  it.each([true, false])('carries overlap %s through encoding and validation', (overlap) => {
    const parsed = parseCoordinatorToWorker(assignWith({ overlap })) as AssignMessage;
    expect(parsed.hyper.overlap).toBe(overlap);
  });

  it('may be left out, and then is absent rather than undefined', () => {
    const parsed = parseCoordinatorToWorker(encodeMessage(examples.assign)) as AssignMessage;
    expect(Object.hasOwn(parsed.hyper, 'overlap')).toBe(false);
  });

  it('refuses anything but true or false, naming the field', () => {
    expect(() => parseCoordinatorToWorker(assignWith({ overlap: 'yes' }))).toThrow(/hyper\.overlap/);
  });
});
