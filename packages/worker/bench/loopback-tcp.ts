/**
 * Raw loopback TCP between two bench processes over one plain `net` connection: the reference
 * the all-reduce's bandwidth is read against. The sender writes 1 MiB buffers as fast as the
 * socket takes them; the receiver reads into a reused 1 MiB buffer (`onread`, what the loopback
 * can carry without Node's per-read allocations) and answers one byte once a transfer is
 * complete. A transfer is timed by the sender, from its first write to that answer, as an
 * all-reduce is timed from its call to its last send.
 *
 * The connection stays open across transfers, as the ring's links do, so the bench can
 * interleave transfers with all-reduce calls and both see the same load. The sender listens
 * (`onread` exists only on the connecting side).
 *
 * A transfer may instead go from and into memory of its own length (`fromMemory`/`intoMemory`),
 * as the ring reads its vector and writes the chunks it receives: memory far larger than the
 * caches, where the 1 MiB block and read buffer stay in them.
 */
import { connect, createServer } from 'node:net';
import type { AddressInfo, Server, Socket } from 'node:net';

const WRITE_BYTES = 1 << 20;
const READ_BYTES = 1 << 20;

/** The sending end. */
export class RawStreamSender {
  readonly #server: Server;
  readonly #connected: Promise<Socket>;
  readonly #block = Buffer.alloc(WRITE_BYTES, 0x5a);
  readonly #memory = new TransferMemory(0x5a);
  #onAck: (() => void) | undefined;

  private constructor(server: Server) {
    this.#server = server;
    this.#connected = new Promise((resolve) => {
      server.once('connection', (socket: Socket) => {
        socket.setNoDelay(true);
        socket.on('error', () => {});
        socket.on('data', () => {
          const done = this.#onAck;
          this.#onAck = undefined;
          done?.();
        });
        resolve(socket);
      });
    });
  }

  static async listen(): Promise<RawStreamSender> {
    const server = createServer();
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(0, '127.0.0.1', () => resolve());
    });
    return new RawStreamSender(server);
  }

  get port(): number {
    return (this.#server.address() as AddressInfo).port;
  }

  /**
   * Streams `bytes` and resolves with the milliseconds until the receiver acknowledged them, and
   * the CPU time (user + system) this sending process spent meanwhile.
   */
  async send(bytes: number, fromMemory = false): Promise<{ durationMs: number; cpuMs: number }> {
    const socket = await this.#connected;
    const source = fromMemory ? this.#memory.of(bytes) : undefined;
    const startedAt = performance.now();
    const cpuBefore = process.cpuUsage();
    return new Promise((resolve) => {
      this.#onAck = () => {
        const cpu = process.cpuUsage(cpuBefore);
        resolve({ durationMs: performance.now() - startedAt, cpuMs: (cpu.user + cpu.system) / 1000 });
      };
      let sent = 0;
      const pump = (): void => {
        while (sent < bytes) {
          const take = Math.min(WRITE_BYTES, bytes - sent);
          const block = source?.subarray(sent, sent + take) ?? (take === WRITE_BYTES ? this.#block : this.#block.subarray(0, take));
          sent += take;
          if (!socket.write(block)) {
            socket.once('drain', pump);
            return;
          }
        }
      };
      pump();
    });
  }

  async close(): Promise<void> {
    this.#server.close();
    (await this.#connected).destroy();
  }
}

/** The receiving end: counts what arrives and acknowledges each expected transfer. */
export class RawStreamReceiver {
  #socket: Socket | undefined;
  #expected = 0;
  #received = 0;

  static connect(port: number): Promise<RawStreamReceiver> {
    const receiver = new RawStreamReceiver();
    return new Promise((resolve, reject) => {
      const socket = connect({
        port,
        host: '127.0.0.1',
        noDelay: true,
        onread: { buffer: () => receiver.#nextReadBuffer(), callback: (bytes) => (receiver.#count(bytes), true) },
      });
      receiver.#socket = socket;
      socket.once('error', reject);
      socket.once('connect', () => resolve(receiver));
    });
  }

  #cpuBefore: NodeJS.CpuUsage | undefined;
  /** CPU time (user + system) this process spent on the last complete transfer. */
  lastCpuMs = 0;

  readonly #readBuffer = Buffer.allocUnsafe(READ_BYTES);
  readonly #memory = new TransferMemory(0);
  /** Where the current transfer is read to with `intoMemory`. */
  #destination: Buffer | undefined;
  #onComplete: (() => void) | undefined;

  /**
   * The next transfer carries `bytes`, read into the 1 MiB read buffer or, with `intoMemory`,
   * into memory of the transfer's length; resolves once all have arrived.
   */
  expect(bytes: number, intoMemory = false): Promise<void> {
    this.#expected = bytes;
    this.#received = 0;
    this.#destination = intoMemory ? this.#memory.of(bytes) : undefined;
    this.#cpuBefore = process.cpuUsage();
    return new Promise((resolve) => (this.#onComplete = resolve));
  }

  #nextReadBuffer(): Uint8Array {
    const destination = this.#destination;
    if (destination === undefined || this.#received >= destination.length) return this.#readBuffer;
    return destination.subarray(this.#received, Math.min(destination.length, this.#received + READ_BYTES));
  }

  #count(bytes: number): void {
    this.#received += bytes;
    if (this.#expected > 0 && this.#received >= this.#expected) {
      this.#expected = 0;
      this.#socket?.write(Buffer.of(1));
      const cpu = process.cpuUsage(this.#cpuBefore);
      this.lastCpuMs = (cpu.user + cpu.system) / 1000;
      const complete = this.#onComplete;
      this.#onComplete = undefined;
      complete?.();
    }
  }

  close(): void {
    this.#socket?.destroy();
  }
}

/** One buffer per transfer length, kept across transfers so that none pays for allocating it. */
class TransferMemory {
  #buffer: Buffer | undefined;

  constructor(readonly fill: number) {}

  of(bytes: number): Buffer {
    if (this.#buffer?.length !== bytes) this.#buffer = Buffer.alloc(bytes, this.fill);
    return this.#buffer;
  }
}
