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
 * A connection made `inMemory` sends from and reads into memory of each transfer's length
 * instead, as the ring reads its vector and writes the chunks it receives: for the larger
 * vectors far larger than a core's 2 MiB L2, where the 1 MiB block and read buffer stay in it. The
 * mode is the connection's, not a transfer's: Node asks for the buffer of the next read as the
 * last one ends, before the next transfer is announced.
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
  readonly #memory: TransferMemory | undefined;
  #onAck: (() => void) | undefined;

  private constructor(server: Server, inMemory: boolean) {
    this.#server = server;
    this.#memory = inMemory ? new TransferMemory(0x5a) : undefined;
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

  static async listen(inMemory = false): Promise<RawStreamSender> {
    const server = createServer();
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(0, '127.0.0.1', () => resolve());
    });
    return new RawStreamSender(server, inMemory);
  }

  get port(): number {
    return (this.#server.address() as AddressInfo).port;
  }

  /**
   * Streams `bytes` and resolves with the milliseconds until the receiver acknowledged them, and
   * the CPU time (user + system) this sending process spent meanwhile.
   */
  async send(bytes: number): Promise<{ durationMs: number; cpuMs: number }> {
    const socket = await this.#connected;
    const source = this.#memory?.of(bytes);
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

  readonly #readBuffer = Buffer.allocUnsafe(READ_BYTES);
  readonly #memory: TransferMemory | undefined;
  /** Where an `inMemory` connection reads to: the last announced transfer's memory. */
  #destination: Buffer | undefined;
  #onComplete: (() => void) | undefined;

  private constructor(inMemory: boolean) {
    this.#memory = inMemory ? new TransferMemory(0) : undefined;
  }

  static connect(port: number, inMemory = false): Promise<RawStreamReceiver> {
    const receiver = new RawStreamReceiver(inMemory);
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

  /** The next transfer carries `bytes`; resolves once all have arrived. */
  expect(bytes: number): Promise<void> {
    this.#expected = bytes;
    this.#received = 0;
    this.#destination = this.#memory?.of(bytes);
    this.#cpuBefore = process.cpuUsage();
    return new Promise((resolve) => (this.#onComplete = resolve));
  }

  /**
   * The 1 MiB read buffer, or the destination at what has arrived of the transfer. A transfer
   * ends exactly at its length and the next one, announced later, is as long in a row of the
   * bench, so the read asked for after a transfer ends starts the destination over. (When the
   * length changes, between rows, that first read still lands in the last row's memory: it is
   * counted all the same, and falls in the new row's warm-up.)
   */
  #nextReadBuffer(): Uint8Array {
    const destination = this.#destination;
    if (destination === undefined) return this.#readBuffer;
    const offset = this.#received < destination.length ? this.#received : 0;
    return destination.subarray(offset, Math.min(destination.length, offset + READ_BYTES));
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
