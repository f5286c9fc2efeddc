import { once } from 'node:events';
import type { AddressInfo } from 'node:net';
import { PROTOCOL_VERSION, encodePeerChunk, encodePeerChunkHeader } from '@ringtrain/protocol';
import type { PeerChunk } from '@ringtrain/protocol';
import { WebSocket, WebSocketServer } from 'ws';
import { afterEach, describe, expect, it } from 'vitest';
import { ALLREDUCE_DEFAULTS, AllReduceMismatchError, PeerConnectError, PeerLinkLostError, startPeerServer } from '../../src/allreduce/index.ts';
import type { PeerServer } from '../../src/allreduce/index.ts';
import { TOKEN, helloFrame, knock, localRing, recordingLogger } from './peers.ts';
import type { LocalRing } from './peers.ts';
import { bitIdentical, exactSum, firstOutOfTolerance, rankVector } from './vectors.ts';

const cleanups: (() => Promise<void>)[] = [];
afterEach(async () => {
  await Promise.all(cleanups.splice(0).map((cleanup) => cleanup()));
});
async function ringOf(worldSize: number, options: Parameters<typeof localRing>[1] = {}): Promise<LocalRing> {
  const ring = await localRing(worldSize, options);
  cleanups.push(ring.close);
  return ring;
}
async function server(options: Partial<Parameters<typeof startPeerServer>[0]> = {}): Promise<PeerServer> {
  const started = await startPeerServer({ token: TOKEN, ...options });
  cleanups.push(() => started.close());
  return started;
}

async function allReduceAndCheck(ring: LocalRing, length: number, seed: number): Promise<void> {
  const inputs = ring.rings.map((_, rank) => rankVector(length, rank, seed));
  const results = await Promise.all(ring.rings.map((r, rank) => r.allReduce((inputs[rank] as Float32Array).slice())));
  const { sum, magnitude } = exactSum(inputs);
  for (const result of results) {
    expect(firstOutOfTolerance(result.data, sum, magnitude)).toBe(-1);
    expect(bitIdentical(result.data, results[0]?.data as Float32Array)).toBe(true);
  }
}

describe('a ring over real WebSockets on 127.0.0.1', () => {
  it.each([2, 3, 4])('of %i workers sums exactly and identically, step after step', async (worldSize) => {
    const ring = await ringOf(worldSize, { maxBucketBytes: 4096 });
    for (let step = 0; step < 3; step++) await allReduceAndCheck(ring, 10_007, step);
  });

  it('carries a vector of several default-size buckets', async () => {
    const ring = await ringOf(2);
    await allReduceAndCheck(ring, 2 * (ALLREDUCE_DEFAULTS.maxBucketBytes / 4) + 1, 5);
  });

  it('forms whatever order the workers join in', async () => {
    const servers = await Promise.all([0, 1, 2].map(() => server()));
    const members = servers.map((s, rank) => ({ rank, workerId: `w${rank}`, address: s.address }));
    const joins = servers.map(async (s, rank) => {
      await new Promise((resolve) => setTimeout(resolve, [300, 0, 120][rank]));
      return s.joinRing({ generation: 4, rank, worldSize: 3, ring: members, maxBucketBytes: 1024 });
    });
    const rings = await Promise.all(joins);
    cleanups.push(async () => void (await Promise.all(rings.map((r) => r.close()))));
    await allReduceAndCheck({ servers, rings, members, close: async () => {} }, 999, 1);
  });

  it('needs no links in a world of one', async () => {
    const solo = await server();
    const ring = await solo.joinRing({ generation: 1, rank: 0, worldSize: 1, ring: [{ rank: 0, workerId: 'w0', address: solo.address }] });
    const vector = rankVector(5, 0);
    expect((await ring.allReduce(vector.slice())).data).toEqual(vector);
  });

  it('reports a predecessor that is not there, naming it and its address', async () => {
    const me = await server();
    const absent = await startPeerServer({ token: TOKEN });
    const address = absent.address;
    await absent.close();
    const ring = [
      { rank: 0, workerId: 'gone', address },
      { rank: 1, workerId: 'me', address: me.address },
    ];
    const error = await me.joinRing({ generation: 1, rank: 1, worldSize: 2, ring, connectTimeoutMs: 400 }).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(PeerConnectError);
    // Rank 0 is rank 1's successor too, so both halves of the ring fail.
    const message = (error as Error).message;
    expect(message).toMatch(new RegExp(`^could not reach rank 0 \\(rank 1's ring predecessor\\) at 127\\.0\\.0\\.1:${address.port}.*ECONNREFUSED`));
    expect(message).toContain("; and rank 0 (rank 1's ring successor) did not connect within 400 ms");
  });

  it('refuses to join a generation older than the one it is in', async () => {
    const solo = await server();
    const ring = [{ rank: 0, workerId: 'w0', address: solo.address }];
    await solo.joinRing({ generation: 5, rank: 0, worldSize: 1, ring });
    await expect(solo.joinRing({ generation: 4, rank: 0, worldSize: 1, ring })).rejects.toThrow(/generation 4 is not newer than the generation already joined \(5\)/);
  });
});

