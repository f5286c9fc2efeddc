/**
 * Test support shared by the packages' suites (`@ringtrain/protocol/testing`): one valid message
 * of every type, the message types of each channel, and structure-aware frame mutations.
 */
export { channels, examples } from '../../test/examples.ts';
export { generator, mutateBytes, mutateObject, mutatedFrame } from './frame-mutations.ts';
