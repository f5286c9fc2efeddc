/**
 * The receiving end of a ring link: a minimal WebSocket client (RFC 6455) built for one job,
 * taking gradient chunks off a loopback or LAN socket as cheaply as Node allows.
 *
 * Why not ws's client: ws reads through Node's default 'data' events, which allocate a fresh
 * buffer for every 64 KiB read, and then copies each frame's payload into another fresh buffer of
 * the frame's size. On loopback those allocations (page faults, GC) cost several times the
 * transfer itself. This client chooses the memory of every read itself (`net.connect`'s `onread`
 * with a buffer function): frame headers and small messages are read into one reused buffer, a
 * few dozen bytes at a time so that no chunk data is read there, and a chunk's data is read
 * straight to where it is used, with no copy after the kernel's: its final place in the gradient
 * when the all-reduce names one (see {@link InboundSocket.setDestinations}), or else a reused,
 * aligned buffer in WebAssembly memory (a `ChunkArena`), which the all-reduce adds into the
 * gradient with SIMD and hands back with {@link InboundSocket.release}. Over TLS the data comes
 * decrypted in buffers of Node's and is copied once.
 *
 * It speaks only what a ring link needs: it sends the opening handshake and small masked binary
 * frames (`peer-hello`, `error`, close, pong), and it accepts unmasked binary messages, possibly
 * fragmented, plus ping, pong and close. Anything else is a protocol error: the socket sends an
 * `error` message and a close frame with the matching code, then reports the error. The sending
 * end is ws's server (`peer-server.ts`).
 */
import { createHash, randomBytes, randomFillSync } from 'node:crypto';
import { connect, isIP } from 'node:net';
import type { Socket } from 'node:net';
import { connect as connectTls } from 'node:tls';
import {
  FrameTooLargeError,
  MalformedFrameError,
  PEER_CHUNK_HEADER_BYTES,
  PEER_CHUNK_MARKER,
  PROTOCOL_VERSION,
  ProtocolError,
  UnsupportedDataError,
  BadFieldError,
  closeFrameFor,
  decodePeerChunkHeader,
  elementView,
  encodeMessage,
  errorMessageFor,
  parsePeerMessage,
} from '@ringtrain/protocol';
import type { PeerAddress, PeerChunkHeader, PeerMessage } from '@ringtrain/protocol';
import { ChunkArena } from './add-into.ts';

const WEBSOCKET_GUID = '258EAFA5-E914-47DA-95CA-C5AB0DC85B11';
const MAX_HANDSHAKE_BYTES = 16 * 1024;
const READ_BUFFER_BYTES = 1024 * 1024;
/**
 * The most a read between two chunk data payloads takes: a frame header, a chunk header's frame
 * and the data frame's header (2 + 32 + 10 bytes) fit, so at most a few bytes of data land in the
 * read buffer and are copied.
 */
const PREAMBLE_READ_BYTES = 64;
/** Free chunk buffers kept for reuse; more are left to the garbage collector. */
const MAX_POOLED_BUFFERS = 8;
/** The WebAssembly memory set aside per link for received chunks (see `add-into.ts`). */
const ARENA_BYTES = 32 * 1024 * 1024;
const CLOSE_GRACE_MS = 1000;

const OPCODE = { continuation: 0x0, text: 0x1, binary: 0x2, close: 0x8, ping: 0x9, pong: 0xa } as const;

/** Where a chunk with this header should be written, or `undefined` for a pooled buffer. */
export type ChunkDestinations = (header: PeerChunkHeader) => Float32Array | undefined;

export interface InboundSocketOptions {
  address: PeerAddress;
  /** The largest chunk data accepted, in bytes; larger announcements close the link with 1009. */
  maxChunkBytes: number;
  /** The largest message other than a chunk (`peer-hello`, `error`). */
  maxMessageBytes: number;
  /** How long the TCP connection and the opening handshake may take together. */
  handshakeTimeoutMs: number;
  /** TLS: the CA the server's certificate must be signed by, and the certificate this side shows. */
  tls?: { ca: string; cert: string; key: string } | null;
}