describe('peers that break the rules at a peer server', () => {
  const cases: [string, () => (Uint8Array | string)[], number, string][] = [
    ['a wrong token', () => [helloFrame({ token: 'not-the-token' })], 1008, 'RINGTRAIN_BAD_TOKEN'],
    ['a garbage frame', () => [Uint8Array.from([0xde, 0xad, 0xbe, 0xef, 0x01])], 1002, 'RINGTRAIN_MALFORMED_FRAME'],
    ['a wrong protocol version', () => [helloFrame({ v: PROTOCOL_VERSION + 1 })], 1002, 'RINGTRAIN_WRONG_VERSION'],
    ['a text frame', () => ['{"type":"peer-hello"}'], 1003, 'RINGTRAIN_UNSUPPORTED_DATA'],
    ['a chunk instead of a hello', () => [encodePeerChunk({ generation: 1, step: 0, bucket: 0, phase: 'reduce-scatter', round: 0, segment: 0, data: new Float32Array(2) })], 1008, 'RINGTRAIN_UNEXPECTED_MESSAGE'],
    ['a rank that is not the successor', () => [helloFrame({ rank: 2 })], 1008, 'RINGTRAIN_PEER_HANDSHAKE'],
    ['a second connection for the successor', () => [helloFrame({ rank: 1 })], 1008, 'RINGTRAIN_PEER_HANDSHAKE'],
    ['a stale generation', () => [helloFrame({ rank: 1, generation: 0 })], 1008, 'RINGTRAIN_PEER_HANDSHAKE'],
  ];

  it.each(cases)('refuses %s with close code %i and %s, and the honest ring carries on', async (_name, frames, closeCode, errorCode) => {
    const logger = recordingLogger();
    const ring = await ringOf(3, { logger, maxBucketBytes: 1024 });
    const refusal = await knock(ring.servers[0]?.address as never, frames());
    expect(refusal.code).toBe(closeCode);
    expect(refusal.reason.startsWith(errorCode)).toBe(true);
    expect(refusal.errors.map((e) => e.code)).toEqual([errorCode]);
    expect(logger.warnings.some((w) => w.includes(errorCode))).toBe(true);
    await allReduceAndCheck(ring, 3_001, 9);
  });

  it('refuses a frame over its size limit with close code 1009, and the honest ring carries on', async () => {
    const logger = recordingLogger();
    const ring = await ringOf(2, { logger });
    const refusal = await knock(ring.servers[1]?.address as never, [new Uint8Array(65 * 1024)]);
    expect(refusal.code).toBe(1009);
    expect(logger.warnings.some((w) => /Max payload size exceeded/.test(w))).toBe(true);
    await allReduceAndCheck(ring, 3_001, 2);
  });

  it('refuses a peer that says nothing within helloTimeoutMs', async () => {
    const quiet = await server({ helloTimeoutMs: 200 });
    const refusal = await knock(quiet.address, []);
    expect(refusal.code).toBe(1008);
    expect(refusal.errors[0]?.message).toMatch(/^no peer-hello from 127\.0\.0\.1:\d+ within 200 ms$/);
  });

  it('bounds connections that have not said peer-hello, counts every refusal by reason and logs a flood in a line per reason', async () => {
    const logger = recordingLogger();
    const refused: string[] = [];
    const guarded = await server({ logger, maxUnauthenticated: 2, maxHandshakesPerSecond: 1000, onRefused: (reason) => refused.push(reason) });
    const url = `ws://${guarded.address.host}:${guarded.address.port}/`;
    const open = (): Promise<{ status: number; socket: WebSocket }> =>
      new Promise((resolve) => {
        const socket = new WebSocket(url, { perMessageDeflate: false });
        socket.on('error', () => {});
        socket.once('open', () => resolve({ status: 101, socket }));
        socket.once('unexpected-response', (_req, res) => resolve({ status: res.statusCode ?? 0, socket }));
      });
    const idle = [await open(), await open()];
    expect(idle.map((c) => c.status)).toEqual([101, 101]);
    expect((await open()).status).toBe(503);
    expect(refused).toEqual(['unauthenticated_limit']);
    idle[0]?.socket.close();
    await expect.poll(async () => (await open()).status).toBe(101);
    // Five wrong tokens: five refusals counted, one line in the log.
    idle[1]?.socket.terminate();
    for (let i = 0; i < 5; i++) await knock(guarded.address, [helloFrame({ token: `wrong-${i}` })]);
    expect(refused.filter((r) => r === 'bad_token')).toHaveLength(5);
    expect(logger.warnings.filter((w) => w.includes('RINGTRAIN_BAD_TOKEN'))).toHaveLength(1);
    // An oversized first frame is counted as such.
    await knock(guarded.address, [new Uint8Array(65 * 1024)]);
    expect(refused).toContain('hello_too_big');
  });

  it('refuses handshakes beyond its rate with 503, and a real peer still gets in after the flood', async () => {
    const refused: string[] = [];
    const limited = await server({ maxHandshakesPerSecond: 3, onRefused: (reason) => refused.push(reason) });
    const other = await server();
    const statuses = await Promise.all(
      Array.from(
        { length: 10 },
        () =>
          new Promise<number>((resolve) => {
            const socket = new WebSocket(`ws://${limited.address.host}:${limited.address.port}/`, { perMessageDeflate: false });
            socket.on('error', () => {});
            socket.once('open', () => {
              socket.terminate();
              resolve(101);
            });
            socket.once('unexpected-response', (_req, res) => resolve(res.statusCode ?? 0));
          }),
      ),
    );
    expect(statuses.filter((s) => s === 101).length).toBeLessThanOrEqual(3);
    expect(statuses.filter((s) => s === 503).length).toBeGreaterThanOrEqual(7);
    expect(refused.filter((r) => r === 'handshake_rate').length).toBe(statuses.filter((s) => s === 503).length);
    // Rank 1 dials the limited server (rank 0) right after the flood: refused until the rate
    // allows it, it dials again, and the ring forms and all-reduces exactly.
    const members = [limited, other].map((s, rank) => ({ rank, workerId: `worker-${rank}`, address: s.address }));
    const rings = await Promise.all([limited, other].map((s, rank) => s.joinRing({ generation: 1, rank, worldSize: 2, ring: members, maxBucketBytes: 4096 })));
    await allReduceAndCheck({ servers: [limited, other], rings, members, close: async () => {} }, 3_001, 5);
    await Promise.all(rings.map((r) => r.close()));
  });

  it('refuses bad peers of every kind at once while the ring all-reduces', async () => {
    const ring = await ringOf(3, { maxBucketBytes: 4096 });
    const knocks = ring.servers.flatMap((s) => cases.map(([, frames]) => knock(s.address, frames())));
    const [refusals] = await Promise.all([Promise.all(knocks), allReduceAndCheck(ring, 100_000, 3)]);
    expect(refusals.every((r) => r.code === 1008 || r.code === 1002 || r.code === 1003)).toBe(true);
    await allReduceAndCheck(ring, 100_000, 4);
  });
});

