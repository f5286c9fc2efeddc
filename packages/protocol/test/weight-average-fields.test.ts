import { describe, expect, it } from 'vitest';
import { encodeMessage, parseCoordinatorToWorker } from '../src/index.ts';
import type { AssignMessage } from '../src/index.ts';
import { examples } from './examples.ts';

const assignWith = (hyper: Record<string, unknown>): Uint8Array =>
  encodeMessage({ ...examples.assign, hyper: { ...examples.assign.hyper, ...hyper } } as AssignMessage);

describe("assign's weight-average fields", () => {
  it.each([
    { emaDecay: 0, emaWarmup: false },
    { emaDecay: 0.999, emaWarmup: true },
    { emaDecay: 1, emaWarmup: false },
  ])('carries emaDecay $emaDecay and emaWarmup $emaWarmup through encoding and validation', (fields) => {
    const parsed = parseCoordinatorToWorker(assignWith(fields)) as AssignMessage;
    expect(parsed.hyper.emaDecay).toBe(fields.emaDecay);
    expect(parsed.hyper.emaWarmup).toBe(fields.emaWarmup);
  });

  it('may be left out, and then both are absent', () => {
    const parsed = parseCoordinatorToWorker(encodeMessage(examples.assign)) as AssignMessage;
    expect(Object.hasOwn(parsed.hyper, 'emaDecay')).toBe(false);
    expect(Object.hasOwn(parsed.hyper, 'emaWarmup')).toBe(false);
  });

  it.each([-0.5, 1.01, Number.NaN, '0.9'])('refuses emaDecay %s, naming the field and its range', (emaDecay) => {
    expect(() => parseCoordinatorToWorker(assignWith({ emaDecay }))).toThrow(/hyper\.emaDecay.*from 0 to 1/);
  });

  it('refuses an emaWarmup that is not a boolean, naming the field', () => {
    expect(() => parseCoordinatorToWorker(assignWith({ emaWarmup: 1 }))).toThrow(/hyper\.emaWarmup/);
  });
});
