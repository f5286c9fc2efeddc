/**
 * The worker's control loop against a scripted coordinator over a real WebSocket, with a
 * stand-in replica and a ring of one. Covers the happy path and every way the coordinator can
 * send something wrong: the worker must close with a clear error and the right code, and
 * `run()` must reject instead of crashing.
 */
import type { AddressInfo } from 'node:net';
import type { CoordinatorToWorker, WorkerToCoordinator } from '@ringtrain/protocol';
import { afterEach, describe, expect, it } from 'vitest';
import { WebSocketServer, type WebSocket } from 'ws';
import { PeerLinkLostError, RingClosedError } from '../src/allreduce/index.ts';
import { weightChecksum, Worker, type ComputeProvider, type WorkerOptions, type ListenForPeers, type ReplicaTrainer, type Ring } from '../src/index.ts';
import { encodeMessage, parseWorkerToCoordinatorForTest, PROTOCOL_VERSION } from './wire-for-tests.ts';

const TOKEN = 'worker-connection-test-token';

/** A replica whose "weights" are a counter: gradients are constant, so every step is checkable. */
function fakeCompute(): ComputeProvider & { applied: number[]; created: number } {
  const applied: number[] = [];
  return {
    backend: 'fake',
    applied,
    created: 0,
    createTrainer(): ReplicaTrainer {
      this.created += 1;
      let values = new Float32Array([0, 0, 0]);
      return {
        computeGradients: (x, labels) => ({ loss: 1 / (1 + applied.length), correct: labels.length - 1, count: labels.length, flat: new Float32Array([1, x.length, labels.length]) }),
        applyGradients: (averaged, learningRate) => {
          applied.push(learningRate);
          values = values.map((v, i) => v - learningRate * (averaged[i] ?? 0));
        },
        evaluate: (_x, labels) => ({ loss: 0.5, correct: labels.length, count: labels.length }),
        getState: () => new Uint8Array(values.buffer.slice(0)),
        setState: (bytes) => {
          values = new Float32Array(bytes.slice().buffer);
        },
        weightChecksum: () => weightChecksum(values),
        dispose: () => {},
      };
    },
  };
}

/** A ring of one: the average of one gradient is itself. */
const soloRing: Ring = {
  allReduce: async (data, options) => ({ data, step: options?.step ?? 0, durationMs: 0, waitMs: 0, bytesSent: 0, bytesReceived: 0, buckets: 1 }),
  close: async () => {},
};

/** A peer server whose rings are made by `ring(generation)`. */
function peersWith(ring: (generation: number) => Ring = () => soloRing): ListenForPeers & { joined: number[] } {
  const joined: number[] = [];
  const listen = async () => ({
    address: { host: '127.0.0.1', port: 1 },
    joinRing: async (options: { generation: number }) => {
      joined.push(options.generation);
      return ring(options.generation);
    },
    close: async () => {},
  });
  return Object.assign(listen, { joined });
}

interface Coordinator {
  url: string;
  received: WorkerToCoordinator[];
  closed: Promise<{ code: number; reason: string }>;
  socket: Promise<WebSocket>;
  send(message: CoordinatorToWorker): Promise<void>;
  sendRaw(bytes: Buffer | string): Promise<void>;
  /** Resolves when a message of `type` arrived (the n-th one). */
  waitFor(type: WorkerToCoordinator['type'], n?: number): Promise<WorkerToCoordinator>;
}

let servers: WebSocketServer[] = [];
afterEach(async () => {
  for (const s of servers) for (const client of s.clients) client.terminate();
  await Promise.all(servers.map((s) => new Promise((r) => s.close(r))));
  servers = [];
});

