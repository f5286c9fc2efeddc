import { describe, expect, it } from 'vitest';
import { InvalidMetricsOptionError, ThroughputWindow } from '../src/index.ts';

describe('ThroughputWindow', () => {
  it('reads 0 before the first step', () => {
    expect(new ThroughputWindow(5000).perSecond(123)).toBe(0);
  });

  it('divides by the time since the first step began while the run is younger than the window', () => {
    const window = new ThroughputWindow(60_000);
    window.record(2000, 100, 2); // began at 0
    expect(window.perSecond(2000)).toBeCloseTo(50, 12);
    window.record(3000, 100, 1);
    expect(window.perSecond(4000)).toBeCloseTo(200 / 4, 12);
  });

  it('counts only the steps that ended within the window once the run is older than it', () => {
    const window = new ThroughputWindow(10_000);
    for (let t = 1000; t <= 30_000; t += 1000) window.record(t, 50, 1);
    expect(window.perSecond(30_000)).toBeCloseTo(50, 12);
    // Half the window later, half the steps have left it.
    expect(window.perSecond(35_000)).toBeCloseTo(25, 12);
  });

  it('falls to 0 when no step ended for a whole window', () => {
    const window = new ThroughputWindow(10_000);
    window.record(1000, 50, 1);
    expect(window.perSecond(11_000)).toBe(0);
  });

  it.each([0, 1, 7])('sees the same rate for %i examples per step as for the sum of its steps', (examples) => {
    const window = new ThroughputWindow(100_000);
    for (let t = 500; t <= 5000; t += 500) window.record(t, examples, 0.5);
    expect(window.perSecond(5000)).toBeCloseTo((10 * examples) / 5, 12);
  });

  it('refuses a window that is not a positive number of milliseconds', () => {
    expect(() => new ThroughputWindow(0)).toThrow(InvalidMetricsOptionError);
    expect(() => new ThroughputWindow(Number.NaN)).toThrow(/positive number of milliseconds, got NaN/);
  });

  it('refuses a negative step duration', () => {
    expect(() => new ThroughputWindow(1000).record(0, 1, -1)).toThrow(/stepSeconds must be a finite number ≥ 0/);
  });
});
