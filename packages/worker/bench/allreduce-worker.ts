/**
 * One rank of `allreduce-bench.ts`, in its own process: starts a peer server, joins the ring it
 * is told, then runs the all-reduce calls and raw TCP transfers it is told, one at a time, and
 * reports each one's time. Talks to the bench over the IPC channel of `fork`.
 */
import { startPeerServer } from '../src/allreduce/index.ts';
import type { RingAllReduce } from '../src/allreduce/index.ts';
import type { BenchReply, BenchRequest } from './bench-messages.ts';
import { RawStreamReceiver, RawStreamSender } from './loopback-tcp.ts';

const token = process.env.RINGTRAIN_BENCH_TOKEN ?? 'bench';
const server = await startPeerServer({ token });
let ring: RingAllReduce | undefined;
/** This rank's raw TCP ends: rank 0 streams to rank 1 on one connection, rank 1 to rank 0 on another. */
let rawSender: RawStreamSender | undefined;
let rawReceiver: RawStreamReceiver | undefined;
let exchangeReceived: Promise<void> | undefined;
/** One vector per length, kept across calls so that no call pays for allocating it. */
const vectors = new Map<number, Float32Array>();

function reply(message: BenchReply): void {
  process.send?.(message);
}

process.on('message', (request: BenchRequest) => {
  void handle(request).catch((error: unknown) => {
    reply({ type: 'failed', message: error instanceof Error ? (error.stack ?? error.message) : String(error) });
  });
});

async function handle(request: BenchRequest): Promise<void> {
  switch (request.type) {
    case 'join':
      ring = await server.joinRing({ ...request.join, stallTimeoutMs: 120_000 });
      reply({ type: 'joined' });
      return;
    case 'call': {
      if (ring === undefined) throw new Error('call before join');
      const { rank, worldSize } = ring;
      let vector = vectors.get(request.elements);
      if (vector === undefined) {
        // Small integers: every wire format carries them and their sums exactly.
        vector = new Float32Array(request.elements).fill(rank + 1);
        vectors.set(request.elements, vector);
      }
      const cpuBefore = process.cpuUsage();
      const result = await ring.allReduce(vector, { wireFormat: request.wireFormat });
      const cpu = process.cpuUsage(cpuBefore);
      const expected = (worldSize * (worldSize + 1)) / 2;
      const last = vector.length - 1;
      if (vector.length > 0 && (vector[0] !== expected || vector[last] !== expected || vector[last >> 1] !== expected)) {
        throw new Error(`rank ${rank}: wrong sum with ${request.wireFormat}: got ${vector[0]}, expected ${expected}`);
      }
      // Refilled now rather than before the next call, where it would count as waiting for the others.
      vector.fill(rank + 1);
      reply({ type: 'called', durationMs: result.durationMs, cpuMs: (cpu.user + cpu.system) / 1000, bytesSent: result.bytesSent });
      return;
    }
    case 'raw-listen':
      rawSender = await RawStreamSender.listen();
      reply({ type: 'raw-listening', port: rawSender.port });
      return;
    case 'raw-connect':
      rawReceiver = await RawStreamReceiver.connect(request.port);
      reply({ type: 'raw-ready' });
      return;
    case 'raw-expect':
      if (rawReceiver === undefined) throw new Error('raw-expect before raw-connect');
      void rawReceiver.expect(request.bytes);
      reply({ type: 'raw-ready' });
      return;
    case 'raw-received':
      if (rawReceiver === undefined) throw new Error('raw-received before raw-connect');
      reply({ type: 'raw-received', cpuMs: rawReceiver.lastCpuMs });
      return;
    case 'raw-send':
      if (rawSender === undefined) throw new Error('raw-send before raw-listen');
      reply({ type: 'raw-sent', ...(await rawSender.send(request.bytes)) });
      return;
    case 'exchange-expect':
      if (rawReceiver === undefined) throw new Error('exchange-expect before raw-connect');
      exchangeReceived = rawReceiver.expect(request.bytes, true);
      reply({ type: 'raw-ready' });
      return;
    case 'exchange': {
      if (rawSender === undefined || exchangeReceived === undefined) throw new Error('exchange before raw-listen and exchange-expect');
      const startedAt = performance.now();
      const cpuBefore = process.cpuUsage();
      await Promise.all([rawSender.send(request.bytes, true), exchangeReceived]);
      const cpu = process.cpuUsage(cpuBefore);
      exchangeReceived = undefined;
      reply({ type: 'exchanged', durationMs: performance.now() - startedAt, cpuMs: (cpu.user + cpu.system) / 1000 });
      return;
    }
    case 'exit':
      rawReceiver?.close();
      await rawSender?.close();
      await ring?.close();
      await server.close();
      process.disconnect();
      return;
  }
}

reply({ type: 'listening', address: server.address });
