/**
 * The worker's side of the wire: the only place that calls the protocol package's codec and
 * validators, so handlers only ever see validated messages.
 */
export { CLOSE_CODES, CONNECTION_ERROR_CODES, PROTOCOL_VERSION, encodeMessage, parseCoordinatorToWorker, ProtocolError, recoveryOf } from '@ringtrain/protocol';
