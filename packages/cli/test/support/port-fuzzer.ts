/**
 * A fuzzer for a running job's ports: it opens connections to a coordinator port or a worker's
 * peer port and sends each one a mutated frame of the port's message types (`mutatedFrame`),
 * then waits for the server to refuse it. A few connections instead write raw garbage where the
 * WebSocket handshake belongs, or one frame far past the cap before authentication. It knows
 * no token, so nothing it sends may ever count.
 *
 * One frame per connection, because a port refuses a connection at its first bad frame and
 * reads no further: every frame counted here reached a parser.
 */
import { connect } from 'node:net';
import { WebSocket } from 'ws';
import { generator, mutatedFrame } from '@ringtrain/protocol/testing';
import type { Message } from '@ringtrain/protocol';

export interface FuzzTarget {
  /** ws:// URL of the port. */
  url: string;
  /** One valid message of each type the port's parser takes; the fuzzer mutates these. */
  examples: readonly Message[];
  seed: number;
}

export interface FuzzTally {
  /** Mutated frames written on an open WebSocket. */
  frames: number;
  /** Frames larger than the cap before authentication (a few in every hundred). */
  oversizedFrames: number;
  /** Connections that wrote raw bytes in place of a WebSocket handshake. */
  rawGarbage: number;
  /** Handshakes the port refused (HTTP 503 and the like), retried. */
  refusedHandshakes: number;
  /** Close codes of the connections the port closed after their frame, with their counts. */
  closeCodes: Map<number, number>;
  /** Connections still open a while after their frame: the fuzzer cut them. */
  unanswered: number;
}

export interface FuzzOptions {
  /** Stop after this many frames. */
  frames: number;
  /** Connections in flight at once. @default 8 */
  concurrency?: number;
  /** Checked before each connection: true ends the fuzzing early. */
  stopped?: () => boolean;
  /** How long a connection may stay open after its frame before the fuzzer cuts it. @default 3000 */
  answerTimeoutMs?: number;
}

const OVERSIZED_BYTES = 256 * 1024;

export async function fuzzPort(target: FuzzTarget, options: FuzzOptions): Promise<FuzzTally> {
  const tally: FuzzTally = { frames: 0, oversizedFrames: 0, rawGarbage: 0, refusedHandshakes: 0, closeCodes: new Map(), unanswered: 0 };
  const random = generator(target.seed);
  const answerTimeoutMs = options.answerTimeoutMs ?? 3000;
  let attempt = 0;
  const lane = async (): Promise<void> => {
    while (tally.frames < options.frames && options.stopped?.() !== true) {
      attempt += 1;
      if (attempt % 50 === 0) {
        await writeRawGarbage(target.url, random, answerTimeoutMs);
        tally.rawGarbage += 1;
        continue;
      }
      const oversized = attempt % 100 === 1;
      const example = target.examples[attempt % target.examples.length] as Message;
      const frame = oversized ? randomBytes(OVERSIZED_BYTES, random) : mutatedFrame(example, random);
      const outcome = await sendOne(target.url, frame, answerTimeoutMs);
      if (outcome.kind === 'refused-handshake') {
        tally.refusedHandshakes += 1;
        continue;
      }
      tally.frames += 1;
      if (oversized) tally.oversizedFrames += 1;
      if (outcome.kind === 'closed') tally.closeCodes.set(outcome.code, (tally.closeCodes.get(outcome.code) ?? 0) + 1);
      else tally.unanswered += 1;
    }
  };
  await Promise.all(Array.from({ length: options.concurrency ?? 8 }, lane));
  return tally;
}

type Outcome = { kind: 'refused-handshake' } | { kind: 'closed'; code: number } | { kind: 'unanswered' };

function sendOne(url: string, frame: Uint8Array, answerTimeoutMs: number): Promise<Outcome> {
  return new Promise((resolve) => {
    const socket = new WebSocket(url, { handshakeTimeout: 10_000 });
    let sent = false;
    let timer: NodeJS.Timeout | undefined;
    const finish = (outcome: Outcome): void => {
      clearTimeout(timer);
      socket.removeAllListeners();
      socket.on('error', () => {});
      if (socket.readyState !== WebSocket.CLOSED) socket.terminate();
      resolve(outcome);
    };
    socket.on('open', () => {
      socket.send(frame, { binary: true }, () => {});
      sent = true;
      timer = setTimeout(() => finish({ kind: 'unanswered' }), answerTimeoutMs);
    });
    socket.on('message', () => {});
    socket.on('unexpected-response', () => finish({ kind: 'refused-handshake' }));
    socket.on('close', (code) => finish(sent ? { kind: 'closed', code } : { kind: 'refused-handshake' }));
    socket.on('error', () => {
      if (!sent) finish({ kind: 'refused-handshake' });
    });
  });
}

/** Random bytes, sometimes behind the start of an HTTP request line, on a bare TCP connection. */
function writeRawGarbage(url: string, random: () => number, answerTimeoutMs: number): Promise<void> {
  const { hostname, port } = new URL(url);
  const prefix = random() < 0.5 ? Buffer.from('GET / HTTP/1.1\r\nUpgrade: websocket\r\n') : Buffer.alloc(0);
  return new Promise((resolve) => {
    const socket = connect(Number(port), hostname);
    const timer = setTimeout(() => socket.destroy(), answerTimeoutMs);
    socket.on('connect', () => socket.end(Buffer.concat([prefix, randomBytes(1 + Math.floor(random() * 4096), random)])));
    socket.on('data', () => {});
    socket.on('error', () => {});
    socket.on('close', () => {
      clearTimeout(timer);
      resolve();
    });
  });
}

function randomBytes(length: number, random: () => number): Uint8Array {
  const bytes = new Uint8Array(length);
  for (let i = 0; i < length; i++) bytes[i] = Math.floor(random() * 256);
  return bytes;
}
