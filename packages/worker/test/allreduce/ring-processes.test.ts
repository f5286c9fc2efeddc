import { fork } from 'node:child_process';
import type { ChildProcess } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import type { PeerAddress } from '@ringtrain/protocol';
import { describe, expect, it } from 'vitest';
import { referenceRingAllReduce } from './half-reference.ts';
import { bitIdentical, exactSum, firstOutOfTolerance, rankVector } from './vectors.ts';

const fixture = fileURLToPath(new URL('./fixtures/ring-rank.ts', import.meta.url));

function nextMessage<T>(child: ChildProcess): Promise<T> {
  return new Promise((resolve, reject) => {
    const onExit = (code: number | null) => reject(new Error(`a worker exited with code ${code} before answering`));
    child.once('exit', onExit);
    child.once('message', (message) => {
      child.off('exit', onExit);
      resolve(message as T);
    });
  });
}

/** Starts `worldSize` rank processes, has them all-reduce `steps` vectors, and returns each one's results. */
async function runRing(worldSize: number, length: number, steps: number, wireFormat: 'f32' | 'bf16' | 'f16'): Promise<Float32Array[][]> {
  const children = Array.from({ length: worldSize }, () =>
    fork(fixture, [], { execArgv: ['--import', 'tsx'], serialization: 'advanced', env: { ...process.env, RINGTRAIN_TEST_TOKEN: 'process-test' } }),
  );
  try {
    const addresses = await Promise.all(children.map((child) => nextMessage<{ address: PeerAddress }>(child)));
    const ring = addresses.map(({ address }, rank) => ({ rank, workerId: `process-${rank}`, address }));
    const replies = children.map((child) => nextMessage<{ results: Float32Array[] }>(child));
    children.forEach((child, rank) => child.send({ rank, ring, length, steps, maxBucketBytes: 64 * 1024, wireFormat }));
    return (await Promise.all(replies)).map((reply) => reply.results);
  } finally {
    for (const child of children) if (child.exitCode === null) child.kill();
  }
}

describe('a ring of worker processes over real WebSockets', () => {
  it('all-reduces to the exact sum, bit-identical in every process', async () => {
    const worldSize = 3;
    const length = 250_003;
    const steps = 3;
    const results = await runRing(worldSize, length, steps, 'f32');
    for (let step = 0; step < steps; step++) {
      const inputs = Array.from({ length: worldSize }, (_, rank) => rankVector(length, rank, step));
      const { sum, magnitude } = exactSum(inputs);
      const first = results[0]?.[step] as Float32Array;
      expect(firstOutOfTolerance(first, sum, magnitude)).toBe(-1);
      for (const perRank of results) expect(bitIdentical(perRank[step] as Float32Array, first)).toBe(true);
    }
  });

  it('with bf16 on the wire, every process ends with the values of the reference ring', async () => {
    const worldSize = 3;
    const length = 100_003;
    const results = await runRing(worldSize, length, 2, 'bf16');
    for (let step = 0; step < 2; step++) {
      const inputs = Array.from({ length: worldSize }, (_, rank) => rankVector(length, rank, step));
      const expected = referenceRingAllReduce(inputs, 64 * 1024, 'bf16', false);
      for (const perRank of results) expect(bitIdentical(perRank[step] as Float32Array, expected)).toBe(true);
    }
  });
});