async function scriptedCoordinator(port = 0): Promise<Coordinator & { server: WebSocketServer }> {
  const server = new WebSocketServer({ port, host: '127.0.0.1' });
  servers.push(server);
  await new Promise((r) => server.once('listening', r));
  const received: WorkerToCoordinator[] = [];
  const waiters: (() => void)[] = [];
  const socket = new Promise<WebSocket>((resolve) => server.once('connection', resolve));
  const closed = socket.then((s) => new Promise<{ code: number; reason: string }>((resolve) => s.once('close', (code, reason) => resolve({ code, reason: reason.toString() }))));
  void socket.then((s) =>
    s.on('message', (data: Buffer) => {
      received.push(parseWorkerToCoordinatorForTest(data));
      for (const w of waiters.splice(0)) w();
    }),
  );
  const waitFor = async (type: WorkerToCoordinator['type'], n = 1): Promise<WorkerToCoordinator> => {
    for (;;) {
      const found = received.filter((m) => m.type === type);
      if (found.length >= n) return found[n - 1] as WorkerToCoordinator;
      await new Promise<void>((r) => waiters.push(r));
    }
  };
  return {
    server,
    url: `ws://127.0.0.1:${(server.address() as AddressInfo).port}`,
    received,
    closed,
    socket,
    send: async (message) => (await socket).send(encodeMessage(message)),
    sendRaw: async (bytes) => (await socket).send(bytes),
    waitFor,
  };
}

const MODEL = { depth: 18, stem: 'small', widthMultiplier: 0.25, imageSize: 2, channels: 1, classes: 10, seed: 0, zeroInitResidual: false } as const;
const HYPER = {
  batchSizePerWorker: 2,
  momentum: 0,
  nesterov: false,
  weightDecay: 0,
  labelSmoothing: 0,
  testTimeFlip: false,
  preprocess: { mean: 0, std: 1, augment: false, seed: 0 },
  checksumEverySteps: 2,
  maxBucketBytes: 1024,
  compression: { method: 'none', rank: 2, startStep: 0 },
} as const;

async function startWorker(
  coordinator: Coordinator,
  compute = fakeCompute(),
  listen: ListenForPeers = peersWith(),
  options: Partial<WorkerOptions> = {},
): Promise<{ worker: Worker; run: Promise<unknown>; compute: ReturnType<typeof fakeCompute> }> {
  const logger = process.env['DEBUG_WORKER'] === '1' ? { debug: console.log, info: console.log, warn: console.log, error: console.log } : undefined;
  const worker = new Worker(
    { coordinatorUrl: coordinator.url, token: TOKEN, workerId: 'w-test', maxMessageBytes: 64 * 1024, connectTimeoutMs: 2000, ...options },
    { compute, listen, ...(logger === undefined ? {} : { logger }) },
  );
  const run = worker.run();
  run.catch(() => {});
  await coordinator.waitFor('hello');
  return { worker, run, compute };
}

function assign(generation: number): CoordinatorToWorker {
  return { v: PROTOCOL_VERSION, type: 'assign', generation, rank: 0, worldSize: 1, ring: [{ rank: 0, workerId: 'w-test', address: { host: '127.0.0.1', port: 1 } }], model: MODEL, hyper: HYPER };
}

/** Welcome, assign, replica, sync, state, data: the worker answers ready. */
async function bringUp(c: Coordinator): Promise<void> {
  await c.send({ v: PROTOCOL_VERSION, type: 'welcome', workerId: 'w-test', heartbeatIntervalMs: 1000 });
  await c.send(assign(1));
  expect(await c.waitFor('replica')).toMatchObject({ generation: 1, stepsDone: -1, abortedStep: -1 });
  await c.send({ v: PROTOCOL_VERSION, type: 'sync', generation: 1, step: 0, keep: false, epoch: 0, offset: 0, finishedByPeers: 0 });
  const state = new Uint8Array(new Float32Array([5, 5, 5]).buffer);
  await c.send({ v: PROTOCOL_VERSION, type: 'state', generation: 1, step: 0, offset: 0, totalBytes: 12, bytes: state.subarray(0, 8) });
  await c.send({ v: PROTOCOL_VERSION, type: 'state', generation: 1, step: 0, offset: 8, totalBytes: 12, bytes: state.subarray(8) });
  await c.send({
    v: PROTOCOL_VERSION,
    type: 'dataset',
    generation: 1,
    split: 'train',
    rows: 2,
    cols: 2,
    indices: Uint32Array.from([10, 11, 12, 13, 14]),
    images: new Uint8Array(20).fill(100),
    labels: Uint8Array.from([1, 2, 3, 4, 5]),
  });
  await c.waitFor('ready');
}

