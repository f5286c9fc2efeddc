/**
 * `npm run bench:host-groups`: several workers per host. Each host is a network namespace with a
 * veth link to one bridge, shaped to a rate each way (`tc qdisc tbf`); a coordinator runs on a
 * host of its own. The workers join interleaved (one on each host in turn), the order in which a
 * ring in join order crosses between hosts at every link. The same run goes once per ring order
 * (`--ring-order hosts`, the default, and `joined`), and the bench prints, for each: examples/s,
 * the step split, the bytes each host sent on its link per step (its veth's counter) and that in
 * streams, one stream being what one rank sends per step in the all-reduce.
 *
 * Compute is a declared wait per step (`ringtrain worker --stand-in-compute-ms`), standing in for
 * an accelerator: the workers share this machine's two cores, and the network is what is
 * measured. The links have no added delay (the relays of `bench:cluster` sit in front of one
 * peer port per host).
 *
 * Options (defaults): --model resnet50 --hosts 2 --workers-per-host 2 --rate-gbit 1 --steps 8
 *   --batch-per-worker 32 --stand-in-compute-ms (the model's in `bench:cluster`)
 *   --ring-orders hosts,joined --json
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { readSummary } from '../test/launch-helpers.ts';
import { namespacesUnavailable, TestNetwork, type HostProcess } from '../test/support/network-hosts.ts';
import { until } from '../test/support/worker-processes.ts';
import { REFERENCE_COMPUTE_MS } from '../src/plan/calibration.ts';
import { benchArguments } from './bench-arguments.ts';
import { markdownTable } from './markdown-table.ts';
import type { RunSummary } from '../src/index.ts';

const TOKEN = 'host-groups-bench-token-0123456789';
const COORDINATOR_PORT = 7070;
const RUN_TIMEOUT_MS = 600_000;
const RING_ORDERS = ['hosts', 'joined'] as const;
type RingOrder = (typeof RING_ORDERS)[number];

const { values } = parseArgs({
  options: {
    model: { type: 'string', default: 'resnet50' },
    hosts: { type: 'string', default: '2' },
    'workers-per-host': { type: 'string', default: '2' },
    'rate-gbit': { type: 'string', default: '1' },
    steps: { type: 'string', default: '8' },
    'batch-per-worker': { type: 'string', default: '32' },
    'stand-in-compute-ms': { type: 'string' },
    'ring-orders': { type: 'string', default: RING_ORDERS.join(',') },
    json: { type: 'boolean', default: false },
  },
});

const { fail, positive } = benchArguments('bench:host-groups');

const model = values.model ?? '';
if (!(model in REFERENCE_COMPUTE_MS) && values['stand-in-compute-ms'] === undefined) {
  fail(`--model ${model}: give --stand-in-compute-ms, or one of ${Object.keys(REFERENCE_COMPUTE_MS).join(', ')}`);
}
const hostCount = positive('--hosts', values.hosts, true);
if (hostCount < 2) fail(`--hosts must be at least 2 (one host never crosses the network), got ${hostCount}`);
const perHost = positive('--workers-per-host', values['workers-per-host'], true);
const rateGbit = positive('--rate-gbit', values['rate-gbit'], false);
const steps = positive('--steps', values.steps, true);
const batchPerWorker = positive('--batch-per-worker', values['batch-per-worker'], true);
const standInMs = positive('--stand-in-compute-ms', values['stand-in-compute-ms'] ?? String(REFERENCE_COMPUTE_MS[model as keyof typeof REFERENCE_COMPUTE_MS]), false);
const orders = (values['ring-orders'] ?? '').split(',').map((o) => {
  if (!(RING_ORDERS as readonly string[]).includes(o)) fail(`--ring-orders: ${o} is not one of ${RING_ORDERS.join(', ')}`);
  return o as RingOrder;
});

interface Row {
  ringOrder: RingOrder;
  /** Links of the ring that join two hosts, as the coordinator logged them. */
  hostCrossings: number;
  examplesPerSecond: number;
  stepMs: number;
  computeMs: number;
  allReduceMs: number;
  waitMs: number;
  /** What one rank sent per step in the all-reduce (the workers' own count). */
  rankSentBytesPerStep: number;
  /** What each host sent on its link per step, mean over the hosts (the veth's counter). */
  hostSentBytesPerStep: number;
}

