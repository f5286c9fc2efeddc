import { createRandom } from '@ringtrain/model';
import { describe, expect, it } from 'vitest';
import { createMemoryTransports, RingAllReduce } from '../../src/allreduce/index.ts';
import { HalfPrecisionReducer, PlainReducer } from '../../src/compression/index.ts';

function ringsOf(worldSize: number, maxBucketBytes: number, generation = 0): RingAllReduce[] {
  return createMemoryTransports(worldSize, { generation }).map((transport) => new RingAllReduce(transport, { maxBucketBytes }));
}

function randomVector(length: number, stream: string): Float32Array {
  const random = createRandom(99, stream);
  return Float32Array.from({ length }, () => 2 * random() - 1);
}

function bits(vector: Float32Array): Uint32Array {
  return new Uint32Array(vector.buffer, vector.byteOffset, vector.length);
}

describe.each(['bf16', 'f16'] as const)('%s on the wire', (method) => {
  const compression = { method, rank: 2, startStep: 0 };
  // Relative rounding of one 16-bit value: 2⁻⁸ for bf16, 2⁻¹¹ for f16; a few of them compound.
  const tolerance = method === 'bf16' ? 2 ** -5 : 2 ** -8;

  it.each([
    [2, 1001, 64],
    [3, 1000, 52],
    [3, 7, 1 << 20],
  ])('over %i ranks, %i values in %i-byte buckets: the mean within rounding, bit-identical on every rank, in half the bytes', async (worldSize, length, bucketBytes) => {
    const reducers = Array.from({ length: worldSize }, () => new HalfPrecisionReducer(compression, length));
    const plain = Array.from({ length: worldSize }, () => new PlainReducer({ method: 'none', rank: 2, startStep: 0 }));
    const rings = ringsOf(worldSize, bucketBytes);
    const plainRings = ringsOf(worldSize, bucketBytes);
    for (let step = 0; step < 3; step++) {
      const gradients = Array.from({ length: worldSize }, (_, r) => randomVector(length, `${step}/${r}`));
      const outcomes = await Promise.all(reducers.map((reducer, r) => reducer.reduce(rings[r] as RingAllReduce, gradients[r]!.slice(), step)));
      const exact = await Promise.all(plain.map((reducer, r) => reducer.reduce(plainRings[r] as RingAllReduce, gradients[r]!.slice(), step)));
      for (const outcome of outcomes.slice(1)) expect(bits(outcome.data)).toEqual(bits(outcomes[0]!.data));
      for (let i = 0; i < length; i++) expect(Math.abs(outcomes[0]!.data[i]! - exact[0]!.data[i]!)).toBeLessThan(tolerance);
      expect(outcomes[0]!.bytesSent * 2).toBe(exact[0]!.bytesSent);
      expect(outcomes[0]!.compressed).toBe(true);
    }
  });

  it('feeds back what rounding dropped, and a new generation zeroes it on every member', async () => {
    const reducers = [0, 1].map(() => new HalfPrecisionReducer(compression, 300));
    const rings = ringsOf(2, 128);
    await Promise.all(reducers.map((reducer, r) => reducer.reduce(rings[r] as RingAllReduce, randomVector(300, `fb/${r}`), 0)));
    for (const reducer of reducers) expect(reducer.residual.some((value) => value !== 0)).toBe(true);
    reducers.forEach((reducer) => reducer.startGeneration());
    for (const reducer of reducers) expect(reducer.residual.every((value) => value === 0)).toBe(true);
  });
});
