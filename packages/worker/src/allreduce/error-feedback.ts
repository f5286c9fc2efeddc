/**
 * Error feedback for an all-reduce with a 16-bit wire format: what rounding a rank's gradient to
 * 16 bits drops in one step is added to its gradient in the next, so that over the steps nothing
 * of the rank's contribution is lost, only delayed.
 *
 * Per element, in float32 arithmetic, with v the gradient this rank wants to contribute:
 *
 *   wanted   w = v + r            (r: the residual kept from the previous step, 0 at first)
 *   sent     q = decode(encode(w)) (the 16-bit value, as float32; see `half-precision.ts`)
 *   residual r = w - q
 *
 * The gradient is replaced by q before the all-reduce, so the ring's own first rounding of it
 * changes nothing. For every finite w within the format's range, w - q is exact in float32 and
 * q + r == w bit for bit. Beyond the range q saturates, and r carries the (float32-rounded)
 * excess to the next step. When w is NaN or infinite the residual is set to 0: a broken gradient
 * must not poison the steps after it.
 *
 * The ring rounds again where partial sums are re-encoded between ranks and where the owner of
 * a segment rounds the final sum (see `ring-allreduce.ts`); those roundings belong to no single
 * rank's contribution and are not fed back.
 */
import type { WireFormat } from '@ringtrain/protocol';
import { InvalidAllReduceOptionError } from './errors.ts';
import { decodeHalf, encodeHalf } from './half-precision.ts';
import { requireInteger, requireWireFormat } from './options.ts';

/** Elements per block: the scratch stays in cache. */
const BLOCK_ELEMENTS = 16 * 1024;

export class ErrorFeedback {
  readonly length: number;
  readonly format: WireFormat;
  readonly #residual: Float32Array;
  readonly #wanted = new Float32Array(BLOCK_ELEMENTS);
  readonly #encoded = new Uint16Array(BLOCK_ELEMENTS);

  /**
   * @param length the gradient's length in elements; every call must pass a gradient of it.
   * @param format the wire format of the all-reduce; with 'f32' nothing is rounded and the
   *   residual stays 0.
   */
  constructor(length: number, format: WireFormat) {
    this.length = requireInteger('length', length, 0);
    this.format = requireWireFormat('format', format);
    this.#residual = new Float32Array(this.length);
  }

  /** The residual carried into the next call (a view: do not write to it). */
  get residual(): Float32Array {
    return this.#residual;
  }

  /**
   * Adds the carried residual to `gradient`, rounds it to the wire format and keeps what the
   * rounding dropped as the next residual (see the module comment). `gradient` is changed in
   * place, to the values the all-reduce should be given, and returned.
   */
  compensate(gradient: Float32Array): Float32Array {
    if (gradient.length !== this.length) {
      throw new InvalidAllReduceOptionError(`error feedback was built for ${this.length} elements, the gradient has ${gradient.length}`);
    }
    const format = this.format;
    if (format === 'f32') return gradient;
    const residual = this.#residual;
    for (let start = 0; start < gradient.length; start += BLOCK_ELEMENTS) {
      const count = Math.min(BLOCK_ELEMENTS, gradient.length - start);
      const wanted = this.#wanted.subarray(0, count);
      const sent = gradient.subarray(start, start + count);
      for (let i = 0; i < count; i++) wanted[i] = (sent[i] as number) + (residual[start + i] as number);
      const encoded = this.#encoded.subarray(0, count);
      encodeHalf(format, wanted, encoded);
      decodeHalf(format, encoded, sent);
      for (let i = 0; i < count; i++) {
        const w = wanted[i] as number;
        residual[start + i] = Number.isFinite(w) ? w - (sent[i] as number) : 0;
      }
    }
    return gradient;
  }

  /** Forgets the residual (after the model was replaced, say). */
  reset(): void {
    this.#residual.fill(0);
  }
}
