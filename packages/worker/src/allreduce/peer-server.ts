/**
 * A worker's peer server and how a ring is formed over WebSockets.
 *
 *   A. Each worker starts its peer server before it says `hello` to the coordinator, and reports
 *      its address there. The server lives as long as the worker; rings come and go with
 *      generations.
 *   B. On `assign` for generation g, rank r calls {@link PeerServer.joinRing}, which at once
 *      (1) dials its predecessor r-1's peer server and sends `peer-hello` {token, g, r}, and
 *      (2) waits for its successor r+1 to dial in. Data flows from the accepting side to the
 *      dialling side, so every sender is a WebSocket server and its frames go unmasked.
 *   C. The server checks each incoming `peer-hello` (protocol version, shared token in constant
 *      time, a generation not older than its own, the successor's rank) and answers with its own
 *      `peer-hello` once its worker has joined generation g. A successor that dials before its
 *      predecessor has heard of g waits, held by the server, until it has.
 *   D. Any frame that breaks these rules is refused: an `error` message, then a close with the
 *      code the error names (1008 bad token or handshake, 1002 malformed or wrong version, 1009
 *      too large), and a warning in the log. The server carries on serving honest peers.
 *   E. When both links are up, `joinRing` resolves with a {@link RingAllReduce} over them.
 */
import { hostname } from 'node:os';
import type { IncomingMessage } from 'node:http';
import { createServer as createTlsServer, type Server as TlsServer } from 'node:https';
import type { Duplex } from 'node:stream';
import {
  Admission,
  BadTokenError,
  UnexpectedMessageError,
  parsePeerMessage,
  PROTOCOL_ERROR_CODES,
  tokensEqual,
  MAX_WORLD_SIZE,
} from '@ringtrain/protocol';
import { ThrottledLog, type RefusalReason } from '@ringtrain/metrics';
import type { PeerAddress, PeerHelloMessage, RingMember } from '@ringtrain/protocol';
import { WebSocket, WebSocketServer } from 'ws';
import type { RawData } from 'ws';
import { createMemoryTransports } from './memory-transport.ts';
import { dialPredecessor } from './dial.ts';
import { InvalidAllReduceOptionError, PeerConnectError, PeerHandshakeError, RingClosedError } from './errors.ts';
import { ALLREDUCE_DEFAULTS, MAX_BUCKET_BYTES, requireInteger } from './options.ts';
import { RingAllReduce } from './ring-allreduce.ts';
import type { RingAllReduceOptions } from './ring-allreduce.ts';
import type { PeerTransport } from './transport.ts';
import { OutboundLink, WebSocketTransport, closeSocket, peerHello, refuse, silentLogger } from './ws-links.ts';
import type { InboundLink, PeerLogger } from './ws-links.ts';

export interface PeerServerOptions {
  /** The run's shared token; peers must present it in `peer-hello`. */
  token: string;
  /**
   * The interface to listen on.
   * @default '127.0.0.1'
   */
  host?: string;
  /**
   * The port to listen on; 0 picks a free one.
   * @default 0
   */
  port?: number;
  /**
   * The host name peers should dial, reported in {@link PeerServer.address}.
   * @default host, or os.hostname() when host is a wildcard address ('0.0.0.0', '::')
   */
  advertiseHost?: string;
  /**
   * How long a connecting peer has to send its `peer-hello`.
   * @default 10000
   */
  helloTimeoutMs?: number;
  /**
   * The largest frame accepted from a dialling peer (it only ever sends `peer-hello` and `error`);
   * a larger one closes its connection with 1009.
   * @default 65536
   */
  maxHelloBytes?: number;
  /**
   * Dialled connections that have not said a valid `peer-hello` yet; more are refused with HTTP 503.
   * @default 16
   */
  maxUnauthenticated?: number;
  /**
   * Handshakes accepted per second (a burst of as many); more are refused with HTTP 503.
   * @default 50
   */
  maxHandshakesPerSecond?: number;
  /**
   * Where refused peers and failed links are reported. Refusals of connections that never said a
   * valid `peer-hello` come at most once per reason every 10 s, with a count of the rest.
   * @default a logger that drops everything
   */
  logger?: PeerLogger;
  /** Told of every connection refused before it authenticated (for the worker's metrics). */
  onRefused?: (reason: RefusalReason) => void;
  /**
   * TLS on the ring's links: this server's certificate and key, and the CA every peer's
   * certificate must be signed by. The server asks dialling peers for a certificate of that CA
   * and refuses those without; a dialling peer checks this server's. @default none: cleartext
   */
  tls?: PeerTls;
}

