/**
 * `GET /events`: the status as server-sent events, for the dashboard. A client gets the whole
 * status at once, then again after every change, at most once per `intervalMs` (changes in
 * between are folded into the next one), and a comment line every `keepAliveMs` so proxies keep
 * an idle stream open.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { RunStatus } from '../observe/run-status.ts';

export interface StatusSource {
  status(): RunStatus;
  onChange(listener: () => void): () => void;
}

export interface StatusStreamOptions {
  /** Least time between two status events. */
  intervalMs: number;
  /**
   * Time between keep-alive comments.
   * @default 15000
   */
  keepAliveMs?: number;
  /**
   * Browsers reconnect after this long when the stream breaks.
   * @default 2000
   */
  retryMs?: number;
}

export class StatusStream {
  readonly #source: StatusSource;
  readonly #intervalMs: number;
  readonly #retryMs: number;
  readonly #clients = new Set<ServerResponse>();
  readonly #unsubscribe: () => void;
  readonly #keepAlive: NodeJS.Timeout;
  #timer: NodeJS.Timeout | null = null;
  #lastSentMs = 0;
  #closed = false;

  constructor(source: StatusSource, options: StatusStreamOptions) {
    this.#source = source;
    this.#intervalMs = options.intervalMs;
    this.#retryMs = options.retryMs ?? 2000;
    this.#unsubscribe = source.onChange(() => this.#schedule());
    this.#keepAlive = setInterval(() => this.#writeAll(': keep-alive\n\n'), options.keepAliveMs ?? 15_000);
    this.#keepAlive.unref();
  }

  /** Clients connected now. */
  get size(): number {
    return this.#clients.size;
  }

  /** Takes over the response of a `GET /events`. */
  add(req: IncomingMessage, res: ServerResponse): void {
    if (this.#closed) {
      res.writeHead(503, { 'content-type': 'text/plain; charset=utf-8' }).end('the coordinator is shutting down\n');
      return;
    }
    res.writeHead(200, {
      'content-type': 'text/event-stream; charset=utf-8',
      'cache-control': 'no-store',
      connection: 'keep-alive',
      'x-content-type-options': 'nosniff',
    });
    req.socket.setNoDelay(true);
    res.write(`retry: ${this.#retryMs}\n${eventOf(this.#source.status())}`);
    this.#clients.add(res);
    res.on('close', () => this.#clients.delete(res));
  }

  /** Ends every stream; later requests get 503. */
  close(): void {
    this.#closed = true;
    this.#unsubscribe();
    clearInterval(this.#keepAlive);
    if (this.#timer !== null) clearTimeout(this.#timer);
    this.#timer = null;
    // A last status, so an open page shows how the run ended.
    if (this.#clients.size > 0) this.#writeAll(eventOf(this.#source.status()));
    for (const res of this.#clients) res.end();
    this.#clients.clear();
  }

  #schedule(): void {
    if (this.#closed || this.#timer !== null || this.#clients.size === 0) return;
    const waitMs = Math.max(0, this.#lastSentMs + this.#intervalMs - Date.now());
    this.#timer = setTimeout(() => {
      this.#timer = null;
      this.#lastSentMs = Date.now();
      if (this.#clients.size > 0) this.#writeAll(eventOf(this.#source.status()));
    }, waitMs);
    this.#timer.unref();
  }

  #writeAll(text: string): void {
    for (const res of this.#clients) res.write(text);
  }
}

function eventOf(status: RunStatus): string {
  return `event: status\ndata: ${JSON.stringify(status)}\n\n`;
}
