/**
 * A worker's own metrics port, over real sockets: a worker trains a short plan against a
 * scripted coordinator, and its `/metrics` must hold exactly the step timings it reported to the
 * coordinator, the ring traffic the ring counted, the tensors its compute holds, and its failure
 * once the coordinator goes away; `/healthz` follows its lifecycle.
 */
import { spawnSync } from 'node:child_process';
import { createServer } from 'node:net';
import type { AddressInfo } from 'node:net';
import type { CoordinatorToWorker, StepReportMessage, WorkerToCoordinator } from '@ringtrain/protocol';
import { afterEach, describe, expect, it } from 'vitest';
import { WebSocketServer, type WebSocket } from 'ws';
import {
  createWorkerMetricsRegistry,
  MetricsPortError,
  startWorkerMetricsServer,
  weightChecksum,
  Worker,
  type ComputeProvider,
  type ReplicaTrainer,
  type ListenForPeers,
  type WorkerMetricsServer,
} from '../src/index.ts';
import { encodeMessage, parseWorkerToCoordinatorForTest, PROTOCOL_VERSION } from './wire-for-tests.ts';

const TOKEN = 'worker-metrics-test-token';
/** What the ring says each all-reduce sent and received. */
const RING_BYTES = { sent: 1200, received: 1100 };
const MEMORY = { numTensors: 17, numBytes: 4096 };

const compute: ComputeProvider = {
  backend: 'fake',
  memory: () => MEMORY,
  createTrainer(): ReplicaTrainer {
    return {
      computeGradients: (_x, labels) => {
        return { loss: 0.5, correct: 1, count: labels.length, flat: new Float32Array(8) };
      },
      applyGradients: () => {},
      evaluate: (_x, labels) => ({ loss: 0.5, correct: labels.length, count: labels.length }),
      getState: () => new Uint8Array(4),
      setState: () => {},
      weightChecksum: () => weightChecksum(new Float32Array(1)),
      dispose: () => {},
    };
  },
};

const countingRing: ListenForPeers = async () => ({
  address: { host: '127.0.0.1', port: 1 },
  joinRing: async () => ({
    allReduce: async (data, options) => {
      await new Promise((r) => setTimeout(r, 2));
      return { data, step: options?.step ?? 0, durationMs: 2, waitMs: 0.5, bytesSent: RING_BYTES.sent, bytesReceived: RING_BYTES.received, buckets: 1 };
    },
    close: async () => {},
  }),
  close: async () => {},
});

interface Coordinator {
  url: string;
  received: WorkerToCoordinator[];
  socket: Promise<WebSocket>;
  send(message: CoordinatorToWorker): Promise<void>;
  waitFor(type: WorkerToCoordinator['type'], n?: number): Promise<WorkerToCoordinator>;
}

const cleanups: (() => Promise<void>)[] = [];
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});

async function scriptedCoordinator(): Promise<Coordinator> {
  const server = new WebSocketServer({ port: 0, host: '127.0.0.1' });
  cleanups.push(
    () =>
      new Promise((r) => {
        for (const client of server.clients) client.terminate();
        server.close(() => r());
      }),
  );
  await new Promise((r) => server.once('listening', r));
  const received: WorkerToCoordinator[] = [];
  const waiters: (() => void)[] = [];
  let closed = false;
  const socket = new Promise<WebSocket>((resolve) => server.once('connection', resolve));
  void socket.then((s) => {
    s.on('message', (data: Buffer) => {
      received.push(parseWorkerToCoordinatorForTest(data));
      for (const w of waiters.splice(0)) w();
    });
    s.on('close', () => {
      closed = true;
      for (const w of waiters.splice(0)) w();
    });
  });
  return {
    url: `ws://127.0.0.1:${(server.address() as AddressInfo).port}`,
    received,
    socket,
    send: async (message) => (await socket).send(encodeMessage(message)),
    async waitFor(type, n = 1) {
      for (;;) {
        const found = received.filter((m) => m.type === type);
        if (found.length >= n) return found[n - 1] as WorkerToCoordinator;
        if (closed) throw new Error(`the worker closed its connection before ${type} #${n}: ${JSON.stringify(received.at(-1))}`);
        await new Promise<void>((r) => waiters.push(r));
      }
    },
  };
}