describe('a worker talking to its coordinator', () => {
  it('pings the coordinator at the interval its welcome gives, as its own sign of life, and stops when it leaves', async () => {
    const c = await scriptedCoordinator();
    const { worker, run } = await startWorker(c);
    const socket = await c.socket;
    let pings = 0;
    socket.on('ping', () => (pings += 1));
    expect(pings).toBe(0);
    await c.send({ v: PROTOCOL_VERSION, type: 'welcome', workerId: 'w-test', heartbeatIntervalMs: 20 });
    await expect.poll(() => pings).toBeGreaterThanOrEqual(3);
    worker.shutdown('test over');
    await run.catch(() => {});
    const after = pings;
    await new Promise((r) => setTimeout(r, 100));
    expect(pings).toBe(after);
  });

  it('names its host group in hello when given one, and leaves it to its peer address otherwise', async () => {
    const grouped = await scriptedCoordinator();
    const first = await startWorker(grouped, fakeCompute(), peersWith(), { hostGroup: 'node-b' });
    expect(grouped.received[0]).toMatchObject({ type: 'hello', hostGroup: 'node-b' });
    first.worker.shutdown('test over');
    await first.run.catch(() => {});
    const plain = await scriptedCoordinator();
    const second = await startWorker(plain);
    expect(Object.hasOwn(plain.received[0] as object, 'hostGroup')).toBe(false);
    second.worker.shutdown('test over');
    await second.run.catch(() => {});
    expect(() => new Worker({ coordinatorUrl: plain.url, token: TOKEN, hostGroup: '' }, { compute: fakeCompute(), listen: peersWith() })).toThrow(/hostGroup must be a name of 1 to 255 characters, got ""/);
  });

  it('says hello with the token, trains its plan, evaluates, answers a state request and stops cleanly', async () => {
    const c = await scriptedCoordinator();
    const { worker, run, compute } = await startWorker(c);
    const hello = c.received[0];
    expect(hello).toMatchObject({ type: 'hello', token: TOKEN, workerId: 'w-test', backend: 'fake', v: PROTOCOL_VERSION, precisions: ['f32'] });
    await bringUp(c);
    expect(worker.lifecycle.state).toBe('ready');

    // Whole batches in one plan, the shorter last batch in a plan of its own (as the coordinator sends them).
    await c.send({ v: PROTOCOL_VERSION, type: 'plan', generation: 1, epoch: 0, firstStep: 0, indices: Uint32Array.from([14, 10, 12, 11]), learningRates: Float32Array.from([0.5, 0.25]), positions: new Uint32Array(2) });
    await c.send({ v: PROTOCOL_VERSION, type: 'plan', generation: 1, epoch: 0, firstStep: 2, indices: Uint32Array.from([13]), learningRates: Float32Array.from([0.125]), positions: new Uint32Array(1) });
    const last = await c.waitFor('step-report', 3);
    const reports = c.received.filter((m) => m.type === 'step-report');
    expect(reports.map((r) => (r.type === 'step-report' ? [r.step, r.count, r.weightChecksum !== ''] : []))).toEqual([
      [0, 2, false],
      [1, 2, true],
      [2, 1, false],
    ]);
    expect(last).toMatchObject({ generation: 1, epoch: 0 });
    expect(compute.applied).toEqual([0.5, 0.25, 0.125]);
    expect(worker.history.map((h) => [...h.indices])).toEqual([[14, 10], [12, 11], [13]]);

    await c.send({ v: PROTOCOL_VERSION, type: 'dataset', generation: 1, split: 'test', rows: 2, cols: 2, indices: Uint32Array.from([0, 1, 2]), images: new Uint8Array(12), labels: Uint8Array.from([0, 1, 2]) });
    await c.send({ v: PROTOCOL_VERSION, type: 'evaluate', generation: 1, epoch: 0, indices: Uint32Array.from([0, 1, 2]) });
    expect(await c.waitFor('evaluation')).toMatchObject({ lossSum: 1.5, correct: 3, count: 3, epoch: 0 });

    await c.send({ v: PROTOCOL_VERSION, type: 'state-request', generation: 1, step: 3 });
    const state = await c.waitFor('state');
    expect(state).toMatchObject({ step: 3, offset: 0, totalBytes: 12 });

    await c.send({ v: PROTOCOL_VERSION, type: 'stop', reason: 'training finished', failed: false });
    await expect(run).resolves.toEqual({ reason: 'training finished', runFailed: false, stepsDone: 3 });
    expect((await c.closed).code).toBe(1000);
    expect(worker.lifecycle.state).toBe('closed');
  });

  it.each([
    ['a frame that is not msgpack', Buffer.from([0xc1, 0xc1, 0xc1]), [1002, 1003, 1007]],
    ['a text frame', 'hello there', [1003, 1007]],
  ])('closes on %s with an error, and run() rejects', async (_what, frame, codes) => {
    const c = await scriptedCoordinator();
    const { run, worker } = await startWorker(c);
    await c.sendRaw(frame);
    await expect(run).rejects.toThrow('the coordinator sent a message this worker refuses');
    const { code } = await c.closed;
    expect(codes).toContain(code);
    expect(c.received.at(-1)).toMatchObject({ type: 'error' });
    expect(worker.lifecycle.state).toBe('closed');
  });

  it('closes with a protocol error when a message speaks another protocol version', async () => {
    const c = await scriptedCoordinator();
    const { run } = await startWorker(c);
    await c.send({ v: PROTOCOL_VERSION + 1, type: 'welcome', workerId: 'w-test', heartbeatIntervalMs: 1000 });
    await expect(run).rejects.toThrow(/version/);
    expect((await c.closed).code).toBe(1002);
  });

  it('closes with a policy error when a plan comes before its assignment', async () => {
    const c = await scriptedCoordinator();
    const { run } = await startWorker(c);
    await c.send({ v: PROTOCOL_VERSION, type: 'welcome', workerId: 'w-test', heartbeatIntervalMs: 1000 });
    await c.send({ v: PROTOCOL_VERSION, type: 'plan', generation: 1, epoch: 0, firstStep: 0, indices: Uint32Array.from([1, 2]), learningRates: Float32Array.from([0.1]), positions: new Uint32Array(1) });
    await expect(run).rejects.toThrow('the coordinator sent plan while this worker is ready without an assignment');
    expect((await c.closed).code).toBe(1008);
  });

  it('refuses a plan that names images it was never sent, without training a step', async () => {
    const c = await scriptedCoordinator();
    const { run, compute } = await startWorker(c);
    await bringUp(c);
    await c.send({ v: PROTOCOL_VERSION, type: 'plan', generation: 1, epoch: 0, firstStep: 0, indices: Uint32Array.from([10, 99]), learningRates: Float32Array.from([0.1]), positions: new Uint32Array(1) });
    await expect(run).rejects.toThrow('needs train image 99, which the coordinator never sent');
    expect(compute.applied).toEqual([]);
    expect((await c.closed).code).toBe(1008);
  });

  it('treats a message over its size limit as fatal, with close code 1009', async () => {
    const c = await scriptedCoordinator();
    const { run } = await startWorker(c);
    await c.sendRaw(Buffer.alloc(128 * 1024, 1));
    await expect(run).rejects.toThrow('over maxMessageBytes (65536 bytes)');
    expect((await c.closed).code).toBe(1009);
  });

  it('reports the coordinator closing before stop as a lost connection', async () => {
    const c = await scriptedCoordinator();
    const { run } = await startWorker(c);
    (await c.socket).close(1011, 'coordinator crashed');
    await expect(run).rejects.toThrow('the coordinator connection closed unexpectedly (code 1011: coordinator crashed)');
  });

  it('reconnects when it was evicted as a straggler, a refusal the run may take back', async () => {
    const c = await scriptedCoordinator();
    const { run, worker } = await startWorker(c);
    await bringUp(c);
    await c.send({ v: PROTOCOL_VERSION, type: 'error', code: 'RINGTRAIN_STRAGGLER_EVICTED', message: 'evicted as a straggler' });
    (await c.socket).close(1008, 'evicted');
    // It connects again (here to the same scripted coordinator, which only listens).
    await expect.poll(() => worker.lifecycle.transitions.map((t) => t.to).join(' ')).toContain('reconnecting connecting');
    worker.shutdown('test over');
    await expect(run).rejects.toThrow('the worker was shut down: test over');
  });

  it('passes on the reason when the coordinator refuses it', async () => {
    const c = await scriptedCoordinator();
    const { run } = await startWorker(c);
    await c.send({ v: PROTOCOL_VERSION, type: 'error', code: 'RINGTRAIN_BAD_TOKEN', message: 'worker w-test presented a wrong token' });
    (await c.socket).close(1008, 'bad token');
    await expect(run).rejects.toThrow('the coordinator closed the connection: worker w-test presented a wrong token (RINGTRAIN_BAD_TOKEN)');
  });

  it('resolves saying the run failed when the coordinator stops a failed run', async () => {
    const c = await scriptedCoordinator();
    const { run } = await startWorker(c);
    await bringUp(c);
    await c.send({ v: PROTOCOL_VERSION, type: 'stop', reason: 'replica weights diverged at step 3', failed: true });
    await expect(run).resolves.toMatchObject({ runFailed: true, reason: 'replica weights diverged at step 3' });
  });
});

