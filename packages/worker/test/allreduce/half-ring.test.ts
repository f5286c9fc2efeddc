/**
 * The ring all-reduce with 16-bit elements on the wire, against the reference ring in
 * `half-reference.ts`: over in-memory links and over real WebSockets, for lengths that do not
 * divide into ranks or buckets.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { ALLREDUCE_DEFAULTS, AllReduceMismatchError, InvalidAllReduceOptionError, RingAllReduce, createMemoryTransports } from '../../src/allreduce/index.ts';
import type { WireFormat } from '../../src/allreduce/index.ts';
import { referenceRingAllReduce } from './half-reference.ts';
import { localRing } from './peers.ts';
import { bitIdentical, rankVector } from './vectors.ts';

const cleanups: (() => Promise<void>)[] = [];
afterEach(async () => {
  await Promise.all(cleanups.splice(0).map((cleanup) => cleanup()));
});

/** Gradient-like values spread over many binades, so rounding matters at every hop. */
function gradient(length: number, rank: number, seed: number): Float32Array {
  const scales = rankVector(length, rank + 100, seed);
  return rankVector(length, rank, seed).map((x, i) => x * 10 ** Math.round(4 * (scales[i] as number) - 1));
}

// 16 floats per bucket: lengths cross many buckets, the last one partial.
const TINY_BUCKET = 64;
const formats: Exclude<WireFormat, 'f32'>[] = ['bf16', 'f16'];
const lengths: [string, number, number][] = [
  ['empty', 0, TINY_BUCKET],
  ['one element', 1, TINY_BUCKET],
  ['an odd length', 7, TINY_BUCKET],
  ['a length that divides into neither ranks nor buckets', 1001, TINY_BUCKET],
  ['a few larger buckets', 30_011, 16 * 1024],
];
const memoryCases = formats.flatMap((format) =>
  [2, 3, 4].flatMap((n) => lengths.flatMap(([name, length, bucket]) => [false, true].map((average) => [format, n, name, length, bucket, average] as const))),
);

describe('the ring all-reduce with a 16-bit wire format over in-memory links', () => {
  it.each(memoryCases)('%s with %i ranks and %s (%i elements, %i-byte buckets, average %s) equals the reference on every rank', async (format, n, _name, length, maxBucketBytes, average) => {
    const inputs = Array.from({ length: n }, (_, rank) => gradient(length, rank, 1));
    const ring = createMemoryTransports(n).map((transport) => new RingAllReduce(transport, { maxBucketBytes, wireFormat: format }));
    const results = await Promise.all(ring.map((r, rank) => r.allReduce((inputs[rank] as Float32Array).slice(), { average })));
    const expected = referenceRingAllReduce(inputs, maxBucketBytes, format, average);
    for (const result of results) expect(firstDifference(result.data, expected)).toBe(-1);
  });

  it('sends half the bytes of f32', async () => {
    const ranks = 3;
    // Three buckets of 1026 elements: every rank sends equal segments.
    const length = 3078;
    const inputs = Array.from({ length: ranks }, (_, rank) => gradient(length, rank, 2));
    const sent: Record<string, number> = {};
    for (const wireFormat of ['f32', 'bf16'] as const) {
      const ring = createMemoryTransports(ranks).map((transport) => new RingAllReduce(transport, { maxBucketBytes: 4104 }));
      const results = await Promise.all(ring.map((r, rank) => r.allReduce((inputs[rank] as Float32Array).slice(), { wireFormat })));
      sent[wireFormat] = results[0]?.bytesSent ?? 0;
    }
    expect(sent['f32']).toBe((2 * (ranks - 1) * length * 4) / ranks);
    expect(sent['bf16']).toBe((sent['f32'] as number) / 2);
  });

  it('takes the format per call, over the ring default', async () => {
    const inputs = [0, 1].map((rank) => gradient(500, rank, 3));
    const ring = createMemoryTransports(2).map((transport) => new RingAllReduce(transport, { maxBucketBytes: 256, wireFormat: 'bf16' }));
    const results = await Promise.all(ring.map((r, rank) => r.allReduce((inputs[rank] as Float32Array).slice(), { wireFormat: 'f16' })));
    expect(firstDifference(results[0]?.data as Float32Array, referenceRingAllReduce(inputs, 256, 'f16', false))).toBe(-1);
  });

  it('fails with an error naming both ranks and formats when the ranks disagree on the format', async () => {
    const ring = createMemoryTransports(2).map((transport) => new RingAllReduce(transport, { stallTimeoutMs: 2000 }));
    const settled = await Promise.allSettled(ring.map((r, rank) => r.allReduce(gradient(8, rank, 4), { step: 7, wireFormat: rank === 0 ? 'bf16' : 'f32' })));
    const errors = settled.map((s) => (s.status === 'rejected' ? (s.reason as Error) : undefined));
    expect(errors[1]).toBeInstanceOf(AllReduceMismatchError);
    expect(errors[1]?.message).toBe('bucket 0 at step 7: rank 0 sent bf16 elements, rank 1 expected f32');
  });

  it('refuses an unknown format, naming the option', () => {
    const [transport] = createMemoryTransports(1);
    expect(() => new RingAllReduce(transport as never, { wireFormat: 'f8' as never })).toThrow(InvalidAllReduceOptionError);
    expect(() => new RingAllReduce(transport as never, { wireFormat: 'f8' as never })).toThrow('wireFormat must be one of f32, bf16, f16, got "f8"');
  });

  it.each(formats)('%s carries infinities and NaN through the sum, and saturates sums beyond the format', async (format) => {
    const big = format === 'f16' ? 60_000 : 1.7e38;
    const inputs = [Float32Array.of(Infinity, NaN, big, -big, 1, 0), Float32Array.of(1, 1, big, -big, -Infinity, -0)];
    const ring = createMemoryTransports(2).map((transport) => new RingAllReduce(transport, { wireFormat: format }));
    const results = await Promise.all(ring.map((r, rank) => r.allReduce((inputs[rank] as Float32Array).slice())));
    const max = format === 'f16' ? 65_504 : (2 - 2 ** -7) * 2 ** 127;
    for (const result of results) {
      expect(Array.from(result.data.subarray(2, 6))).toEqual([max, -max, -Infinity, 0]);
      expect(result.data[0]).toBe(Infinity);
      expect(Number.isNaN(result.data[1])).toBe(true);
    }
  });
});

