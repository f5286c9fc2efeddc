/**
 * Every failure mode of the ring all-reduce, one class each, with a stable string `code`. Errors
 * that come from a peer's bad frame are the protocol package's `ProtocolError`s; the ones here are
 * about the ring itself: ranks that disagree, a peer that stops sending, a link that goes away.
 */

/** The stable codes of the all-reduce's errors. */
export const ALLREDUCE_ERROR_CODES = {
  invalidOption: 'RINGTRAIN_ALLREDUCE_INVALID_OPTION',
  mismatch: 'RINGTRAIN_ALLREDUCE_MISMATCH',
  stall: 'RINGTRAIN_ALLREDUCE_STALL',
  linkLost: 'RINGTRAIN_PEER_LINK_LOST',
  connectFailed: 'RINGTRAIN_PEER_CONNECT_FAILED',
  handshake: 'RINGTRAIN_PEER_HANDSHAKE',
  closed: 'RINGTRAIN_RING_CLOSED',
  busy: 'RINGTRAIN_ALLREDUCE_BUSY',
} as const;

export type AllReduceErrorCode = (typeof ALLREDUCE_ERROR_CODES)[keyof typeof ALLREDUCE_ERROR_CODES];

/** The base of every error thrown by the ring all-reduce. */
export abstract class AllReduceError extends Error {
  abstract readonly code: AllReduceErrorCode;
  /** The WebSocket close code a ring link is closed with after this error. */
  readonly closeCode: number = 1011;

  constructor(message: string, options?: ErrorOptions) {
    super(message, options);
    this.name = new.target.name;
  }
}

/** An option has a value the all-reduce cannot use; the message names the option and the value. */
export class InvalidAllReduceOptionError extends AllReduceError {
  readonly code = ALLREDUCE_ERROR_CODES.invalidOption;
}

/**
 * Two ranks disagree about the all-reduce: the vector's length, the step, the generation, or
 * which piece comes next. The message names both sides.
 */
export class AllReduceMismatchError extends AllReduceError {
  readonly code = ALLREDUCE_ERROR_CODES.mismatch;
  override readonly closeCode = 1008;
}

/** Nothing arrived from the ring predecessor for `stallTimeoutMs`; the message names it. */
export class AllReduceStallError extends AllReduceError {
  readonly code = ALLREDUCE_ERROR_CODES.stall;
}

/** A ring link closed or failed while the ring was in use (the message names the peer). */
export class PeerLinkLostError extends AllReduceError {
  readonly code = ALLREDUCE_ERROR_CODES.linkLost;
}

/** The ring could not be formed: a neighbour did not connect in time, or refused the link. */
export class PeerConnectError extends AllReduceError {
  readonly code = ALLREDUCE_ERROR_CODES.connectFailed;
}

/**
 * A peer's connection broke the ring handshake's rules: no `peer-hello` in time, a generation
 * older than this worker's, a rank that is not this worker's successor, or a second connection
 * for a place already taken. The connection is closed with 1008.
 */
export class PeerHandshakeError extends AllReduceError {
  readonly code = ALLREDUCE_ERROR_CODES.handshake;
  override readonly closeCode = 1008;
}

/** The ring was closed; it cannot all-reduce any more. */
export class RingClosedError extends AllReduceError {
  readonly code = ALLREDUCE_ERROR_CODES.closed;
}

/** `allReduce` was called while the previous call had not finished. */
export class AllReduceBusyError extends AllReduceError {
  readonly code = ALLREDUCE_ERROR_CODES.busy;
}