async function startWorker(): Promise<{ c: Coordinator; worker: Worker; run: Promise<unknown>; server: WorkerMetricsServer; base: string }> {
  const c = await scriptedCoordinator();
  const { registry, metrics } = createWorkerMetricsRegistry({ version: '1.2.3', backend: compute.backend });
  const worker = new Worker({ coordinatorUrl: c.url, token: TOKEN, workerId: 'w-metrics', connectTimeoutMs: 2000, reconnectTimeoutMs: 0 }, { compute, listen: countingRing, metrics, ...(process.env['DEBUG_WORKER'] === '1' ? { logger: { debug: console.log, info: console.log, warn: console.log, error: console.log } } : {}) });
  const server = await startWorkerMetricsServer({ port: 0, registry, worker });
  cleanups.push(() => server.close());
  const run = worker.run();
  run.catch(() => {});
  await c.waitFor('hello');
  return { c, worker, run, server, base: `http://127.0.0.1:${server.address.port}` };
}

async function trainThreeSteps(c: Coordinator): Promise<StepReportMessage[]> {
  await c.send({ v: PROTOCOL_VERSION, type: 'welcome', workerId: 'w-metrics', heartbeatIntervalMs: 1000 });
  const model = { depth: 34, stem: 'small', widthMultiplier: 0.25, imageSize: 2, channels: 1, classes: 10, seed: 0, zeroInitResidual: false } as const;
  const hyper = { batchSizePerWorker: 2, momentum: 0, nesterov: false, weightDecay: 0, labelSmoothing: 0, testTimeFlip: false, preprocess: { mean: 0, std: 1, augment: false, seed: 0 }, checksumEverySteps: 0, maxBucketBytes: 1024, compression: { method: 'none', rank: 2, startStep: 0 } } as const;
  await c.send({ v: PROTOCOL_VERSION, type: 'assign', generation: 1, rank: 0, worldSize: 1, ring: [{ rank: 0, workerId: 'w-metrics', address: { host: '127.0.0.1', port: 1 } }], model, hyper });
  await c.waitFor('replica');
  await c.send({ v: PROTOCOL_VERSION, type: 'sync', generation: 1, step: 0, keep: false, epoch: 0, offset: 0, finishedByPeers: 0 });
  await c.send({ v: PROTOCOL_VERSION, type: 'state', generation: 1, step: 0, offset: 0, totalBytes: 4, bytes: new Uint8Array(4) });
  await c.send({ v: PROTOCOL_VERSION, type: 'dataset', generation: 1, split: 'train', rows: 2, cols: 2, indices: Uint32Array.from([0, 1, 2, 3, 4, 5]), images: new Uint8Array(24), labels: Uint8Array.from([1, 2, 3, 4, 5, 6]) });
  await c.waitFor('ready');
  await c.send({ v: PROTOCOL_VERSION, type: 'plan', generation: 1, epoch: 0, firstStep: 0, indices: Uint32Array.from([5, 4, 3, 2, 1, 0]), learningRates: Float32Array.from([0.1, 0.1, 0.1]), positions: new Uint32Array(3) });
  await c.waitFor('step-report', 3);
  return c.received.filter((m): m is StepReportMessage => m.type === 'step-report');
}

/** The value of `name{labels}` in an exposition. */
function sample(text: string, name: string, labels: string): number | undefined {
  const line = text.split('\n').find((l) => l.startsWith(`${name}{${labels}} `));
  return line === undefined ? undefined : Number(line.slice(line.lastIndexOf(' ') + 1));
}

