import { pack } from 'msgpackr';
import { describe, expect, it } from 'vitest';
import {
  BadFieldError,
  FrameTooLargeError,
  MalformedFrameError,
  PROTOCOL_VERSION,
  ProtocolError,
  UnexpectedMessageError,
  UnknownMessageError,
  UnsupportedDataError,
  WrongVersionError,
  encodeMessage,
  encodePeerChunkHeader,
  msgpackCodec,
  parseCoordinatorToWorker,
  parsePeerMessage,
  parseWorkerToCoordinator,
} from '../src/index.ts';
import type { FrameData, Message } from '../src/index.ts';
import { examples } from './examples.ts';

/** The error `parse(data)` throws; fails the test when it throws none. */
function refusal(parse: (data: FrameData) => unknown, data: FrameData): ProtocolError {
  try {
    parse(data);
  } catch (error) {
    if (error instanceof ProtocolError) return error;
    throw new Error(`expected a ProtocolError, got ${String(error)}`);
  }
  throw new Error('expected the frame to be refused');
}

/** Encodes `message` with some fields replaced, bypassing the types on purpose. */
function tampered(message: Message, changes: Record<string, unknown>): Uint8Array {
  return msgpackCodec.encode({ ...message, ...changes });
}

describe('frames that are not messages', () => {
  it.each([
    ['random bytes', Uint8Array.from([0xde, 0xad, 0xbe, 0xef, 0x00, 0x13, 0x37])],
    ['an empty frame', new Uint8Array(0)],
    ['a truncated message', encodeMessage(examples.hello).subarray(0, 20)],
    ['a message followed by trailing bytes', Buffer.concat([encodeMessage(examples.ready), Uint8Array.from([1])])],
  ])('refuses %s as malformed, with close code 1002', (_name, bytes) => {
    const error = refusal(parseWorkerToCoordinator, bytes);
    expect(error).toBeInstanceOf(MalformedFrameError);
    expect(error.code).toBe('RINGTRAIN_MALFORMED_FRAME');
    expect(error.closeCode).toBe(1002);
  });

  it.each([
    ['an array', [1, 2, 3]],
    ['a number', 42],
    ['a string', 'hello'],
    ['null', null],
    ['a Set', new Set(['type', 'ready'])],
    ['a Date', new Date(0)],
  ])('refuses valid msgpack holding %s instead of a message object', (_name, value) => {
    const error = refusal(parseCoordinatorToWorker, msgpackCodec.encode(value));
    expect(error).toBeInstanceOf(MalformedFrameError);
    expect(error.message).toMatch(/not a message object/);
  });

  it('refuses an object without a type', () => {
    const error = refusal(parseCoordinatorToWorker, pack({ v: PROTOCOL_VERSION, kind: 'welcome' }));
    expect(error).toBeInstanceOf(MalformedFrameError);
    expect(error.message).toMatch(/no string 'type'/);
  });

  it('refuses a text frame with close code 1003', () => {
    const error = refusal((data) => parseWorkerToCoordinator(data, { isBinary: false }), encodeMessage(examples.hello));
    expect(error).toBeInstanceOf(UnsupportedDataError);
    expect(error.closeCode).toBe(1003);
  });

  it('refuses a frame over the size limit with close code 1009, before decoding it', () => {
    const error = refusal((data) => parseCoordinatorToWorker(data, { maxFrameBytes: 1024 }), new Uint8Array(1025));
    expect(error).toBeInstanceOf(FrameTooLargeError);
    expect(error.code).toBe('RINGTRAIN_FRAME_TOO_LARGE');
    expect(error.closeCode).toBe(1009);
    expect(error.message).toMatch(/1025 bytes .* limit of 1024 bytes/);
  });

  it('counts every fragment of a fragmented frame against the size limit', () => {
    const fragments = [new Uint8Array(600), new Uint8Array(600)];
    expect(refusal((data) => parsePeerMessage(data, { maxFrameBytes: 1000 }), fragments)).toBeInstanceOf(FrameTooLargeError);
  });
});

