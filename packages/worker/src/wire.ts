/**
 * The worker's side of the wire: the only place that calls the protocol package's codec and
 * validators, so handlers only ever see validated messages.
 */
export { PROTOCOL_VERSION, encodeMessage, parseCoordinatorToWorker, ProtocolError } from '@ringtrain/protocol';