async function runOrder(order: RingOrder, dir: string): Promise<Row> {
  const network = new TestNetwork(`rth${order[0]}${process.pid % 1000}`);
  const processes: HostProcess[] = [];
  const onSignal = (): void => {
    network.destroy();
    process.exit(130);
  };
  process.once('SIGINT', onSignal);
  process.once('SIGTERM', onSignal);
  try {
    const coordinator = network.addHost('coord');
    const hosts = Array.from({ length: hostCount }, (_, i) => network.addHost(`h${i}`));
    for (const h of hosts) network.shapeLink(h.name, rateGbit * 1e9);
    const env = { ...process.env, RINGTRAIN_TOKEN: TOKEN };
    const summaryPath = join(dir, `${order}.json`);
    const world = hostCount * perHost;
    const global = batchPerWorker * world;
    const server = network.ringtrain(coordinator.name, [
      'coordinator', '--host', coordinator.address, '--port', String(COORDINATOR_PORT),
      '--min-workers', String(world), '--max-workers', String(world), '--ring-order', order,
      '--model', model, '--stem', 'd2l', '--batch-size', String(global), '--epochs', '1',
      '--limit-train', String(global * steps), '--limit-test', '0', '--checksum-every', '0',
      '--no-memory-check', '--summary-json', summaryPath, '--log-format', 'json',
    ], env);
    processes.push(server);
    await until('the coordinator listens', () => server.output().includes('coordinator listening on'), 120_000);
    const sentBefore = hosts.map((h) => network.sentBytes(h.name));
    // Interleaved: the first worker of every host, then the second of every host, ...
    for (let j = 0; j < perHost; j++) {
      for (const h of hosts) {
        const id = `${h.name}w${j}`;
        processes.push(network.ringtrain(h.name, [
          'worker', '--coordinator', `ws://${coordinator.address}:${COORDINATOR_PORT}`, '--worker-id', id,
          '--peer-host', h.address, '--metrics-port', '0', '--log-level', 'warn', '--no-memory-check',
          '--workers-per-machine', String(world), '--stand-in-compute-ms', String(standInMs),
        ], env));
        await until(`worker ${id} joins`, () => server.output().includes(`worker ${id} joined`), 120_000);
      }
    }
    const code = await Promise.race([server.exited, new Promise<'timeout'>((resolve) => setTimeout(() => resolve('timeout'), RUN_TIMEOUT_MS).unref())]);
    if (code !== 0) {
      process.stderr.write(processes.map((p) => p.output()).join('\n'));
      // Thrown, not `fail`: the processes and namespaces are cleaned up below before the bench ends.
      throw new Error(`bench:host-groups: the run in ring order ${order} ${code === 'timeout' ? `did not end within ${RUN_TIMEOUT_MS} ms` : `failed (exit ${String(code)})`}`);
    }
    await Promise.all(processes.slice(1).map((p) => p.exited));
    const s: RunSummary = await readSummary(summaryPath);
    const hostSent = hosts.map((h, i) => network.sentBytes(h.name) - (sentBefore[i] ?? 0));
    const crossings = /crosses between them (\d+) times?/.exec(server.output());
    if (crossings === null) throw new Error(`bench:host-groups: the coordinator of the ring order ${order} run logged no host crossings: its generation line has changed`);
    return {
      ringOrder: order,
      hostCrossings: Number(crossings[1]),
      examplesPerSecond: s.examplesPerSecond,
      stepMs: (s.globalBatchSize / s.examplesPerSecond) * 1000,
      computeMs: s.meanComputeMs,
      allReduceMs: s.meanAllReduceMs,
      waitMs: s.meanWaitMs,
      rankSentBytesPerStep: s.sentBytesPerStep,
      hostSentBytesPerStep: hostSent.reduce((a, b) => a + b, 0) / hosts.length / Math.max(1, s.steps),
    };
  } finally {
    for (const p of processes) if (p.child.exitCode === null) p.child.kill('SIGKILL');
    process.off('SIGINT', onSignal);
    process.off('SIGTERM', onSignal);
    network.destroy();
  }
}

const unavailable = namespacesUnavailable();
if (unavailable !== null) fail(`needs network namespaces: ${unavailable}`);
const dir = await mkdtemp(join(tmpdir(), 'ringtrain-host-groups-'));
const rows: Row[] = [];
try {
  for (const order of orders) {
    const row = await runOrder(order, dir);
    rows.push(row);
    process.stderr.write(`  ring order ${order}: ${row.examplesPerSecond.toFixed(1)} examples/s, ${(row.hostSentBytesPerStep / 1e6).toFixed(1)} MB per host per step\n`);
  }
} finally {
  await rm(dir, { recursive: true, force: true });
}

if (values.json) {
  process.stdout.write(`${JSON.stringify({ model, hosts: hostCount, workersPerHost: perHost, rateGbit, steps, batchPerWorker, standInComputeMs: standInMs, rows }, null, 2)}\n`);
} else {
  const header = ['ring order', 'host crossings', 'examples/s', 'step ms', 'compute ms', 'exposed comm ms', 'waiting ms', 'rank MB/step', 'host link MB/step', 'streams per host'];
  const table = rows.map((r) => [
    r.ringOrder,
    String(r.hostCrossings),
    r.examplesPerSecond.toFixed(1),
    r.stepMs.toFixed(0),
    r.computeMs.toFixed(0),
    r.allReduceMs.toFixed(0),
    r.waitMs.toFixed(0),
    (r.rankSentBytesPerStep / 1e6).toFixed(1),
    (r.hostSentBytesPerStep / 1e6).toFixed(1),
    (r.hostSentBytesPerStep / r.rankSentBytesPerStep).toFixed(2),
  ]);
  process.stdout.write(
    `bench:host-groups: ${model}, ${hostCount} hosts × ${perHost} workers, ${rateGbit} Gbit/s links, stand-in compute ${standInMs} ms, ${batchPerWorker} examples per worker per step, ${steps} steps\n`,
  );
  process.stdout.write(markdownTable(header, table));
  if (rows.length === 2 && rows[0] !== undefined && rows[1] !== undefined) {
    process.stdout.write(`throughput ${rows[0].ringOrder} / ${rows[1].ringOrder}: ${(rows[0].examplesPerSecond / rows[1].examplesPerSecond).toFixed(2)}\n`);
  }
}
