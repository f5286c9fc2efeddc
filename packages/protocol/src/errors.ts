/**
 * Every way an incoming frame can be refused, one class each, with a stable string `code` that
 * logs, tests and the other side match on, and the WebSocket close code (RFC 6455 §7.4.1) the
 * receiver closes the connection with. A refused frame closes that one connection; it never
 * crashes the process.
 */
import { PROTOCOL_VERSION } from './messages.ts';
import type { ErrorMessage } from './messages.ts';

/** The stable codes of this package's errors. */
export const PROTOCOL_ERROR_CODES = {
  malformedFrame: 'RINGTRAIN_MALFORMED_FRAME',
  unknownMessage: 'RINGTRAIN_UNKNOWN_MESSAGE',
  unexpectedMessage: 'RINGTRAIN_UNEXPECTED_MESSAGE',
  wrongVersion: 'RINGTRAIN_WRONG_VERSION',
  badField: 'RINGTRAIN_BAD_FIELD',
  frameTooLarge: 'RINGTRAIN_FRAME_TOO_LARGE',
  unsupportedData: 'RINGTRAIN_UNSUPPORTED_DATA',
  badToken: 'RINGTRAIN_BAD_TOKEN',
} as const;

export type ProtocolErrorCode = (typeof PROTOCOL_ERROR_CODES)[keyof typeof PROTOCOL_ERROR_CODES];

/** WebSocket close codes ringtrain closes connections with (RFC 6455 §7.4.1). */
export const CLOSE_CODES = {
  /** The work is done (`stop`). */
  normal: 1000,
  /** This endpoint is going away (shutting down, a ring abandoned). */
  goingAway: 1001,
  /** The frame's data is not what its type says (not the message it claims to be). */
  invalidPayload: 1007,
  /** The frame does not follow the protocol (malformed, wrong version, bad field). */
  protocolError: 1002,
  /** The frame holds a kind of data this endpoint does not accept (text, unknown message type). */
  unsupportedData: 1003,
  /** The frame is well formed but breaks a rule (wrong token, unexpected message). */
  policyViolation: 1008,
  /** The frame is larger than this endpoint accepts. */
  messageTooBig: 1009,
  /** Anything else that is not the peer's fault. */
  internalError: 1011,
} as const;

/** What was wrong, and where. */
export interface ProtocolErrorDetails {
  /** The `type` of the offending message, when it got that far. */
  messageType?: string;
  /** The path of the offending field within the message, such as `ring[2].address.port`. */
  field?: string;
}

/** The base of every error thrown by `@ringtrain/protocol`. */
export abstract class ProtocolError extends Error {
  abstract readonly code: ProtocolErrorCode;
  /** The WebSocket close code a receiver closes the connection with. */
  abstract readonly closeCode: number;
  readonly messageType: string | undefined;
  readonly field: string | undefined;

  constructor(message: string, details: ProtocolErrorDetails = {}, options?: ErrorOptions) {
    super(message, options);
    this.name = new.target.name;
    this.messageType = details.messageType;
    this.field = details.field;
  }
}

/** The bytes are not one msgpack value (or one binary `peer-chunk`), or not a message object. */
export class MalformedFrameError extends ProtocolError {
  readonly code = PROTOCOL_ERROR_CODES.malformedFrame;
  readonly closeCode = CLOSE_CODES.protocolError;
}

/** The message's `type` is none this protocol version knows. */
export class UnknownMessageError extends ProtocolError {
  readonly code = PROTOCOL_ERROR_CODES.unknownMessage;
  readonly closeCode = CLOSE_CODES.unsupportedData;
}

/** A known message arrived where it may not: on the wrong channel, or in the wrong state. */
export class UnexpectedMessageError extends ProtocolError {
  readonly code = PROTOCOL_ERROR_CODES.unexpectedMessage;
  readonly closeCode = CLOSE_CODES.policyViolation;
}

/** The message carries a protocol version other than {@link PROTOCOL_VERSION}. */
export class WrongVersionError extends ProtocolError {
  readonly code = PROTOCOL_ERROR_CODES.wrongVersion;
  readonly closeCode = CLOSE_CODES.protocolError;
}

/** A field is missing, of the wrong type, out of range, or disagrees with a length announced elsewhere. */
export class BadFieldError extends ProtocolError {
  readonly code = PROTOCOL_ERROR_CODES.badField;
  readonly closeCode = CLOSE_CODES.protocolError;
}

/** The frame is larger than the receiver's limit. */
export class FrameTooLargeError extends ProtocolError {
  readonly code = PROTOCOL_ERROR_CODES.frameTooLarge;
  readonly closeCode = CLOSE_CODES.messageTooBig;
}

/** A text frame, where every message of this protocol is binary. */
export class UnsupportedDataError extends ProtocolError {
  readonly code = PROTOCOL_ERROR_CODES.unsupportedData;
  readonly closeCode = CLOSE_CODES.unsupportedData;
}

