/**
 * What the coordinator's port tells people and Prometheus: `/status`, `/events`, `/metrics`,
 * `/healthz` and the dashboard's files, over real sockets, during and after a whole run driven
 * by scripted workers whose every figure is chosen here, so each number shown can be checked.
 */
import { spawnSync } from 'node:child_process';
import type { LabelledImages } from '@ringtrain/data';
import { encodeMessage, PROTOCOL_VERSION } from '@ringtrain/protocol';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import WebSocket from 'ws';
import { CoordinatorServer, DASHBOARD_PATHS, PortUnavailableError, RUN_STATUS_SCHEMA_VERSION, type RunResult, type RunStatus } from '../src/index.ts';
import { sampleValue } from './exposition.ts';
import { startScriptedWorker, type ScriptedWorker } from './scripted-worker.ts';

const TOKEN = 'observability-test-token-0123456789';
const TRAIN = 16;
const TEST = 4;
const EPOCHS = 2;
const GLOBAL_BATCH = 4;

function images(count: number): LabelledImages {
  return { images: new Uint8Array(count * 4).fill(3), labels: Uint8Array.from({ length: count }, (_, i) => i % 10), count, rows: 2, cols: 2 };
}

/** Collects the `status` events of `/events` until the server ends the stream. */
function listen(base: string): { events: RunStatus[]; ended: Promise<void>; opened: Promise<void> } {
  const events: RunStatus[] = [];
  let opened!: () => void;
  const openedPromise = new Promise<void>((resolve) => (opened = resolve));
  const ended = (async () => {
    const res = await fetch(`${base}/events`);
    expect(res.headers.get('content-type')).toMatch(/^text\/event-stream/);
    opened();
    const reader = res.body!.getReader();
    const decoder = new TextDecoder();
    let buffer = '';
    for (;;) {
      const { done, value } = await reader.read();
      if (done) return;
      buffer += decoder.decode(value, { stream: true });
      let end: number;
      while ((end = buffer.indexOf('\n\n')) >= 0) {
        const block = buffer.slice(0, end);
        buffer = buffer.slice(end + 2);
        const data = block
          .split('\n')
          .filter((line) => line.startsWith('data: '))
          .map((line) => line.slice('data: '.length))
          .join('\n');
        if (block.includes('event: status') && data !== '') events.push(JSON.parse(data) as RunStatus);
      }
    }
  })();
  return { events, ended, opened: openedPromise };
}