export interface PeerTls {
  cert: string;
  key: string;
  ca: string;
}

export interface JoinRingOptions extends RingAllReduceOptions {
  generation: number;
  /** This worker's rank. */
  rank: number;
  worldSize: number;
  /** Every member of the ring, `ring[i]` being rank i (as in `assign`). */
  ring: readonly RingMember[];
  /**
   * How long forming the ring may take: dialling the predecessor (with retries) and waiting for
   * the successor.
   * @default 30000
   */
  connectTimeoutMs?: number;
  /** Abandons forming the ring (a newer generation superseded it): `joinRing` rejects with the signal's reason. */
  signal?: AbortSignal;
}

/** A dialled connection that has said `peer-hello` and waits for its generation to be joined. */
interface Waiting {
  socket: WebSocket;
  hello: PeerHelloMessage;
  remote: string;
  /** Removes the listeners that held the connection. */
  release(): void;
}

/** This worker's wait for its successor in the generation it is joining. */
interface Claim {
  generation: number;
  rank: number;
  successorRank: number;
  taken: boolean;
  deliver(waiting: Waiting): void;
}

const ABANDONED = 'forming the ring was abandoned';

/** At most this many dialled connections wait for their generation at once; the oldest is dropped. */
const MAX_WAITING = 64;

/** Starts a peer server (see the module comment); resolves once it listens. */
export async function startPeerServer(options: PeerServerOptions): Promise<PeerServer> {
  const server = new PeerServer(options);
  await server.listening;
  return server;
}

export class PeerServer {
  /** Resolves once the server listens; {@link startPeerServer} awaits it. */
  readonly listening: Promise<void>;
  readonly #token: string;
  readonly #host: string;
  readonly #advertiseHost: string;
  readonly #helloTimeoutMs: number;
  readonly #logger: PeerLogger;
  readonly #admission: Admission;
  readonly #refusalLog: ThrottledLog;
  readonly #onRefused: (reason: RefusalReason) => void;
  #tls: PeerTls | null;
  readonly #wss: WebSocketServer;
  /** The HTTPS server under `#wss` when the links are TLS. */
  readonly #tlsServer: TlsServer | null;
  readonly #waiting = new Map<string, Waiting>();
  readonly #sockets = new Set<WebSocket>();
  readonly #transports = new Set<WebSocketTransport>();
  /** The TCP socket under each accepted WebSocket, to batch a chunk's writes into one. */
  readonly #streams = new WeakMap<WebSocket, Duplex>();
  /** Ends the admission of each connection not yet authenticated, by its TCP socket. */
  readonly #settlers = new WeakMap<object, () => void>();
  #claim: Claim | undefined;
  #generation = -1;
  #port = 0;
  #closed = false;

