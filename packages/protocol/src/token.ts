/**
 * Comparing shared tokens without leaking them through timing. Both sides are hashed first, so
 * `timingSafeEqual` always compares 32 bytes and neither the content nor the length of the
 * expected token shows in how long a refusal takes.
 */
import { createHash, timingSafeEqual } from 'node:crypto';

/** Whether `presented` equals `expected`, in time independent of both. */
export function tokensEqual(presented: string, expected: string): boolean {
  const a = createHash('sha256').update(presented, 'utf8').digest();
  const b = createHash('sha256').update(expected, 'utf8').digest();
  return timingSafeEqual(a, b);
}
