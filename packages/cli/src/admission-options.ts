/**
 * The options `launch` and `coordinator` share about what the coordinator port lets in before a
 * connection has authenticated: how many such connections, how fast, and how many bytes each
 * may send before its `hello`.
 */
import { Command, Option } from 'commander';
import type { CoordinatorOptions } from '@ringtrain/coordinator';
import { integerIn } from './arguments.ts';

export interface AdmissionFlags {
  maxHelloBytes: number;
  maxUnauthenticated: number;
  maxHandshakesPerSecond: number;
}

export function addAdmissionOptions(command: Command): Command {
  return command
    .addOption(new Option('--max-hello-bytes <n>', 'bytes a connection may send before its hello is accepted; more closes it (1009)').argParser(integerIn(1024)).default(16 * 1024))
    .addOption(new Option('--max-unauthenticated <n>', 'connections that have not said hello yet; more are refused with HTTP 503').argParser(integerIn(1)).default(64))
    .addOption(new Option('--max-handshakes-per-second <n>', 'WebSocket handshakes accepted per second (a burst of as many); more are refused with HTTP 503').argParser(integerIn(1)).default(100));
}

export function admissionOptionsFrom(flags: AdmissionFlags): Partial<CoordinatorOptions> {
  return { maxHelloBytes: flags.maxHelloBytes, maxUnauthenticatedConnections: flags.maxUnauthenticated, maxHandshakesPerSecond: flags.maxHandshakesPerSecond };
}
