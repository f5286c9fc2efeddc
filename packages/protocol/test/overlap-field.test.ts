import { describe, expect, it } from 'vitest';
import { encodeMessage, parseCoordinatorToWorker } from '../src/index.ts';
import type { AssignMessage } from '../src/index.ts';
import { examples } from './examples.ts';

const assignWith = (hyper: Record<string, unknown>): Uint8Array =>
  encodeMessage({ ...examples.assign, hyper: { ...examples.assign.hyper, ...hyper } } as AssignMessage);

describe.each(['overlap', 'delayedAllReduce'] as const)("assign's %s field", (field) => {
  it.each([true, false])(`carries ${field} %s through encoding and validation`, (value) => {
    const parsed = parseCoordinatorToWorker(assignWith({ [field]: value })) as AssignMessage;
    expect(parsed.hyper[field]).toBe(value);
  });

  it('may be left out, and then is absent rather than undefined', () => {
    const parsed = parseCoordinatorToWorker(encodeMessage(examples.assign)) as AssignMessage;
    expect(Object.hasOwn(parsed.hyper, field)).toBe(false);
  });

  it('refuses anything but true or false, naming the field', () => {
    expect(() => parseCoordinatorToWorker(assignWith({ [field]: 'yes' }))).toThrow(new RegExp(`hyper\\.${field}`));
  });
});
