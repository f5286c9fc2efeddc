/**
 * A worker's options with their defaults, validated when the worker is built: a bad value is an
 * error that names the option, the value and what would do.
 */
import { InvalidWorkerOptionError } from './errors.ts';

export interface WorkerOptions {
  /** The coordinator, e.g. `ws://10.0.0.5:7070`. Required. */
  coordinatorUrl: string;
  /** The shared secret the coordinator and the ring peers check. Required. */
  token: string;
  /** Stable for the life of the process. @default `${hostname}-${pid}-${random}` */
  workerId?: string;
  /** Address the peer server binds to. @default '127.0.0.1' */
  peerHost?: string;
  /** Port of the peer server; 0 picks a free one. @default 0 */
  peerPort?: number;
  /** The host ring neighbours dial; set it when binding to 0.0.0.0 on a multi-host run. @default peerHost */
  advertiseHost?: string;
  /**
   * Which workers share this one's network link, e.g. a Kubernetes node name: the coordinator
   * keeps a host group side by side in the ring, so the link carries one stream.
   * @default the coordinator takes `advertiseHost`
   */
  hostGroup?: string;
  /** Keep retrying the coordinator for this long (it may start after the workers). @default 30000 */
  connectTimeoutMs?: number;
  /** Pause between connection attempts. @default 250 */
  connectRetryMs?: number;
  /**
   * When the coordinator goes away mid-run, keep the replica and keep trying to reach it (a
   * restarted coordinator resumes from the workers' replicas) for this long, backing off from
   * `connectRetryMs` to 5 s between attempts; 0 fails at once.
   * @default 600000 (10 min)
   */
  reconnectTimeoutMs?: number;
  /** Largest message accepted from the coordinator; larger ones close with 1009. @default 67108864 (64 MiB) */
  maxMessageBytes?: number;
  /**
   * A state sent to the coordinator goes in pieces of at most this many bytes; small enough for
   * any coordinator's message limit (at least 2 MiB).
   * @default 1048576 (1 MiB)
   */
  stateChunkBytes?: number;
  /** Test images per forward pass when evaluating. @default 256 */
  evalBatchSize?: number;
  /**
   * Memory this worker may take: an assignment whose model and batch are estimated to need more
   * (`estimateTrainingMemory`) is refused before anything is built. 0: no check. @default 0
   */
  memoryLimitBytes?: number;
  /**
   * TLS for the coordinator connection (a `wss://` URL) and for the ring's links: PEM text of the
   * CA that signed the coordinator's and the peers' certificates, and of this worker's own
   * certificate and key (its peer port's, and the one it shows a coordinator or peer that asks
   * for one). @default none
   */
  tls?: WorkerTls;
  /** Connections to the peer port that have not said `peer-hello` yet; more are refused with 503. @default 16 */
  peerMaxUnauthenticated?: number;
  /** Handshakes the peer port takes per second (a burst of as many). @default 50 */
  peerMaxHandshakesPerSecond?: number;
}

export interface WorkerTls {
  ca?: string;
  cert?: string;
  key?: string;
}

export type ResolvedWorkerOptions = Required<Omit<WorkerOptions, 'workerId' | 'hostGroup' | 'tls'>> & { workerId: string | undefined; hostGroup: string | undefined; tls: WorkerTls | null };

function fail(message: string): never {
  throw new InvalidWorkerOptionError(message);
}

function integer(name: string, value: number, min: number, max = Number.MAX_SAFE_INTEGER): number {
  if (!Number.isInteger(value) || value < min || value > max) fail(`${name} must be an integer from ${min}${max === Number.MAX_SAFE_INTEGER ? ' up' : ` to ${max}`}, got ${String(value)}`);
  return value;
}

export function resolveWorkerOptions(input: WorkerOptions): ResolvedWorkerOptions {
  let url: URL;
  try {
    url = new URL(input.coordinatorUrl);
  } catch {
    fail(`coordinatorUrl must be a ws:// or wss:// URL such as ws://127.0.0.1:7070, got ${JSON.stringify(input.coordinatorUrl)}`);
  }
  if (url.protocol !== 'ws:' && url.protocol !== 'wss:') fail(`coordinatorUrl must start with ws:// or wss://, got ${input.coordinatorUrl}`);
  if (typeof input.token !== 'string' || input.token.length === 0) fail('token is required (the coordinator refuses workers without the run\'s token)');
  if (input.workerId !== undefined && !/^[\w.:-]{1,128}$/.test(input.workerId)) {
    fail(`workerId must be 1 to 128 letters, digits, '.', ':', '_' or '-', got ${JSON.stringify(input.workerId)}`);
  }
  if (input.hostGroup !== undefined && (typeof input.hostGroup !== 'string' || input.hostGroup.length < 1 || input.hostGroup.length > 255)) {
    fail(`hostGroup must be a name of 1 to 255 characters, got ${JSON.stringify(input.hostGroup)}`);
  }
  const peerHost = input.peerHost ?? '127.0.0.1';
  const maxMessageBytes = integer('maxMessageBytes', input.maxMessageBytes ?? 64 * 1024 * 1024, 64 * 1024);
  const stateChunkBytes = integer('stateChunkBytes', input.stateChunkBytes ?? 1024 * 1024, 1024);
  return {
    coordinatorUrl: input.coordinatorUrl,
    token: input.token,
    workerId: input.workerId,
    peerHost,
    peerPort: integer('peerPort', input.peerPort ?? 0, 0, 65_535),
    advertiseHost: input.advertiseHost ?? peerHost,
    hostGroup: input.hostGroup,
    connectTimeoutMs: integer('connectTimeoutMs', input.connectTimeoutMs ?? 30_000, 0),
    connectRetryMs: integer('connectRetryMs', input.connectRetryMs ?? 250, 1),
    reconnectTimeoutMs: integer('reconnectTimeoutMs', input.reconnectTimeoutMs ?? 600_000, 0),
    maxMessageBytes,
    stateChunkBytes,
    evalBatchSize: integer('evalBatchSize', input.evalBatchSize ?? 256, 1),
    memoryLimitBytes: integer('memoryLimitBytes', input.memoryLimitBytes ?? 0, 0),
    tls: tlsOf(input.tls),
    peerMaxUnauthenticated: integer('peerMaxUnauthenticated', input.peerMaxUnauthenticated ?? 16, 1),
    peerMaxHandshakesPerSecond: integer('peerMaxHandshakesPerSecond', input.peerMaxHandshakesPerSecond ?? 50, 1),
  };
}

/** `tls` checked (PEM text, a certificate with its key), or null when there is none. */
export function tlsOf(tls: WorkerTls | undefined): WorkerTls | null {
  if (tls === undefined) return null;
  if ((tls.cert === undefined) !== (tls.key === undefined)) fail('tls.cert and tls.key go together: a certificate needs its key');
  for (const [name, pem] of [['ca', tls.ca], ['cert', tls.cert], ['key', tls.key]] as const) {
    if (pem !== undefined && !pem.includes('-----BEGIN')) fail(`tls.${name} must be PEM text`);
  }
  return tls;
}