export interface InboundSocketHandlers {
  /** A validated message; a chunk's `data` lives in a pooled buffer until {@link InboundSocket.release}. */
  message(message: PeerMessage): void;
  /** A frame or message that broke the protocol; the socket is already closing with `error.closeCode`. */
  protocolError(error: ProtocolError): void;
  /** The connection is gone; `code` is the peer's close code, 1006 when there was no close frame. */
  close(code: number, reason: string): void;
}

/** The TCP connection could not be made (nothing listening yet, reset): worth another attempt. */
export class ConnectionRefusedError extends Error {}

/** Codes of TLS handshakes that refuse a certificate (or a protocol): no retry mends them. */
function isTlsRefusal(code: string | undefined): boolean {
  return code !== undefined && /^(ERR_SSL_|ERR_TLS_|CERT_|UNABLE_TO_|DEPTH_ZERO_|SELF_SIGNED_)/.test(code);
}

/** The server answered the opening handshake with something other than a WebSocket upgrade. */
export class HandshakeRejectedError extends Error {}

type ReadState = 'handshake' | 'frame-header' | 'frame-payload' | 'closed';

export class InboundSocket {
  readonly #socket: Socket;
  readonly #options: InboundSocketOptions;
  #handlers: InboundSocketHandlers | undefined;
  #state: ReadState = 'handshake';
  #handshake = Buffer.alloc(0);
  readonly #expectedAccept: string;

  // The frame being read.
  readonly #frameHeader = new Uint8Array(14);
  #frameHeaderFill = 0;
  #frameOpcode = 0;
  #frameFin = false;
  #frameRemaining = 0;
  readonly #control = new Uint8Array(125);
  #controlFill = 0;

  // The message being assembled from data frames.
  #inMessage = false;
  readonly #chunkHeaderBytes = new Uint8Array(PEER_CHUNK_HEADER_BYTES);
  #messageFill = 0;
  #chunk: PeerChunkHeader | undefined;
  #chunkBuffer: Uint8Array | undefined;
  /** Where chunks may be written straight into their final place (see {@link setDestinations}). */
  #destinations: ChunkDestinations | undefined;
  /** Data arrays that belong to the caller, never to the pool. */
  readonly #direct = new WeakSet<ArrayBufferView>();
  #chunkDirect: Float32Array | undefined;
  #other: Uint8Array | undefined;
  /** The chunk data view the current read goes to, when it goes straight there. */
  #directRead: Uint8Array | undefined;
  /** The start of the read buffer, for reads between chunk data. */
  #preamble: Uint8Array | undefined;

  readonly #arena: ChunkArena;
  readonly #pool: ArrayBuffer[] = [];
  #closeSent = false;
  #closeReceived: { code: number; reason: string } | undefined;
  #closed = false;

  private constructor(socket: Socket, options: InboundSocketOptions, key: string) {
    this.#socket = socket;
    this.#options = options;
    this.#expectedAccept = createHash('sha1').update(key + WEBSOCKET_GUID).digest('base64');
    const regions = Math.min(MAX_POOLED_BUFFERS, Math.max(2, Math.floor(ARENA_BYTES / options.maxChunkBytes)));
    this.#arena = new ChunkArena(options.maxChunkBytes, regions);
  }