describe('the coordinator port after a scripted run of two workers', () => {
  let server: CoordinatorServer;
  let base: string;
  let result: RunResult;
  let stream: ReturnType<typeof listen>;
  let workers: ScriptedWorker[];
  let rendezvousStatus: RunStatus;

  beforeAll(async () => {
    server = new CoordinatorServer(
      { token: TOKEN, port: 0, minWorkers: 2, tickIntervalMs: 20, rendezvousSettleMs: 0, globalBatchSize: GLOBAL_BATCH, epochs: EPOCHS, statusIntervalMs: 10, checksumEverySteps: 0, compression: { method: 'powersgd', rank: 3, startStep: 7 } },
      { data: { train: images(TRAIN), test: images(TEST) }, initialState: () => new Uint8Array([1, 2, 3, 4]), version: '9.8.7' },
    );
    const { port, url } = await server.start();
    base = `http://127.0.0.1:${port}`;
    stream = listen(base);
    await stream.opened;
    rendezvousStatus = (await (await fetch(`${base}/status`)).json()) as RunStatus;

    // A stranger with the wrong token is turned away before the run starts.
    const stranger = new WebSocket(url);
    stranger.on('error', () => {});
    await new Promise((resolve) => stranger.once('open', resolve));
    stranger.send(encodeMessage({ v: PROTOCOL_VERSION, type: 'hello', token: 'wrong-token-of-a-stranger', workerId: 'stranger', hostname: 'x', pid: 1, backend: 'x', peerAddress: { host: '127.0.0.1', port: 9 }, generation: 0, heartbeatsDuringSteps: true, peerTls: false }));
    await new Promise((resolve) => stranger.once('close', resolve));

    workers = [
      await startScriptedWorker({ url, token: TOKEN, workerId: 'fast', evaluation: { loss: 0.5, correctFraction: 0.5 }, step: { loss: 2, correctFraction: 0.5, computeMs: 10, allReduceMs: 4, waitMs: 6 } }),
      await startScriptedWorker({ url, token: TOKEN, workerId: 'slow', evaluation: { loss: 0.5, correctFraction: 0.5 }, step: { loss: 1, correctFraction: 1, computeMs: 30, allReduceMs: 4, waitMs: 1 } }),
    ];
    result = await server.done;
    await Promise.all(workers.map((w) => w.closed));
    while (!server.status().workers.every((w) => !w.connected)) await new Promise((r) => setTimeout(r, 10));
  });

  afterAll(async () => {
    await server?.close();
  });

  it('shows the configuration and an empty progress while it waits for workers', () => {
    expect(rendezvousStatus).toMatchObject({
      schemaVersion: RUN_STATUS_SCHEMA_VERSION,
      version: '9.8.7',
      phase: 'rendezvous',
      failure: null,
      run: { model: 'resnet18', epochs: EPOCHS, globalBatchSize: GLOBAL_BATCH, batchSizePerWorker: null, minWorkers: 2, worldSize: 0, trainExamples: TRAIN, testExamples: TEST, compression: { method: 'powersgd', rank: 3, startStep: 7 } },
      progress: { stepsDone: 0, totalSteps: null, fraction: 0, etaSeconds: null, startedAtMs: null },
      throughput: { examplesPerSecond: 0, windowSeconds: 30, examplesProcessed: 0 },
      latest: { step: null, trainLoss: null, testAccuracy: null },
      epochs: [],
      workers: [],
    });
    expect(rendezvousStatus.series.step).toEqual([]);
  });

  it('reports the finished run in /status with the figures the workers sent', async () => {
    const res = await fetch(`${base}/status`);
    expect(res.headers.get('content-type')).toMatch(/^application\/json/);
    const status = (await res.json()) as RunStatus;
    const steps = (TRAIN / GLOBAL_BATCH) * EPOCHS;
    expect(status.phase).toBe('finished');
    expect(status.progress).toMatchObject({ epoch: EPOCHS - 1, epochs: EPOCHS, stepsDone: steps, totalSteps: steps, stepsPerEpoch: TRAIN / GLOBAL_BATCH, fraction: 1, etaSeconds: 0 });
    expect(status.throughput).toMatchObject({ examplesProcessed: TRAIN * EPOCHS, stepsCompleted: steps });
    // Both ranks report 2 examples per step: losses 2 and 1, accuracies 1/2 and 2/2.
    expect(status.latest.trainLoss).toBeCloseTo(1.5);
    expect(status.latest.trainAccuracy).toBeCloseTo(0.75);
    expect(status.run).toMatchObject({ worldSize: 2, generation: 1, batchSizePerWorker: GLOBAL_BATCH / 2, backends: ['scripted'] });
    expect(status.epochs.map((e) => [e.epoch, e.testAccuracy, e.testLoss, e.endStep])).toEqual([
      [0, 0.5, 0.5, steps / 2],
      [1, 0.5, 0.5, steps],
    ]);
    expect(status.epochs[1]?.testAccuracy).toBe(result.testAccuracy);
    expect(JSON.stringify(status)).not.toContain(TOKEN);
  });

  it("lists each worker with its rank, host, backend and its own step-time split", async () => {
    const status = (await (await fetch(`${base}/status`)).json()) as RunStatus;
    const byId = Object.fromEntries(status.workers.map((w) => [w.workerId, w]));
    expect(status.workers.map((w) => w.rank)).toEqual([0, 1]);
    expect(byId['fast']).toMatchObject({ rank: 0, host: 'scripted-host', pid: 4242, backend: 'scripted', state: 'finished', connected: false, steps: 8, examples: 16, lastStep: 7 });
    expect(byId['fast']?.stepTimeMs).toEqual({ compute: 10, allReduce: 4, waiting: 6 });
    expect(byId['slow']?.stepTimeMs).toEqual({ compute: 30, allReduce: 4, waiting: 1 });
  });

  it('keeps one point per step for the curves, with the test accuracy on the last step of each epoch', async () => {
    const { series } = (await (await fetch(`${base}/status`)).json()) as RunStatus;
    expect(series.step).toEqual([1, 2, 3, 4, 5, 6, 7, 8]);
    expect(series.testAccuracy).toEqual([null, null, null, 0.5, null, null, null, 0.5]);
    expect(series.loss.every((l) => l !== null && Math.abs(l - 1.5) < 1e-9)).toBe(true);
    expect(series.t.every((t, i) => i === 0 || t >= (series.t[i - 1] ?? 0))).toBe(true);
    expect(series.examplesPerSecond.every((x) => x > 0)).toBe(true);
  });

  it('pushed the status over /events as the run went, and ends the stream when the server closes', async () => {
    const phases = new Set(stream.events.map((e) => e.phase));
    expect(phases.has('rendezvous')).toBe(true);
    expect(phases.has('finished')).toBe(true);
    const steps = stream.events.map((e) => e.progress.stepsDone);
    expect(steps).toEqual([...steps].sort((a, b) => a - b));
    const closing = server.close();
    await stream.ended;
    await closing;
    expect(stream.events.at(-1)?.phase).toBe('finished');
  });

  it('exports the run in /metrics, from the same reports', async () => {
    // The server is closed by now; its registry still holds what it served.
    const text = await server.registry.metrics();
    expect(sampleValue(text, 'ringtrain_steps_completed_total')).toBe(8);
    expect(sampleValue(text, 'ringtrain_examples_processed_total')).toBe(TRAIN * EPOCHS);
    expect(sampleValue(text, 'ringtrain_test_accuracy_ratio')).toBe(0.5);
    expect(sampleValue(text, 'ringtrain_evaluations_total')).toBe(EPOCHS);
    expect(sampleValue(text, 'ringtrain_planned_steps')).toBe(8);
    expect(sampleValue(text, 'ringtrain_run_state', { state: 'finished' })).toBe(1);
    expect(sampleValue(text, 'ringtrain_build_info', { version: '9.8.7', backend: 'scripted', model: 'resnet18' })).toBe(1);
    expect(sampleValue(text, 'ringtrain_step_phase_seconds_count', { rank: '1', phase: 'compute' })).toBe(8);
    expect(sampleValue(text, 'ringtrain_step_phase_seconds_sum', { rank: '1', phase: 'compute' })).toBeCloseTo(8 * 0.03);
    expect(sampleValue(text, 'ringtrain_step_phase_seconds_sum', { rank: '0', phase: 'waiting' })).toBeCloseTo(8 * 0.006);
    expect(sampleValue(text, 'ringtrain_failures_total', { reason: 'auth_rejected' })).toBe(1);
    expect(sampleValue(text, 'ringtrain_failures_total', { reason: 'disconnected' })).toBe(0);
    expect(sampleValue(text, 'ringtrain_rendezvous_total')).toBe(1);
  });

  it('passes promtool check metrics', async () => {
    const text = await server.registry.metrics();
    const check = spawnSync('promtool', ['check', 'metrics'], { input: text, encoding: 'utf8' });
    expect(check.error).toBeUndefined();
    expect(`${check.stdout}${check.stderr}`.trim()).toBe('');
    expect(check.status).toBe(0);
  });
});

