import { describe, expect, it } from 'vitest';
import {
  AllReduceBusyError,
  AllReduceMismatchError,
  AllReduceStallError,
  InvalidAllReduceOptionError,
  PeerLinkLostError,
  RingAllReduce,
  RingClosedError,
  createMemoryTransports,
} from '../../src/allreduce/index.ts';
import type { PeerTransport, RingAllReduceOptions } from '../../src/allreduce/index.ts';
import { bitIdentical, exactSum, firstOutOfTolerance, rankVector } from './vectors.ts';

function memoryRing(worldSize: number, options: RingAllReduceOptions = {}): RingAllReduce[] {
  return createMemoryTransports(worldSize).map((transport) => new RingAllReduce(transport, options));
}

/** Rejections of `promises`, or undefined for those that resolved. */
async function outcomes(promises: Promise<unknown>[]): Promise<(Error | undefined)[]> {
  const settled = await Promise.allSettled(promises);
  return settled.map((s) => (s.status === 'rejected' ? (s.reason as Error) : undefined));
}

// 16 floats per bucket: 1001 elements cross 63 buckets, the last one partial.
const TINY_BUCKET = 64;

const worldSizes = [1, 2, 3, 4, 5];
const lengths = (n: number): [string, number, number | undefined][] => [
  ['empty', 0, undefined],
  ['one element', 1, undefined],
  ['an odd length', 7, undefined],
  ['fewer elements than ranks', Math.max(n - 1, 0), undefined],
  ['many tiny buckets', 1001, TINY_BUCKET],
  ['one default-size bucket', 100_003, undefined],
];
const cases = worldSizes.flatMap((n) => lengths(n).map(([name, length, maxBucketBytes]) => [n, name, length, maxBucketBytes] as const));

describe('the ring all-reduce over in-memory links', () => {
  it.each(cases)('with %i ranks and %s (%i elements) sums exactly and identically on every rank', async (n, _name, length, maxBucketBytes) => {
    const inputs = Array.from({ length: n }, (_, rank) => rankVector(length, rank));
    const vectors = inputs.map((v) => v.slice());
    const ring = memoryRing(n, { maxBucketBytes });
    const results = await Promise.all(ring.map((r, rank) => r.allReduce(vectors[rank] as Float32Array, { step: 0 })));
    const { sum, magnitude } = exactSum(inputs);
    results.forEach((result, rank) => {
      expect(result.data).toBe(vectors[rank]);
      expect(firstOutOfTolerance(result.data, sum, magnitude)).toBe(-1);
      expect(bitIdentical(result.data, results[0]?.data as Float32Array)).toBe(true);
    });
  });

  it.each([2, 3, 5])('with %i ranks averages when asked, identically on every rank', async (n) => {
    const inputs = Array.from({ length: n }, (_, rank) => rankVector(999, rank, 7));
    const ring = memoryRing(n, { maxBucketBytes: 400 });
    const results = await Promise.all(ring.map((r, rank) => r.allReduce((inputs[rank] as Float32Array).slice(), { average: true })));
    const { sum, magnitude } = exactSum(inputs);
    for (const result of results) {
      expect(firstOutOfTolerance(result.data, sum, magnitude, 1 / n)).toBe(-1);
      expect(bitIdentical(result.data, results[0]?.data as Float32Array)).toBe(true);
    }
  });

  it('runs step after step on the same ring, buffering chunks of a step a rank has not reached yet', async () => {
    const ring = memoryRing(3, { maxBucketBytes: 256 });
    for (let step = 0; step < 4; step++) {
      const inputs = ring.map((_, rank) => rankVector(500, rank, step + 10));
      // Rank 0 starts late: the others' chunks for this step wait in its queue.
      const late = async (r: RingAllReduce, rank: number) => {
        if (rank === 0) await new Promise((resolve) => setTimeout(resolve, 5));
        return r.allReduce((inputs[rank] as Float32Array).slice());
      };
      const results = await Promise.all(ring.map(late));
      const { sum, magnitude } = exactSum(inputs);
      expect(results.map((r) => r.step)).toEqual([step, step, step]);
      expect(firstOutOfTolerance(results[2]?.data as Float32Array, sum, magnitude)).toBe(-1);
      expect(bitIdentical(results[0]?.data as Float32Array, results[1]?.data as Float32Array)).toBe(true);
    }
  });

  it('sends and receives 2(N-1)/N of the vector per rank', async () => {
    const n = 4;
    const ring = memoryRing(n, { maxBucketBytes: 4096 });
    const results = await Promise.all(ring.map((r, rank) => r.allReduce(rankVector(4096, rank))));
    for (const result of results) {
      expect(result.buckets).toBe(4);
      expect(result.bytesSent).toBe((2 * (n - 1) * 4096 * 4) / n);
      expect(result.bytesReceived).toBe(result.bytesSent);
    }
  });

  it('returns the input unchanged in a world of one', async () => {
    const [solo] = memoryRing(1);
    const vector = rankVector(10, 0);
    const before = vector.slice();
    const result = await solo?.allReduce(vector, { average: true });
    expect(result?.data).toBe(vector);
    expect(bitIdentical(vector, before)).toBe(true);
  });
});

