/**
 * The coordinator's socket shell over real sockets, with a hand-driven client in place of a
 * worker: the HTTP health check on the same port, refusals that never reach the run, the hello
 * deadline, and heartbeats that find a silent worker.
 */
import { encodeMessage, PROTOCOL_VERSION } from '@ringtrain/protocol';
import { afterEach, describe, expect, it } from 'vitest';
import WebSocket from 'ws';
import { RunFailedError } from '../src/index.ts';
import { closeServers, connect, healthz, hello, startServer, TOKEN } from './server-harness.ts';

afterEach(closeServers);

describe('the coordinator server', () => {
  it('answers /healthz on its WebSocket port with the phase and the workers joined', async () => {
    const { port, url } = await startServer();
    expect((await healthz(port)).body).toMatchObject({ status: 'ok', phase: 'rendezvous', workers: 0 });
    const client = await connect(url);
    client.socket.send(hello('w1'));
    await expect.poll(() => client.received.length).toBeGreaterThan(0);
    expect(client.received[0]).toEqual({ v: PROTOCOL_VERSION, type: 'welcome', workerId: 'w1', heartbeatIntervalMs: 1000 });
    expect((await healthz(port)).body).toMatchObject({ phase: 'rendezvous', workers: 1 });
    client.socket.close();
  });

  it('refuses a wrong token and a text frame without letting them into the run', async () => {
    const { server, url } = await startServer();
    const intruder = await connect(url);
    intruder.socket.send(hello('sneaky', 'wrong-token-wrong-token'));
    expect((await intruder.closed).code).toBe(1008);
    expect(intruder.received[0]).toMatchObject({ type: 'error', code: 'RINGTRAIN_BAD_TOKEN', message: 'worker sneaky presented a wrong token' });
    const texter = await connect(url);
    texter.socket.send('{"type":"hello"}');
    expect((await texter.closed).code).toBe(1003);
    expect(texter.received[0]).toMatchObject({ type: 'error', code: 'RINGTRAIN_UNSUPPORTED_DATA' });
    expect(server.snapshot?.workers).toHaveLength(0);
    expect(server.snapshot?.phase).toBe('rendezvous');
  });

  it('refuses a worker whose peer port speaks TLS when the run\'s do not (and the other way), naming both, and keeps the run', async () => {
    const { server, url } = await startServer();
    const plain = await connect(url);
    plain.socket.send(hello('plain-1'));
    await expect.poll(() => plain.received[0]?.type).toBe('welcome');
    const tls = await connect(url);
    tls.socket.send(hello('tls-1', TOKEN, true, true));
    expect((await tls.closed).code).toBe(1008);
    expect(tls.received[0]).toMatchObject({
      type: 'error',
      code: 'RINGTRAIN_PEER_TLS_MISMATCH',
      message: expect.stringMatching(/worker tls-1's peer port serves TLS .*, but the peer ports of this run's workers are plaintext \(as worker plain-1 said first\)/),
    });
    // One that agrees still joins.
    const second = await connect(url);
    second.socket.send(hello('plain-2'));
    await expect.poll(() => second.received[0]?.type).toBe('welcome');
    expect(server.snapshot?.workers.map((w) => w.workerId).sort()).toEqual(['plain-1', 'plain-2']);
    plain.socket.close();
    second.socket.close();
  });

  it('refuses, on a bf16 run, a worker that cannot compute bf16 or does not say, naming the precisions, and keeps the run', async () => {
    const { server, url } = await startServer({ precision: 'bf16' });
    for (const [workerId, precisions, said] of [
      ['f32-only', ['f32'], /worker f32-only \(backend none\) computes them in f32 only: bf16 convolutions run on the native backend only; start it with --backend native/],
      ['offers none', [], /worker offers none \(backend none\) computes them in f32 only/],
      ['a later one', ['f32', 'fp8'], /worker a later one \(backend none\) computes them in f32, fp8 only/],
      ['older', undefined, /worker older \(backend none\) does not say which precisions it computes: it is older than this coordinator and would compute float32; upgrade it, or run with --precision f32/],
    ] as const) {
      const refused = await connect(url);
      refused.socket.send(hello(workerId, TOKEN, true, false, precisions === undefined ? undefined : [...precisions]));
      expect((await refused.closed).code).toBe(1008);
      expect(refused.received[0]).toMatchObject({ type: 'error', code: 'RINGTRAIN_PRECISION_UNSUPPORTED', message: expect.stringMatching(said) });
      expect(refused.received[0]).toMatchObject({ message: expect.stringContaining('this run computes its convolutions in bf16 (--precision bf16)') });
    }
    const able = await connect(url);
    able.socket.send(hello('able', TOKEN, true, false, ['f32', 'bf16']));
    await expect.poll(() => able.received[0]?.type).toBe('welcome');
    expect(server.snapshot?.workers.map((w) => w.workerId)).toEqual(['able']);
    able.socket.close();
  });

  it('takes, on a float32 run, a worker that says nothing of its precisions, offers none, or offers ones it does not know', async () => {
    const { url } = await startServer();
    for (const [workerId, precisions] of [['older', undefined], ['offers-none', []], ['a-later-one', ['fp8', 'bf16']]] as const) {
      const worker = await connect(url);
      worker.socket.send(hello(workerId, TOKEN, true, false, precisions === undefined ? undefined : [...precisions]));
      await expect.poll(() => worker.received[0]?.type).toBe('welcome');
      worker.socket.close();
    }
  });

  it('closes a connection that says nothing within helloTimeoutMs', async () => {
    const { url } = await startServer({ helloTimeoutMs: 100 });
    const silent = await connect(url);
    expect((await silent.closed).code).toBe(1008);
    expect(silent.received[0]).toMatchObject({ type: 'error', code: 'RINGTRAIN_HELLO_TIMEOUT' });
  });

  it('cuts a worker that stops answering heartbeats, by name, and waits for a replacement until minWorkersWaitMs', async () => {
    const lines: string[] = [];
    const { server, url } = await startServer({ minWorkers: 1, heartbeatIntervalMs: 30, heartbeatTimeoutMs: 150, firstStepHeartbeatTimeoutMs: 150, minWorkersWaitMs: 200 }, lines);
    // A client that never answers pings, like a worker whose process froze.
    const frozen = await connect(url, { autoPong: false });
    frozen.socket.send(hello('frozen-worker'));
    const failure = await server.done.then(
      () => null,
      (error: unknown) => error,
    );
    expect(lines.some((line) => /worker frozen-worker \(rank 0, test-host pid 42\) left .*no heartbeat answer for \d+ s/.test(line))).toBe(true);
    expect(lines).toContain('0 workers left, 1 needed: waiting up to 0 s for replacements');
    expect(failure).toBeInstanceOf(RunFailedError);
    expect((failure as RunFailedError).code).toBe('RINGTRAIN_WORKER_LOST');
    expect((failure as RunFailedError).message).toBe('only 0 workers of the 1 needed remained for 0 s (minWorkersWaitMs); no replacement joined');
  });

  for (const heartbeatsDuringSteps of [false, true]) {
    it(`gives a worker whose slow steps ${heartbeatsDuringSteps ? 'do not hold' : 'hold'} its pings ${heartbeatsDuringSteps ? 'no' : 'that much'} longer to answer before it counts as silent`, async () => {
      const lines: string[] = [];
      const { url } = await startServer({ minWorkers: 2, heartbeatIntervalMs: 30, heartbeatTimeoutMs: 150, firstStepHeartbeatTimeoutMs: 150 }, lines);
      const slow = await connect(url, { autoPong: false });
      slow.socket.send(hello('slow-worker', TOKEN, heartbeatsDuringSteps));
      // Its last step took 400 ms of compute.
      slow.socket.send(
        encodeMessage({ v: PROTOCOL_VERSION, type: 'step-report', generation: 0, epoch: 0, step: 0, loss: 1, correct: 0, count: 1, computeMs: 400, allReduceMs: 1, waitMs: 0, sentBytes: 0, weightChecksum: '' }),
      );
      await slow.closed;
      const cut = lines.find((line) => line.includes('worker slow-worker: no heartbeat answer'));
      expect(cut, lines.join('\n')).toBeDefined();
      expect(cut?.includes('raised to 800 ms by its slowest step')).toBe(!heartbeatsDuringSteps);
    });
  }

  it('refuses a second worker with the id of a connected one, and keeps the first', async () => {
    const { server, url } = await startServer();
    const first = await connect(url);
    first.socket.send(hello('twin'));
    await expect.poll(() => first.received.length).toBeGreaterThan(0);
    const second = await connect(url);
    second.socket.send(hello('twin'));
    expect((await second.closed).code).toBe(1008);
    expect(second.received[0]).toMatchObject({ type: 'error', code: 'RINGTRAIN_JOIN_REFUSED', message: 'worker id twin is already taken by a connected worker' });
    expect(server.snapshot?.workers.map((w) => w.workerId)).toEqual(['twin']);
    expect(first.socket.readyState).toBe(WebSocket.OPEN);
    first.socket.close();
  });
});
