/**
 * Two workers on each of two hosts (network namespaces on one bridge), joining interleaved:
 * a0, b0, a1, b1. Host a's workers are grouped by their address; host b's name their group
 * (`--host-group node-b`, as a Kubernetes node name would). In join order every link of the ring
 * would cross between the hosts, so each host would send two gradient streams over its link;
 * grouped by host the ring crosses twice in all and each host sends one. The test runs the same
 * training both ways and reads each host's veth counter: the bytes on the wire, not the
 * coordinator's word for it.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { ChildProcess } from 'node:child_process';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { BIN, readSummary } from './launch-helpers.ts';
import { readCommittedSteps, sampleCounts, type CommittedStep } from './support/committed-steps.ts';
import { namespacesUnavailable, TestNetwork } from './support/network-hosts.ts';
import { until } from './support/worker-processes.ts';
import type { RunSummary } from '../src/index.ts';

const TRAIN = 1280;
const TOKEN = 'host-grouped-ring-test-token-0123';
const WORKERS = [
  { id: 'a0', host: 'a' },
  { id: 'b0', host: 'b' },
  { id: 'a1', host: 'a' },
  { id: 'b1', host: 'b' },
] as const;
const unavailable = namespacesUnavailable();

interface OrderedRun {
  exitCode: number | null;
  output: string;
  summary: RunSummary;
  committed: CommittedStep[];
  /** Bytes each host sent on its link during the run. */
  hostSent: { a: number; b: number };
}

async function trainWithRingOrder(order: 'hosts' | 'joined', dir: string, processes: ChildProcess[], networks: TestNetwork[]): Promise<OrderedRun> {
  const network = new TestNetwork(`rg${order[0]}${process.pid % 1000}`);
  networks.push(network);
  const coordinator = network.addHost('coord');
  const hosts = { a: network.addHost('a'), b: network.addHost('b') };
  const env = { ...process.env, RINGTRAIN_TOKEN: TOKEN };
  const stepLog = join(dir, `${order}-steps.jsonl`);
  const summaryPath = join(dir, `${order}-summary.json`);
  const server = network.ringtrain('coord', [
    'coordinator',
    '--host', coordinator.address, '--port', '7070',
    '--min-workers', '4', '--ring-order', order,
    '--model', 'resnet18', '--width', '0.25', '--epochs', '1', '--batch-size', '64',
    '--limit-train', String(TRAIN), '--limit-test', '200', '--checksum-every', '1',
    '--step-log', stepLog, '--summary-json', summaryPath, '--log-format', 'json',
  ], env);
  processes.push(server.child);
  await until('the coordinator listens', () => server.output().includes('coordinator listening on'));
  const before = { a: network.sentBytes('a'), b: network.sentBytes('b') };
  for (const w of WORKERS) {
    const worker = network.spawn(w.host, process.execPath, [
      BIN, 'worker', '--coordinator', `ws://${coordinator.address}:7070`, '--worker-id', w.id,
      '--peer-host', hosts[w.host].address, '--metrics-port', '0', '--workers-per-machine', '4', '--log-level', 'warn',
      ...(w.host === 'b' ? ['--host-group', 'node-b'] : []),
    ], { env, stdio: 'ignore' });
    processes.push(worker);
    // One at a time, so that the join order is the interleaved one.
    await until(`worker ${w.id} joins`, () => server.output().includes(`worker ${w.id} joined`));
  }
  const exitCode = await server.exited;
  return {
    exitCode,
    output: server.output(),
    summary: await readSummary(summaryPath),
    committed: await readCommittedSteps(stepLog),
    hostSent: { a: network.sentBytes('a') - before.a, b: network.sentBytes('b') - before.b },
  };
}

describe.skipIf(unavailable !== null)(`a ring over two hosts of two workers each${unavailable === null ? '' : ` (skipped: ${unavailable})`}`, () => {
  let dir: string;
  const processes: ChildProcess[] = [];
  const networks: TestNetwork[] = [];
  const runs = {} as Record<'hosts' | 'joined', OrderedRun>;

  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'ringtrain-host-groups-'));
    runs.hosts = await trainWithRingOrder('hosts', dir, processes, networks);
    runs.joined = await trainWithRingOrder('joined', dir, processes, networks);
  }, 600_000);

  afterAll(async () => {
    for (const p of processes) if (p.exitCode === null) p.kill('SIGKILL');
    for (const n of networks) n.destroy();
    if (dir !== undefined) await rm(dir, { recursive: true, force: true });
  });

  it.each(['hosts', 'joined'] as const)('trains every sample once with identical replicas in ring order %s', (order) => {
    const run = runs[order];
    expect(run.exitCode, run.output).toBe(0);
    expect(run.summary.generations).toBe(1);
    expect(run.summary.checksumsAgreed).toBe(run.summary.steps);
    const counts = sampleCounts(run.committed, 0);
    expect(counts.size).toBe(TRAIN);
    expect([...counts.values()].every((c) => c === 1)).toBe(true);
  });

  it('puts each host\'s workers side by side, whatever the join order', () => {
    expect(runs.hosts.output).toMatch(/"ring":\["a0","a1","b0","b1"\],"hostGroups":\["10\.231\.7\.2","10\.231\.7\.2","node-b","node-b"\]/);
    expect(runs.hosts.output).toMatch(/the ring spans 2 host groups and crosses between them 2 times/);
    expect(runs.joined.output).toMatch(/"ring":\["a0","b0","a1","b1"\],"hostGroups":\["10\.231\.7\.2","node-b","10\.231\.7\.2","node-b"\]/);
    expect(runs.joined.output).toMatch(/the ring spans 2 host groups and crosses between them 4 times/);
  });

  it('sends one stream per host over the network grouped, two in join order', () => {
    for (const order of ['hosts', 'joined'] as const) {
      const { summary, hostSent } = runs[order];
      // What one rank sent in all the run's all-reduces: one stream's worth.
      const stream = summary.sentBytesPerStep * summary.steps;
      const streams = order === 'hosts' ? 1 : 2;
      for (const host of ['a', 'b'] as const) {
        // Above: TCP/IP headers, WebSocket framing, the workers' reports to the coordinator and
        // the acks of what the host received; far below a second stream.
        expect(hostSent[host] / stream, `${order}: host ${host} sent ${hostSent[host]} bytes, one stream is ${stream}`).toBeGreaterThan(streams * 0.98);
        expect(hostSent[host] / stream, `${order}: host ${host} sent ${hostSent[host]} bytes, one stream is ${stream}`).toBeLessThan(streams * 1.2);
      }
    }
  });
});