describe('ranks that disagree', () => {
  it('fail with an error naming both ranks and the sizes when their vectors differ in length', async () => {
    const ring = memoryRing(3, { maxBucketBytes: TINY_BUCKET, stallTimeoutMs: 2000 });
    const errors = await outcomes(ring.map((r, rank) => r.allReduce(rankVector(rank === 2 ? 60 : 64, rank), { step: 120 })));
    const mismatch = errors.find((e) => e instanceof AllReduceMismatchError);
    expect(mismatch?.message).toMatch(/^bucket \d+ at step 120: rank \d sent \d+ bytes, rank \d expected \d+$/);
    expect(errors.every((e) => e !== undefined)).toBe(true);
  });

  it('fail when one rank has more buckets than the others', async () => {
    const ring = memoryRing(2, { maxBucketBytes: TINY_BUCKET, stallTimeoutMs: 2000 });
    const errors = await outcomes(ring.map((r, rank) => r.allReduce(rankVector(rank === 0 ? 48 : 32, rank), { step: 3 })));
    expect(errors[1]?.message).toBe("step 3: rank 0 sent bucket 2, but rank 1's vector of 128 bytes has only 2 buckets");
  });

  it('fail when they all-reduce different steps', async () => {
    const ring = memoryRing(2, { stallTimeoutMs: 2000 });
    const errors = await outcomes(ring.map((r, rank) => r.allReduce(rankVector(8, rank), { step: rank === 0 ? 4 : 5 })));
    expect(errors[1]).toBeInstanceOf(AllReduceMismatchError);
    expect(errors[1]?.message).toBe('rank 0 sent a chunk of step 4 while rank 1 is all-reducing step 5');
  });

  it('leave the ring failed: the next call rejects with the same error', async () => {
    const ring = memoryRing(2, { stallTimeoutMs: 2000 });
    const errors = await outcomes(ring.map((r, rank) => r.allReduce(rankVector(8, rank), { step: rank })));
    const again = await outcomes([ring[1]?.allReduce(rankVector(8, 1)) as Promise<unknown>]);
    expect(again[0]).toBe(errors[1]);
    expect(ring[1]?.state).toBe('failed');
  });
});

