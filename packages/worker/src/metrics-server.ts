/**
 * A worker's own HTTP port for Prometheus and probes:
 *
 *   GET /metrics   the exposition of the worker's registry
 *   GET /healthz   200 while the worker is alive (connecting, in its ring, training), 503 once it
 *                  is draining or closed; JSON with its state, rank and steps
 *   GET /readyz    200 while the worker is in a ring of the current generation (it trains, or is
 *                  ready to), 503 while it connects, waits to enter the run, regroups or waits
 *                  between runs; the same JSON
 *
 * Kept apart from the peer port, which speaks only the ring's WebSocket protocol.
 */
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Registry } from 'prom-client';
import { InvalidWorkerOptionError, MetricsPortError } from './errors.ts';
import { BETWEEN_RUNS, type WorkerHealthView } from './successive-runs.ts';

export interface WorkerMetricsServerOptions {
  /**
   * Address to bind to.
   * @default '127.0.0.1'
   */
  host?: string;
  /** Port to listen on; 0 picks a free one (callers that want no server do not start one). */
  port: number;
  registry: Registry;
  /** The worker whose health `/healthz` reports (a `Worker`, or the runs of a waiting one). */
  worker: WorkerHealthView;
}

export interface WorkerMetricsServer {
  /** Where it listens (the port chosen when 0 was asked for). */
  readonly address: { host: string; port: number };
  close(): Promise<void>;
}

/** Opens the metrics port; rejects with `MetricsPortError` naming the address when it cannot. */
export async function startWorkerMetricsServer(options: WorkerMetricsServerOptions): Promise<WorkerMetricsServer> {
  const host = options.host ?? '127.0.0.1';
  if (!Number.isInteger(options.port) || options.port < 0 || options.port > 65_535) {
    throw new InvalidWorkerOptionError(`metrics port must be an integer from 0 to 65535, got ${String(options.port)}`);
  }
  const server: Server = createServer((req, res) => void handle(options, req, res));
  await new Promise<void>((resolve, reject) => {
    server.once('error', (error: Error & { code?: string }) => {
      const why = error.code === 'EADDRINUSE' ? 'the port is in use (choose another --metrics-port, or 0 to serve no metrics)' : error.message;
      reject(new MetricsPortError(`cannot serve metrics on ${host}:${options.port}: ${why}`, { cause: error }));
    });
    server.listen(options.port, host, () => resolve());
  });
  const port = (server.address() as AddressInfo).port;
  return {
    address: { host, port },
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      }),
  };
}

async function handle(options: WorkerMetricsServerOptions, req: IncomingMessage, res: ServerResponse): Promise<void> {
  const path = new URL(req.url ?? '/', 'http://worker').pathname;
  if (req.method !== 'GET' && req.method !== 'HEAD') {
    res.writeHead(405, { allow: 'GET, HEAD', 'content-type': 'text/plain; charset=utf-8' }).end(`method ${req.method ?? '?'} is not allowed\n`);
    return;
  }
  if (path === '/metrics') {
    try {
      const text = await options.registry.metrics();
      res.writeHead(200, { 'content-type': options.registry.contentType, 'cache-control': 'no-store' }).end(text);
    } catch (error) {
      res.writeHead(500, { 'content-type': 'text/plain; charset=utf-8' }).end(`collecting metrics failed: ${(error as Error).message}\n`);
    }
    return;
  }
  if (path === '/healthz' || path === '/readyz') {
    const w = options.worker;
    const state = w.lifecycle.state;
    const alive = state !== 'draining' && state !== 'closed';
    const ok = path === '/healthz' ? alive : alive && w.inRing;
    const status = ok ? 'ok' : state === BETWEEN_RUNS ? BETWEEN_RUNS : alive ? 'not-in-ring' : state;
    const body = { status, state, workerId: w.workerId, rank: w.rank, generation: w.generation, inRing: w.inRing, steps: w.steps };
    res.writeHead(ok ? 200 : 503, { 'content-type': 'application/json; charset=utf-8', 'cache-control': 'no-store' }).end(JSON.stringify(body));
    return;
  }
  res.writeHead(404, { 'content-type': 'text/plain; charset=utf-8' }).end(`not found: ${path} (this port serves /metrics, /healthz and /readyz)\n`);
}