describe('versions and types', () => {
  it.each([
    ['a newer version', PROTOCOL_VERSION + 1],
    ['no version', undefined],
    ['a version that is a string', '1'],
  ])('refuses %s, naming the message type and both versions', (_name, version) => {
    const error = refusal(parseWorkerToCoordinator, tampered(examples.hello, { v: version }));
    expect(error).toBeInstanceOf(WrongVersionError);
    expect(error.code).toBe('RINGTRAIN_WRONG_VERSION');
    expect(error.messageType).toBe('hello');
    expect(error.message).toContain(`this side speaks ${PROTOCOL_VERSION}`);
  });

  it('refuses a peer-hello of another version on a ring link', () => {
    const error = refusal(parsePeerMessage, tampered(examples['peer-hello'], { v: PROTOCOL_VERSION + 1 }));
    expect(error).toBeInstanceOf(WrongVersionError);
    expect(error.message).toContain(`'peer-hello' speaks protocol version ${PROTOCOL_VERSION + 1}`);
  });

  it('refuses a binary peer-chunk of another version', () => {
    const header = encodePeerChunkHeader(examples['peer-chunk']);
    header[1] = 9;
    const payload = new Uint8Array(examples['peer-chunk'].data.buffer.slice(0));
    expect(refusal(parsePeerMessage, [header, payload])).toBeInstanceOf(WrongVersionError);
  });

  it('refuses an unknown type with close code 1003', () => {
    const error = refusal(parseCoordinatorToWorker, tampered(examples.welcome, { type: 'launch-missiles' }));
    expect(error).toBeInstanceOf(UnknownMessageError);
    expect(error.closeCode).toBe(1003);
    expect(error.message).toContain('"launch-missiles"');
  });

  it('treats inherited property names as unknown types', () => {
    expect(refusal(parseCoordinatorToWorker, tampered(examples.welcome, { type: 'constructor' }))).toBeInstanceOf(UnknownMessageError);
  });

  it.each([
    ['hello', parseCoordinatorToWorker, 'coordinator-to-worker'],
    ['assign', parseWorkerToCoordinator, 'worker-to-coordinator'],
    ['hello', parsePeerMessage, 'peer'],
    ['peer-hello', parseWorkerToCoordinator, 'worker-to-coordinator'],
  ] as const)("refuses '%s' on the wrong connection with close code 1008", (type, parse, channel) => {
    const error = refusal(parse, encodeMessage(examples[type]));
    expect(error).toBeInstanceOf(UnexpectedMessageError);
    expect(error.closeCode).toBe(1008);
    expect(error.message).toBe(`'${type}' may not travel on a ${channel} connection`);
  });

  it('refuses a peer-chunk encoded as msgpack instead of its binary form', () => {
    const error = refusal(parsePeerMessage, msgpackCodec.encode(examples['peer-chunk']));
    expect(error).toBeInstanceOf(UnexpectedMessageError);
    expect(error.message).toMatch(/binary encoding/);
  });
});

describe('fields', () => {
  it.each([
    ['hello', { token: 42 }, 'token', /expected a string/],
    ['hello', { pid: -1 }, 'pid', /expected an integer from 0/],
    ['hello', { peerAddress: { host: '127.0.0.1', port: 70_000 } }, 'peerAddress.port', /from 1 to 65535, got 70000/],
    ['hello', { peerAddress: undefined }, 'peerAddress', /expected an object, got nothing/],
    ['ready', { generation: 1.5 }, 'generation', /integer/],
    ['step-report', { correct: 200, count: 100 }, 'correct', /at most count \(100\)/],
    ['step-report', { computeMs: Number.POSITIVE_INFINITY }, 'computeMs', /finite/],
    ['step-report', { weightChecksum: null }, 'weightChecksum', /got null/],
    ['step-report', { sentBytes: 1.5 }, 'sentBytes', /integer/],
    ['assign', { rank: 3 }, 'rank', /below worldSize \(3\)/],
    ['assign', { model: { ...examples.assign.model, depth: 19 } }, 'model.depth', /one of 18, 34, 50, 101, 152/],
    ['assign', { model: { ...examples.assign.model, stem: 'big' } }, 'model.stem', /"d2l", "small"/],
    ['assign', { hyper: { ...examples.assign.hyper, nesterov: 'yes' } }, 'hyper.nesterov', /true or false/],
    ['assign', { hyper: { ...examples.assign.hyper, preprocess: { ...examples.assign.hyper.preprocess, std: 0 } } }, 'hyper.preprocess.std', /finite number/],
    ['assign', { hyper: { ...examples.assign.hyper, compression: { ...examples.assign.hyper.compression, method: 'zip' } } }, 'hyper.compression.method', /"none", "bf16", "f16", "powersgd"/],
    ['assign', { hyper: { ...examples.assign.hyper, compression: { ...examples.assign.hyper.compression, rank: 0 } } }, 'hyper.compression.rank', /from 1 to 256, got 0/],
    ['assign', { hyper: { ...examples.assign.hyper, compression: { ...examples.assign.hyper.compression, startStep: -1 } } }, 'hyper.compression.startStep', /integer/],
    ['assign', { hyper: { ...examples.assign.hyper, compression: undefined } }, 'hyper.compression', /expected an object, got nothing/],
    ['assign', { ring: examples.assign.ring.slice(0, 2) }, 'ring', /3 members/],
    ['assign', { ring: [examples.assign.ring[1], examples.assign.ring[0], examples.assign.ring[2]] }, 'ring[0].rank', /ring\[i\] is rank i/],
    ['assign', { ring: [{ ...examples.assign.ring[0], address: { host: '', port: 1 } }, ...examples.assign.ring.slice(1)] }, 'ring[0].address.host', /string of 1 to 255/],
    ['plan', { learningRates: [0.1, 0.1] }, 'learningRates', /Float32Array, got an array of 2/],
    ['plan', { indices: Int32Array.from([1, 2]) }, 'indices', /Uint32Array, got Int32Array\(8 bytes\)/],
    ['plan', { learningRates: Float32Array.from([0.1, Number.NaN, 0.1]) }, 'learningRates[1]', /finite rate/],
    ['state', { bytes: 'abc' }, 'bytes', /raw bytes/],
    ['state', { offset: 12 }, 'bytes', /ending by totalBytes \(16\), not at 20/],
    ['stop', { reason: 7 }, 'reason', /string/],
    ['error', { code: '' }, 'code', /string of 1 to 128/],
  ] as const)("refuses '%s' with %j: names field %s", (type, changes, field, pattern) => {
    const parse = ['hello', 'ready', 'step-report'].includes(type) ? parseWorkerToCoordinator : parseCoordinatorToWorker;
    const error = refusal(parse, tampered(examples[type], changes));
    expect(error).toBeInstanceOf(BadFieldError);
    expect(error.code).toBe('RINGTRAIN_BAD_FIELD');
    expect(error.closeCode).toBe(1002);
    expect(error.messageType).toBe(type);
    expect(error.field).toBe(field);
    expect(error.message).toContain(`bad field '${field}' in '${type}'`);
    expect(error.message).toMatch(pattern);
  });
});