  constructor(options: PeerServerOptions) {
    if (typeof options.token !== 'string' || options.token === '') {
      throw new InvalidAllReduceOptionError('token must be a non-empty string');
    }
    this.#token = options.token;
    this.#host = options.host ?? '127.0.0.1';
    const wildcard = this.#host === '0.0.0.0' || this.#host === '::';
    this.#advertiseHost = options.advertiseHost ?? (wildcard ? hostname() : this.#host);
    this.#helloTimeoutMs = requireInteger('helloTimeoutMs', options.helloTimeoutMs ?? ALLREDUCE_DEFAULTS.helloTimeoutMs, 1, 2 ** 31 - 1);
    const maxHelloBytes = requireInteger('maxHelloBytes', options.maxHelloBytes ?? ALLREDUCE_DEFAULTS.maxHelloBytes, 256, 1 << 30);
    const port = requireInteger('port', options.port ?? 0, 0, 65_535);
    this.#logger = options.logger ?? silentLogger;
    this.#admission = new Admission({
      maxUnauthenticated: requireInteger('maxUnauthenticated', options.maxUnauthenticated ?? ALLREDUCE_DEFAULTS.maxUnauthenticated, 1, 1 << 20),
      perSecond: requireInteger('maxHandshakesPerSecond', options.maxHandshakesPerSecond ?? ALLREDUCE_DEFAULTS.maxHandshakesPerSecond, 1, 1 << 20),
    });
    this.#refusalLog = new ThrottledLog((text) => this.#logger.warn({}, text));
    this.#onRefused = options.onRefused ?? (() => {});
    this.#tls = options.tls ?? null;
    const common = {
      perMessageDeflate: false,
      maxPayload: maxHelloBytes,
      skipUTF8Validation: true,
      clientTracking: false,
      verifyClient: (info: { req: IncomingMessage }, admit: (ok: boolean, status?: number, message?: string) => void) => this.#admit(info.req, admit),
    };
    const tls = this.#tls;
    if (tls === null) {
      this.#tlsServer = null;
      this.#wss = new WebSocketServer({ host: this.#host, port, ...common });
    } else {
      const server = createTlsServer({ cert: tls.cert, key: tls.key, ca: tls.ca, requestCert: true, rejectUnauthorized: true, minVersion: 'TLSv1.2' });
      server.on('tlsClientError', (error: Error, socket: Duplex & { remoteAddress?: string; remotePort?: number }) => {
        this.#countRefusal('tls_handshake', `refused a ring peer's TLS handshake from ${socket.remoteAddress ?? '?'}:${socket.remotePort ?? '?'}: ${error.message}`);
      });
      this.#tlsServer = server;
      this.#wss = new WebSocketServer({ server, ...common });
      server.listen(port, this.#host);
    }
    this.#wss.on('connection', (socket, request) => this.#accept(socket, request));
    const listener = this.#tlsServer ?? this.#wss;
    this.listening = new Promise((resolve, reject) => {
      listener.once('listening', () => {
        const address = listener.address();
        this.#port = typeof address === 'object' && address !== null ? address.port : port;
        resolve();
      });
      listener.once('error', reject);
    });
  }

  /**
   * Takes a new certificate, key and CA for the links made from now on, both those peers dial
   * here and those this server dials (links already open keep theirs).
   */
  reloadTls(tls: PeerTls): void {
    if (this.#tlsServer === null) throw new InvalidAllReduceOptionError('reloadTls needs a peer server started with tls');
    this.#tlsServer.setSecureContext({ cert: tls.cert, key: tls.key, ca: tls.ca, minVersion: 'TLSv1.2' });
    this.#tls = tls;
  }

  /** Where peers should dial this server. */
  get address(): PeerAddress {
    return { host: this.#advertiseHost, port: this.#port };
  }

  /**
   * Forms this worker's ring for `options.generation` (see the module comment) and resolves with
   * the all-reduce over it. A world of one needs no links.
   * @throws {PeerConnectError} when a neighbour does not connect within `connectTimeoutMs` or refuses the link.
   */
  async joinRing(options: JoinRingOptions): Promise<RingAllReduce> {
    if (this.#closed) throw new RingClosedError('the peer server is closed');
    const { generation, rank, worldSize, ring } = validateJoin(options, this.#generation);
    const connectTimeoutMs = requireInteger('connectTimeoutMs', options.connectTimeoutMs ?? ALLREDUCE_DEFAULTS.connectTimeoutMs, 1, 2 ** 31 - 1);
    const maxBucketBytes = requireInteger('maxBucketBytes', options.maxBucketBytes ?? ALLREDUCE_DEFAULTS.maxBucketBytes, 4, MAX_BUCKET_BYTES);
    this.#enterGeneration(generation);
    if (worldSize === 1) return new RingAllReduce(createMemoryTransports(1, { generation })[0] as PeerTransport, options);

    const successorRank = (rank + 1) % worldSize;
    const predecessorRank = (rank - 1 + worldSize) % worldSize;
    const predecessor = ring[predecessorRank] as RingMember;
    const maxChunkBytes = maxBucketBytes - (maxBucketBytes % Float32Array.BYTES_PER_ELEMENT);
    const deadline = performance.now() + connectTimeoutMs;
    const abort = new AbortController();
    const outer = options.signal;
    const abandon = (): void => abort.abort(new PeerConnectError(ABANDONED, { cause: outer?.reason }));
    if (outer?.aborted === true) throw new PeerConnectError(ABANDONED, { cause: outer.reason });
    outer?.addEventListener('abort', abandon, { once: true });
    const abortOnFailure = <T>(promise: Promise<T>): Promise<T> =>
      promise.catch((error: unknown) => {
        abort.abort(new PeerConnectError(ABANDONED, { cause: error }));
        throw error;
      });

    const [accepted, dialled] = await Promise.allSettled([
      abortOnFailure(this.#awaitSuccessor(generation, rank, successorRank, connectTimeoutMs, abort.signal)),
      abortOnFailure(
        dialPredecessor({
          address: predecessor.address,
          token: this.#token,
          generation,
          rank,
          predecessorRank,
          maxChunkBytes,
          maxMessageBytes: ALLREDUCE_DEFAULTS.maxHelloBytes,
          deadline,
          connectTimeoutMs,
          signal: abort.signal,
          logger: this.#logger,
          tls: this.#tls,
        }),
      ),
    ]);
    outer?.removeEventListener('abort', abandon);
    // Read through a call: TypeScript narrowed `aborted` to false before the awaits above.
    if (isAborted(outer) && (accepted.status === 'rejected' || dialled.status === 'rejected')) {
      if (accepted.status === 'fulfilled') void closeSocket(accepted.value, 1001, 'ring abandoned');
      if (dialled.status === 'fulfilled') void dialled.value.close(1001, 'ring abandoned');
      throw new PeerConnectError(ABANDONED, { cause: outer?.reason });
    }
    if (accepted.status === 'rejected' || dialled.status === 'rejected') {
      if (accepted.status === 'fulfilled') void closeSocket(accepted.value, 1001, 'ring not formed');
      if (dialled.status === 'fulfilled') void dialled.value.close(1001, 'ring not formed');
      // The failures themselves, not the abandonment one caused on the other side.
      const failures = [dialled, accepted]
        .flatMap((r) => (r.status === 'rejected' ? [r.reason as Error] : []))
        .filter((e) => !(e instanceof PeerConnectError && e.message === ABANDONED));
      if (failures.length === 1) throw failures[0];
      throw new PeerConnectError(failures.map((e) => e.message).join('; and '), { cause: failures[0] });
    }

    const inbound: InboundLink = dialled.value;
    const outbound = new OutboundLink(
      accepted.value,
      this.#streams.get(accepted.value),
      { rank, peerRank: successorRank, logger: this.#logger },
      (error) => inbound.queue.fail(error),
    );
    const transport = new WebSocketTransport(rank, worldSize, generation, maxChunkBytes, inbound, outbound);
    this.#transports.add(transport);
    void transport.closed.then(() => this.#transports.delete(transport));
    return new RingAllReduce(transport, { ...options, maxBucketBytes });
  }

  /** Stops listening and closes every connection, rings included. */
  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    const closing = [
      ...[...this.#transports].map((transport) => transport.close()),
      ...[...this.#sockets].map((socket) => closeSocket(socket, 1001, 'peer server closing')),
    ];
    await Promise.all([...closing, new Promise<void>((resolve) => this.#wss.close(() => resolve()))]);
    await new Promise<void>((resolve) => (this.#tlsServer === null ? resolve() : this.#tlsServer.close(() => resolve())));
  }

  #enterGeneration(generation: number): void {
    this.#generation = generation;
    this.#claim = undefined;
    for (const [key, waiting] of this.#waiting) {
      if (waiting.hello.generation < generation) {
        this.#waiting.delete(key);
        this.#refuse(waiting.socket, waiting.remote, staleGeneration(waiting.hello, generation));
      }
    }
  }

  #awaitSuccessor(generation: number, rank: number, successorRank: number, timeoutMs: number, signal: AbortSignal): Promise<WebSocket> {
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        finish(new PeerConnectError(`rank ${successorRank} (rank ${rank}'s ring successor) did not connect within ${timeoutMs} ms`));
      }, timeoutMs);
      const onAbort = (): void => finish(signal.reason as Error);
      const finish = (error: Error | undefined, socket?: WebSocket): void => {
        clearTimeout(timer);
        signal.removeEventListener('abort', onAbort);
        if (error !== undefined) {
          if (this.#claim === claim) this.#claim = undefined;
          reject(error);
        } else {
          resolve(socket as WebSocket);
        }
      };
      const claim: Claim = {
        generation,
        rank,
        successorRank,
        taken: false,
        deliver: (waiting) => {
          claim.taken = true;
          waiting.release();
          waiting.socket.send(peerHello(this.#token, generation, rank));
          finish(undefined, waiting.socket);
        },
      };
      signal.addEventListener('abort', onAbort, { once: true });
      this.#claim = claim;
      const key = waitingKey(generation, successorRank);
      const waiting = this.#waiting.get(key);
      if (waiting !== undefined) {
        this.#waiting.delete(key);
        claim.deliver(waiting);
      }
    });
  }

  /** Lets a handshake in, or refuses it with 503 when too many are unauthenticated or they come too fast. */
  #admit(request: IncomingMessage, admit: (ok: boolean, status?: number, message?: string) => void): void {
    const refusal = this.#admission.admit();
    if (refusal !== null) {
      const remote = `${request.socket.remoteAddress ?? '?'}:${request.socket.remotePort ?? '?'}`;
      const why =
        refusal === 'unauthenticated_limit'
          ? `${this.#admission.unauthenticated} peer connections have not said peer-hello yet (maxUnauthenticated)`
          : 'peer handshakes come faster than maxHandshakesPerSecond';
      this.#countRefusal(refusal, `refused a ring peer at ${remote}: ${why}`);
      admit(false, 503, why);
      return;
    }
    let settled = false;
    const settle = (): void => {
      if (settled) return;
      settled = true;
      this.#admission.settled();
    };
    this.#settlers.set(request.socket, settle);
    request.socket.once('close', settle);
    admit(true);
  }

  #countRefusal(reason: RefusalReason, text: string): void {
    this.#onRefused(reason);
    this.#refusalLog.say(reason, text);
  }

  #accept(socket: WebSocket, request: IncomingMessage): void {
    const remote = `${request.socket.remoteAddress ?? '?'}:${request.socket.remotePort ?? '?'}`;
    if (this.#closed) {
      socket.terminate();
      return;
    }
    this.#sockets.add(socket);
    this.#streams.set(socket, request.socket);
    socket.on('close', () => this.#sockets.delete(socket));
    // ws reports frames it refuses itself (too large, bad framing) here, then closes with 1009/1002.
    let authenticated = false;
    socket.on('error', (error: Error & { code?: string }) => {
      const text = `refused a ring peer at ${remote}: ${error.message}`;
      if (authenticated) return this.#logger.warn({ remote, code: error.code, err: error }, text);
      this.#countRefusal(error.code === 'WS_ERR_UNSUPPORTED_MESSAGE_LENGTH' ? 'hello_too_big' : 'malformed', text);
    });
    const timer = setTimeout(() => {
      this.#refuseStranger(socket, remote, 'hello_timeout', new PeerHandshakeError(`no peer-hello from ${remote} within ${this.#helloTimeoutMs} ms`));
    }, this.#helloTimeoutMs);
    socket.once('close', () => clearTimeout(timer));
    socket.once('message', (data, isBinary) => {
      clearTimeout(timer);
      authenticated = this.#onHello(socket, remote, data, isBinary);
      if (authenticated) this.#settlers.get(request.socket)?.();
    });
  }

  /** Whether the peer authenticated (a refusal after that is about its rank or generation). */
  #onHello(socket: WebSocket, remote: string, data: RawData, isBinary: boolean): boolean {
    let hello: PeerHelloMessage;
    try {
      const message = parsePeerMessage(data as Buffer, { isBinary });
      if (message.type !== 'peer-hello') {
        throw new UnexpectedMessageError(`expected 'peer-hello' from ${remote} first, got '${message.type}'`, { messageType: message.type });
      }
      hello = message;
      if (!tokensEqual(hello.token, this.#token)) {
        throw new BadTokenError(`peer-hello from ${remote} (rank ${hello.rank}, generation ${hello.generation}) carries a wrong token`, {
          messageType: 'peer-hello',
          field: 'token',
        });
      }
    } catch (error) {
      const code = (error as { code?: string }).code;
      const reason: RefusalReason = code === PROTOCOL_ERROR_CODES.badToken ? 'bad_token' : code === PROTOCOL_ERROR_CODES.wrongVersion ? 'wrong_version' : 'malformed';
      this.#refuseStranger(socket, remote, reason, error);
      return false;
    }
    if (hello.generation < this.#generation) {
      this.#refuse(socket, remote, staleGeneration(hello, this.#generation));
      return true;
    }

    const waiting: Waiting = { socket, hello, remote, release: () => {} };
    const claim = this.#claim;
    if (claim !== undefined && claim.generation === hello.generation) {
      if (hello.rank !== claim.successorRank) {
        this.#refuse(
          socket,
          remote,
          new PeerHandshakeError(
            `rank ${hello.rank} is not rank ${claim.rank}'s ring successor in generation ${hello.generation} (expected rank ${claim.successorRank})`,
          ),
        );
      } else if (claim.taken) {
        this.#refuse(socket, remote, new PeerHandshakeError(`rank ${hello.rank} is already connected for generation ${hello.generation}`));
      } else {
        claim.deliver(waiting);
      }
      return true;
    }
    this.#hold(waiting);
    return true;
  }

  /** Keeps a connection until its generation is joined; anything it sends meanwhile is refused. */
  #hold(waiting: Waiting): void {
    const key = waitingKey(waiting.hello.generation, waiting.hello.rank);
    const previous = this.#waiting.get(key);
    if (previous !== undefined) {
      this.#refuse(previous.socket, previous.remote, new PeerHandshakeError(`replaced by a newer connection for rank ${waiting.hello.rank}`));
    }
    if (this.#waiting.size >= MAX_WAITING && previous === undefined) {
      const [oldestKey, oldest] = this.#waiting.entries().next().value as [string, Waiting];
      this.#waiting.delete(oldestKey);
      this.#refuse(oldest.socket, oldest.remote, new PeerHandshakeError(`too many peers waiting for their generation`));
    }
    this.#waiting.set(key, waiting);
    const onClose = (): void => {
      if (this.#waiting.get(key) === waiting) this.#waiting.delete(key);
    };
    const onMessage = (): void => {
      this.#waiting.delete(key);
      this.#refuse(waiting.socket, waiting.remote, new UnexpectedMessageError(`a frame from ${waiting.remote} before its ring was formed`));
    };
    waiting.socket.on('close', onClose);
    waiting.socket.on('message', onMessage);
    waiting.release = () => {
      waiting.socket.off('close', onClose);
      waiting.socket.off('message', onMessage);
    };
  }

  /** Refuses a connection that never authenticated: counted, and logged at a bounded pace. */
  #refuseStranger(socket: WebSocket, remote: string, reason: RefusalReason, error: unknown): void {
    const code = (error as { code?: string }).code;
    this.#countRefusal(reason, `refused a ring peer at ${remote}: ${code ?? 'error'}: ${(error as Error).message}`);
    refuse(socket, error);
  }

  #refuse(socket: WebSocket, remote: string, error: unknown): void {
    const code = (error as { code?: string }).code;
    this.#logger.warn({ remote, code, err: error }, `refused a ring peer at ${remote}: ${code ?? 'error'}: ${(error as Error).message}`);
    refuse(socket, error);
  }
}

function isAborted(signal: AbortSignal | undefined): boolean {
  return signal?.aborted ?? false;
}

function waitingKey(generation: number, rank: number): string {
  return `${generation}:${rank}`;
}

function staleGeneration(hello: PeerHelloMessage, generation: number): PeerHandshakeError {
  return new PeerHandshakeError(`peer-hello from rank ${hello.rank} is for generation ${hello.generation}, this worker is in generation ${generation}`);
}

function validateJoin(options: JoinRingOptions, currentGeneration: number): JoinRingOptions {
  const generation = requireInteger('generation', options.generation, 0, 0xffff_ffff);
  if (generation <= currentGeneration) {
    throw new InvalidAllReduceOptionError(`generation ${generation} is not newer than the generation already joined (${currentGeneration})`);
  }
  const worldSize = requireInteger('worldSize', options.worldSize, 1, MAX_WORLD_SIZE);
  requireInteger('rank', options.rank, 0, worldSize - 1);
  if (!Array.isArray(options.ring) || options.ring.length !== worldSize) {
    throw new InvalidAllReduceOptionError(`ring must list ${worldSize} members (worldSize), got ${String(options.ring?.length)}`);
  }
  options.ring.forEach((member, i) => {
    if (member.rank !== i) throw new InvalidAllReduceOptionError(`ring[${i}] must be rank ${i}, got rank ${member.rank}`);
  });
  return options;
}
