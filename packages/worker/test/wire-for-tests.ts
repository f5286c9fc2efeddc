/** The protocol's codec for tests that play the coordinator's side. */
export { encodeMessage, PROTOCOL_VERSION, parseWorkerToCoordinator as parseWorkerToCoordinatorForTest } from '@ringtrain/protocol';