describe('peers that stop', () => {
  it('name the silent predecessor after the stall timeout', async () => {
    const ring = memoryRing(3, { stallTimeoutMs: 150 });
    // Rank 2 never calls allReduce.
    const errors = await outcomes([0, 1].map((rank) => (ring[rank] as RingAllReduce).allReduce(rankVector(30, rank), { step: 9 })));
    expect(errors[0]).toBeInstanceOf(AllReduceStallError);
    expect(errors[0]?.message).toMatch(/^all-reduce stalled at step 9 \(generation 0\): nothing from rank 2 \(rank 0's ring predecessor\) for 150 ms; 0 of 1 buckets complete, waiting for bucket 0 reduce-scatter round 0$/);
    expect(errors[1]).toBeDefined();
  });

  it('name the successor whose link never takes the last chunks', async () => {
    const [first, second] = createMemoryTransports(2) as [PeerTransport, PeerTransport];
    // Rank 0's chunks are delivered, but its link never reports them handed over.
    const stuck: PeerTransport = {
      rank: first.rank,
      worldSize: first.worldSize,
      generation: first.generation,
      maxChunkBytes: first.maxChunkBytes,
      send: (chunk) => {
        void first.send(chunk);
        return new Promise(() => {});
      },
      receive: (timeoutMs) => first.receive(timeoutMs),
      close: (reason) => first.close(reason),
    };
    const rings = [new RingAllReduce(stuck, { stallTimeoutMs: 150 }), new RingAllReduce(second, { stallTimeoutMs: 150 })];
    const errors = await outcomes(rings.map((r, rank) => r.allReduce(rankVector(16, rank), { step: 2 })));
    expect(errors[0]).toBeInstanceOf(AllReduceStallError);
    expect(errors[0]?.message).toBe(
      'all-reduce stalled at step 2 (generation 0): rank 0 could not hand its last chunks to rank 1 (its ring successor) within 150 ms',
    );
    expect(errors[1]).toBeUndefined();
  });

  it('fail their neighbours with a lost link when they close mid-step', async () => {
    const ring = memoryRing(3, { stallTimeoutMs: 5000 });
    const pending = [0, 1].map((rank) => (ring[rank] as RingAllReduce).allReduce(rankVector(30, rank)));
    await ring[2]?.close();
    const errors = await outcomes(pending);
    expect(errors[0]).toBeInstanceOf(PeerLinkLostError);
    expect(errors[0]?.message).toMatch(/rank 2 closed its ring link/);
    expect(errors[1]).toBeDefined();
  });
});

describe('the lifecycle of a ring', () => {
  it('refuses calls after close', async () => {
    const [solo] = memoryRing(1);
    await solo?.close();
    await expect(solo?.allReduce(new Float32Array(1))).rejects.toBeInstanceOf(RingClosedError);
  });

  it('refuses a second call while the first is running', async () => {
    const ring = memoryRing(2, { stallTimeoutMs: 1000 });
    const first = ring[0]?.allReduce(rankVector(8, 0));
    await expect(ring[0]?.allReduce(rankVector(8, 0))).rejects.toBeInstanceOf(AllReduceBusyError);
    await Promise.all([first, ring[1]?.allReduce(rankVector(8, 1))]);
  });

  it('refuses a step that does not follow the previous one', async () => {
    const [solo] = memoryRing(1);
    await solo?.allReduce(new Float32Array(1), { step: 5 });
    await expect(solo?.allReduce(new Float32Array(1), { step: 5 })).rejects.toThrow(/step must be an integer from 6/);
  });

  it.each([
    [{ maxBucketBytes: 3 }, /maxBucketBytes must be an integer from 4 to 67108864, got 3/],
    [{ maxBucketBytes: 2 ** 27 }, /maxBucketBytes/],
    [{ stallTimeoutMs: 0 }, /stallTimeoutMs/],
    [{ bucketsInFlight: 1.5 }, /bucketsInFlight/],
  ])('refuses the options %j', (options, pattern) => {
    const [transport] = createMemoryTransports(1);
    expect(() => new RingAllReduce(transport as never, options)).toThrow(InvalidAllReduceOptionError);
    expect(() => new RingAllReduce(transport as never, options)).toThrow(pattern);
  });
});
