/**
 * A TCP forwarder that adds a fixed one-way delay: every chunk read from either side is held for
 * `delayMs` and then written to the other. The cluster benchmark puts one in front of each
 * worker's peer port, because this machine's kernel has rate shaping (`tbf`) but no `netem`.
 *
 * Node's timers tick in whole milliseconds, too coarse for a delay of 0.05 ms, so a small thread
 * of the relay's own sleeps until the next release with `Atomics.wait` (no spinning) and wakes the
 * relay, whose event loop meanwhile goes on reading. Releases are therefore late by a thread's
 * wake-up on a busy machine; the relay counts the holds it achieved (`stats().meanHoldMs`, from
 * read to write) so that the benchmark can say what it got.
 */
import { createServer, connect, type AddressInfo, type Server, type Socket } from 'node:net';
import { Worker as Thread } from 'node:worker_threads';

export interface DelayRelayOptions {
  listenHost: string;
  listenPort: number;
  targetHost: string;
  targetPort: number;
  /** One-way delay added to each direction. */
  delayMs: number;
  /**
   * Bytes held for one direction of one connection before reading from its source pauses.
   * @default 8388608 (8 MiB)
   */
  maxHeldBytes?: number;
}

export interface DelayRelayStats {
  connections: number;
  bytesRelayed: number;
  chunksRelayed: number;
  /** Mean time from reading a chunk to writing it on. */
  meanHoldMs: number;
}

interface Held {
  releaseAt: number;
  readAt: number;
  chunk: Buffer | null;
  to: Socket;
  direction: Direction;
}

interface Direction {
  from: Socket;
  heldBytes: number;
}

/** The sleeper: told a time (ms since the process's time origin), it waits until then and says so. */
const SLEEPER = `
const { parentPort } = require('node:worker_threads');
const cell = new Int32Array(new SharedArrayBuffer(4));
parentPort.on('message', (wakeAt) => {
  const remaining = wakeAt - (performance.timeOrigin + performance.now());
  if (remaining > 0) Atomics.wait(cell, 0, 0, remaining);
  parentPort.postMessage(0);
});`;

export class DelayRelay {
  readonly #server: Server;
  readonly #queue: Held[] = [];
  readonly #sockets = new Set<Socket>();
  readonly #maxHeldBytes: number;
  readonly #sleeper: Thread;
  #sleeping = false;
  #stats = { connections: 0, bytesRelayed: 0, chunksRelayed: 0, holdMsSum: 0 };

  private constructor(readonly options: DelayRelayOptions) {
    if (!Number.isFinite(options.delayMs) || options.delayMs < 0) throw new Error(`delayMs must be a number ≥ 0, got ${String(options.delayMs)}`);
    this.#maxHeldBytes = options.maxHeldBytes ?? 8 * 1024 * 1024;
    this.#server = createServer((client) => this.#accept(client));
    this.#sleeper = new Thread(SLEEPER, { eval: true });
    this.#sleeper.unref();
    this.#sleeper.on('message', () => {
      this.#sleeping = false;
      this.#flush();
    });
  }

  static async start(options: DelayRelayOptions): Promise<DelayRelay> {
    const relay = new DelayRelay(options);
    await new Promise<void>((resolve, reject) => {
      relay.#server.once('error', reject);
      relay.#server.listen(options.listenPort, options.listenHost, () => resolve());
    });
    return relay;
  }

  get address(): AddressInfo {
    return this.#server.address() as AddressInfo;
  }

  stats(): DelayRelayStats {
    const s = this.#stats;
    return { connections: s.connections, bytesRelayed: s.bytesRelayed, chunksRelayed: s.chunksRelayed, meanHoldMs: s.chunksRelayed === 0 ? 0 : s.holdMsSum / s.chunksRelayed };
  }

  async close(): Promise<void> {
    for (const socket of this.#sockets) socket.destroy();
    await this.#sleeper.terminate();
    await new Promise<void>((resolve) => this.#server.close(() => resolve()));
  }

  #accept(client: Socket): void {
    this.#stats.connections += 1;
    const upstream = connect(this.options.targetPort, this.options.targetHost);
    for (const socket of [client, upstream]) {
      socket.setNoDelay(true);
      this.#sockets.add(socket);
      socket.once('close', () => {
        this.#sockets.delete(socket);
        client.destroy();
        upstream.destroy();
      });
      socket.on('error', () => socket.destroy());
    }
    this.#pipe(client, upstream);
    this.#pipe(upstream, client);
  }

  #pipe(from: Socket, to: Socket): void {
    const direction: Direction = { from, heldBytes: 0 };
    from.on('data', (chunk: Buffer) => {
      const now = performance.now();
      this.#queue.push({ releaseAt: now + this.options.delayMs, readAt: now, chunk, to, direction });
      direction.heldBytes += chunk.length;
      if (direction.heldBytes + to.writableLength > this.#maxHeldBytes) from.pause();
      this.#flush();
    });
    from.once('end', () => {
      const now = performance.now();
      this.#queue.push({ releaseAt: now + this.options.delayMs, readAt: now, chunk: null, to, direction });
      this.#flush();
    });
    to.on('drain', () => {
      if (direction.heldBytes + to.writableLength <= this.#maxHeldBytes) from.resume();
    });
  }

  #flush = (): void => {
    for (;;) {
      const next = this.#queue[0];
      if (next === undefined) return;
      if (next.releaseAt > performance.now()) {
        if (!this.#sleeping) {
          this.#sleeping = true;
          this.#sleeper.postMessage(performance.timeOrigin + next.releaseAt);
        }
        return;
      }
      this.#queue.shift();
      this.#release(next);
    }
  };

  #release(held: Held): void {
    const { chunk, to, direction } = held;
    if (chunk === null) {
      to.end();
      return;
    }
    direction.heldBytes -= chunk.length;
    this.#stats.bytesRelayed += chunk.length;
    this.#stats.chunksRelayed += 1;
    this.#stats.holdMsSum += performance.now() - held.readAt;
    if (to.destroyed) return;
    to.write(chunk);
    // Reading pauses while this direction holds more than its bound, here or in the socket's buffer.
    if (direction.heldBytes + to.writableLength > this.#maxHeldBytes) direction.from.pause();
    else if (direction.from.isPaused()) direction.from.resume();
  }
}