describe('the ring all-reduce with a 16-bit wire format over real WebSockets', () => {
  it.each(formats.flatMap((format) => [2, 3, 4].map((n) => [format, n] as const)))('%s with %i workers equals the reference on every rank, step after step', async (format, n) => {
    const ring = await localRing(n, { maxBucketBytes: 4096, wireFormat: format });
    cleanups.push(ring.close);
    for (const [step, length] of [10_007, 1, 4099].entries()) {
      const inputs = ring.rings.map((_, rank) => gradient(length, rank, step));
      const results = await Promise.all(ring.rings.map((r, rank) => r.allReduce((inputs[rank] as Float32Array).slice(), { average: true })));
      const expected = referenceRingAllReduce(inputs, 4096, format, true);
      for (const result of results) expect(firstDifference(result.data, expected)).toBe(-1);
    }
  });

  it('carries a vector of several default-size buckets in bf16, then in f32 on the same ring', async () => {
    const ring = await localRing(2);
    cleanups.push(ring.close);
    const inputs = ring.rings.map((_, rank) => gradient(2 * (ALLREDUCE_DEFAULTS.maxBucketBytes / 4) + 1, rank, 9));
    const half = await Promise.all(ring.rings.map((r, rank) => r.allReduce((inputs[rank] as Float32Array).slice(), { wireFormat: 'bf16' })));
    expect(firstDifference(half[1]?.data as Float32Array, referenceRingAllReduce(inputs, ALLREDUCE_DEFAULTS.maxBucketBytes, 'bf16', false))).toBe(-1);
    const full = await Promise.all(ring.rings.map((r, rank) => r.allReduce((inputs[rank] as Float32Array).slice())));
    expect(bitIdentical(full[0]?.data as Float32Array, full[1]?.data as Float32Array)).toBe(true);
    expect(bitIdentical(full[0]?.data as Float32Array, half[0]?.data as Float32Array)).toBe(false);
  });
});

/** The first index where the two differ in bits (NaN equal to NaN), or -1. */
function firstDifference(actual: Float32Array, expected: Float32Array): number {
  if (actual.length !== expected.length) return -2;
  for (let i = 0; i < actual.length; i++) {
    const a = actual[i] as number;
    const e = expected[i] as number;
    if (Number.isNaN(a) && Number.isNaN(e)) continue;
    if (!Object.is(a, e)) return i;
  }
  return -1;
}
