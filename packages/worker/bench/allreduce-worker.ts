/**
 * One rank of `allreduce-bench.ts`, in its own process: starts a peer server, joins the ring it
 * is told, then all-reduces vectors of the sizes it is told and reports each call's time.
 * Talks to the bench over the IPC channel of `fork`.
 */
import { startPeerServer } from '../src/allreduce/index.ts';
import type { RingAllReduce } from '../src/allreduce/index.ts';
import type { BenchReply, BenchRequest } from './bench-messages.ts';

const token = process.env.RINGTRAIN_BENCH_TOKEN ?? 'bench';
const server = await startPeerServer({ token });
let ring: RingAllReduce | undefined;

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
    case 'run': {
      if (ring === undefined) throw new Error('run before join');
      const { rank, worldSize } = ring;
      const vector = new Float32Array(request.elements).fill(rank + 1);
      // Calls follow each other without refilling the vector (a refill on one rank would count as
      // waiting on the others), so every element holds the same value after the first call and
      // each call sums N copies of it, in float32, in ring order.
      let expected = (worldSize * (worldSize + 1)) / 2;
      const timesMs: number[] = [];
      let cpuMs = 0;
      for (let i = 0; i < request.warmup + request.repetitions; i++) {
        const cpuBefore = process.cpuUsage();
        const result = await ring.allReduce(vector);
        const cpu = process.cpuUsage(cpuBefore);
        if (i >= request.warmup) {
          timesMs.push(result.durationMs);
          cpuMs += (cpu.user + cpu.system) / 1000;
        }
        const last = vector.length - 1;
        if (vector.length > 0 && (vector[0] !== expected || vector[last] !== expected || vector[last >> 1] !== expected)) {
          throw new Error(`rank ${rank}: wrong sum after call ${i}: got ${vector[0]}, expected ${expected}`);
        }
        expected = sumOfCopies(expected, worldSize);
      }
      reply({ type: 'ran', timesMs, cpuMsPerCall: cpuMs / request.repetitions });
      return;
    }
    case 'exit':
      await ring?.close();
      await server.close();
      process.disconnect();
      return;
  }
}

reply({ type: 'listening', address: server.address });

/** `value` added to itself `copies` times in float32, as the ring does. */
function sumOfCopies(value: number, copies: number): number {
  let sum = value;
  for (let i = 1; i < copies; i++) sum = Math.fround(sum + value);
  return sum;
}
