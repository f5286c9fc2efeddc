/**
 * `npm run bench:allreduce [-- --json]`: the ring all-reduce between N worker processes on
 * loopback, for N = 2, 3, 4, gradients of 1 M, 11.2 M (ResNet-18) and 60 M floats and each
 * wire format (f32, bf16, f16): median time per call, bytes each rank sends, bus bandwidth, and
 * the same bytes streamed over raw loopback TCP in the same run.
 *
 * Calls, raw transfers and raw exchanges are interleaved, each call between a transfer and an
 * exchange (transfer, call, exchange, exchange, call, transfer, ...), between the same two
 * processes (ranks 0 and 1), so that load from elsewhere on the machine hits all alike;
 * `busbw/TCP` is the median of each call's bus bandwidth over its neighbouring transfer's rate,
 * the figure that is compared with the goal.
 *
 * The transfer is one way, from a 1 MiB block to a 1 MiB read buffer that stay in cache. A ring
 * rank sends and receives at once, from and into its vector (for the larger vectors far larger
 * than a core's 2 MiB L2), so each row also times an exchange: ranks 0 and 1 each stream the
 * bytes one rank sends in a call (in the wire format) to the other at the same time, over two
 * connections as a ring's links are, from and into memory of that length. A ring that moves its bytes through
 * these sockets moves them no faster than that exchange. `of exchange` is the median over the
 * calls of the neighbouring exchange's time over the call's (the fraction of the exchange's speed
 * the ring reaches), and `exch/TCP` the busbw/TCP a ring exactly as fast as the exchange would
 * have.
 *
 * A call's time is the longest of the ranks' times for it (a ring is as fast as its slowest
 * rank); medians are over repeated calls after warm-up ones.
 */
import { fork } from 'node:child_process';
import type { ChildProcess } from 'node:child_process';
import { availableParallelism, loadavg } from 'node:os';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { wireElementBytes } from '@ringtrain/protocol';
import type { RingMember } from '@ringtrain/protocol';
import { WIRE_FORMATS } from '../src/allreduce/index.ts';
import type { WireFormat } from '../src/allreduce/index.ts';
import type { BenchReply, BenchRequest } from './bench-messages.ts';

const { values: args } = parseArgs({
  options: {
    json: { type: 'boolean', default: false },
    workers: { type: 'string', default: '2,3,4' },
    sizes: { type: 'string', default: '1000000,11200000,60000000' },
    wire: { type: 'string', default: WIRE_FORMATS.join(',') },
    repetitions: { type: 'string' },
    'max-bucket-bytes': { type: 'string' },
    'buckets-in-flight': { type: 'string' },
    help: { type: 'boolean', default: false },
  },
});

if (args.help) {
  console.log(`usage: npm run bench:allreduce -- [--json] [--workers 2,3,4] [--sizes 1000000,11200000,60000000]
                                    [--wire f32,bf16,f16] [--repetitions R]
                                    [--max-bucket-bytes B] [--buckets-in-flight K]
  --json               print one JSON object per row instead of the table
  --workers            world sizes to run (default 2,3,4)
  --sizes              vector lengths in float32 elements (default 1000000,11200000,60000000)
  --wire               element formats on the wire (default f32,bf16,f16)
  --repetitions        timed calls per row, each between a raw TCP transfer and a raw exchange
                       (default: 20 up to 2 M floats, 10 up to 20 M, 5 beyond)
  --max-bucket-bytes   bucket cap passed to the ring (default: the ring's default)
  --buckets-in-flight  buckets started at once (default: the ring's default)
Ranks 0 and 1 each hold, besides the vector, a send and a receive buffer of the bytes a rank sends
per call for the exchange: about 720 MB more at 60 M floats and 4 workers.`);
  process.exit(0);
}

const worldSizes = parseList(args.workers, 'workers', 2);
const sizes = parseList(args.sizes, 'sizes', 1);
const wireFormats = parseWireFormats(args.wire);
const fixedRepetitions = args.repetitions === undefined ? undefined : (parseList(args.repetitions, 'repetitions', 1)[0] as number);
const maxBucketBytes = args['max-bucket-bytes'] === undefined ? undefined : Number(args['max-bucket-bytes']);
const bucketsInFlight = args['buckets-in-flight'] === undefined ? undefined : Number(args['buckets-in-flight']);