describe('the coordinator port', () => {
  let servers: CoordinatorServer[] = [];

  async function start(port = 0): Promise<{ server: CoordinatorServer; base: string; port: number }> {
    const server = new CoordinatorServer({ token: TOKEN, port }, { data: { train: images(8), test: images(2) }, initialState: () => new Uint8Array(4) });
    servers.push(server);
    const started = await server.start();
    return { server, base: `http://127.0.0.1:${started.port}`, port: started.port };
  }

  afterAll(async () => {
    await Promise.all(servers.map((s) => s.close()));
    servers = [];
  });

  it('serves the dashboard and every file it loads from this port, under a strict content policy', async () => {
    const { base } = await start();
    const page = await fetch(`${base}/`);
    expect(page.status).toBe(200);
    expect(page.headers.get('content-type')).toBe('text/html; charset=utf-8');
    expect(page.headers.get('content-security-policy')).toContain("default-src 'none'");
    const html = await page.text();
    const referenced = [...html.matchAll(/<(?:script|link|img)\b[^>]*?(?:src|href)="(\/[^"]*)"/g)].map((m) => m[1]);
    expect(referenced.length).toBeGreaterThan(3);
    for (const path of referenced) {
      expect(DASHBOARD_PATHS).toContain(path);
      const res = await fetch(`${base}${path ?? ''}`);
      expect(res.status, path).toBe(200);
      expect((await res.arrayBuffer()).byteLength, path).toBeGreaterThan(100);
    }
    // Nothing is loaded from elsewhere: the page works without internet.
    expect(html).not.toMatch(/(?:src|href)="(?:https?:)?\/\//);
    expect(await (await fetch(`${base}/vendor/uPlot.iife.min.js`)).text()).toContain('uPlot');
  });

  it('answers /healthz with the phase, and unknown paths and methods with errors that list the routes', async () => {
    const { base } = await start();
    const health = await fetch(`${base}/healthz`);
    expect(health.status).toBe(200);
    expect(await health.json()).toMatchObject({ status: 'ok', phase: 'rendezvous', workers: 0, step: 0 });
    const missing = await fetch(`${base}/nowhere`);
    expect(missing.status).toBe(404);
    expect(await missing.text()).toContain('/status, /events, /metrics and /healthz');
    const post = await fetch(`${base}/status`, { method: 'POST' });
    expect(post.status).toBe(405);
    expect(post.headers.get('allow')).toBe('GET, HEAD');
  });

  it('gives every server a registry of its own, so two in one process both serve their metrics', async () => {
    const a = await start();
    const b = await start();
    expect(a.server.registry).not.toBe(b.server.registry);
    for (const { base } of [a, b]) {
      const res = await fetch(`${base}/metrics`);
      expect(res.status).toBe(200);
      expect(res.headers.get('content-type')).toMatch(/^text\/plain/);
      const text = await res.text();
      expect(sampleValue(text, 'ringtrain_run_state', { state: 'waiting_for_workers' })).toBe(1);
      expect(text).toContain('ringtrain_process_cpu_seconds_total');
    }
  });

  it('refuses a port that is taken with an error naming the address and the way out', async () => {
    const { port } = await start();
    const second = start(port);
    await expect(second).rejects.toThrow(PortUnavailableError);
    await expect(second).rejects.toThrow(`cannot listen on 127.0.0.1:${port}: the port is in use (choose another --port, or 0 for a free one)`);
  });
});