describe('typed arrays whose length is announced elsewhere', () => {
  it('refuses dataset images that do not match indices x rows x cols', () => {
    const error = refusal(parseCoordinatorToWorker, tampered(examples.dataset, { images: new Uint8Array(11) }));
    expect(error.field).toBe('images');
    expect(error.message).toMatch(/expected 12 bytes \(2 indices of 2x3\), got Uint8Array\(11 bytes\)/);
  });

  it('refuses dataset labels that are not one per index', () => {
    const error = refusal(parseCoordinatorToWorker, tampered(examples.dataset, { labels: new Uint8Array(3) }));
    expect(error.field).toBe('labels');
  });

  it('refuses a plan whose indices are not a whole number of batches', () => {
    const error = refusal(parseCoordinatorToWorker, tampered(examples.plan, { indices: new Uint32Array(7) }));
    expect(error.field).toBe('indices');
    expect(error.message).toMatch(/whole number of batches for 3 steps/);
  });

  it('refuses a peer-chunk carrying fewer bytes than its header announces', () => {
    const header = encodePeerChunkHeader(examples['peer-chunk']);
    const error = refusal(parsePeerMessage, [header, new Uint8Array(12)]);
    expect(error).toBeInstanceOf(BadFieldError);
    expect(error.message).toBe("bad field 'data' in 'peer-chunk': the header announces 16 bytes, the frame carries 12");
  });

  it('refuses a peer-chunk whose data is not whole float32 elements', () => {
    const chunk = { ...examples['peer-chunk'], data: new Float32Array(2) };
    const header = encodePeerChunkHeader(chunk);
    new DataView(header.buffer).setUint32(24, 6, true);
    const error = refusal(parsePeerMessage, [header, new Uint8Array(6)]);
    expect(error.message).toMatch(/6 bytes is not a whole number of float32 elements/);
  });

  it('refuses a peer-chunk frame shorter than its header', () => {
    const error = refusal(parsePeerMessage, Uint8Array.from([0xc1, 1, 0, 0]));
    expect(error).toBeInstanceOf(MalformedFrameError);
    expect(error.message).toMatch(/shorter than its 32-byte header/);
  });

  it('refuses a peer-chunk with an unknown phase', () => {
    const header = encodePeerChunkHeader(examples['peer-chunk']);
    header[2] = 7;
    const error = refusal(parsePeerMessage, [header, new Uint8Array(16)]);
    expect(error.field).toBe('phase');
  });
});
