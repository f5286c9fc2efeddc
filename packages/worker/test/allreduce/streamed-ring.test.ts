import { afterEach, describe, expect, it } from 'vitest';
import { FinalSuffix, InvalidAllReduceOptionError, RingAllReduce, createMemoryTransports } from '../../src/allreduce/index.ts';
import type { RingAllReduceOptions, WireFormat } from '../../src/allreduce/index.ts';
import { localRing } from './peers.ts';
import { bitIdentical, rankVector } from './vectors.ts';

const cleanups: (() => Promise<void>)[] = [];
afterEach(async () => {
  await Promise.all(cleanups.splice(0).map((cleanup) => cleanup()));
});

type RingMaker = (worldSize: number, options: RingAllReduceOptions) => Promise<RingAllReduce[]>;
const memory: RingMaker = (worldSize, options) => Promise.resolve(createMemoryTransports(worldSize).map((t) => new RingAllReduce(t, options)));
const sockets: RingMaker = async (worldSize, options) => {
  const ring = await localRing(worldSize, options);
  cleanups.push(ring.close);
  return ring.rings;
};

/** Cuts `[0, length)` into ranges from the end back, of lengths that depend on the rank (and so cross bucket edges differently). */
function rangesFromTheEnd(length: number, rank: number): [number, number][] {
  const ranges: [number, number][] = [];
  let end = length;
  for (let i = 0; end > 0; i++) {
    const start = Math.max(0, end - (1 + ((i * 37 + rank * 11) % 97)));
    ranges.push([start, end]);
    end = start;
  }
  return ranges;
}

/** Writes `input` into `vector` range by range from the end, yielding between ranges, as a backward pass would. */
async function writeFromTheEnd(input: Float32Array, vector: Float32Array, suffix: FinalSuffix, rank: number): Promise<void> {
  for (const [i, [start, end]] of rangesFromTheEnd(input.length, rank).entries()) {
    // Ranks finish at different paces: rank r pauses on every (r + 2)-th range.
    if (i % (rank + 2) === 0) await new Promise((resolve) => setTimeout(resolve, 1));
    vector.set(input.subarray(start, end), start);
    suffix.markFinal(start, end);
  }
}

const TINY_BUCKET = 64;
const cases: [string, number, number, WireFormat, RingMaker][] = [
  ['memory', 2, 1001, 'f32', memory],
  ['memory', 3, 1001, 'f32', memory],
  ['memory', 5, 777, 'f32', memory],
  ['memory', 3, 1001, 'bf16', memory],
  ['memory', 4, 3, 'f32', memory],
  ['socket', 2, 1001, 'f32', sockets],
  ['socket', 3, 1001, 'f32', sockets],
];

describe('an all-reduce that starts while the vector is still being written', () => {
  it.each(cases)('over %s links with %i ranks and %i elements (%s) equals the all-reduce of the finished vectors bit for bit', async (_links, n, length, wireFormat, makeRing) => {
    const inputs = Array.from({ length: n }, (_, rank) => rankVector(length, rank, 9));
    const plainRing = await makeRing(n, { maxBucketBytes: TINY_BUCKET, wireFormat });
    const plain = await Promise.all(plainRing.map((r, rank) => r.allReduce((inputs[rank] as Float32Array).slice(), { step: 0, average: true })));

    const streamedRing = await makeRing(n, { maxBucketBytes: TINY_BUCKET, bucketsInFlight: 2, wireFormat });
    // NaN wherever a rank has not written yet: a bucket started early would spread it to every rank.
    const vectors = inputs.map(() => new Float32Array(length).fill(Number.NaN));
    const streamed = await Promise.all(
      streamedRing.map(async (r, rank) => {
        const suffix = new FinalSuffix(length);
        const reducing = r.allReduce(vectors[rank] as Float32Array, { step: 0, average: true, finalSuffix: suffix });
        await writeFromTheEnd(inputs[rank] as Float32Array, vectors[rank] as Float32Array, suffix, rank);
        return reducing;
      }),
    );
    streamed.forEach((result, rank) => {
      expect(result.data).toBe(vectors[rank]);
      expect(bitIdentical(result.data, plain[rank]?.data as Float32Array), `rank ${rank} against the plain all-reduce`).toBe(true);
      expect(bitIdentical(result.data, streamed[0]?.data as Float32Array), `rank ${rank} against rank 0`).toBe(true);
    });
  });

  it('with a world of one returns the vector as it is, without waiting for it', async () => {
    const [ring] = await memory(1, {});
    const vector = rankVector(10, 0);
    const result = await (ring as RingAllReduce).allReduce(vector, { finalSuffix: new FinalSuffix(10) });
    expect(result.data).toBe(vector);
  });

  it('fails every rank with the writer\'s error when one writer gives up', async () => {
    const ring = await memory(3, { maxBucketBytes: TINY_BUCKET });
    const suffixes = ring.map(() => new FinalSuffix(200));
    const calls = ring.map((r, rank) => r.allReduce(rankVector(200, rank), { step: 0, finalSuffix: suffixes[rank] as FinalSuffix }));
    suffixes[0]?.markFinal(150, 200);
    suffixes[1]?.markFinal(0, 200);
    suffixes[2]?.markFinal(0, 200);
    suffixes[0]?.fail(new Error('the backward pass of rank 0 threw'));
    const outcomes = await Promise.allSettled(calls);
    expect(outcomes[0]).toMatchObject({ status: 'rejected', reason: { message: 'the backward pass of rank 0 threw' } });
    // The others lose their link to rank 0 (its ring closed on the failure) instead of waiting for ever.
    expect(outcomes.slice(1).map((o) => o.status)).toEqual(['rejected', 'rejected']);
  });

  it('refuses a suffix whose length differs from the vector', async () => {
    const ring = await memory(2, {});
    await expect((ring[0] as RingAllReduce).allReduce(new Float32Array(8), { finalSuffix: new FinalSuffix(9) })).rejects.toThrow(
      'step 0: the final suffix describes 9 elements, the vector has 8',
    );
  });
});

describe('FinalSuffix', () => {
  it('grows by ranges that end where it begins', () => {
    const suffix = new FinalSuffix(10);
    expect(suffix.complete).toBe(false);
    suffix.markFinal(6, 10);
    expect([suffix.from, suffix.covers(6), suffix.covers(5)]).toEqual([6, true, false]);
    suffix.markFinal(0, 6);
    expect(suffix.complete).toBe(true);
    expect(suffix.completeAt).toBeTypeOf('number');
  });

  it('refuses a range that leaves a gap or overlaps what is final', () => {
    const suffix = new FinalSuffix(10);
    suffix.markFinal(6, 10);
    expect(() => suffix.markFinal(2, 5)).toThrow(InvalidAllReduceOptionError);
    expect(() => suffix.markFinal(2, 5)).toThrow('elements [2, 5) cannot become final: the final suffix of this 10-element vector starts at 6');
    expect(() => suffix.markFinal(7, 6)).toThrow('elements [7, 6) cannot become final');
  });

  it('is complete from the start when empty', () => {
    expect(new FinalSuffix(0).complete).toBe(true);
  });
});