describe("a worker's metrics port", () => {
  it('serves the step timings the worker reported, its ring traffic and its tensor memory', async () => {
    const { c, base } = await startWorker();
    const reports = await trainThreeSteps(c);
    const text = await (await fetch(`${base}/metrics`)).text();
    const seconds = (key: 'computeMs' | 'allReduceMs' | 'waitMs') => reports.reduce((s, r) => s + r[key], 0) / 1000;

    expect(sample(text, 'ringtrain_worker_examples_processed_total', 'rank="0"')).toBe(6);
    for (const [phase, key] of [['compute', 'computeMs'], ['all_reduce', 'allReduceMs'], ['waiting', 'waitMs']] as const) {
      expect(sample(text, 'ringtrain_worker_step_phase_seconds_count', `rank="0",phase="${phase}"`)).toBe(3);
      expect(sample(text, 'ringtrain_worker_step_phase_seconds_sum', `rank="0",phase="${phase}"`)).toBeCloseTo(seconds(key), 9);
    }
    // Durations are measured, so only their count is asserted (a slow machine must not fail this test).
    expect(sample(text, 'ringtrain_worker_allreduce_duration_seconds_count', 'rank="0"')).toBe(3);
    expect(sample(text, 'ringtrain_worker_allreduce_sent_bytes_total', 'rank="0"')).toBe(3 * RING_BYTES.sent);
    expect(sample(text, 'ringtrain_worker_allreduce_received_bytes_total', 'rank="0"')).toBe(3 * RING_BYTES.received);
    expect(sample(text, 'ringtrain_worker_gradient_bytes', 'rank="0"')).toBe(8 * 4);
    expect(sample(text, 'ringtrain_worker_tfjs_tensors', 'rank="0"')).toBe(MEMORY.numTensors);
    expect(sample(text, 'ringtrain_worker_tfjs_memory_bytes', 'rank="0"')).toBe(MEMORY.numBytes);
    expect(sample(text, 'ringtrain_build_info', 'version="1.2.3",backend="fake",model="resnet34"')).toBe(1);

    const check = spawnSync('promtool', ['check', 'metrics'], { input: text, encoding: 'utf8' });
    expect(`${check.stdout}${check.stderr}`.trim()).toBe('');
    expect(check.status).toBe(0);
  });

  it('answers /healthz while the worker lives and 503 once it lost its coordinator, and counts the failure', async () => {
    const { c, base, run } = await startWorker();
    const before = await fetch(`${base}/healthz`);
    expect(before.status).toBe(200);
    expect(await before.json()).toMatchObject({ status: 'ok', state: 'connecting', workerId: 'w-metrics', rank: null, inRing: false, steps: 0 });
    await trainThreeSteps(c);
    expect(await (await fetch(`${base}/healthz`)).json()).toMatchObject({ status: 'ok', state: 'ready', rank: 0, generation: 1, inRing: true, steps: 3 });

    (await c.socket).terminate();
    await expect(run).rejects.toThrow('the coordinator connection closed unexpectedly');
    const after = await fetch(`${base}/healthz`);
    expect(after.status).toBe(503);
    expect(await after.json()).toMatchObject({ status: 'closed', state: 'closed' });
    const text = await (await fetch(`${base}/metrics`)).text();
    expect(sample(text, 'ringtrain_worker_failures_total', 'rank="0",reason="coordinator_lost"')).toBe(1);
    expect(sample(text, 'ringtrain_worker_failures_total', 'rank="0",reason="step_error"')).toBe(0);
  });

  it('refuses a port that is taken with an error naming the address and the way out', async () => {
    const blocker = createServer();
    await new Promise<void>((resolve) => blocker.listen(0, '127.0.0.1', resolve));
    cleanups.push(() => new Promise((r) => blocker.close(() => r())));
    const port = (blocker.address() as AddressInfo).port;
    const { registry } = createWorkerMetricsRegistry({ version: '1.2.3', backend: 'fake' });
    const worker = new Worker({ coordinatorUrl: 'ws://127.0.0.1:9', token: TOKEN }, { compute, listen: countingRing });
    const attempt = startWorkerMetricsServer({ port, registry, worker });
    await expect(attempt).rejects.toThrow(MetricsPortError);
    await expect(attempt).rejects.toThrow(`cannot serve metrics on 127.0.0.1:${port}: the port is in use (choose another --metrics-port, or 0 to serve no metrics)`);
  });
});
