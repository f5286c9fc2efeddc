/**
 * What the coordinator port lets in before a connection has authenticated, over real sockets:
 * a frame larger than a hello is cut before it is buffered whole, connections beyond the
 * unauthenticated cap and handshakes beyond the rate are refused with HTTP 503, each refusal is
 * counted by reason in /metrics and logged at a bounded pace, and a real worker still joins.
 */
import { get } from 'node:http';
import { afterEach, describe, expect, it } from 'vitest';
import WebSocket from 'ws';
import { closeServers, connect, hello, startServer, TOKEN } from './server-harness.ts';

afterEach(closeServers);

function metricsText(port: number): Promise<string> {
  return new Promise((resolve, reject) => {
    get({ host: '127.0.0.1', port, path: '/metrics' }, (res) => {
      let text = '';
      res.on('data', (c: Buffer) => (text += c.toString()));
      res.on('end', () => resolve(text));
    }).on('error', reject);
  });
}

async function refusedCount(port: number, reason: string): Promise<number> {
  const match = new RegExp(`^ringtrain_connections_refused_total\\{reason="${reason}"\\} (\\d+)`, 'm').exec(await metricsText(port));
  return Number(match?.[1] ?? NaN);
}

/** Opens a WebSocket and resolves with the HTTP status of a refused handshake, or 101. */
function handshakeStatus(url: string): Promise<{ status: number; socket: WebSocket }> {
  const socket = new WebSocket(url);
  return new Promise((resolve) => {
    socket.once('open', () => resolve({ status: 101, socket }));
    socket.once('unexpected-response', (_req, res) => resolve({ status: res.statusCode ?? 0, socket }));
    socket.on('error', () => {});
  });
}

describe('the coordinator port before authentication', () => {
  it('cuts a connection that sends more than a hello before its hello, and still lets a worker join', async () => {
    const lines: string[] = [];
    const { url, port } = await startServer({ maxHelloBytes: 4096 }, lines);
    const stranger = await connect(url);
    stranger.socket.send(new Uint8Array(1 << 20));
    expect((await stranger.closed).code).toBe(1009);
    expect(stranger.received[0]).toMatchObject({ type: 'error', code: 'RINGTRAIN_HELLO_TOO_BIG' });
    expect(await refusedCount(port, 'hello_too_big')).toBe(1);
    expect(lines.some((l) => /sent \d+ bytes before a hello \(maxHelloBytes 4096\)/.test(l))).toBe(true);
    const worker = await connect(url);
    worker.socket.send(hello('w1'));
    await expect.poll(() => worker.received[0]?.type).toBe('welcome');
    // Past its hello a worker may send frames far larger than a hello: this one is refused for
    // what it says (nothing of the protocol), not for its size.
    worker.socket.send(new Uint8Array(1 << 20));
    expect((await worker.closed).code).not.toBe(1009);
    expect(worker.received.filter((m) => m.type === 'error').map((m) => m.type === 'error' && m.code)).not.toContain('RINGTRAIN_HELLO_TOO_BIG');
  });

  it('refuses connections beyond the unauthenticated cap with 503 until one says hello', async () => {
    const { url, port } = await startServer({ maxUnauthenticatedConnections: 3 });
    const idle = await Promise.all([connect(url), connect(url), connect(url)]);
    const refused = await handshakeStatus(url);
    expect(refused.status).toBe(503);
    expect(await refusedCount(port, 'unauthenticated_limit')).toBe(1);
    idle[0]?.socket.send(hello('w1'));
    await expect.poll(() => idle[0]?.received[0]?.type).toBe('welcome');
    const admitted = await handshakeStatus(url);
    expect(admitted.status).toBe(101);
    admitted.socket.close();
    // A connection that closes before its hello frees its place too.
    idle[1]?.socket.close();
    await idle[1]?.closed;
    await expect.poll(async () => (await handshakeStatus(url)).status).toBe(101);
  });

  it('takes handshakes at the configured rate, counts each refusal and logs a flood in a few lines', async () => {
    let now = 1_000_000;
    const lines: string[] = [];
    const { url, port } = await startServer({ maxHandshakesPerSecond: 2, maxUnauthenticatedConnections: 1000 }, lines, { clock: () => now });
    expect((await handshakeStatus(url)).status).toBe(101);
    expect((await handshakeStatus(url)).status).toBe(101);
    const statuses = await Promise.all(Array.from({ length: 20 }, () => handshakeStatus(url)));
    expect(statuses.map((s) => s.status)).toEqual(Array.from({ length: 20 }, () => 503));
    expect(await refusedCount(port, 'handshake_rate')).toBe(20);
    expect(lines.filter((l) => l.includes('maxHandshakesPerSecond')).length).toBe(1);
    now += 1000;
    expect((await handshakeStatus(url)).status).toBe(101);
    // Wrong tokens, too, are counted each and logged once per interval.
    now += 1000;
    for (let i = 0; i < 2; i++) {
      const intruder = await connect(url);
      intruder.socket.send(hello(`intruder-${i}`, `${TOKEN}-wrong`));
      await intruder.closed;
    }
    expect(await refusedCount(port, 'bad_token')).toBe(2);
    expect(lines.filter((l) => l.includes('wrong token')).length).toBe(1);
  });
});