/** Fewer repetitions for larger vectors keep the whole bench within a few minutes on 2 cores. */
function repetitionsFor(elements: number): { warmup: number; repetitions: number } {
  const warmup = elements <= 20_000_000 ? 2 : 1;
  if (fixedRepetitions !== undefined) return { warmup, repetitions: fixedRepetitions };
  if (elements <= 2_000_000) return { warmup, repetitions: 20 };
  if (elements <= 20_000_000) return { warmup, repetitions: 10 };
  return { warmup, repetitions: 5 };
}

interface Row {
  workers: number;
  elements: number;
  wireFormat: WireFormat;
  /** Chunk data bytes one rank sends per call, in the wire format. */
  bytesSentPerRank: number;
  repetitions: number;
  medianMs: number;
  minMs: number;
  /** float32 vector bytes / median time. */
  algorithmGBps: number;
  /** algbw x 2(N-1)/N: the float32 bytes each rank sends and receives per second. */
  busGBps: number;
  /** Raw loopback TCP between ranks 0 and 1, the transfers interleaved with the calls. */
  rawTcpGBps: number;
  /** Median over the calls of busbw / the neighbouring raw transfer's rate. */
  busOverRawTcp: number;
  /** Median time of ranks 0 and 1 exchanging the bytes a rank sends per call, both ways at once. */
  exchangeMs: number;
  /** Median over the calls of the neighbouring exchange's time / the call's time. */
  exchangeOverCall: number;
  /**
   * Median of the busbw a ring as fast as the neighbouring exchange would have over the
   * neighbouring raw transfer's rate: the most busbw/TCP a ring over these sockets reaches.
   */
  exchangeOverRawTcp: number;
  /** CPU time (user + system) of one exchange, averaged over ranks 0 and 1. */
  exchangeCpuMsPerRank: number;
  /** CPU time (user + system) per call, averaged over the ranks. */
  cpuMsPerRank: number;
  /** CPU time of rank 0 streaming the vector's bytes over raw TCP. */
  rawSenderCpuMs: number;
  /**
   * CPU time of rank 1 receiving them. Where every side is bound by the CPU (an idle machine),
   * busbw/TCP comes near the larger of the two x 2(N-1)/N / cpuMsPerRank; unlike the times,
   * these CPU times move little with load from elsewhere.
   */
  rawReceiverCpuMs: number;
  cores: number;
  /** The 1-minute load average when the row was measured. */
  loadAverage: number;
}

const workerScript = fileURLToPath(new URL('./allreduce-worker.ts', import.meta.url));
const cores = availableParallelism();
const rows: Row[] = [];
if (!args.json) {
  console.log(`ring all-reduce on loopback (127.0.0.1), float32 SUM, next to raw loopback TCP between the same two processes; ${cores} cores`);
  console.log('');
  console.log(
    [
      'workers',
      'elements',
      'wire',
      'MB sent/rank',
      'calls',
      'median ms',
      'min ms',
      'busbw GB/s',
      'raw TCP GB/s',
      'busbw/TCP',
      'CPU ms/rank',
      'raw CPU ms',
      'CPU ratio',
      'exchange ms',
      'of exchange',
      'exch/TCP',
      'exch CPU ms',
      'load',
    ]
      .map(pad)
      .join(''),
  );
}

for (const workers of worldSizes) {
  const ranks = await startRanks(workers);
  try {
    // Transfers on one connection from rank 0 to rank 1; exchanges on one each way of their own.
    for (const [sender, receiver, exchange] of [[0, 1, false], [0, 1, true], [1, 0, true]] as const) {
      const { port } = expectReply(await request(ranks[sender] as ChildProcess, { type: 'raw-listen', exchange }), 'raw-listening');
      await request(ranks[receiver] as ChildProcess, { type: 'raw-connect', port, exchange });
    }
    for (const elements of sizes) {
      for (const wireFormat of wireFormats) {
        const row = await measureRow(ranks, elements, wireFormat);
        rows.push(row);
        if (args.json) console.log(JSON.stringify(row));
        else printRow(row);
      }
    }
  } finally {
    await stopRanks(ranks);
  }
}

