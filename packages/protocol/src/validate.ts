/**
 * From bytes to validated messages. Each connection has one direction of the protocol and one
 * parse function for what may arrive on it:
 *
 *   parseCoordinatorToWorker  on a worker's connection to the coordinator
 *   parseWorkerToCoordinator  on the coordinator's connection to a worker
 *   parsePeerMessage          on a ring link between two workers
 *
 * Each either returns a message whose every field has been checked, or throws a
 * {@link ProtocolError} whose `closeCode` the caller closes that connection with. The checks run
 * in this order, so the error names the first thing wrong: the frame (text, too large, not
 * msgpack, not an object), the version, the type (unknown, or not allowed on this connection),
 * then the fields.
 */
import { msgpackCodec } from './codec.ts';
import {
  FrameTooLargeError,
  MalformedFrameError,
  UnexpectedMessageError,
  UnknownMessageError,
  UnsupportedDataError,
  WrongVersionError,
} from './errors.ts';
import { isPlainObject, show } from './fields.ts';
import { PROTOCOL_VERSION } from './messages.ts';
import type { CoordinatorToWorker, Message, MessageType, PeerMessage, WorkerToCoordinator } from './messages.ts';
import { PEER_CHUNK_HEADER_BYTES, decodePeerChunk, encodePeerChunk, isPeerChunkFrame } from './peer-chunk.ts';
import { schemas } from './schemas.ts';

/** A received frame as ws delivers it: one buffer, an `ArrayBuffer`, or the list of its fragments. */
export type FrameData = Uint8Array | ArrayBuffer | readonly Uint8Array[];

/** ws's default `maxPayload`: 100 MiB. */
export const DEFAULT_MAX_FRAME_BYTES = 100 * 1024 * 1024;

export interface ParseOptions {
  /**
   * The largest frame accepted, in bytes; a larger one throws {@link FrameTooLargeError}.
   * @default 104857600 (100 MiB, ws's default maxPayload)
   */
  maxFrameBytes?: number;
  /**
   * Whether the WebSocket frame was binary (ws's `isBinary`); every message of this protocol is.
   * @default true
   */
  isBinary?: boolean;
}

interface Channel {
  name: string;
  types: ReadonlySet<string>;
}

// Records keyed by every member of a union, so adding a message type without deciding where it
// may travel fails to compile.
const coordinatorToWorker: Channel = channel('coordinator-to-worker', {
  welcome: true,
  assign: true,
  sync: true,
  state: true,
  dataset: true,
  plan: true,
  evaluate: true,
  'state-request': true,
  stop: true,
  error: true,
} satisfies Record<CoordinatorToWorker['type'], true>);

const workerToCoordinator: Channel = channel('worker-to-coordinator', {
  hello: true,
  replica: true,
  ready: true,
  'ring-failed': true,
  'gradient-ready': true,
  'step-report': true,
  evaluation: true,
  state: true,
  error: true,
} satisfies Record<WorkerToCoordinator['type'], true>);

const peer: Channel = channel('peer', {
  'peer-hello': true,
  'peer-chunk': true,
  error: true,
} satisfies Record<PeerMessage['type'], true>);

function channel(name: string, types: Record<string, true>): Channel {
  return { name, types: new Set(Object.keys(types)) };
}

/** A message arriving at a worker from the coordinator. */
export function parseCoordinatorToWorker(data: FrameData, options: ParseOptions = {}): CoordinatorToWorker {
  return parse(data, coordinatorToWorker, options) as CoordinatorToWorker;
}

/** A message arriving at the coordinator from a worker. */
export function parseWorkerToCoordinator(data: FrameData, options: ParseOptions = {}): WorkerToCoordinator {
  return parse(data, workerToCoordinator, options) as WorkerToCoordinator;
}

/**
 * A message arriving on a ring link. A `peer-chunk` is read from its binary encoding (see
 * `peer-chunk.ts`); when ws delivers it as two fragments, header then data, nothing is copied.
 */
export function parsePeerMessage(data: FrameData, options: ParseOptions = {}): PeerMessage {
  return parse(data, peer, options) as PeerMessage;
}

/** The bytes of `message` as they go on the wire: binary for `peer-chunk`, msgpack for the rest. */
export function encodeMessage(message: Message): Uint8Array {
  if (message.type === 'peer-chunk') return encodePeerChunk(message);
  return msgpackCodec.encode(message);
}

function parse(data: FrameData, channel: Channel, options: ParseOptions): Message {
  if (options.isBinary === false) {
    throw new UnsupportedDataError(`text frame on a ${channel.name} connection: every ringtrain message is binary`);
  }
  const maxFrameBytes = options.maxFrameBytes ?? DEFAULT_MAX_FRAME_BYTES;
  const fragments = data instanceof ArrayBuffer ? [new Uint8Array(data)] : data instanceof Uint8Array ? [data] : data;
  const frameBytes = fragments.reduce((sum, fragment) => sum + fragment.byteLength, 0);
  if (frameBytes > maxFrameBytes) {
    throw new FrameTooLargeError(`frame of ${frameBytes} bytes on a ${channel.name} connection exceeds the limit of ${maxFrameBytes} bytes`);
  }

  if (channel === peer) {
    const [first, second] = fragments;
    if (fragments.length === 2 && first !== undefined && second !== undefined && first.byteLength === PEER_CHUNK_HEADER_BYTES && isPeerChunkFrame(first)) {
      return decodePeerChunk(first, second);
    }
  }
  const bytes = fragments.length === 1 && fragments[0] !== undefined ? fragments[0] : Buffer.concat(fragments, frameBytes);
  if (channel === peer && isPeerChunkFrame(bytes)) {
    if (bytes.byteLength < PEER_CHUNK_HEADER_BYTES) {
      throw new MalformedFrameError(`peer-chunk frame of ${bytes.byteLength} bytes is shorter than its ${PEER_CHUNK_HEADER_BYTES}-byte header`, {
        messageType: 'peer-chunk',
      });
    }
    return decodePeerChunk(bytes.subarray(0, PEER_CHUNK_HEADER_BYTES), bytes.subarray(PEER_CHUNK_HEADER_BYTES));
  }

  const value = msgpackCodec.decode(bytes);
  if (!isPlainObject(value)) throw new MalformedFrameError(`frame holds ${show(value)}, not a message object`);
  const type = Object.hasOwn(value, 'type') ? value.type : undefined;
  if (typeof type !== 'string') throw new MalformedFrameError(`message has no string 'type' field (got ${show(type)})`);
  const version = Object.hasOwn(value, 'v') ? value.v : undefined;
  if (version !== PROTOCOL_VERSION) {
    throw new WrongVersionError(`'${type}' speaks protocol version ${show(version)}, this side speaks ${PROTOCOL_VERSION}`, {
      messageType: type,
      field: 'v',
    });
  }
  if (!Object.hasOwn(schemas, type)) throw new UnknownMessageError(`unknown message type ${JSON.stringify(type)}`, { messageType: type });
  if (!channel.types.has(type)) {
    throw new UnexpectedMessageError(`'${type}' may not travel on a ${channel.name} connection`, { messageType: type });
  }
  if (type === 'peer-chunk') {
    throw new UnexpectedMessageError("'peer-chunk' must use its binary encoding, not msgpack", { messageType: type });
  }
  return schemas[type as MessageType](value, '', type);
}
