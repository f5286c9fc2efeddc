/**
 * Seeded random numbers for weight initialisation, computed in plain JavaScript so that every
 * process (and every backend) that builds the same spec with the same seed gets bit-identical
 * weights. Each variable draws from its own stream, keyed by (seed, variable name), so adding a
 * layer or changing the class count leaves every other variable's initial values unchanged.
 */

/** FNV-1a over the UTF-16 code units of `text`. */
function hashString(text: string): number {
  let hash = 0x811c9dc5;
  for (let i = 0; i < text.length; i++) {
    hash ^= text.charCodeAt(i);
    hash = Math.imul(hash, 0x01000193);
  }
  return hash >>> 0;
}

/** splitmix32: spreads a 32-bit seed over the generator state. */
function splitmix32(state: { value: number }): number {
  state.value = (state.value + 0x9e3779b9) | 0;
  let z = state.value;
  z = Math.imul(z ^ (z >>> 16), 0x85ebca6b);
  z = Math.imul(z ^ (z >>> 13), 0xc2b2ae35);
  return (z ^ (z >>> 16)) >>> 0;
}

/** A xoshiro128** generator returning uniform numbers in [0, 1) with 32 random bits. */
export function createRandom(seed: number, stream: string): () => number {
  const mix = { value: (hashString(stream) ^ Math.imul(seed | 0, 0x9e3779b1)) | 0 };
  let a = splitmix32(mix);
  let b = splitmix32(mix);
  let c = splitmix32(mix);
  let d = splitmix32(mix);
  return () => {
    const result = Math.imul(rotl(Math.imul(b, 5), 7), 9);
    const t = b << 9;
    c ^= a;
    d ^= b;
    b ^= c;
    a ^= d;
    c ^= t;
    d = rotl(d, 11);
    return (result >>> 0) / 4294967296;
  };
}

function rotl(x: number, k: number): number {
  return (x << k) | (x >>> (32 - k));
}

/** Fills `out` with normal samples of mean 0 and standard deviation `std` (Box–Muller). */
export function fillNormal(out: Float32Array, std: number, random: () => number): Float32Array {
  for (let i = 0; i < out.length; i += 2) {
    const u1 = 1 - random(); // (0, 1]: keeps log finite
    const u2 = random();
    const radius = std * Math.sqrt(-2 * Math.log(u1));
    const angle = 2 * Math.PI * u2;
    out[i] = radius * Math.cos(angle);
    if (i + 1 < out.length) out[i + 1] = radius * Math.sin(angle);
  }
  return out;
}

/** Fills `out` with samples uniform in [−bound, bound). */
export function fillUniform(out: Float32Array, bound: number, random: () => number): Float32Array {
  for (let i = 0; i < out.length; i++) out[i] = (2 * random() - 1) * bound;
  return out;
}
