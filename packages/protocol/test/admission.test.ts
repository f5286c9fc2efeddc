import { describe, expect, it } from 'vitest';
import { Admission } from '../src/index.ts';

describe('Admission', () => {
  it('admits up to its cap of unauthenticated connections, and one more for each that settles', () => {
    const admission = new Admission({ maxUnauthenticated: 2, perSecond: 100, clock: () => 0 });
    expect([admission.admit(), admission.admit(), admission.admit()]).toEqual([null, null, 'unauthenticated_limit']);
    admission.settled();
    expect(admission.unauthenticated).toBe(1);
    expect(admission.admit()).toBeNull();
  });

  it('takes a second of handshakes at once, then refills at its rate', () => {
    let now = 0;
    const admission = new Admission({ maxUnauthenticated: 1000, perSecond: 4, clock: () => now });
    const burst = Array.from({ length: 6 }, () => admission.admit());
    expect(burst).toEqual([null, null, null, null, 'handshake_rate', 'handshake_rate']);
    now += 250;
    expect([admission.admit(), admission.admit()]).toEqual([null, 'handshake_rate']);
    now += 10_000;
    expect(Array.from({ length: 5 }, () => admission.admit()).filter((r) => r === null)).toHaveLength(4);
  });

  it('checks the cap before the rate, so a full port spends no tokens', () => {
    let now = 0;
    const admission = new Admission({ maxUnauthenticated: 1, perSecond: 2, clock: () => now });
    expect(admission.admit()).toBeNull();
    expect(admission.admit()).toBe('unauthenticated_limit');
    expect(admission.admit()).toBe('unauthenticated_limit');
    admission.settled();
    expect(admission.admit()).toBeNull();
    admission.settled();
    expect(admission.admit()).toBe('handshake_rate');
    now += 500;
    expect(admission.admit()).toBeNull();
  });
});
