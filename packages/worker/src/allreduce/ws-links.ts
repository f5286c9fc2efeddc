/**
 * The two links of a rank once its ring is formed (see `peer-server.ts` for how they are formed):
 *
 *   outbound  the WebSocket its successor dialled, accepted by this rank's peer server (ws); this
 *             rank sends chunks on it, the header and a view of the gradient as two fragments of
 *             one message. Server frames are not masked, so the gradient goes out untouched.
 *   inbound   the connection this rank dialled to its predecessor's peer server, read by
 *             {@link InboundSocket}; chunks arrive on it.
 *
 * Only `error` may arrive on the outbound link, and only `peer-chunk` and `error` on the inbound
 * one. A frame that breaks the protocol closes that link with the close code its error names; the
 * ring then fails with {@link PeerLinkLostError}, and the process carries on.
 */
import {
  PROTOCOL_VERSION,
  UnexpectedMessageError,
  closeFrameFor,
  encodeMessage,
  encodePeerChunkHeader,
  errorMessageFor,
  parsePeerMessage,
} from '@ringtrain/protocol';
import type { ErrorMessage, PeerChunk, PeerChunkMessage, ProtocolError } from '@ringtrain/protocol';
import type { Duplex } from 'node:stream';
import { WebSocket } from 'ws';
import type { RawData } from 'ws';
import { ChunkQueue } from './chunk-queue.ts';
import type { ChunkDestinations, InboundSocket } from './inbound-socket.ts';
import { PeerLinkLostError, RingClosedError } from './errors.ts';
import type { PeerTransport } from './transport.ts';

/** Where the links report what they refuse; pino's logger fits. */
export interface PeerLogger {
  warn(details: Record<string, unknown>, message: string): void;
}

export const silentLogger: PeerLogger = { warn: () => {} };

/** How long a closing link may take its closing handshake before the socket is destroyed. */
const CLOSE_GRACE_MS = 1000;

/** Sends `error` and closes `socket` with the close code and reason `error` calls for. */
export function refuse(socket: WebSocket, error: unknown): void {
  if (socket.readyState === WebSocket.OPEN) {
    socket.send(encodeMessage(errorMessageFor(error)));
    const { code, reason } = closeFrameFor(error);
    socket.close(code, reason);
    setTimeout(() => socket.terminate(), CLOSE_GRACE_MS).unref();
  } else {
    socket.terminate();
  }
}

/** Closes `socket` and resolves once it is closed (destroying it after a grace period). */
export function closeSocket(socket: WebSocket, code: number, reason: string): Promise<void> {
  if (socket.readyState === WebSocket.CLOSED) return Promise.resolve();
  return new Promise((resolve) => {
    const timer = setTimeout(() => socket.terminate(), CLOSE_GRACE_MS);
    socket.once('close', () => {
      clearTimeout(timer);
      resolve();
    });
    if (socket.readyState === WebSocket.OPEN) socket.close(code, reason);
    else if (socket.readyState === WebSocket.CONNECTING) socket.terminate();
  });
}

function describeClose(code: number, reason: Buffer, peerError: ErrorMessage | undefined): string {
  const text = reason.toString('utf8');
  const said = peerError !== undefined ? `; it said ${peerError.code}: ${peerError.message}` : '';
  return `close code ${code}${text !== '' ? ` "${text}"` : ''}${said}`;
}

interface LinkContext {
  rank: number;
  peerRank: number;
  logger: PeerLogger;
}

/** Receives chunks from the predecessor into a queue. */
export class InboundLink {
  readonly queue = new ChunkQueue();
  readonly #socket: InboundSocket;
  #peerError: ErrorMessage | undefined;
  #closing = false;

  /** Takes over `socket`'s messages at once, so none after the handshake is missed. */
  constructor(socket: InboundSocket, context: LinkContext) {
    this.#socket = socket;
    socket.attach({
      message: (message) => {
        if (message.type === 'peer-chunk') this.queue.push(message);
        else if (message.type === 'error') this.#peerError = message;
        else this.#refuse(context, new UnexpectedMessageError("a second 'peer-hello' on an established ring link", { messageType: message.type }));
      },
      protocolError: (error) => this.#fail(context, error),
      close: (code, reason) => {
        const message = this.#closing
          ? `rank ${context.rank}'s ring is closed`
          : `the ring link from rank ${context.peerRank} to rank ${context.rank} closed (${describeClose(code, Buffer.from(reason), this.#peerError)})`;
        this.queue.fail(this.#closing ? new RingClosedError(message) : new PeerLinkLostError(message));
      },
    });
  }

  /** Gives a received chunk's buffer back for reuse. */
  release(data: Float32Array | Uint16Array): void {
    this.#socket.release(data);
  }

  setDestinations(destinations: ChunkDestinations | undefined): void {
    this.#socket.setDestinations(destinations);
  }

  close(code: number, reason: string): Promise<void> {
    this.#closing = true;
    return this.#socket.close(code, reason);
  }

  sendError(error: unknown): void {
    this.#socket.send(encodeMessage(errorMessageFor(error)));
  }

  #refuse(context: LinkContext, error: ProtocolError): void {
    this.sendError(error);
    const { code, reason } = closeFrameFor(error);
    void this.#socket.close(code, reason);
    this.#fail(context, error);
  }

  #fail(context: LinkContext, error: ProtocolError): void {
    const { peerRank, rank, logger } = context;
    const text = `rank ${rank} refused a frame from rank ${peerRank}: ${error.code}: ${error.message}`;
    logger.warn({ peerRank, code: error.code, err: error }, text);
    this.queue.fail(new PeerLinkLostError(text, { cause: error }));
  }
}

