/**
 * A rank whose successor has gone while chunks from its predecessor are still queued: its sends
 * fail between two receives. The call must reject with the send's failure at once (not wait for
 * the predecessor or the stall timeout), and leave no receive behind whose later rejection (the
 * ring closing) nobody handles, which would crash the worker.
 */
import { PROTOCOL_VERSION, type PeerChunkMessage } from '@ringtrain/protocol';
import { describe, expect, it } from 'vitest';
import { PeerLinkLostError, RingAllReduce, RingClosedError } from '../../src/allreduce/index.ts';
import type { PeerTransport } from '../../src/allreduce/index.ts';

/** Rank 0 of 2; the predecessor's reduce-scatter chunks of two buckets are queued already. */
function transportWithQueuedChunks(): PeerTransport & { pendingReceives: number } {
  const queued: PeerChunkMessage[] = [0, 1].map((bucket) => ({
    v: PROTOCOL_VERSION,
    type: 'peer-chunk',
    generation: 0,
    step: 0,
    bucket,
    phase: 'reduce-scatter',
    round: 0,
    segment: 1,
    data: new Float32Array(2),
  }));
  const transport = {
    rank: 0,
    worldSize: 2,
    generation: 0,
    maxChunkBytes: Number.POSITIVE_INFINITY,
    pendingReceives: 0,
    // The successor is gone: every send fails, a moment after it was made.
    send: () => new Promise<void>((_resolve, reject) => setImmediate(() => reject(new PeerLinkLostError('the link to rank 1 closed')))),
    receive: () => {
      const chunk = queued.shift();
      if (chunk !== undefined) return Promise.resolve(chunk);
      transport.pendingReceives += 1;
      // Nothing more arrives; the link fails when the ring is closed.
      return new Promise<PeerChunkMessage | undefined>((_resolve, reject) => setTimeout(() => reject(new RingClosedError("rank 0's ring is closed")), 20));
    },
    close: async () => {},
  };
  return transport;
}

describe('the ring all-reduce with a successor that is gone', () => {
  it('rejects with the failed send and leaves no unhandled receive behind', async () => {
    const unhandled: unknown[] = [];
    const onUnhandled = (reason: unknown): void => {
      unhandled.push(reason);
    };
    process.on('unhandledRejection', onUnhandled);
    try {
      const ring = new RingAllReduce(transportWithQueuedChunks(), { maxBucketBytes: 16, bucketsInFlight: 2 });
      await expect(ring.allReduce(new Float32Array(8), { step: 0 })).rejects.toThrow('the link to rank 1 closed');
      // Long enough for a forgotten receive to reject.
      await new Promise((r) => setTimeout(r, 60));
      expect(unhandled).toEqual([]);
    } finally {
      process.off('unhandledRejection', onUnhandled);
    }
  });
});
