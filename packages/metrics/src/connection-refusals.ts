/**
 * Connections refused before they authenticated, counted by reason: what an operator (or an
 * alert) reads when someone who is not a member of the run knocks on a port.
 */
import { Counter, type Registry } from 'prom-client';

export const REFUSAL_REASONS = Object.freeze([
  /** Too many connections had not said `hello` (or `peer-hello`) yet. */
  'unauthenticated_limit',
  /** Handshakes came faster than the port takes them. */
  'handshake_rate',
  /** More bytes than a hello needs, before the hello. */
  'hello_too_big',
  'hello_timeout',
  'bad_token',
  'wrong_version',
  /** Not a message of the protocol, or not the hello first. */
  'malformed',
  /** A TLS handshake that failed: a plaintext client, a certificate of another CA, an expired one. */
  'tls_handshake',
  /** A worker holding the token whose settings cannot work with the run's (its peer TLS mode). */
  'misconfigured',
] as const);

export type RefusalReason = (typeof REFUSAL_REASONS)[number];

export class ConnectionRefusals {
  readonly #counter: Counter<'reason'>;

  constructor(registry: Registry, name: string, help: string) {
    this.#counter = new Counter({ name, help, labelNames: ['reason'] as const, registers: [registry] });
    for (const reason of REFUSAL_REASONS) this.#counter.inc({ reason }, 0);
  }

  record(reason: RefusalReason): void {
    this.#counter.inc({ reason });
  }
}
