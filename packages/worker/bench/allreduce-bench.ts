/**
 * `npm run bench:allreduce [-- --json]`: the ring all-reduce between N worker processes on
 * loopback, for N = 2, 3, 4 and gradients of 1 M, 11.2 M (ResNet-18) and 60 M floats: median time
 * per call, algorithm bandwidth (bytes / time) and bus bandwidth (x 2(N-1)/N, what each link
 * carries), next to the raw loopback TCP throughput measured in the same run.
 *
 * A call's time is the longest of the ranks' times for it (a ring is as fast as its slowest
 * rank); the median is over repeated calls after warm-up ones.
 */
import { fork } from 'node:child_process';
import type { ChildProcess } from 'node:child_process';
import { availableParallelism } from 'node:os';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import type { RingMember } from '@ringtrain/protocol';
import type { BenchReply, BenchRequest } from './bench-messages.ts';
import { measureLoopbackTcp } from './loopback-tcp.ts';

const { values: args } = parseArgs({
  options: {
    json: { type: 'boolean', default: false },
    workers: { type: 'string', default: '2,3,4' },
    sizes: { type: 'string', default: '1000000,11200000,60000000' },
    'max-bucket-bytes': { type: 'string' },
    'buckets-in-flight': { type: 'string' },
    help: { type: 'boolean', default: false },
  },
});

if (args.help) {
  console.log(`usage: npm run bench:allreduce -- [--json] [--workers 2,3,4] [--sizes 1000000,11200000,60000000]
                                    [--max-bucket-bytes B] [--buckets-in-flight K]
  --json               print one JSON object per row instead of the table
  --workers            world sizes to run (default 2,3,4)
  --sizes              vector lengths in float32 elements (default 1000000,11200000,60000000)
  --max-bucket-bytes   bucket cap passed to the ring (default: the ring's default, 4 MiB)
  --buckets-in-flight  buckets started at once (default: the ring's default, 4)`);
  process.exit(0);
}

const worldSizes = parseList(args.workers, 'workers', 2);
const sizes = parseList(args.sizes, 'sizes', 1);
const maxBucketBytes = args['max-bucket-bytes'] === undefined ? undefined : Number(args['max-bucket-bytes']);
const bucketsInFlight = args['buckets-in-flight'] === undefined ? undefined : Number(args['buckets-in-flight']);

/** Fewer repetitions for larger vectors keep the whole bench within a few minutes on 2 cores. */
function repetitionsFor(elements: number): { warmup: number; repetitions: number } {
  if (elements <= 2_000_000) return { warmup: 3, repetitions: 20 };
  if (elements <= 20_000_000) return { warmup: 2, repetitions: 10 };
  return { warmup: 1, repetitions: 3 };
}

interface Row {
  workers: number;
  elements: number;
  bytes: number;
  repetitions: number;
  medianMs: number;
  minMs: number;
  algorithmGBps: number;
  busGBps: number;
  /** CPU time (user + system) per call, averaged over the ranks. */
  cpuMsPerRank: number;
  /** Raw loopback TCP, receiver reading 1 MiB at a time. */
  rawTcpGBps: number;
  /** Raw loopback TCP, receiver on Node's default 'data' events. */
  rawTcpDataEventsGBps: number;
  cores: number;
}

const workerScript = fileURLToPath(new URL('./allreduce-worker.ts', import.meta.url));
const cores = availableParallelism();

const loopback = await measureLoopbackTcp(256 * 1024 * 1024, 3);
const rawTcpGBps = loopback.largeReadsBytesPerSecond / 1e9;
const rows: Row[] = [];
if (!args.json) {
  console.log(`ring all-reduce on loopback (127.0.0.1), float32 SUM; ${cores} cores`);
  console.log(
    `raw loopback TCP, one stream between two processes: ${rawTcpGBps.toFixed(2)} GB/s reading 1 MiB at a time, ` +
      `${(loopback.dataEventsBytesPerSecond / 1e9).toFixed(2)} GB/s with Node's default 'data' events`,
  );
  console.log('');
  console.log(['workers', 'elements', 'MB', 'calls', 'median ms', 'min ms', 'algbw GB/s', 'busbw GB/s', 'busbw/TCP', 'CPU ms/rank'].map(pad).join(''));
}