/** The shared token in `hello` or `peer-hello` is not the expected one. */
export class BadTokenError extends ProtocolError {
  readonly code = PROTOCOL_ERROR_CODES.badToken;
  readonly closeCode = CLOSE_CODES.policyViolation;
}

/**
 * Why the coordinator closes (or refuses) a worker's connection, sent in the `error` before the
 * close: the codes that are not a malformed frame (those are {@link PROTOCOL_ERROR_CODES}).
 */
export const CONNECTION_ERROR_CODES = {
  helloTimeout: 'RINGTRAIN_HELLO_TIMEOUT',
  expectedHello: 'RINGTRAIN_EXPECTED_HELLO',
  joinRefused: 'RINGTRAIN_JOIN_REFUSED',
  /** The run has ended; nothing to join. */
  runOver: 'RINGTRAIN_RUN_OVER',
  protocolViolation: 'RINGTRAIN_PROTOCOL_VIOLATION',
  stateTooBig: 'RINGTRAIN_STATE_TOO_BIG',
  stateOutOfOrder: 'RINGTRAIN_STATE_OUT_OF_ORDER',
  stragglerEvicted: 'RINGTRAIN_STRAGGLER_EVICTED',
  /** More bytes before `hello` than a hello takes (`maxHelloBytes`). */
  helloTooBig: 'RINGTRAIN_HELLO_TOO_BIG',
  /** The worker's peer port speaks TLS and the run's do not, or the other way round. */
  peerTlsMismatch: 'RINGTRAIN_PEER_TLS_MISMATCH',
  /** The worker cannot compute convolutions in the run's precision (`hyper.precision`). */
  precisionUnsupported: 'RINGTRAIN_PRECISION_UNSUPPORTED',
} as const;

export type ConnectionErrorCode = (typeof CONNECTION_ERROR_CODES)[keyof typeof CONNECTION_ERROR_CODES];

/**
 * What a worker may do after the coordinator closed its connection with `code`: `retryable`,
 * connect again (the run may take it back: it was full, or it was evicted and has caught up);
 * `fatal`, stop (the token is wrong, it speaks another protocol, it broke the rules). Recovery
 * depends on telling these apart; an unknown code is fatal.
 */
export function recoveryOf(code: string): 'retryable' | 'fatal' {
  return RETRYABLE.has(code) ? 'retryable' : 'fatal';
}

const RETRYABLE = new Set<string>([CONNECTION_ERROR_CODES.helloTimeout, CONNECTION_ERROR_CODES.joinRefused, CONNECTION_ERROR_CODES.stragglerEvicted]);

/** RFC 6455 caps a close reason at 123 bytes of UTF-8. */
const MAX_CLOSE_REASON_BYTES = 123;

/**
 * The close code and reason to close a connection with after `error`: the error's own `closeCode`
 * (every {@link ProtocolError} has one; other packages' errors may too), 1011 otherwise; the
 * reason is `code: message` cut to what a close frame can carry.
 */
export function closeFrameFor(error: unknown): { code: number; reason: string } {
  const own = typeof error === 'object' && error !== null ? (error as { closeCode?: unknown }).closeCode : undefined;
  const code = typeof own === 'number' && isSendableCloseCode(own) ? own : CLOSE_CODES.internalError;
  return { code, reason: truncateUtf8(describe(error), MAX_CLOSE_REASON_BYTES) };
}

/** Codes an endpoint may put in a close frame (RFC 6455 §7.4; 1005, 1006 and 1015 are reserved). */
function isSendableCloseCode(code: number): boolean {
  return (code >= 1000 && code <= 1003) || (code >= 1007 && code <= 1014) || (code >= 3000 && code <= 4999);
}

/** The `error` message that tells the other side why the connection is about to close. */
export function errorMessageFor(error: unknown): ErrorMessage {
  const code = hasStringCode(error) ? error.code : 'RINGTRAIN_INTERNAL';
  const message = error instanceof Error ? error.message : String(error);
  return { v: PROTOCOL_VERSION, type: 'error', code, message };
}

function describe(error: unknown): string {
  if (hasStringCode(error) && error instanceof Error) return `${error.code}: ${error.message}`;
  return error instanceof Error ? error.message : String(error);
}

function hasStringCode(error: unknown): error is { code: string } {
  return typeof error === 'object' && error !== null && typeof (error as { code?: unknown }).code === 'string';
}

function truncateUtf8(text: string, maxBytes: number): string {
  const bytes = Buffer.from(text, 'utf8');
  if (bytes.length <= maxBytes) return text;
  // Cut at a character boundary: drop continuation bytes (10xxxxxx) left at the cut.
  let end = maxBytes - 3;
  while (end > 0 && ((bytes[end] ?? 0) & 0xc0) === 0x80) end--;
  return `${bytes.subarray(0, end).toString('utf8')}...`;
}