/** Sends chunks to the successor. */
export class OutboundLink {
  readonly #socket: WebSocket;
  readonly #stream: Duplex | undefined;
  readonly #context: LinkContext;
  #failure: Error | undefined;
  #peerError: ErrorMessage | undefined;
  #closing = false;

  /**
   * Takes over `socket`'s events at once. `stream` is the TCP socket under it, when known.
   * `onLost` is told when the link ends other than by this rank closing it or the successor
   * closing it normally.
   */
  constructor(socket: WebSocket, stream: Duplex | undefined, context: LinkContext, onLost: (error: Error) => void) {
    this.#socket = socket;
    this.#stream = stream;
    this.#context = context;
    socket.on('message', (data, isBinary) => this.#onMessage(data, isBinary));
    socket.on('error', (error) => context.logger.warn({ peerRank: context.peerRank, err: error }, `ring link to rank ${context.peerRank}: ${error.message}`));
    socket.on('close', (code, reason) => {
      if (this.#closing) {
        this.#failure ??= new RingClosedError(`rank ${context.rank}'s ring is closed`);
        return;
      }
      this.#failure ??= new PeerLinkLostError(
        `the ring link from rank ${context.rank} to rank ${context.peerRank} closed (${describeClose(code, reason, this.#peerError)})`,
      );
      // A successor that finished the last step and closed normally is no failure yet: this rank
      // may still be waiting for its own last chunks from the predecessor.
      if (code !== 1000) onLost(this.#failure);
    });
  }

  /** Sends the header and then a view of the data as two fragments of one message, copying neither. */
  send(chunk: PeerChunk): Promise<void> {
    if (this.#failure !== undefined) return Promise.reject(this.#failure);
    const header = encodePeerChunkHeader(chunk);
    const data = Buffer.from(chunk.data.buffer, chunk.data.byteOffset, chunk.data.byteLength);
    return new Promise((resolve, reject) => {
      // Corked, the two frames (four buffers) leave in one writev.
      this.#stream?.cork();
      this.#socket.send(header, { binary: true, fin: false });
      this.#socket.send(data, { binary: true, fin: true }, (error) => {
        if (error === undefined || error === null) resolve();
        else reject(this.#failure ?? new PeerLinkLostError(`rank ${this.#context.rank} could not send to rank ${this.#context.peerRank}: ${error.message}`));
      });
      this.#stream?.uncork();
    });
  }

  close(code: number, reason: string): Promise<void> {
    this.#closing = true;
    return closeSocket(this.#socket, code, reason);
  }

  sendError(error: unknown): void {
    if (this.#socket.readyState === WebSocket.OPEN) this.#socket.send(encodeMessage(errorMessageFor(error)));
  }

  #onMessage(data: RawData, isBinary: boolean): void {
    try {
      const message = parsePeerMessage(data as Buffer, { isBinary, maxFrameBytes: 64 * 1024 });
      if (message.type !== 'error') {
        throw new UnexpectedMessageError(`'${message.type}' from the successor: only 'error' may follow its 'peer-hello'`, { messageType: message.type });
      }
      this.#peerError = message;
    } catch (error) {
      const { peerRank, rank, logger } = this.#context;
      const text = `rank ${rank} refused a frame from rank ${peerRank}: ${(error as { code?: string }).code ?? 'error'}: ${(error as Error).message}`;
      logger.warn({ peerRank, err: error }, text);
      this.#failure ??= new PeerLinkLostError(text, { cause: error });
      refuse(this.#socket, error);
    }
  }
}

/** A rank's {@link PeerTransport} over its two WebSocket links. */
export class WebSocketTransport implements PeerTransport {
  #closed: Promise<void> | undefined;
  #onClosed: () => void = () => {};
  /** Resolves once {@link close} has finished. */
  readonly closed = new Promise<void>((resolve) => (this.#onClosed = resolve));

  constructor(
    readonly rank: number,
    readonly worldSize: number,
    readonly generation: number,
    readonly maxChunkBytes: number,
    readonly inbound: InboundLink,
    readonly outbound: OutboundLink,
  ) {}

  send(chunk: PeerChunk): Promise<void> {
    return this.outbound.send(chunk);
  }

  receive(timeoutMs: number): Promise<PeerChunkMessage | undefined> {
    return this.inbound.queue.next(timeoutMs);
  }

  release(chunk: PeerChunkMessage): void {
    this.inbound.release(chunk.data);
  }

  setDestinations(destinations: ChunkDestinations | undefined): void {
    this.inbound.setDestinations(destinations);
  }

  close(reason?: unknown): Promise<void> {
    this.#closed ??= this.#close(reason);
    return this.#closed;
  }

  async #close(reason: unknown): Promise<void> {
    if (reason !== undefined) {
      this.inbound.sendError(reason);
      this.outbound.sendError(reason);
    }
    const { code, reason: text } = reason === undefined ? { code: 1000, reason: 'ring closed' } : closeFrameFor(reason);
    await Promise.all([this.inbound.close(code, text), this.outbound.close(code, text)]);
    this.#onClosed();
  }
}

/** The `peer-hello` this rank introduces itself with. */
export function peerHello(token: string, generation: number, rank: number): Uint8Array {
  return encodeMessage({ v: PROTOCOL_VERSION, type: 'peer-hello', token, generation, rank });
}
