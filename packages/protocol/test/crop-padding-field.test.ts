import { describe, expect, it } from 'vitest';
import { encodeMessage, parseCoordinatorToWorker } from '../src/index.ts';
import type { AssignMessage } from '../src/index.ts';
import { examples } from './examples.ts';

const assignWith = (preprocess: Record<string, unknown>): Uint8Array =>
  encodeMessage({ ...examples.assign, hyper: { ...examples.assign.hyper, preprocess: { ...examples.assign.hyper.preprocess, ...preprocess } } } as AssignMessage);

describe("assign's preprocess.cropPaddingPx field", () => {
  it.each([0, 2, 48])('carries %s through encoding and validation', (value) => {
    const parsed = parseCoordinatorToWorker(assignWith({ augment: true, cropPaddingPx: value })) as AssignMessage;
    expect(parsed.hyper.preprocess.cropPaddingPx).toBe(value);
  });

  it('may be left out (4 pixels), and then is absent rather than undefined', () => {
    const parsed = parseCoordinatorToWorker(encodeMessage(examples.assign)) as AssignMessage;
    expect(Object.hasOwn(parsed.hyper.preprocess, 'cropPaddingPx')).toBe(false);
  });

  it.each([[-1], [1.5], ['4'], [4096]])('refuses %j, naming the field', (value) => {
    expect(() => parseCoordinatorToWorker(assignWith({ cropPaddingPx: value }))).toThrow(/hyper\.preprocess\.cropPaddingPx/);
  });
});