describe('a worker across generations', () => {
  const plan = (generation: number, firstStep: number, indices: number[]): CoordinatorToWorker => ({
    v: PROTOCOL_VERSION,
    type: 'plan',
    generation,
    epoch: 0,
    firstStep,
    indices: Uint32Array.from(indices),
    learningRates: new Float32Array(indices.length / 2).fill(0.5),
    positions: Uint32Array.from({ length: indices.length / 2 }, (_, i) => (firstStep + i + 1) * 2),
  });

  it('reports a failed all-reduce as ring-failed, applies nothing of that step, and keeps its replica for the next generation', async () => {
    const c = await scriptedCoordinator();
    const failing: Ring = {
      allReduce: async (data, options) => {
        if ((options?.step ?? 0) === 1) throw new PeerLinkLostError('rank 1 closed its ring link');
        return soloRing.allReduce(data, options);
      },
      close: async () => {},
    };
    const listen = peersWith((generation) => (generation === 1 ? failing : soloRing));
    const { worker, run, compute } = await startWorker(c, fakeCompute(), listen);
    await bringUp(c);
    await c.send(plan(1, 0, [10, 11, 12, 13, 14, 10]));
    expect(await c.waitFor('ring-failed')).toMatchObject({ generation: 1, step: 1, code: 'RINGTRAIN_PEER_LINK_LOST' });
    expect(compute.applied).toEqual([0.5]);
    expect(worker.steps).toBe(1);

    await c.send(assign(2));
    expect(await c.waitFor('replica', 2)).toMatchObject({ generation: 2, stepsDone: 1, abortedStep: 1 });
    await c.send({ v: PROTOCOL_VERSION, type: 'sync', generation: 2, step: 1, keep: true, epoch: 0, offset: 0, finishedByPeers: 0 });
    expect(await c.waitFor('ready', 2)).toMatchObject({ generation: 2, step: 1 });
    expect(listen.joined).toEqual([1, 2]);
    await c.send(plan(2, 1, [12, 13]));
    expect(await c.waitFor('step-report', 2)).toMatchObject({ generation: 2, step: 1 });
    expect(worker.history.map((h) => [h.step, h.generation, h.via])).toEqual([
      [0, 1, 'self'],
      [1, 2, 'self'],
    ]);
    await c.send({ v: PROTOCOL_VERSION, type: 'stop', reason: 'done', failed: false });
    await expect(run).resolves.toMatchObject({ stepsDone: 2 });
  });

  it('cuts an all-reduce in flight short when a newer generation is assigned, and counts the step when a peer finished it', async () => {
    const c = await scriptedCoordinator();
    let release: ((error: Error) => void) | undefined;
    const hanging: Ring = {
      allReduce: (data, options) => {
        if ((options?.step ?? 0) === 0) return soloRing.allReduce(data, options);
        return new Promise((_resolve, reject) => (release = reject));
      },
      close: async () => release?.(new RingClosedError('closed')),
    };
    const listen = peersWith((generation) => (generation === 1 ? hanging : soloRing));
    const { worker, run, compute } = await startWorker(c, fakeCompute(), listen);
    await bringUp(c);
    await c.send(plan(1, 0, [10, 11, 12, 13]));
    await c.waitFor('gradient-ready', 2);
    await c.send(assign(2));
    expect(await c.waitFor('replica', 2)).toMatchObject({ generation: 2, stepsDone: 1, abortedStep: 1 });
    expect(compute.applied).toEqual([0.5]);
    // A peer finished step 1: the state of step 2 follows, and step 1's samples count as trained here.
    await c.send({ v: PROTOCOL_VERSION, type: 'sync', generation: 2, step: 2, keep: false, epoch: 0, offset: 4, finishedByPeers: 1 });
    const state = new Uint8Array(new Float32Array([1, 2, 3]).buffer);
    await c.send({ v: PROTOCOL_VERSION, type: 'state', generation: 2, step: 2, offset: 0, totalBytes: 12, bytes: state });
    expect(await c.waitFor('ready', 2)).toMatchObject({ generation: 2, step: 2 });
    expect(worker.steps).toBe(2);
    expect(worker.history.map((h) => [h.step, [...h.indices], h.via])).toEqual([
      [0, [10, 11], 'self'],
      [1, [12, 13], 'peers'],
    ]);
    await c.send({ v: PROTOCOL_VERSION, type: 'stop', reason: 'done', failed: false });
    await expect(run).resolves.toMatchObject({ stepsDone: 2 });
  });

  it('refuses an assignment estimated to need more memory than it may take, before building anything', async () => {
    const c = await scriptedCoordinator();
    const compute = fakeCompute();
    const { run } = await startWorker(c, compute, peersWith(), { memoryLimitBytes: 64 * 1024 * 1024 });
    await c.send({ v: PROTOCOL_VERSION, type: 'welcome', workerId: 'w-test', heartbeatIntervalMs: 1000 });
    await c.send(assign(1));
    await expect(run).rejects.toThrow(/ResNet-18 \(width ×0\.25, 2×2, [\d.]+ M parameters\) at 2 images per worker needs about \d+ MiB, more than the 64 MiB this worker may take/);
    expect(await c.waitFor('error')).toMatchObject({ code: 'RINGTRAIN_WORKER_INSUFFICIENT_MEMORY' });
    expect(compute.created).toBe(0);
  });

  it.each([
    [{ compression: { method: 'bf16', rank: 4, startStep: 0 } }, 'an assignment asks for overlap with compression bf16; overlap needs compression none'],
    [{ delayedAllReduce: true }, 'an assignment asks for both overlap and the delayed all-reduce'],
  ])('refuses an assignment that asks for overlap with %j, before building anything', async (other, refusal) => {
    const c = await scriptedCoordinator();
    const compute = fakeCompute();
    const { run } = await startWorker(c, compute);
    await c.send({ v: PROTOCOL_VERSION, type: 'welcome', workerId: 'w-test', heartbeatIntervalMs: 1000 });
    const message = assign(1) as Extract<CoordinatorToWorker, { type: 'assign' }>;
    await c.send({ ...message, hyper: { ...message.hyper, overlap: true, ...other } } as CoordinatorToWorker);
    await expect(run).rejects.toThrow(refusal);
    expect(await c.waitFor('error')).toMatchObject({ code: 'RINGTRAIN_UNEXPECTED_MESSAGE' });
    expect(compute.created).toBe(0);
  });

  it('refuses a later assignment in another precision than its replica was built in, keeping the replica unchanged', async () => {
    const c = await scriptedCoordinator();
    const compute = fakeCompute();
    const { run } = await startWorker(c, compute);
    await bringUp(c);
    const message = assign(2) as Extract<CoordinatorToWorker, { type: 'assign' }>;
    await c.send({ ...message, hyper: { ...message.hyper, precision: 'bf16' } } as CoordinatorToWorker);
    await expect(run).rejects.toThrow("an assignment asks for bf16 convolutions, but this worker's replica computes in f32; restart the worker to change precision");
    expect(await c.waitFor('error')).toMatchObject({ code: 'RINGTRAIN_UNEXPECTED_MESSAGE' });
    expect(compute.created).toBe(1);
  });

  it('refuses to keep a replica it does not hold', async () => {
    const c = await scriptedCoordinator();
    const { run } = await startWorker(c);
    await c.send({ v: PROTOCOL_VERSION, type: 'welcome', workerId: 'w-test', heartbeatIntervalMs: 1000 });
    await c.send(assign(1));
    await c.waitFor('replica');
    await c.send({ v: PROTOCOL_VERSION, type: 'sync', generation: 1, step: 4, keep: true, epoch: 0, offset: 0, finishedByPeers: 0 });
    await expect(run).rejects.toThrow('told to keep a replica of step 4, but this replica holds no state');
  });

  it('outlives its coordinator: keeps the replica, reconnects, and tells the new one where it stands', async () => {
    const first = await scriptedCoordinator();
    // It could compute either precision; once its replica is built in f32, it offers f32 alone.
    const { worker, run } = await startWorker(first, Object.assign(fakeCompute(), { precisions: ['f32', 'bf16'] as const }));
    expect(await first.waitFor('hello')).toMatchObject({ precisions: ['f32', 'bf16'] });
    await bringUp(first);
    await first.send(plan(1, 0, [10, 11, 12, 13]));
    await first.waitFor('step-report', 2);
    // The coordinator process dies: its port closes, then a restarted one listens there again.
    (await first.socket).terminate();
    await new Promise((r) => first.server.close(r));
    await expect.poll(() => worker.lifecycle.state).toBe('reconnecting');
    const second = await scriptedCoordinator(Number(new URL(first.url).port));
    expect(await second.waitFor('hello')).toMatchObject({ workerId: 'w-test', generation: 1, precisions: ['f32'] });
    await second.send({ v: PROTOCOL_VERSION, type: 'welcome', workerId: 'w-test', heartbeatIntervalMs: 1000 });
    await second.send(assign(7));
    expect(await second.waitFor('replica')).toMatchObject({ generation: 7, stepsDone: 2, abortedStep: -1, epoch: 0, offset: 4 });
    await second.send({ v: PROTOCOL_VERSION, type: 'sync', generation: 7, step: 2, keep: true, epoch: 0, offset: 4, finishedByPeers: 0 });
    expect(await second.waitFor('ready')).toMatchObject({ generation: 7, step: 2 });
    await second.send({ v: PROTOCOL_VERSION, type: 'stop', reason: 'done', failed: false });
    await expect(run).resolves.toMatchObject({ stepsDone: 2 });
  });
});
