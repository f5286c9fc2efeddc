export { RingAllReduce } from './ring-allreduce.ts';
export type { AllReduceCallOptions, AllReduceResult, RingAllReduceOptions } from './ring-allreduce.ts';
export { FinalSuffix } from './final-suffix.ts';
export { createMemoryTransports } from './memory-transport.ts';
export type { MemoryRingOptions } from './memory-transport.ts';
export type { PeerTransport } from './transport.ts';
export { ALLREDUCE_DEFAULTS, MAX_BUCKET_BYTES } from './options.ts';
export { WIRE_FORMATS } from '@ringtrain/protocol';
export type { WireFormat } from '@ringtrain/protocol';
export { ErrorFeedback } from './error-feedback.ts';
export {
  ALLREDUCE_ERROR_CODES,
  AllReduceBusyError,
  AllReduceError,
  AllReduceMismatchError,
  AllReduceStallError,
  InvalidAllReduceOptionError,
  PeerConnectError,
  PeerLinkLostError,
  PeerHandshakeError,
  RingClosedError,
} from './errors.ts';
export type { AllReduceErrorCode } from './errors.ts';
export { PeerServer, startPeerServer } from './peer-server.ts';
export type { JoinRingOptions, PeerServerOptions, PeerTls } from './peer-server.ts';
export type { PeerLogger } from './ws-links.ts';