  /** Opens the TCP connection and completes the opening handshake. */
  static connect(options: InboundSocketOptions): Promise<InboundSocket> {
    const key = randomBytes(16).toString('base64');
    const readBuffer = Buffer.allocUnsafe(READ_BUFFER_BYTES);
    let onRead: (buffer: Buffer, bytes: number) => void = () => {};
    let nextBuffer: () => Uint8Array = () => readBuffer;
    const tls = options.tls ?? null;
    // TLS sockets have no `onread`: their data comes as events, each a buffer of its own.
    const socket: Socket =
      tls === null
        ? connect({
            host: options.address.host,
            port: options.address.port,
            noDelay: true,
            onread: {
              // Asked before every read, for the memory that read goes to.
              buffer: () => nextBuffer(),
              callback: (bytes, buffer) => {
                onRead(buffer as Buffer, bytes);
                return true;
              },
            },
          })
        : connectTls({
            host: options.address.host,
            port: options.address.port,
            ca: tls.ca,
            cert: tls.cert,
            key: tls.key,
            minVersion: 'TLSv1.2',
            ...(isIP(options.address.host) === 0 ? { servername: options.address.host } : {}),
          });
    if (tls !== null) {
      socket.setNoDelay(true);
      socket.on('data', (chunk: Buffer) => onRead(chunk, chunk.length));
    }
    const self = new InboundSocket(socket, options, key);
    onRead = (buffer, bytes) => self.#onRead(buffer, bytes);
    nextBuffer = () => self.#nextReadBuffer(readBuffer);
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => fail(new ConnectionRefusedError(`no WebSocket handshake within ${options.handshakeTimeoutMs} ms`)), options.handshakeTimeoutMs);
      const fail = (error: Error): void => {
        clearTimeout(timer);
        socket.destroy();
        reject(error);
      };
      // A certificate refused is refused again on the next attempt; anything else may mend.
      socket.once('error', (error: Error & { code?: string }) =>
        fail(isTlsRefusal(error.code) ? new HandshakeRejectedError(`TLS: ${error.message} (${error.code ?? ''})`) : new ConnectionRefusedError(error.message)),
      );
      socket.once('close', () => fail(new ConnectionRefusedError('connection closed during the WebSocket handshake')));
      socket.once(tls === null ? 'connect' : 'secureConnect', () => {
        const host = options.address.host.includes(':') ? `[${options.address.host}]` : options.address.host;
        socket.write(
          `GET / HTTP/1.1\r\nHost: ${host}:${options.address.port}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n` +
            `Sec-WebSocket-Key: ${key}\r\nSec-WebSocket-Version: 13\r\n\r\n`,
        );
      });
      self.#onHandshake = (error) => {
        clearTimeout(timer);
        socket.removeAllListeners('error');
        socket.removeAllListeners('close');
        if (error !== undefined) {
          socket.destroy();
          reject(error);
          return;
        }
        socket.on('error', () => {});
        socket.on('close', () => self.#onSocketClose());
        resolve(self);
      };
    });
  }

  #onHandshake: (error?: Error) => void = () => {};

  /** Starts delivering messages; bytes that arrived before are delivered at once. */
  attach(handlers: InboundSocketHandlers): void {
    this.#handlers = handlers;
    const pending = this.#handshake;
    this.#handshake = Buffer.alloc(0);
    if (pending.length > 0) this.#consume(pending, 0, pending.length);
  }

  /** Sends one small binary message (masked, as every client frame must be). */
  send(bytes: Uint8Array): void {
    this.#writeFrame(OPCODE.binary, bytes);
  }

  /**
   * Lets the owner place chunks: `destinations` is asked for each chunk header as it arrives and
   * may return the array the data should be written into directly (it must have exactly the
   * announced length); otherwise the data goes to a pooled buffer. `undefined` stops asking.
   */
  setDestinations(destinations: ChunkDestinations | undefined): void {
    this.#destinations = destinations;
  }

  /** Gives a chunk's data buffer back to the pool. The chunk must not be used afterwards. */
  release(data: Float32Array | Uint16Array): void {
    if (this.#direct.has(data) || this.#arena.release(data)) return;
    if (data.byteOffset === 0 && data.buffer.byteLength === this.#options.maxChunkBytes && this.#pool.length < MAX_POOLED_BUFFERS) {
      this.#pool.push(data.buffer as ArrayBuffer);
    }
  }

  /** Starts the closing handshake; resolves once the connection is gone. */
  close(code: number, reason: string): Promise<void> {
    if (this.#closed) return Promise.resolve();
    return new Promise((resolve) => {
      this.#socket.once('close', () => resolve());
      this.#sendClose(code, reason);
    });
  }

  /** Ends the connection at once, without a closing handshake. */
  destroy(): void {
    this.#socket.destroy();
  }

  // ------------------------------------------------------------------ reading

  /**
   * The memory the next read goes to: the rest of the current chunk data frame, in place, when
   * one is being read; else the read buffer, limited between chunks so that no data is read
   * there (see {@link PREAMBLE_READ_BYTES}).
   */
  #nextReadBuffer(readBuffer: Buffer): Uint8Array {
    this.#directRead = undefined;
    if (this.#state === 'frame-payload' && this.#frameOpcode < OPCODE.close && this.#chunk !== undefined && this.#chunkBuffer !== undefined) {
      const offset = this.#messageFill - PEER_CHUNK_HEADER_BYTES;
      const take = Math.min(this.#frameRemaining, this.#chunk.dataBytes - offset);
      if (offset >= 0 && take > 0) {
        this.#directRead = this.#chunkBuffer.subarray(offset, offset + take);
        return this.#directRead;
      }
    }
    if (this.#state !== 'handshake' && this.#other === undefined) {
      this.#preamble ??= readBuffer.subarray(0, PREAMBLE_READ_BYTES);
      return this.#preamble;
    }
    return readBuffer;
  }

  #onRead(buffer: Buffer, bytes: number): void {
    if (this.#state === 'closed') return;
    if (buffer === this.#directRead) {
      // The kernel wrote the bytes where they belong.
      this.#messageFill += bytes;
      this.#frameRemaining -= bytes;
      try {
        if (this.#frameRemaining === 0) this.#endFrame();
      } catch (error) {
        if (!(error instanceof ProtocolError)) throw error;
        this.#refuse(error);
      }
      return;
    }
    if (this.#state === 'handshake') {
      this.#readHandshake(buffer.subarray(0, bytes));
      return;
    }
    if (this.#handlers === undefined) {
      // Not attached yet: keep a copy (the read buffer is reused).
      this.#handshake = Buffer.concat([this.#handshake, buffer.subarray(0, bytes)]);
      return;
    }
    this.#consume(buffer, 0, bytes);
  }

  #readHandshake(bytes: Buffer): void {
    this.#handshake = Buffer.concat([this.#handshake, bytes]);
    const end = this.#handshake.indexOf('\r\n\r\n');
    if (end < 0) {
      if (this.#handshake.length > MAX_HANDSHAKE_BYTES) this.#onHandshake(new HandshakeRejectedError('handshake response too long'));
      return;
    }
    const lines = this.#handshake.subarray(0, end).toString('latin1').split('\r\n');
    const rest = Buffer.from(this.#handshake.subarray(end + 4));
    const status = lines[0] ?? '';
    const headers = new Map(
      lines.slice(1).map((line) => {
        const colon = line.indexOf(':');
        return [line.slice(0, colon).trim().toLowerCase(), line.slice(colon + 1).trim()] as const;
      }),
    );
    let problem: string | undefined;
    if (/^HTTP\/1\.1 503\b/.test(status)) {
      // Busy (its bounds before authentication: too many handshakes at once): worth another attempt.
      this.#state = 'closed';
      this.#onHandshake(new ConnectionRefusedError(`the server is busy ("${status}")`));
      return;
    }
    if (!/^HTTP\/1\.1 101\b/.test(status)) problem = `the server answered "${status}" instead of switching protocols`;
    else if (headers.get('upgrade')?.toLowerCase() !== 'websocket') problem = 'the handshake response lacks "Upgrade: websocket"';
    else if (headers.get('sec-websocket-accept') !== this.#expectedAccept) problem = 'the handshake response has a wrong Sec-WebSocket-Accept';
    if (problem !== undefined) {
      this.#state = 'closed';
      this.#onHandshake(new HandshakeRejectedError(problem));
      return;
    }
    this.#state = 'frame-header';
    this.#handshake = rest;
    this.#onHandshake();
  }

  /** Parses frames out of `buffer[start, end)`, which may end anywhere in a frame. */
  #consume(buffer: Uint8Array, start: number, end: number): void {
    let position = start;
    try {
      while (position < end && this.#state !== 'closed') {
        if (this.#state === 'frame-header') {
          position = this.#readFrameHeader(buffer, position, end);
        } else {
          const take = Math.min(this.#frameRemaining, end - position);
          if (this.#frameOpcode >= OPCODE.close) {
            this.#control.set(buffer.subarray(position, position + take), this.#controlFill);
            this.#controlFill += take;
          } else {
            this.#messageBytes(buffer, position, position + take);
          }
          position += take;
          this.#frameRemaining -= take;
          if (this.#frameRemaining === 0) this.#endFrame();
        }
      }
    } catch (error) {
      if (!(error instanceof ProtocolError)) throw error;
      this.#refuse(error);
    }
  }

  /** Reads (part of) a frame header; returns the new position. */
  #readFrameHeader(buffer: Uint8Array, position: number, end: number): number {
    const header = this.#frameHeader;
    while (position < end) {
      header[this.#frameHeaderFill++] = buffer[position++] as number;
      if (this.#frameHeaderFill < 2) continue;
      const length7 = (header[1] as number) & 0x7f;
      const needed = length7 === 126 ? 4 : length7 === 127 ? 10 : 2;
      if (this.#frameHeaderFill < needed) continue;
      this.#frameHeaderFill = 0;
      this.#startFrame(header, length7);
      return position;
    }
    return position;
  }

  #startFrame(header: Uint8Array, length7: number): void {
    const first = header[0] as number;
    const second = header[1] as number;
    if ((first & 0x70) !== 0) throw new MalformedFrameError('a frame with reserved bits set (no extension was negotiated)');
    if ((second & 0x80) !== 0) throw new MalformedFrameError('a masked frame from the server (RFC 6455 §5.1)');
    const opcode = first & 0x0f;
    const fin = (first & 0x80) !== 0;
    const view = new DataView(header.buffer, header.byteOffset, header.byteLength);
    let length = length7;
    if (length7 === 126) length = view.getUint16(2);
    else if (length7 === 127) {
      const high = view.getUint32(2);
      if (high > 0x1f_ffff) throw new FrameTooLargeError('a frame longer than 2^53 bytes');
      length = high * 2 ** 32 + view.getUint32(6);
    }

    if (opcode >= OPCODE.close) {
      if (opcode !== OPCODE.close && opcode !== OPCODE.ping && opcode !== OPCODE.pong) {
        throw new MalformedFrameError(`a frame with the reserved opcode 0x${opcode.toString(16)}`);
      }
      if (!fin || length > 125) throw new MalformedFrameError('a fragmented or longer than 125 bytes control frame');
      this.#controlFill = 0;
    } else if (opcode === OPCODE.text) {
      throw new UnsupportedDataError('a text frame on a ring link: every ringtrain message is binary');
    } else if (opcode === OPCODE.binary) {
      if (this.#inMessage) throw new MalformedFrameError('a new message began before the previous one ended');
      this.#startMessage();
    } else if (opcode === OPCODE.continuation) {
      if (!this.#inMessage) throw new MalformedFrameError('a continuation frame outside any message');
    } else {
      throw new MalformedFrameError(`a frame with the reserved opcode 0x${opcode.toString(16)}`);
    }
    const limit = PEER_CHUNK_HEADER_BYTES + Math.max(this.#options.maxChunkBytes, this.#options.maxMessageBytes);
    if (opcode < OPCODE.close && this.#messageFill + length > limit) {
      throw new FrameTooLargeError(`a message of more than ${limit} bytes on a ring link (a frame of ${length} bytes)`);
    }
    this.#frameOpcode = opcode;
    this.#frameFin = fin;
    this.#frameRemaining = length;
    this.#state = 'frame-payload';
    if (length === 0) this.#endFrame();
  }

  #startMessage(): void {
    this.#inMessage = true;
    this.#messageFill = 0;
    this.#chunk = undefined;
    this.#chunkBuffer = undefined;
    this.#chunkDirect = undefined;
    this.#other = undefined;
  }

  /** Appends payload bytes of a data frame to the message being assembled. */
  #messageBytes(buffer: Uint8Array, start: number, end: number): void {
    let position = start;
    if (this.#chunk === undefined && this.#other === undefined && position < end) {
      if (this.#messageFill === 0 && buffer[position] !== PEER_CHUNK_MARKER) {
        this.#other = new Uint8Array(this.#options.maxMessageBytes);
      } else {
        const take = Math.min(PEER_CHUNK_HEADER_BYTES - this.#messageFill, end - position);
        this.#chunkHeaderBytes.set(buffer.subarray(position, position + take), this.#messageFill);
        this.#messageFill += take;
        position += take;
        if (this.#messageFill < PEER_CHUNK_HEADER_BYTES) return;
        const chunk = decodePeerChunkHeader(this.#chunkHeaderBytes);
        if (chunk.dataBytes > this.#options.maxChunkBytes) {
          throw new FrameTooLargeError(`a peer-chunk announcing ${chunk.dataBytes} bytes, over the link's limit of ${this.#options.maxChunkBytes}`, {
            messageType: 'peer-chunk',
            field: 'data',
          });
        }
        this.#chunk = chunk;
        const direct = this.#destinations?.(chunk);
        if (direct !== undefined && direct.byteLength === chunk.dataBytes) {
          this.#direct.add(direct);
          this.#chunkDirect = direct;
          this.#chunkBuffer = new Uint8Array(direct.buffer, direct.byteOffset, direct.byteLength);
        } else {
          this.#chunkBuffer = this.#acquire().subarray(0, chunk.dataBytes);
        }
      }
    }
    const take = end - position;
    if (take === 0) return;
    if (this.#chunk !== undefined) {
      const offset = this.#messageFill - PEER_CHUNK_HEADER_BYTES;
      if (offset + take > this.#chunk.dataBytes) {
        throw new BadFieldError(`bad field 'data' in 'peer-chunk': the header announces ${this.#chunk.dataBytes} bytes, the frame carries more`, {
          messageType: 'peer-chunk',
          field: 'data',
        });
      }
      (this.#chunkBuffer as Uint8Array).set(buffer.subarray(position, end), offset);
    } else {
      const other = this.#other as Uint8Array;
      if (this.#messageFill + take > other.byteLength) {
        throw new FrameTooLargeError(`a message of more than ${other.byteLength} bytes on a ring link`);
      }
      other.set(buffer.subarray(position, end), this.#messageFill);
    }
    this.#messageFill += take;
  }

  #endFrame(): void {
    this.#state = 'frame-header';
    const opcode = this.#frameOpcode;
    if (opcode >= OPCODE.close) {
      this.#controlFrame(opcode, this.#control.subarray(0, this.#controlFill));
      return;
    }
    if (this.#frameFin) this.#endMessage();
  }

  #endMessage(): void {
    this.#inMessage = false;
    let message: PeerMessage;
    if (this.#chunk !== undefined) {
      const { dataBytes, ...fields } = this.#chunk;
      const received = this.#messageFill - PEER_CHUNK_HEADER_BYTES;
      if (received !== dataBytes) {
        throw new BadFieldError(`bad field 'data' in 'peer-chunk': the header announces ${dataBytes} bytes, the frame carries ${received}`, {
          messageType: 'peer-chunk',
          field: 'data',
        });
      }
      const data = this.#chunkDirect ?? elementView(this.#chunkBuffer as Uint8Array, fields.format ?? 'f32');
      message = { v: PROTOCOL_VERSION, type: 'peer-chunk', ...fields, data };
    } else if (this.#other !== undefined) {
      message = parsePeerMessage(this.#other.subarray(0, this.#messageFill));
    } else {
      message = parsePeerMessage(this.#chunkHeaderBytes.subarray(0, this.#messageFill));
    }
    this.#chunk = undefined;
    this.#chunkBuffer = undefined;
    this.#chunkDirect = undefined;
    this.#other = undefined;
    this.#handlers?.message(message);
  }

  #controlFrame(opcode: number, payload: Uint8Array): void {
    if (opcode === OPCODE.ping) {
      this.#writeFrame(OPCODE.pong, payload);
    } else if (opcode === OPCODE.close) {
      const code = payload.byteLength >= 2 ? (payload[0] as number) * 256 + (payload[1] as number) : 1005;
      const reason = Buffer.from(payload.subarray(2)).toString('utf8');
      this.#closeReceived = { code, reason };
      this.#state = 'closed';
      // Echo the close (RFC 6455 §5.5.1) and let the server end the TCP connection.
      this.#sendClose(code === 1005 ? 1000 : code, '');
    }
  }

  /** A buffer for a chunk's data: from the arena when one is free, else an ordinary one. */
  #acquire(): Uint8Array {
    return this.#arena.acquireView() ?? new Uint8Array(this.#pool.pop() ?? new ArrayBuffer(this.#options.maxChunkBytes));
  }

  // ------------------------------------------------------------------ writing and closing

  #refuse(error: ProtocolError): void {
    this.#state = 'closed';
    this.#writeFrame(OPCODE.binary, encodeMessage(errorMessageFor(error)));
    const { code, reason } = closeFrameFor(error);
    this.#sendClose(code, reason);
    this.#handlers?.protocolError(error);
  }

  #sendClose(code: number, reason: string): void {
    if (this.#closeSent || this.#socket.destroyed) return;
    this.#closeSent = true;
    const reasonBytes = Buffer.from(reason, 'utf8');
    const payload = Buffer.alloc(2 + reasonBytes.length);
    payload.writeUInt16BE(code, 0);
    reasonBytes.copy(payload, 2);
    this.#writeFrame(OPCODE.close, payload);
    this.#socket.end();
    setTimeout(() => this.#socket.destroy(), CLOSE_GRACE_MS).unref();
  }

  #writeFrame(opcode: number, payload: Uint8Array): void {
    if (this.#socket.destroyed || !this.#socket.writable || (this.#closeSent && opcode !== OPCODE.close)) return;
    const length = payload.byteLength;
    const lengthBytes = length < 126 ? 0 : length < 65_536 ? 2 : 8;
    const frame = Buffer.allocUnsafe(2 + lengthBytes + 4 + length);
    frame[0] = 0x80 | opcode;
    if (lengthBytes === 0) frame[1] = 0x80 | length;
    else if (lengthBytes === 2) {
      frame[1] = 0x80 | 126;
      frame.writeUInt16BE(length, 2);
    } else {
      frame[1] = 0x80 | 127;
      frame.writeBigUInt64BE(BigInt(length), 2);
    }
    const maskAt = 2 + lengthBytes;
    randomFillSync(frame, maskAt, 4);
    for (let i = 0; i < length; i++) frame[maskAt + 4 + i] = (payload[i] as number) ^ (frame[maskAt + (i & 3)] as number);
    this.#socket.write(frame);
  }

  #onSocketClose(): void {
    if (this.#closed) return;
    this.#closed = true;
    this.#state = 'closed';
    const { code, reason } = this.#closeReceived ?? { code: 1006, reason: '' };
    this.#handlers?.close(code, reason);
  }
}
