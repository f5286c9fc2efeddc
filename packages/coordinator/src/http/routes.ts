/**
 * The HTTP side of the coordinator's one port (WebSocket upgrades are taken by `ws` before
 * these are reached):
 *
 *   GET /healthz   liveness, with the phase and the workers joined (JSON)
 *   GET /readyz    readiness: 200 while a worker that dials now can join the run, else 503 (JSON)
 *   GET /metrics   Prometheus exposition of this coordinator's own registry
 *   GET /status    the run as JSON (`RunStatus`)
 *   GET /events    the same status as server-sent events, pushed as it changes
 *   GET /          the live dashboard, with its script, style and uPlot under /vendor/
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Registry } from 'prom-client';
import type { Logger } from '../logger.ts';
import type { HttpAccess } from './access.ts';
import { dashboardAsset } from './dashboard-assets.ts';
import { StatusStream, type StatusSource } from './status-stream.ts';

export interface HttpRoutesOptions {
  /** The status, and its changes for the event stream. */
  source: StatusSource;
  /** What `/metrics` serves: the coordinator's registry, or the exposition a finished run left. */
  registry: Pick<Registry, 'metrics' | 'contentType'>;
  /** The body of `/healthz`; `healthy: false` answers 503. */
  health: () => { healthy: boolean; body: Record<string, unknown> };
  /** The body of `/readyz`; `ready: false` answers 503. */
  readiness: () => { ready: boolean; body: Record<string, unknown> };
  /** Least time between two events on `/events`. */
  statusIntervalMs: number;
  logger: Logger;
  /** Who may read what this port serves. */
  access: HttpAccess;
}

/**
 * The page may load only what this port serves: scripts, styles and the event stream from the
 * same origin, and nothing else (uPlot sets its inline sizes through the CSSOM, which CSP allows).
 */
const CONTENT_SECURITY_POLICY = "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'";

const ROUTES = '/, /readyz, /status, /events, /metrics and /healthz';

export class HttpRoutes {
  readonly #o: HttpRoutesOptions;
  readonly #stream: StatusStream;

  constructor(options: HttpRoutesOptions) {
    this.#o = options;
    this.#stream = new StatusStream(options.source, { intervalMs: options.statusIntervalMs });
  }

  /** Clients on `/events` now. */
  get eventClients(): number {
    return this.#stream.size;
  }

  handle(req: IncomingMessage, res: ServerResponse): void {
    const url = new URL(req.url ?? '/', 'http://coordinator');
    const path = url.pathname;
    if (req.method !== 'GET' && req.method !== 'HEAD') {
      res.writeHead(405, { allow: 'GET, HEAD', 'content-type': 'text/plain; charset=utf-8' }).end(`method ${req.method ?? '?'} is not allowed; this port serves GET ${ROUTES}\n`);
      return;
    }
    if (this.#o.access.check(req, res, url) === 'answered') return;
    switch (path) {
      case '/healthz': {
        const { healthy, body } = this.#o.health();
        return json(res, healthy ? 200 : 503, body);
      }
      case '/readyz': {
        const { ready, body } = this.#o.readiness();
        return json(res, ready ? 200 : 503, body);
      }
      case '/status':
        return json(res, 200, this.#o.source.status());
      case '/metrics':
        return void this.#metrics(res);
      case '/events':
        // A HEAD has no body to stream.
        if (req.method === 'HEAD') return void res.writeHead(200, { 'content-type': 'text/event-stream; charset=utf-8' }).end();
        return this.#stream.add(req, res);
      default: {
        const asset = dashboardAsset(path);
        if (asset === undefined) {
          res.writeHead(404, { 'content-type': 'text/plain; charset=utf-8' }).end(`not found: ${path} (this port serves ${ROUTES}, and WebSocket workers)\n`);
          return;
        }
        res.writeHead(200, {
          'content-type': asset.contentType,
          'content-length': asset.body.length,
          'cache-control': 'no-cache',
          'content-security-policy': CONTENT_SECURITY_POLICY,
          'x-content-type-options': 'nosniff',
          'referrer-policy': 'no-referrer',
        });
        res.end(req.method === 'HEAD' ? undefined : asset.body);
      }
    }
  }

  /** Ends the event streams. */
  close(): void {
    this.#stream.close();
  }

  async #metrics(res: ServerResponse): Promise<void> {
    try {
      const text = await this.#o.registry.metrics();
      res.writeHead(200, { 'content-type': this.#o.registry.contentType, 'cache-control': 'no-store' }).end(text);
    } catch (error) {
      this.#o.logger.error({ error: (error as Error).message }, `collecting metrics failed: ${(error as Error).message}`);
      res.writeHead(500, { 'content-type': 'text/plain; charset=utf-8' }).end(`collecting metrics failed: ${(error as Error).message}\n`);
    }
  }
}

function json(res: ServerResponse, status: number, body: unknown): void {
  const text = JSON.stringify(body);
  res.writeHead(status, { 'content-type': 'application/json; charset=utf-8', 'cache-control': 'no-store', 'x-content-type-options': 'nosniff' }).end(text);
}
