/**
 * Dialling the ring predecessor's peer server: connect (retrying while the server is not up yet),
 * send `peer-hello`, and wait for the predecessor's `peer-hello` in answer. The answer must carry
 * the shared token, this generation and the predecessor's rank. On success the socket is handed
 * to an {@link InboundLink} in the same tick, before any chunk can slip past.
 */
import { BadTokenError, UnexpectedMessageError, closeFrameFor, encodeMessage, errorMessageFor, tokensEqual } from '@ringtrain/protocol';
import type { PeerAddress, PeerMessage } from '@ringtrain/protocol';
import { PeerConnectError, PeerHandshakeError } from './errors.ts';
import { ConnectionRefusedError, InboundSocket } from './inbound-socket.ts';
import { InboundLink, peerHello } from './ws-links.ts';
import type { PeerLogger } from './ws-links.ts';

export interface DialOptions {
  address: PeerAddress;
  token: string;
  generation: number;
  rank: number;
  predecessorRank: number;
  /** The largest chunk data accepted from the predecessor. */
  maxChunkBytes: number;
  /** The largest other message accepted from the predecessor. */
  maxMessageBytes: number;
  /** `performance.now()` by which the link must be up. */
  deadline: number;
  connectTimeoutMs: number;
  signal: AbortSignal;
  logger: PeerLogger;
  /** TLS on the link: the CA the predecessor's certificate must be signed by, and this peer's own. */
  tls: { ca: string; cert: string; key: string } | null;
}

const RETRY_FIRST_MS = 50;
const RETRY_MAX_MS = 1000;

/** The inbound link from the predecessor, once both `peer-hello`s have been exchanged. */
export async function dialPredecessor(options: DialOptions): Promise<InboundLink> {
  const where = `rank ${options.predecessorRank} (rank ${options.rank}'s ring predecessor) at ${formatAddress(options.address)}`;
  let lastError: Error | undefined;
  for (let attempt = 0; ; attempt++) {
    if (options.signal.aborted) {
      // Abandoned while still retrying: say why this side failed too.
      if (lastError !== undefined) throw new PeerConnectError(`could not reach ${where} (last attempt: ${lastError.message})`);
      throw options.signal.reason as Error;
    }
    const remainingMs = options.deadline - performance.now();
    if (remainingMs <= 0) break;
    let socket: InboundSocket;
    try {
      socket = await InboundSocket.connect({
        address: options.address,
        maxChunkBytes: options.maxChunkBytes,
        maxMessageBytes: options.maxMessageBytes,
        handshakeTimeoutMs: Math.ceil(remainingMs),
        tls: options.tls,
      });
    } catch (error) {
      if (!(error instanceof ConnectionRefusedError)) {
        throw new PeerConnectError(`${where} refused the WebSocket handshake: ${(error as Error).message}`, { cause: error });
      }
      lastError = error;
      await sleep(Math.min(RETRY_FIRST_MS * 2 ** attempt, RETRY_MAX_MS, Math.max(remainingMs, 0)), options.signal);
      continue;
    }
    return exchangeHellos(socket, options, where, remainingMs);
  }
  throw new PeerConnectError(`could not reach ${where} within ${options.connectTimeoutMs} ms: ${lastError?.message ?? 'no attempt made'}`);
}

function exchangeHellos(socket: InboundSocket, options: DialOptions, where: string, remainingMs: number): Promise<InboundLink> {
  return new Promise((resolve, reject) => {
    let settled = false;
    const finish = (error: Error | undefined, link?: InboundLink): void => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      options.signal.removeEventListener('abort', onAbort);
      if (error !== undefined) reject(error);
      else resolve(link as InboundLink);
    };
    const timer = setTimeout(() => {
      socket.destroy();
      finish(new PeerConnectError(`${where} did not answer peer-hello within ${options.connectTimeoutMs} ms`));
    }, remainingMs);
    const onAbort = (): void => {
      socket.destroy();
      finish(options.signal.reason as Error);
    };
    options.signal.addEventListener('abort', onAbort, { once: true });

    const onHello = (message: PeerMessage): void => {
      let problem: Error | undefined;
      if (message.type === 'error') {
        problem = new PeerConnectError(`${where} refused the ring link: ${message.code}: ${message.message}`);
      } else if (message.type !== 'peer-hello') {
        problem = new UnexpectedMessageError(`expected 'peer-hello' from ${where}, got '${message.type}'`, { messageType: message.type });
      } else if (!tokensEqual(message.token, options.token)) {
        problem = new BadTokenError(`the peer-hello from ${where} carries a wrong token`, { messageType: 'peer-hello', field: 'token' });
      } else if (message.generation !== options.generation || message.rank !== options.predecessorRank) {
        problem = new PeerHandshakeError(
          `${formatAddress(options.address)} answered as rank ${message.rank} of generation ${message.generation}, ` +
            `rank ${options.rank} expected rank ${options.predecessorRank} of generation ${options.generation}`,
        );
      }
      if (problem !== undefined) {
        if (!(problem instanceof PeerConnectError)) {
          socket.send(encodeMessage(errorMessageFor(problem)));
          const { code, reason } = closeFrameFor(problem);
          void socket.close(code, reason);
        } else {
          socket.destroy();
        }
        finish(problem instanceof PeerConnectError ? problem : new PeerConnectError(`${where}: ${problem.message}`, { cause: problem }));
        return;
      }
      finish(undefined, new InboundLink(socket, { rank: options.rank, peerRank: options.predecessorRank, logger: options.logger }));
    };

    socket.attach({
      message: (message) => {
        if (!settled) onHello(message);
      },
      protocolError: (error) => finish(new PeerConnectError(`${where} sent a bad frame: ${error.code}: ${error.message}`, { cause: error })),
      close: (code, reason) =>
        finish(new PeerConnectError(`${where} closed the ring link before answering (close code ${code}${reason !== '' ? ` "${reason}"` : ''})`)),
    });
    socket.send(peerHello(options.token, options.generation, options.rank));
  });
}

export function formatAddress(address: PeerAddress): string {
  return address.host.includes(':') ? `[${address.host}]:${address.port}` : `${address.host}:${address.port}`;
}

function sleep(ms: number, signal: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    const timer = setTimeout(done, ms);
    signal.addEventListener('abort', done, { once: true });
    function done(): void {
      clearTimeout(timer);
      signal.removeEventListener('abort', done);
      resolve();
    }
  });
}
