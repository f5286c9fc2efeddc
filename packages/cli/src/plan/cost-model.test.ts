import { describe, expect, it } from 'vitest';
import { InvalidArgumentError } from '../errors.ts';
import { predictStep, type StepCostInput, type TransportCalibration } from './cost-model.ts';

const UNBOUNDED: TransportCalibration = {
  linkEfficiency: 1,
  perMessageMs: 0,
  hostThroughputBytesPerSecond: Number.POSITIVE_INFINITY,
  sharedThroughputBytesPerSecond: Number.POSITIVE_INFINITY,
  codecThroughputBytesPerSecond: Number.POSITIVE_INFINITY,
  sharedCodecThroughputBytesPerSecond: Number.POSITIVE_INFINITY,
};

/** 4 workers, 8 MB in 4 MB buckets over 1 Gbit/s, 100 ms of compute: the base of every case below. */
const BASE: StepCostInput = {
  computeMs: 100,
  gradientBytes: 8_000_000,
  worldSize: 4,
  linkBitsPerSecond: 1e9,
  latencyMs: 0,
  maxBucketBytes: 4_000_000,
  overlap: 0,
  compressionRatio: 1,
  calibration: UNBOUNDED,
};

describe('predictStep', () => {
  it('charges a ring 2(N−1)/N of the vector at the link rate, then adds it to compute without overlap', () => {
    const cost = predictStep(BASE);
    // 2·3/4 · 8 MB = 12 MB each worker sends; at 125 MB/s that is 96 ms.
    expect(cost.sentBytesPerWorker).toBe(12_000_000);
    expect(cost.allReduceMs).toBeCloseTo(96, 9);
    expect(cost.stepMs).toBeCloseTo(196, 9);
    expect(cost.scalingEfficiency).toBeCloseTo(100 / 196, 9);
    expect(cost.buckets).toBe(2);
    expect(cost.boundBy).toBe('link');
  });

  it('divides the link among the ring hops that leave a host over it, and charges no link to a ring on one host', () => {
    expect(predictStep({ ...BASE, streamsPerLink: 1 })).toEqual(predictStep(BASE));
    // Two hops per host link: 96 ms of wire time become 192.
    expect(predictStep({ ...BASE, streamsPerLink: 2 }).allReduceMs).toBeCloseTo(192, 9);
    const local = predictStep({ ...BASE, streamsPerLink: 0, calibration: { ...UNBOUNDED, sharedThroughputBytesPerSecond: 4e9 } });
    // Bound by the shared machine instead: 12 MB at 1 GB/s per worker.
    expect(local.boundBy).toBe('shared');
    expect(local.allReduceMs).toBeCloseTo(12, 9);
    expect(() => predictStep({ ...BASE, streamsPerLink: 1.5 })).toThrow('the streams per host link must be a whole number of at least 0, got 1.5');
  });

  it('adds 2(N−1) rounds of latency and message cost per bucket', () => {
    const cost = predictStep({ ...BASE, latencyMs: 0.2, calibration: { ...UNBOUNDED, perMessageMs: 0.05 } });
    // 96 ms + 2·3 rounds · 2 buckets · 0.25 ms = 96 + 3 ms.
    expect(cost.allReduceMs).toBeCloseTo(99, 9);
  });

  it('scales the streaming term by the link efficiency and divides the bytes by the compression ratio', () => {
    expect(predictStep({ ...BASE, calibration: { ...UNBOUNDED, linkEfficiency: 0.8 } }).allReduceMs).toBeCloseTo(120, 9);
    const compressed = predictStep({ ...BASE, compressionRatio: 2 });
    expect(compressed.allReduceMs).toBeCloseTo(48, 9);
    expect(compressed.sentBytesPerWorker).toBe(6_000_000);
    // Buckets are cut from the uncompressed vector.
    expect(compressed.buckets).toBe(2);
  });

  it('hides all but the last bucket behind compute with full overlap', () => {
    // All-reduce 96 ms, tail 48 ms: the step is compute + tail = 148 ms.
    expect(predictStep({ ...BASE, overlap: 1 }).stepMs).toBeCloseTo(148, 9);
    // Compute shorter than the hidden part: the step is the all-reduce itself.
    expect(predictStep({ ...BASE, computeMs: 10, overlap: 1 }).stepMs).toBeCloseTo(96, 9);
    // Half overlap hides half of min(compute, all-reduce − tail) = 24 ms.
    expect(predictStep({ ...BASE, overlap: 0.5 }).exposedMs).toBeCloseTo(72, 9);
  });

  it('takes the narrowest of link, host and shared bounds', () => {
    const host = predictStep({ ...BASE, calibration: { ...UNBOUNDED, hostThroughputBytesPerSecond: 50e6 } });
    expect(host.boundBy).toBe('host');
    expect(host.allReduceMs).toBeCloseTo(240, 9);
    // 400 MB/s shared by 4 hosts is 100 MB/s each, below the link's 125.
    const shared = predictStep({ ...BASE, calibration: { ...UNBOUNDED, sharedThroughputBytesPerSecond: 400e6 } });
    expect(shared.boundBy).toBe('shared');
    expect(shared.allReduceMs).toBeCloseTo(120, 9);
  });

  it('adds the time a 16-bit wire format spends converting every value sent and received', () => {
    const half = { ...BASE, compressionRatio: 2, convertsValues: true };
    // Free conversion: half the bytes, half the 96 ms.
    expect(predictStep(half).allReduceMs).toBeCloseTo(48, 9);
    // 2·3/4 · 8 MB of f32 through a 200 MB/s codec is 60 ms more.
    expect(predictStep({ ...half, calibration: { ...UNBOUNDED, codecThroughputBytesPerSecond: 200e6 } }).allReduceMs).toBeCloseTo(108, 9);
    // 400 MB/s shared by 4 hosts is 100 MB/s each: 120 ms more.
    expect(predictStep({ ...half, calibration: { ...UNBOUNDED, sharedCodecThroughputBytesPerSecond: 400e6 } }).allReduceMs).toBeCloseTo(168, 9);
    // PowerSGD's ratio without a per-value codec pays nothing of it.
    expect(predictStep({ ...BASE, compressionRatio: 2, calibration: { ...UNBOUNDED, codecThroughputBytesPerSecond: 200e6 } }).allReduceMs).toBeCloseTo(48, 9);
  });

  it('predicts no communication and perfect efficiency for one worker', () => {
    const cost = predictStep({ ...BASE, worldSize: 1, latencyMs: 5 });
    expect(cost).toMatchObject({ allReduceMs: 0, exposedMs: 0, stepMs: 100, scalingEfficiency: 1, sentBytesPerWorker: 0 });
  });

  it.each([2, 3, 8, 64, 1024])('never lets the step get faster when the world grows to %i', (n) => {
    const smaller = predictStep({ ...BASE, worldSize: n, latencyMs: 0.05 });
    const larger = predictStep({ ...BASE, worldSize: n + 1, latencyMs: 0.05 });
    expect(larger.stepMs).toBeGreaterThan(smaller.stepMs);
    expect(larger.scalingEfficiency).toBeLessThan(smaller.scalingEfficiency);
  });

  it('gets faster with a faster link, more overlap, more compression and less latency', () => {
    const base = predictStep({ ...BASE, latencyMs: 0.1, overlap: 0.5 }).stepMs;
    expect(predictStep({ ...BASE, latencyMs: 0.1, overlap: 0.5, linkBitsPerSecond: 10e9 }).stepMs).toBeLessThan(base);
    expect(predictStep({ ...BASE, latencyMs: 0.1, overlap: 0.9 }).stepMs).toBeLessThan(base);
    expect(predictStep({ ...BASE, latencyMs: 0.1, overlap: 0.5, compressionRatio: 4 }).stepMs).toBeLessThan(base);
    expect(predictStep({ ...BASE, latencyMs: 0.01, overlap: 0.5 }).stepMs).toBeLessThan(base);
  });

  it.each([
    ['computeMs', { computeMs: 0 }, '--compute-ms'],
    ['gradientBytes', { gradientBytes: 1.5 }, '--gradient-bytes'],
    ['worldSize', { worldSize: 0 }, '--workers'],
    ['linkBitsPerSecond', { linkBitsPerSecond: -1 }, '--link-gbit'],
    ['latencyMs', { latencyMs: Number.NaN }, '--latency-ms'],
    ['maxBucketBytes', { maxBucketBytes: 2 }, '--max-bucket-bytes'],
    ['overlap', { overlap: 1.5 }, '--overlap'],
    ['compressionRatio', { compressionRatio: 0.5 }, '--compression-ratio'],
    ['linkEfficiency', { calibration: { ...UNBOUNDED, linkEfficiency: 0 } }, '--link-efficiency'],
    ['perMessageMs', { calibration: { ...UNBOUNDED, perMessageMs: -1 } }, '--per-message-ms'],
  ] as const)('rejects an impossible %s, naming its flag', (_name, change, flag) => {
    expect(() => predictStep({ ...BASE, ...change })).toThrow(InvalidArgumentError);
    expect(() => predictStep({ ...BASE, ...change })).toThrow(new RegExp(`^${flag} must be`));
  });
});
