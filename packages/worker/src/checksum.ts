import { createHash } from 'node:crypto';

/**
 * The weight checksum replicas compare: SHA-256 of the raw float32 bytes of every value
 * (parameters and running statistics), first 16 hex digits. Bit-identical replicas agree; any
 * difference, even in the last bit of one value, shows.
 */
export function weightChecksum(values: Float32Array): string {
  return createHash('sha256').update(new Uint8Array(values.buffer, values.byteOffset, values.byteLength)).digest('hex').slice(0, 16);
}
