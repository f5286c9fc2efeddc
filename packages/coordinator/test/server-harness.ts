/**
 * A coordinator server on a free port with a recording logger, and a hand-driven client in
 * place of a worker, for the tests of the socket shell.
 */
import { get } from 'node:http';
import type { LabelledImages } from '@ringtrain/data';
import { encodeMessage, parseCoordinatorToWorker, PROTOCOL_VERSION, type CoordinatorToWorker } from '@ringtrain/protocol';
import WebSocket from 'ws';
import { CoordinatorServer, type CoordinatorOptions } from '../src/index.ts';

export const TOKEN = 'server-test-token-0123456789';

export function images(count: number): LabelledImages {
  return { images: new Uint8Array(count * 4).fill(3), labels: Uint8Array.from({ length: count }, (_, i) => i % 10), count, rows: 2, cols: 2 };
}

let servers: CoordinatorServer[] = [];

/** Closes every server started since the last call (an `afterEach`). */
export async function closeServers(): Promise<void> {
  await Promise.all(servers.map((s) => s.close()));
  servers = [];
}

export async function startServer(
  options: Partial<CoordinatorOptions> = {},
  lines: string[] = [],
  extra: { clock?: () => number; initialState?: Uint8Array } = {},
): Promise<{ server: CoordinatorServer; url: string; port: number }> {
  const record = (_fields: object, message: string): void => {
    lines.push(message);
  };
  const server = new CoordinatorServer(
    { token: TOKEN, port: 0, minWorkers: 2, tickIntervalMs: 20, globalBatchSize: 4, ...options },
    { data: { train: images(16), test: images(4) }, initialState: () => extra.initialState ?? new Uint8Array([1, 2, 3, 4]), logger: { debug: record, info: record, warn: record, error: record }, ...(extra.clock === undefined ? {} : { clock: extra.clock }) },
  );
  servers.push(server);
  const { url, port } = await server.start();
  return { server, url, port };
}

export function healthz(port: number): Promise<{ status: number; body: Record<string, unknown> }> {
  return new Promise((resolve, reject) => {
    get({ host: '127.0.0.1', port, path: '/healthz' }, (res) => {
      let text = '';
      res.on('data', (c: Buffer) => (text += c.toString()));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body: JSON.parse(text) as Record<string, unknown> }));
    }).on('error', reject);
  });
}

export interface Client {
  socket: WebSocket;
  received: CoordinatorToWorker[];
  closed: Promise<{ code: number }>;
}

export function connect(url: string, options: WebSocket.ClientOptions = {}): Promise<Client> {
  const socket = new WebSocket(url, options);
  const received: CoordinatorToWorker[] = [];
  socket.on('message', (data: Buffer) => received.push(parseCoordinatorToWorker(data)));
  socket.on('error', () => {});
  const closed = new Promise<{ code: number }>((resolve) => socket.once('close', (code) => resolve({ code })));
  return new Promise((resolve, reject) => {
    socket.once('open', () => resolve({ socket, received, closed }));
    socket.once('error', reject);
  });
}

export function hello(workerId: string, token = TOKEN, heartbeatsDuringSteps = true, peerTls = false, precisions?: string[]): Uint8Array {
  return encodeMessage({ v: PROTOCOL_VERSION, type: 'hello', token, workerId, hostname: 'test-host', pid: 42, backend: 'none', peerAddress: { host: '127.0.0.1', port: 9 }, generation: 0, heartbeatsDuringSteps, peerTls, ...(precisions === undefined ? {} : { precisions }) });
}