if (!args.json) {
  console.log('');
  console.log('MB sent/rank = chunk data one rank sends per call (2 bytes per element with bf16/f16, 4 with f32);');
  console.log('busbw = float32 vector bytes / median time x 2(N-1)/N, what each rank sends and receives per second in float32 terms;');
  console.log('raw TCP = one loopback stream from rank 0 to rank 1, 1 MiB writes and reads, each transfer next to a call;');
  console.log('busbw/TCP = median over the calls of busbw / the neighbouring transfer\'s rate; CPU ms/rank = user + system time of one call;');
  console.log('raw CPU ms = user + system time of rank 0 sending / rank 1 receiving the vector\'s bytes over raw TCP;');
  console.log('CPU ratio = the larger raw CPU ms x 2(N-1)/N / CPU ms/rank: what busbw/TCP comes near when every side is CPU-bound (an idle machine);');
  console.log('exchange = ranks 0 and 1 each streaming MB sent/rank to the other at once, from and into memory of that length,');
  console.log('  over two connections, as a ring rank sends and receives: no ring over these sockets is faster;');
  console.log('of exchange = median over the calls of the neighbouring exchange\'s time / the call\'s time; exch CPU ms = user + system time per rank;');
  console.log('exch/TCP = the busbw of a ring as fast as the exchange over the neighbouring transfer\'s rate: the most busbw/TCP a ring over these sockets reaches.');
  const crowded = worldSizes.filter((n) => n > cores);
  if (crowded.length > 0) {
    console.log(
      `with ${crowded.join(' and ')} worker processes on ${cores} cores the ranks take turns on the CPU: ` +
        'those rows are CPU-bound and measure contention as much as the ring.',
    );
  }
}

async function measureRow(ranks: ChildProcess[], elements: number, wireFormat: WireFormat): Promise<Row> {
  const workers = ranks.length;
  const { warmup, repetitions } = repetitionsFor(elements);
  const vectorBytes = elements * Float32Array.BYTES_PER_ELEMENT;
  const busFactor = (2 * (workers - 1)) / workers;
  const callMs: number[] = [];
  const rawMs: number[] = [];
  const ratios: number[] = [];
  const exchangeMs: number[] = [];
  const exchangeOverCallRatios: number[] = [];
  const exchangeOverRaw: number[] = [];
  // What one rank sends per call, in the wire format.
  const exchangeBytes = Math.round(elements * wireElementBytes(wireFormat) * busFactor);
  let exchangeCpuMs = 0;
  let cpuMs = 0;
  let rawCpuMs = 0;
  let rawReceiverCpuMs = 0;
  let bytesSent = 0;
  for (let i = 0; i < warmup + repetitions; i++) {
    // Alternate the order, so that none always follows another.
    const call = async (): Promise<number> => {
      const replies = await Promise.all(ranks.map((rank) => request(rank, { type: 'call', elements, wireFormat })));
      const called = replies.map((reply) => expectReply(reply, 'called'));
      if (i >= warmup) cpuMs += called.reduce((sum, r) => sum + r.cpuMs, 0) / called.length;
      bytesSent = called[0]?.bytesSent ?? 0;
      return Math.max(...called.map((r) => r.durationMs));
    };
    const raw = async (): Promise<number> => {
      await request(ranks[1] as ChildProcess, { type: 'raw-expect', bytes: vectorBytes });
      const sent = expectReply(await request(ranks[0] as ChildProcess, { type: 'raw-send', bytes: vectorBytes }), 'raw-sent');
      if (i >= warmup) {
        rawCpuMs += sent.cpuMs;
        rawReceiverCpuMs += expectReply(await request(ranks[1] as ChildProcess, { type: 'raw-received' }), 'raw-received').cpuMs;
      }
      return sent.durationMs;
    };
    const exchange = async (): Promise<number> => {
      const pair = ranks.slice(0, 2);
      await Promise.all(pair.map((rank) => request(rank, { type: 'exchange-expect', bytes: exchangeBytes })));
      const replies = await Promise.all(pair.map((rank) => request(rank, { type: 'exchange', bytes: exchangeBytes })));
      const exchanged = replies.map((reply) => expectReply(reply, 'exchanged'));
      if (i >= warmup) exchangeCpuMs += exchanged.reduce((sum, r) => sum + r.cpuMs, 0) / exchanged.length;
      return Math.max(...exchanged.map((r) => r.durationMs));
    };
    let callTime: number;
    let rawTime: number;
    let exchangeTime: number;
    if (i % 2 === 0) {
      rawTime = await raw();
      callTime = await call();
      exchangeTime = await exchange();
    } else {
      exchangeTime = await exchange();
      callTime = await call();
      rawTime = await raw();
    }
    if (i < warmup) continue;
    callMs.push(callTime);
    rawMs.push(rawTime);
    exchangeMs.push(exchangeTime);
    ratios.push((vectorBytes * busFactor) / callTime / (vectorBytes / rawTime));
    exchangeOverCallRatios.push(exchangeTime / callTime);
    exchangeOverRaw.push((vectorBytes * busFactor) / exchangeTime / (vectorBytes / rawTime));
  }
  const medianMs = median(callMs);
  const algorithmGBps = vectorBytes / (medianMs / 1000) / 1e9;
  return {
    workers,
    elements,
    wireFormat,
    bytesSentPerRank: bytesSent,
    repetitions,
    medianMs,
    minMs: Math.min(...callMs),
    algorithmGBps,
    busGBps: algorithmGBps * busFactor,
    rawTcpGBps: vectorBytes / (median(rawMs) / 1000) / 1e9,
    busOverRawTcp: median(ratios),
    exchangeMs: median(exchangeMs),
    exchangeOverCall: median(exchangeOverCallRatios),
    exchangeOverRawTcp: median(exchangeOverRaw),
    exchangeCpuMsPerRank: exchangeCpuMs / repetitions,
    cpuMsPerRank: cpuMs / repetitions,
    rawSenderCpuMs: rawCpuMs / repetitions,
    rawReceiverCpuMs: rawReceiverCpuMs / repetitions,
    cores,
    loadAverage: loadavg()[0] ?? 0,
  };
}

