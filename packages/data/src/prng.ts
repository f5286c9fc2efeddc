/**
 * The seeded random numbers of the data pipeline: xoshiro128** (Blackman and Vigna), seeded by
 * hashing a list of integers. Only 32-bit integer arithmetic (`Math.imul`, shifts), so every
 * process on every machine draws the same numbers from the same seed words, which is what lets
 * each worker compute its own shard and augmentation without being sent them.
 */

const TWO_POW_32 = 4294967296;
const GOLDEN_GAMMA = 0x9e3779b9;

/** Stream domains, so the sampler's and the augmentation's streams never coincide. */
export const PRNG_DOMAIN = { permutation: 1, augmentation: 2, firstFlip: 3 } as const;

/** murmur3's 32-bit finaliser: a bijection that spreads every input bit over the output. */
function mix32(x: number): number {
  let h = x >>> 0;
  h ^= h >>> 16;
  h = Math.imul(h, 0x85ebca6b);
  h ^= h >>> 13;
  h = Math.imul(h, 0xc2b2ae35);
  h ^= h >>> 16;
  return h >>> 0;
}

function rotl(x: number, k: number): number {
  return ((x << k) | (x >>> (32 - k))) >>> 0;
}

/** A xoshiro128** generator. */
export class Xoshiro128 {
  private s0: number;
  private s1: number;
  private s2: number;
  private s3: number;

  /**
   * Seeds the generator from non-negative safe integers (e.g. `[domain, seed, epoch, index]`).
   * Different lists give independent streams; the same list always gives the same stream.
   */
  constructor(words: readonly number[]) {
    // Absorb the length and each word's low and high 32 bits into a splitmix-style chain.
    let x = mix32(words.length + GOLDEN_GAMMA);
    for (const word of words) {
      x = mix32((x ^ (word >>> 0)) + GOLDEN_GAMMA);
      x = mix32((x ^ (Math.floor(word / TWO_POW_32) >>> 0)) + GOLDEN_GAMMA);
    }
    this.s0 = mix32(x + GOLDEN_GAMMA);
    this.s1 = mix32(x + 2 * GOLDEN_GAMMA);
    this.s2 = mix32(x + 3 * GOLDEN_GAMMA);
    this.s3 = mix32(x + 4 * GOLDEN_GAMMA);
    // The all-zero state is the generator's only fixed point.
    if ((this.s0 | this.s1 | this.s2 | this.s3) === 0) this.s0 = 1;
  }

  /** The next uniformly distributed unsigned 32-bit integer. */
  nextUint32(): number {
    const result = Math.imul(rotl(Math.imul(this.s1, 5) >>> 0, 7), 9) >>> 0;
    const t = (this.s1 << 9) >>> 0;
    this.s2 = (this.s2 ^ this.s0) >>> 0;
    this.s3 = (this.s3 ^ this.s1) >>> 0;
    this.s1 = (this.s1 ^ this.s2) >>> 0;
    this.s0 = (this.s0 ^ this.s3) >>> 0;
    this.s2 = (this.s2 ^ t) >>> 0;
    this.s3 = rotl(this.s3, 11);
    return result;
  }

  /** A uniform float in [0, 1). */
  nextFloat(): number {
    return this.nextUint32() / TWO_POW_32;
  }

  /** A uniform integer in [0, n), without modulo bias; `n` in [1, 2^32]. */
  nextBelow(n: number): number {
    // Reject the top partial block of 2^32 so every residue is equally likely.
    const limit = TWO_POW_32 - (TWO_POW_32 % n);
    for (;;) {
      const x = this.nextUint32();
      if (x < limit) return x % n;
    }
  }
}

/** A uniformly random permutation of 0..n-1 (Fisher-Yates) drawn from `rng`. */
export function randomPermutation(n: number, rng: Xoshiro128): Uint32Array {
  const order = new Uint32Array(n);
  for (let i = 0; i < n; i++) order[i] = i;
  for (let i = n - 1; i > 0; i--) {
    const j = rng.nextBelow(i + 1);
    const tmp = order[i] as number;
    order[i] = order[j] as number;
    order[j] = tmp;
  }
  return order;
}
