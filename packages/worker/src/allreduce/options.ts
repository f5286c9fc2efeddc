/**
 * The all-reduce's limits and timeouts, each with its default, validated when a ring is built.
 */
import { WIRE_FORMATS } from '@ringtrain/protocol';
import type { WireFormat } from '@ringtrain/protocol';
import { InvalidAllReduceOptionError } from './errors.ts';

/** Defaults of every all-reduce option. */
export const ALLREDUCE_DEFAULTS = {
  /**
   * 8 MiB buckets: each chunk costs a fixed amount of CPU on both ends, so 1 MiB buckets cost
   * far more CPU per call than 4 to 32 MiB ones (`bench:allreduce --max-bucket-bytes`), while a
   * vector of several buckets overlaps sending one with summing the next; 2 ranks moved 11.2 M
   * and 60 M floats about as fast with 4, 8 and 16 MiB, 8 MiB slightly ahead at 60 M. Far from
   * ws's 100 MiB maxPayload. Training runs pass the coordinator's cap (25 MiB) instead.
   */
  maxBucketBytes: 8 * 1024 * 1024,
  /** Buckets a rank starts before the first one finishes; keeps the link busy while summing. */
  bucketsInFlight: 4,
  /**
   * Five minutes: a rank waits in the all-reduce for its slowest peer's forward and backward
   * pass, which for ResNet-152 on a CPU takes minutes; dead workers are found sooner by the
   * coordinator's heartbeats.
   */
  stallTimeoutMs: 300_000,
  /** How long forming the ring may take, dialling retries included. */
  connectTimeoutMs: 30_000,
  /** How long a connecting peer has to send `peer-hello`. */
  helloTimeoutMs: 10_000,
  /** The largest frame a peer server accepts from the successors that dial it (only `peer-hello` and `error`). */
  maxHelloBytes: 64 * 1024,
  /** Dialled connections that have not said a valid `peer-hello` yet; a ring has one predecessor per generation. */
  maxUnauthenticated: 16,
  /** Handshakes accepted per second (a burst of as many): every ring change dials once per rank. */
  maxHandshakesPerSecond: 50,
  /** Elements travel as float32, exactly as computed. */
  wireFormat: 'f32',
} as const;

/** The largest bucket cap accepted: far from ws's 100 MiB maxPayload. */
export const MAX_BUCKET_BYTES = 64 * 1024 * 1024;

/** `value`, or throws naming the option, when it is not an integer from `min` to `max`. */
export function requireInteger(name: string, value: number, min: number, max = Number.MAX_SAFE_INTEGER): number {
  if (!Number.isInteger(value) || value < min || value > max) {
    throw new InvalidAllReduceOptionError(`${name} must be an integer from ${min} to ${max}, got ${String(value)}`);
  }
  return value;
}

/** `value`, or throws naming the option, when it is not one of {@link WIRE_FORMATS}. */
export function requireWireFormat(name: string, value: unknown): WireFormat {
  if (!(WIRE_FORMATS as readonly unknown[]).includes(value)) {
    throw new InvalidAllReduceOptionError(`${name} must be one of ${WIRE_FORMATS.join(', ')}, got ${JSON.stringify(value) ?? String(value)}`);
  }
  return value as WireFormat;
}
