export { COMPRESSION_METHODS, CONVOLUTION_PRECISIONS, PROTOCOL_VERSION, WIRE_FORMATS, assertNever } from './messages.ts';
export type {
  AssignMessage,
  CompressionSpec,
  ConvolutionPrecision,
  CoordinatorToWorker,
  DatasetMessage,
  ErrorMessage,
  EvaluateMessage,
  EvaluationMessage,
  GradientReadyMessage,
  HelloMessage,
  HyperParameters,
  Message,
  MessageType,
  ModelSpec,
  PeerAddress,
  PeerChunkMessage,
  PeerHelloMessage,
  PeerMessage,
  PlanMessage,
  ReadyMessage,
  ReplicaMessage,
  RingFailedMessage,
  RingMember,
  StateMessage,
  StateRequestMessage,
  StepReportMessage,
  StopMessage,
  SyncMessage,
  WelcomeMessage,
  WireFormat,
  WorkerToCoordinator,
} from './messages.ts';
export { createMsgpackCodec, msgpackCodec } from './codec.ts';
export type { Codec } from './codec.ts';
export {
  DEFAULT_MAX_FRAME_BYTES,
  encodeMessage,
  parseCoordinatorToWorker,
  parsePeerMessage,
  parseWorkerToCoordinator,
} from './validate.ts';
export type { FrameData, ParseOptions } from './validate.ts';
export { MAX_POWERSGD_RANK, MAX_WORLD_SIZE } from './schemas.ts';
export {
  PEER_CHUNK_HEADER_BYTES,
  PEER_CHUNK_MARKER,
  decodePeerChunk,
  decodePeerChunkHeader,
  encodePeerChunk,
  encodePeerChunkHeader,
  elementView,
  wireElementBytes,
} from './peer-chunk.ts';
export type { PeerChunk, PeerChunkHeader } from './peer-chunk.ts';
export { tokensEqual } from './token.ts';
export { Admission, type AdmissionRefusal } from './admission.ts';
export {
  BadFieldError,
  BadTokenError,
  CLOSE_CODES,
  CONNECTION_ERROR_CODES,
  recoveryOf,
  FrameTooLargeError,
  MalformedFrameError,
  PROTOCOL_ERROR_CODES,
  ProtocolError,
  UnexpectedMessageError,
  UnknownMessageError,
  UnsupportedDataError,
  WrongVersionError,
  closeFrameFor,
  errorMessageFor,
} from './errors.ts';
export type { ConnectionErrorCode, ProtocolErrorCode, ProtocolErrorDetails } from './errors.ts';