for (const workers of worldSizes) {
  const ranks = await startRanks(workers);
  try {
    for (const elements of sizes) {
      const { warmup, repetitions } = repetitionsFor(elements);
      const replies = await Promise.all(ranks.map((rank) => request(rank, { type: 'run', elements, warmup, repetitions })));
      const perCall = Array.from({ length: repetitions }, (_, i) => Math.max(...replies.map((r) => (r.type === 'ran' ? (r.timesMs[i] ?? 0) : 0))));
      const medianMs = median(perCall);
      const bytes = elements * Float32Array.BYTES_PER_ELEMENT;
      const algorithmGBps = bytes / (medianMs / 1000) / 1e9;
      const row: Row = {
        workers,
        elements,
        bytes,
        repetitions,
        medianMs,
        minMs: Math.min(...perCall),
        algorithmGBps,
        busGBps: (algorithmGBps * 2 * (workers - 1)) / workers,
        cpuMsPerRank: replies.reduce((sum, r) => sum + (r.type === 'ran' ? r.cpuMsPerCall : 0), 0) / replies.length,
        rawTcpGBps,
        rawTcpDataEventsGBps: loopback.dataEventsBytesPerSecond / 1e9,
        cores,
      };
      rows.push(row);
      if (args.json) {
        console.log(JSON.stringify(row));
      } else {
        console.log(
          [
            String(workers),
            elements.toLocaleString('en-US'),
            (bytes / 1e6).toFixed(1),
            String(repetitions),
            medianMs.toFixed(1),
            row.minMs.toFixed(1),
            algorithmGBps.toFixed(2),
            row.busGBps.toFixed(2),
            (row.busGBps / rawTcpGBps).toFixed(2),
            row.cpuMsPerRank.toFixed(1),
          ]
            .map(pad)
            .join(''),
        );
      }
    }
  } finally {
    await stopRanks(ranks);
  }
}

if (!args.json) {
  console.log('');
  console.log('algbw = vector bytes / median time; busbw = algbw x 2(N-1)/N, the bytes each rank sends and receives per second;');
  console.log('CPU ms/rank = user + system time of one call, averaged over the ranks.');
  const crowded = worldSizes.filter((n) => n > cores);
  if (crowded.length > 0) {
    console.log(
      `with ${crowded.join(' and ')} worker processes on ${cores} cores the ranks take turns on the CPU: ` +
        'those rows are CPU-bound and measure contention as much as the ring.',
    );
  }
}

function pad(text: string): string {
  return text.padEnd(13);
}

async function startRanks(worldSize: number): Promise<ChildProcess[]> {
  const ranks = Array.from({ length: worldSize }, () =>
    fork(workerScript, [], { execArgv: ['--import', 'tsx'], serialization: 'advanced', stdio: ['ignore', 'inherit', 'inherit', 'ipc'] }),
  );
  const listening = await Promise.all(ranks.map((rank) => nextReply(rank)));
  const ring: RingMember[] = listening.map((reply, rank) => {
    if (reply.type !== 'listening') throw new Error(`rank ${rank}: expected its address, got ${reply.type}`);
    return { rank, workerId: `bench-${rank}`, address: reply.address };
  });
  await Promise.all(
    ranks.map((child, rank) =>
      request(child, { type: 'join', join: { generation: 1, rank, worldSize, ring, maxBucketBytes, bucketsInFlight } }),
    ),
  );
  return ranks;
}

async function stopRanks(ranks: ChildProcess[]): Promise<void> {
  await Promise.all(
    ranks.map(
      (child) =>
        new Promise<void>((resolve) => {
          const timer = setTimeout(() => child.kill(), 5000);
          child.once('exit', () => {
            clearTimeout(timer);
            resolve();
          });
          child.send({ type: 'exit' } satisfies BenchRequest);
        }),
    ),
  );
}

async function request(child: ChildProcess, message: BenchRequest): Promise<BenchReply> {
  const reply = nextReply(child);
  child.send(message);
  const answer = await reply;
  if (answer.type === 'failed') throw new Error(`a rank failed: ${answer.message}`);
  return answer;
}

function nextReply(child: ChildProcess): Promise<BenchReply> {
  return new Promise((resolve, reject) => {
    const onExit = (code: number | null): void => reject(new Error(`a rank exited with code ${code}`));
    child.once('exit', onExit);
    child.once('message', (reply: BenchReply) => {
      child.off('exit', onExit);
      resolve(reply);
    });
  });
}

function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  const mid = Math.floor(sorted.length / 2);
  return sorted.length % 2 === 1 ? (sorted[mid] as number) : ((sorted[mid - 1] as number) + (sorted[mid] as number)) / 2;
}

function parseList(text: string, name: string, min: number): number[] {
  const list = text.split(',').map((part) => Number(part.trim()));
  if (list.length === 0 || list.some((n) => !Number.isInteger(n) || n < min)) {
    console.error(`--${name} must be a comma-separated list of integers of at least ${min}, got "${text}"`);
    process.exit(2);
  }
  return list;
}
