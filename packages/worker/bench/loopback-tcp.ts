/**
 * Raw loopback TCP throughput between two processes over a plain `net` socket pair: this process
 * writes 1 MiB buffers as fast as the socket takes them, a child process counts what arrives and
 * reports the rate. The reference the all-reduce's bandwidth is read against.
 *
 * The receiver reads either into a reused 1 MiB buffer (`onread`, what the loopback can carry) or
 * through Node's default 'data' events (a fresh 64 KiB buffer per read, as ws receives).
 */
import { fork } from 'node:child_process';
import { connect, createServer } from 'node:net';
import type { AddressInfo } from 'node:net';
import { fileURLToPath } from 'node:url';

const WRITE_BYTES = 1 << 20;
const READ_BYTES = 1 << 20;

export interface LoopbackResult {
  /** Bytes per second with the receiver reading into a 1 MiB buffer. */
  largeReadsBytesPerSecond: number;
  /** Bytes per second with Node's default 'data' events. */
  dataEventsBytesPerSecond: number;
}

/** The median throughput of `runs` transfers of `totalBytes`, for each way of reading. */
export async function measureLoopbackTcp(totalBytes: number, runs: number): Promise<LoopbackResult> {
  const large: number[] = [];
  const events: number[] = [];
  for (let i = 0; i < runs; i++) {
    large.push(await transfer(totalBytes, 'large-reads'));
    events.push(await transfer(totalBytes, 'data-events'));
  }
  return { largeReadsBytesPerSecond: median(large), dataEventsBytesPerSecond: median(events) };
}

type ReadMode = 'large-reads' | 'data-events';

function transfer(totalBytes: number, mode: ReadMode): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer((socket) => {
      const block = Buffer.alloc(WRITE_BYTES, 0x5a);
      let sent = 0;
      const pump = (): void => {
        while (sent < totalBytes) {
          sent += block.length;
          if (!socket.write(block)) {
            socket.once('drain', pump);
            return;
          }
        }
        socket.end();
      };
      socket.on('error', () => {});
      pump();
    });
    server.on('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address() as AddressInfo;
      const receiver = fork(fileURLToPath(import.meta.url), ['--receive', String(port), String(totalBytes), mode], {
        execArgv: ['--import', 'tsx'],
      });
      receiver.once('message', (bytesPerSecond: number) => {
        server.close();
        resolve(bytesPerSecond);
      });
      receiver.once('error', reject);
      receiver.once('exit', (code) => {
        if (code !== 0) reject(new Error(`loopback receiver exited with code ${code}`));
      });
    });
  });
}

/** The child's side: connect, count bytes, report bytes per second from the first byte to the last. */
function receive(port: number, totalBytes: number, mode: ReadMode): void {
  let received = 0;
  let startedAt = 0;
  const count = (bytes: number): void => {
    if (startedAt === 0) startedAt = performance.now();
    received += bytes;
    if (received >= totalBytes) {
      const rate = received / ((performance.now() - startedAt) / 1000);
      socket.destroy();
      process.send?.(rate, () => process.disconnect());
    }
  };
  const socket =
    mode === 'large-reads'
      ? connect({ port, host: '127.0.0.1', onread: { buffer: Buffer.allocUnsafe(READ_BYTES), callback: (bytes) => (count(bytes), true) } })
      : connect({ port, host: '127.0.0.1' }).on('data', (chunk: Buffer) => count(chunk.length));
}

function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.floor(sorted.length / 2)] ?? 0;
}

if (process.argv[2] === '--receive') {
  receive(Number(process.argv[3]), Number(process.argv[4]), process.argv[5] as ReadMode);
}
