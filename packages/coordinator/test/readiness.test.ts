/**
 * `/readyz`, the coordinator's readiness: 200 while a worker that dials now can join (the run
 * goes on), with the seats left under maxWorkers; 503 once the run is over, while `/healthz`
 * still says the process answers. Open without the HTTP token, as probes have none.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { closeServers, connect, hello, startServer } from './server-harness.ts';

afterEach(closeServers);

async function readyz(port: number): Promise<{ status: number; body: Record<string, unknown> }> {
  const response = await fetch(`http://127.0.0.1:${port}/readyz`);
  return { status: response.status, body: (await response.json()) as Record<string, unknown> };
}

async function until(check: () => Promise<boolean>, what: string): Promise<void> {
  const deadline = Date.now() + 10_000;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

describe('/readyz', () => {
  it('answers 200 with the seats left while the run takes workers, without the HTTP token', async () => {
    const { port, url } = await startServer({ httpToken: 'http-token-of-the-dashboard-0123', minWorkers: 2, maxWorkers: 3, globalBatchSize: 6 });
    expect(await readyz(port)).toEqual({
      status: 200,
      body: { status: 'ready', phase: 'rendezvous', generation: 0, workers: 0, maxWorkers: 3, seats: 3 },
    });
    const client = await connect(url);
    client.socket.send(hello('w-ready'));
    await until(async () => (await readyz(port)).body.workers === 1, 'the worker to join');
    expect((await readyz(port)).body).toMatchObject({ status: 'ready', seats: 2 });
    client.socket.close();
  });

  it('answers 503 once the run has failed, while /healthz still answers 200', async () => {
    const { server, port } = await startServer({ rendezvousTimeoutMs: 100 });
    await expect(server.done).rejects.toThrow();
    const after = await readyz(port);
    expect(after.status).toBe(503);
    expect(after.body).toMatchObject({ status: 'failed', phase: 'failed' });
    expect((await fetch(`http://127.0.0.1:${port}/healthz`)).status).toBe(200);
  });
});
