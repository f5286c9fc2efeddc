/** The cluster benchmark's delay relay, over real sockets on loopback. */
import { createServer, connect, type AddressInfo, type Server, type Socket } from 'node:net';
import { randomBytes } from 'node:crypto';
import { afterEach, describe, expect, it } from 'vitest';
import { DelayRelay } from '../bench/delay-relay.ts';

const open: { close(): Promise<void> | void }[] = [];
afterEach(async () => {
  for (const o of open.splice(0)) await o.close();
});

/** A server that sends back whatever it reads. */
async function echoServer(): Promise<Server> {
  const server = createServer((socket) => socket.pipe(socket));
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  open.push({ close: () => new Promise<void>((resolve) => server.close(() => resolve())) });
  return server;
}

async function relayTo(server: Server, delayMs: number, maxHeldBytes?: number): Promise<DelayRelay> {
  const relay = await DelayRelay.start({
    listenHost: '127.0.0.1',
    listenPort: 0,
    targetHost: '127.0.0.1',
    targetPort: (server.address() as AddressInfo).port,
    delayMs,
    ...(maxHeldBytes === undefined ? {} : { maxHeldBytes }),
  });
  open.push(relay);
  return relay;
}

/** Sends `payload` through `port` and resolves with everything that comes back once as much arrived. */
function roundTrip(port: number, payload: Buffer): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const socket: Socket = connect(port, '127.0.0.1');
    const received: Buffer[] = [];
    let length = 0;
    socket.on('error', reject);
    socket.on('data', (chunk: Buffer) => {
      received.push(chunk);
      length += chunk.length;
      if (length >= payload.length) {
        socket.destroy();
        resolve(Buffer.concat(received));
      }
    });
    socket.write(payload);
  });
}

describe('the delay relay', () => {
  it.each([
    ['0 ms', 0, 1],
    ['0.2 ms', 0.2, 64 * 1024],
    ['3 ms', 3, 5 * 1024 * 1024 + 7],
  ])('carries every byte both ways in order with a delay of %s', async (_name, delayMs, size) => {
    const relay = await relayTo(await echoServer(), delayMs);
    const payload = randomBytes(size);
    const back = await roundTrip(relay.address.port, payload);
    expect(back.equals(payload)).toBe(true);
    const stats = relay.stats();
    expect(stats.connections).toBe(1);
    // Out to the echo server and back again; the last chunk is counted before it is written on.
    expect(stats.bytesRelayed).toBe(2 * size);
  });

  it('keeps the bytes intact when its hold bound pauses the source', async () => {
    const relay = await relayTo(await echoServer(), 1, 4096);
    const payload = randomBytes(3 * 1024 * 1024);
    expect((await roundTrip(relay.address.port, payload)).equals(payload)).toBe(true);
  });

  it('refuses a negative delay', async () => {
    await expect(DelayRelay.start({ listenHost: '127.0.0.1', listenPort: 0, targetHost: '127.0.0.1', targetPort: 1, delayMs: -1 })).rejects.toThrow(/delayMs must be a number ≥ 0/);
  });
});