function printRow(row: Row): void {
  console.log(
    [
      String(row.workers),
      row.elements.toLocaleString('en-US'),
      row.wireFormat,
      (row.bytesSentPerRank / 1e6).toFixed(1),
      String(row.repetitions),
      row.medianMs.toFixed(1),
      row.minMs.toFixed(1),
      row.busGBps.toFixed(2),
      row.rawTcpGBps.toFixed(2),
      row.busOverRawTcp.toFixed(2),
      row.cpuMsPerRank.toFixed(1),
      `${row.rawSenderCpuMs.toFixed(1)}/${row.rawReceiverCpuMs.toFixed(1)}`,
      ((Math.max(row.rawSenderCpuMs, row.rawReceiverCpuMs) * (2 * (row.workers - 1))) / row.workers / row.cpuMsPerRank).toFixed(2),
      row.exchangeMs.toFixed(1),
      row.exchangeOverCall.toFixed(2),
      row.exchangeOverRawTcp.toFixed(2),
      row.exchangeCpuMsPerRank.toFixed(1),
      row.loadAverage.toFixed(2),
    ]
      .map(pad)
      .join(''),
  );
}

function pad(text: string): string {
  return text.padEnd(13);
}

async function startRanks(worldSize: number): Promise<ChildProcess[]> {
  const ranks = Array.from({ length: worldSize }, () =>
    fork(workerScript, [], { execArgv: ['--import', 'tsx'], serialization: 'advanced', stdio: ['ignore', 'inherit', 'inherit', 'ipc'] }),
  );
  const listening = await Promise.all(ranks.map((rank) => nextReply(rank)));
  const ring: RingMember[] = listening.map((reply, rank) => ({ rank, workerId: `bench-${rank}`, address: expectReply(reply, 'listening').address }));
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

function expectReply<T extends BenchReply['type']>(reply: BenchReply, type: T): Extract<BenchReply, { type: T }> {
  if (reply.type !== type) throw new Error(`expected '${type}' from a rank, got '${reply.type}'`);
  return reply as Extract<BenchReply, { type: T }>;
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

function parseWireFormats(text: string): WireFormat[] {
  const list = text.split(',').map((part) => part.trim());
  const known: readonly string[] = WIRE_FORMATS;
  const bad = list.filter((format) => !known.includes(format));
  if (list.length === 0 || bad.length > 0) {
    console.error(`--wire must be a comma-separated list of ${WIRE_FORMATS.join(', ')}, got "${text}"`);
    process.exit(2);
  }
  return list as WireFormat[];
}
