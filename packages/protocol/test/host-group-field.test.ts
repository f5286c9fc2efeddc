import { describe, expect, it } from 'vitest';
import { encodeMessage, parseWorkerToCoordinator } from '../src/index.ts';
import type { HelloMessage } from '../src/index.ts';
import { examples } from './examples.ts';

const helloWith = (fields: Record<string, unknown>): Uint8Array => encodeMessage({ ...examples.hello, ...fields } as HelloMessage);

describe("hello's hostGroup field", () => {
  it('carries a node name through encoding and validation', () => {
    const parsed = parseWorkerToCoordinator(helloWith({ hostGroup: 'node-b' })) as HelloMessage;
    expect(parsed.hostGroup).toBe('node-b');
  });

  it('may be left out, and then is absent rather than undefined', () => {
    const parsed = parseWorkerToCoordinator(encodeMessage(examples.hello)) as HelloMessage;
    expect(Object.hasOwn(parsed, 'hostGroup')).toBe(false);
  });

  it.each([[''], ['x'.repeat(256)], [7]])('refuses %j, naming the field', (value) => {
    expect(() => parseWorkerToCoordinator(helloWith({ hostGroup: value }))).toThrow(/hostGroup/);
  });
});
