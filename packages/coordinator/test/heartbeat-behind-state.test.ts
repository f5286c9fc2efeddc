/**
 * A ping waits in the connection behind whatever the coordinator sent before it. A worker that
 * is slowly reading a large relayed state (a slow link, a busy host) cannot answer the
 * coordinator's pings until it has read what came first; its own pings, every interval that
 * `welcome` gave it, reach the coordinator all the same, and keep it heard. Once it falls silent
 * it is cut like any silent worker. Real sockets; the client reads one socket read at a time and
 * answers no ping by itself.
 */
import type { Socket } from 'node:net';
import { encodeMessage, PROTOCOL_VERSION } from '@ringtrain/protocol';
import { afterEach, describe, expect, it } from 'vitest';
import { closeServers, connect, hello, startServer } from './server-harness.ts';

afterEach(closeServers);

const STATE_BYTES = 48 * 1024 * 1024;

describe('heartbeats behind a large state', () => {
  it('keeps a worker that pings while it reads the state it is sent, and cuts it once it falls silent', async () => {
    const lines: string[] = [];
    const { url } = await startServer(
      { minWorkers: 1, maxWorkers: 1, heartbeatIntervalMs: 100, heartbeatTimeoutMs: 400, firstStepHeartbeatTimeoutMs: 400 },
      lines,
      { initialState: new Uint8Array(STATE_BYTES).fill(7) },
    );
    const client = await connect(url, { autoPong: false });
    let closed = false;
    void client.closed.then(() => (closed = true));
    client.socket.send(hello('slow-reader'));
    await expect.poll(() => client.received.some((m) => m.type === 'assign')).toBe(true);
    const welcome = client.received[0];
    expect(welcome).toMatchObject({ type: 'welcome', heartbeatIntervalMs: 100 });
    // The worker's own heartbeat.
    const pinger = setInterval(() => client.socket.ping(), 100);
    const assign = client.received.find((m) => m.type === 'assign');
    if (assign?.type !== 'assign') throw new Error('no assign');
    client.socket.send(encodeMessage({ v: PROTOCOL_VERSION, type: 'replica', generation: assign.generation, stepsDone: -1, abortedStep: -1, epoch: -1, offset: -1 }));

    // The socket under the WebSocket, to read it a little at a time.
    const raw = (client.socket as unknown as { _socket: Socket })._socket;
    let bytesRead = 0;
    raw.on('data', (chunk: Buffer) => (bytesRead += chunk.length));
    raw.pause();
    /** One socket read, then a pause. */
    const drip = (): Promise<void> =>
      new Promise((resolve) => {
        raw.once('data', () => {
          raw.pause();
          resolve();
        });
        raw.resume();
      });
    // Twenty reads, one every 100 ms: five times the heartbeat timeout, far slower than the
    // coordinator sends, with the coordinator's pings behind the rest of the state all along.
    for (let reads = 0; reads < 20 && !closed; reads++) {
      await drip();
      await new Promise((r) => setTimeout(r, 100));
    }
    expect(bytesRead).toBeLessThan(STATE_BYTES / 2);
    expect(closed, lines.join('\n')).toBe(false);
    expect(lines.some((l) => l.includes('no heartbeat answer'))).toBe(false);
    // Stops reading and pinging: silent from now on, and cut.
    clearInterval(pinger);
    await expect.poll(() => lines.some((l) => l.includes('worker slow-reader: no heartbeat answer')), { timeout: 10_000 }).toBe(true);
    raw.resume();
    await client.closed;
  }, 60_000);
});
