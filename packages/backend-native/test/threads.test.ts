import { describe, expect, it } from 'vitest';

import { InvalidNativeOptionsError, defaultNativeThreads } from '../src/index.ts';

describe('defaultNativeThreads', () => {
  it.each([
    { cores: 2, workersPerMachine: 1, threads: 2 },
    { cores: 2, workersPerMachine: 2, threads: 1 },
    { cores: 8, workersPerMachine: 3, threads: 2 },
    { cores: 2, workersPerMachine: 4, threads: 1 },
    { cores: 1, workersPerMachine: 1, threads: 1 },
  ])('gives $threads threads to each of $workersPerMachine workers on $cores cores', ({ cores, workersPerMachine, threads }) => {
    expect(defaultNativeThreads({ cores, workersPerMachine, env: {} })).toBe(threads);
  });

  it('takes RINGTRAIN_NATIVE_THREADS first, then the first level of OMP_NUM_THREADS', () => {
    expect(defaultNativeThreads({ cores: 8, env: { RINGTRAIN_NATIVE_THREADS: '3', OMP_NUM_THREADS: '5' } })).toBe(3);
    expect(defaultNativeThreads({ cores: 8, env: { OMP_NUM_THREADS: '5,2' } })).toBe(5);
    expect(defaultNativeThreads({ cores: 8, workersPerMachine: 4, env: { OMP_NUM_THREADS: '' } })).toBe(2);
  });

  it.each(['0', '-2', 'two', '1.5'])('rejects RINGTRAIN_NATIVE_THREADS=%s, naming the variable', (value) => {
    expect(() => defaultNativeThreads({ env: { RINGTRAIN_NATIVE_THREADS: value } })).toThrow(InvalidNativeOptionsError);
    expect(() => defaultNativeThreads({ env: { RINGTRAIN_NATIVE_THREADS: value } })).toThrow(/RINGTRAIN_NATIVE_THREADS must be a positive integer/);
  });

  it('rejects a workersPerMachine that is not a positive integer', () => {
    expect(() => defaultNativeThreads({ workersPerMachine: 0, env: {} })).toThrow(/workersPerMachine must be a positive integer, got 0/);
  });
});
