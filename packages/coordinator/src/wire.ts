/**
 * The coordinator's side of the wire: the only place that calls the protocol package's codec
 * and validators, so handlers only ever see validated messages.
 */
export {
  Admission,
  CLOSE_CODES,
  CONNECTION_ERROR_CODES,
  PROTOCOL_ERROR_CODES,
  PROTOCOL_VERSION,
  encodeMessage,
  parseWorkerToCoordinator,
  ProtocolError,
  tokensEqual,
} from '@ringtrain/protocol';