describe('a predecessor that breaks the rules', () => {
  /**
   * Rank 1 is real; rank 0 is played by the test: it answers rank 1's dial with a proper
   * peer-hello, dials rank 1 as its successor, then sends `frames` on the link rank 1 reads.
   */
  async function withFakePredecessor(send: (socket: WebSocket) => void, vectorLength = 8) {
    const fake = new WebSocketServer({ host: '127.0.0.1', port: 0 });
    await once(fake, 'listening');
    cleanups.push(() => new Promise((resolve) => fake.close(() => resolve())));
    const closed = new Promise<{ code: number; reason: string }>((resolve) => {
      fake.on('connection', (socket) => {
        socket.once('message', () => {
          socket.send(helloFrame({ rank: 0 }));
          send(socket);
        });
        socket.on('close', (code, reason) => resolve({ code, reason: reason.toString('utf8') }));
      });
    });
    const real = await server();
    const members = [
      { rank: 0, workerId: 'fake', address: { host: '127.0.0.1', port: (fake.address() as AddressInfo).port } },
      { rank: 1, workerId: 'real', address: real.address },
    ];
    const successor = new WebSocket(`ws://127.0.0.1:${real.address.port}/`);
    successor.on('open', () => successor.send(helloFrame({ rank: 0 })));
    successor.on('error', () => {});
    cleanups.push(async () => successor.terminate());
    const ring = await real.joinRing({ generation: 1, rank: 1, worldSize: 2, ring: members, maxBucketBytes: 1024, stallTimeoutMs: 5000 });
    const error = await ring.allReduce(new Float32Array(vectorLength), { step: 0 }).catch((e: unknown) => e as Error);
    return { error, closed: await closed };
  }

  const chunk = (fields: Partial<PeerChunk> = {}): PeerChunk => ({
    generation: 1,
    step: 0,
    bucket: 0,
    phase: 'reduce-scatter',
    round: 0,
    segment: 0,
    data: new Float32Array(4),
    ...fields,
  });

  it.each([
    ['a chunk larger than the link accepts', (s: WebSocket) => s.send(encodePeerChunk(chunk({ data: new Float32Array(300) }))), 1009, 'RINGTRAIN_FRAME_TOO_LARGE'],
    [
      'a chunk shorter than its header announces',
      (s: WebSocket) => {
        s.send(encodePeerChunkHeader(chunk()), { fin: false });
        s.send(new Uint8Array(12), { fin: true });
      },
      1002,
      'RINGTRAIN_BAD_FIELD',
    ],
    ['a garbage frame', (s: WebSocket) => s.send(Uint8Array.from([0xde, 0xad, 0xbe, 0xef])), 1002, 'RINGTRAIN_MALFORMED_FRAME'],
    ['a text frame', (s: WebSocket) => s.send('hello'), 1003, 'RINGTRAIN_UNSUPPORTED_DATA'],
    [
      'a chunk of another protocol version',
      (s: WebSocket) => {
        const frame = encodePeerChunk(chunk());
        frame[1] = PROTOCOL_VERSION + 1;
        s.send(frame);
      },
      1002,
      'RINGTRAIN_WRONG_VERSION',
    ],
    ['a second peer-hello', (s: WebSocket) => s.send(helloFrame({ rank: 0 })), 1008, 'RINGTRAIN_UNEXPECTED_MESSAGE'],
  ] as const)('refuses %s: the link closes with %i and the all-reduce fails naming %s', async (_name, send, closeCode, errorCode) => {
    const { error, closed } = await withFakePredecessor(send);
    expect(closed.code).toBe(closeCode);
    expect(closed.reason.startsWith(errorCode)).toBe(true);
    expect(error).toBeInstanceOf(PeerLinkLostError);
    expect((error as Error).message).toContain(`rank 1 refused a frame from rank 0: ${errorCode}`);
  });

  it('fails the all-reduce when a well-formed chunk has the wrong length, naming both ranks', async () => {
    const { error, closed } = await withFakePredecessor((s) => s.send(encodePeerChunk(chunk({ data: new Float32Array(3) }))));
    expect(error).toBeInstanceOf(AllReduceMismatchError);
    expect((error as Error).message).toBe('bucket 0 at step 0: rank 0 sent 12 bytes, rank 1 expected 16');
    expect(closed.code).toBe(1008);
    expect(closed.reason).toMatch(/^RINGTRAIN_ALLREDUCE_MISMATCH/);
  });

  it('reads a chunk split into many fragments with pings in between', async () => {
    const data = Float32Array.from({ length: 4 }, (_, i) => i + 0.5);
    const { error } = await withFakePredecessor((s) => {
      const frame = encodePeerChunk(chunk({ data }));
      for (let offset = 0; offset < frame.length; offset += 5) {
        s.send(frame.subarray(offset, offset + 5), { fin: offset + 5 >= frame.length });
        s.ping();
      }
      s.close(1000, 'done');
    });
    // The chunk is accepted; the step then fails only because the fake never finishes the ring.
    expect(error).toBeInstanceOf(PeerLinkLostError);
    expect((error as Error).message).toMatch(/closed \(close code 1000 "done"\)/);
  });
});
