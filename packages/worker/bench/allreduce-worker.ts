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
/** Transfers: rank 0 streams to rank 1, from and into 1 MiB buffers that stay in cache. */
let rawSender: RawStreamSender | undefined;
let rawReceiver: RawStreamReceiver | undefined;
/** Exchanges: ranks 0 and 1 stream to each other at once, on connections of their own, in memory. */
let exchangeSender: RawStreamSender | undefined;
let exchangeReceiver: RawStreamReceiver | undefined;
let exchangeReceived: Promise<void> | undefined;
let exchangeCpuBefore: NodeJS.CpuUsage | undefined;
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
    case 'raw-listen': {
      const sender = await RawStreamSender.listen(request.exchange);
      if (request.exchange) exchangeSender = sender;
      else rawSender = sender;
      reply({ type: 'raw-listening', port: sender.port });
      return;
    }
    case 'raw-connect': {
      const receiver = await RawStreamReceiver.connect(request.port, request.exchange);
      if (request.exchange) exchangeReceiver = receiver;
      else rawReceiver = receiver;
      reply({ type: 'raw-ready' });
      return;
    }
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
      if (exchangeReceiver === undefined) throw new Error('exchange-expect before raw-connect');
      exchangeReceived = exchangeReceiver.expect(request.bytes);
      // From here: the other rank may start streaming before this one hears 'exchange'.
      exchangeCpuBefore = process.cpuUsage();
      reply({ type: 'raw-ready' });
      return;
    case 'exchange': {
      if (exchangeSender === undefined || exchangeReceived === undefined) throw new Error('exchange before raw-listen and exchange-expect');
      // The time counts from this rank's start; the bench takes the longer of the two ranks' times.
      const startedAt = performance.now();
      await Promise.all([exchangeSender.send(request.bytes), exchangeReceived]);
      const cpu = process.cpuUsage(exchangeCpuBefore);
      exchangeReceived = undefined;
      reply({ type: 'exchanged', durationMs: performance.now() - startedAt, cpuMs: (cpu.user + cpu.system) / 1000 });
      return;
    }
    case 'exit':
      rawReceiver?.close();
      exchangeReceiver?.close();
      await rawSender?.close();
      await exchangeSender?.close();
      await ring?.close();
      await server.close();
      process.disconnect();
      return;
  }
}

reply({ type: 'listening', address: server.address });
