/**
 * PowerSGD (Vogels, Karimireddy and Jaggi, 2019): every weight matrix of the gradient travels as
 * two thin factors, found by one step of subspace iteration per training step. Per global step s:
 *
 *   A. M = G + E: the replica's gradient plus its residual, what earlier steps did not send
 *      (error feedback), rounded to f32.
 *   B. P = M·Q, with the Q of the previous step (warm start) or, first in a generation, a Q drawn
 *      from the run's seed and the generation's starting step.
 *   C. One ring call (step 2s) averages [P of every matrix | every uncompressed value]. Every
 *      replica now holds the same P = mean(M)·Q and the exact average of the uncompressed part.
 *   D. P's columns are made orthonormal (Gram–Schmidt).
 *   E. Q = Mᵀ·P; one ring call (step 2s + 1) averages it: Q = mean(M)ᵀ·P, the next step's warm start.
 *   F. M is replaced in the vector by A = P·Qᵀ, and E = M − A is kept for the next step.
 *
 * What every replica applies is computed from P and Q alone, which the ring made bit-identical,
 * by the same loops in the same order with the same roundings (`low-rank-products.ts`: sums in
 * f64, stored in f32; the residual in f64), so every replica applies the same A. Before
 * `startStep` the whole vector goes through one plain ring call (step 2s) instead.
 *
 * A new generation may bring members with no history: every member zeroes its residuals and
 * draws Q afresh from (seed, the generation's starting step), so they all start it alike. A step
 * cut short leaves the residual as it was and the warm start void (the next generation re-draws it).
 */
import { createRandom, fillUniform, type FlatLayout } from '@ringtrain/model';
import type { AllReduceResult } from '../allreduce/index.ts';
import type { CompressionSpec } from '@ringtrain/protocol';
import { outcomeOf, type GradientReducer, type ReduceOutcome, type RingCalls } from './gradient-reducer.ts';
import { planLowRank, type LowRankPlan } from './low-rank-plan.ts';
import { approximateKeepingResidual, correctAndMultiplyByQ, multiplyTransposedByP, orthonormaliseColumns, type MatrixFactors } from './low-rank-products.ts';

/** Ring calls a PowerSGD step takes: the one of step s is numbered 2s (P), the second 2s + 1 (Q). */
export const POWERSGD_CALLS_PER_STEP = 2;

export class PowerSgdReducer implements GradientReducer {
  readonly plan: LowRankPlan;
  readonly #seed: number;
  /** P of every matrix, then the uncompressed values: what the first ring call averages. */
  readonly #first: Float32Array;
  /** Q of every matrix: the warm start, and what the second ring call averages. */
  readonly #q: Float32Array;
  readonly #residual: Float64Array;
  readonly #sums: Float64Array;
  readonly #orthonormalising: Float64Array;
  /** Whether `#q` holds this generation's warm start. */
  #qReady = false;
  #generationStart = 0;

  /**
   * @param compression `method: 'powersgd'`, its rank and start step.
   * @param layout the model's flat layout (planned with `planLowRank`), or a plan of chosen matrices.
   * @param seed the run's seed, shared by every replica.
   */
  constructor(
    readonly compression: CompressionSpec,
    layout: FlatLayout | LowRankPlan,
    seed: number,
  ) {
    this.plan = 'entries' in layout ? planLowRank(layout, compression.rank) : layout;
    this.#seed = seed;
    const { matrices, pLength, plainLength, qLength, residualLength } = this.plan;
    this.#first = new Float32Array(pLength + plainLength);
    this.#q = new Float32Array(qLength);
    this.#residual = new Float64Array(residualLength);
    this.#sums = new Float64Array(Math.max(1, ...matrices.map((m) => m.cols * m.rank)));
    this.#orthonormalising = new Float64Array(Math.max(1, ...matrices.map((m) => m.rows * m.rank)));
  }

  /** What the last compressed step did not send, matrix after matrix in plan order (each rows×cols), for inspection. */
  get residual(): Float64Array {
    return this.#residual;
  }

  /** Bytes of the two factor buffers and the uncompressed stretch: what one compressed step averages. */
  get compressedBytes(): number {
    return (this.#first.length + this.#q.length) * Float32Array.BYTES_PER_ELEMENT;
  }

  startGeneration(startStep: number): void {
    this.#residual.fill(0);
    this.#qReady = false;
    this.#generationStart = startStep;
  }

  async reduce(ring: RingCalls, gradient: Float32Array, step: number): Promise<ReduceOutcome> {
    const plan = this.plan;
    if (gradient.length !== plan.totalLength) {
      throw new RangeError(`PowerSGD was planned for a gradient of ${plan.totalLength} values, got ${gradient.length}`);
    }
    if (step < this.compression.startStep) {
      const result = await ring.allReduce(gradient, { step: POWERSGD_CALLS_PER_STEP * step, average: true });
      return outcomeOf(gradient, [result], false);
    }
    if (!this.#qReady) this.#drawQ();
    const first = this.#first;
    const q = this.#q;
    const calls: AllReduceResult[] = [];
    const factors = plan.matrices.map(
      (matrix): MatrixFactors => ({ ...matrix, m: gradient, mOffset: matrix.offset, p: first, q, residual: this.#residual }),
    );
    for (const f of factors) correctAndMultiplyByQ(f);
    let at = plan.pLength;
    for (const range of plan.plain) {
      first.set(gradient.subarray(range.start, range.start + range.length), at);
      at += range.length;
    }
    calls.push(await ring.allReduce(first, { step: POWERSGD_CALLS_PER_STEP * step, average: true }));
    at = plan.pLength;
    for (const range of plan.plain) {
      gradient.set(first.subarray(at, at + range.length), range.start);
      at += range.length;
    }
    // From here until the second call completes, `q` holds this replica's own Q, not a warm start.
    this.#qReady = false;
    for (const f of factors) {
      orthonormaliseColumns(first, f.pOffset, f.rows, f.rank, this.#orthonormalising);
      multiplyTransposedByP(f, this.#sums);
    }
    calls.push(await ring.allReduce(q, { step: POWERSGD_CALLS_PER_STEP * step + 1, average: true }));
    this.#qReady = true;
    for (const f of factors) approximateKeepingResidual(f, this.#sums);
    return outcomeOf(gradient, calls, true);
  }

  /** Q from the run's seed and the generation's start, per matrix name: the same on every member. */
  #drawQ(): void {
    for (const matrix of this.plan.matrices) {
      const random = createRandom(this.#seed, `powersgd-q/${this.#generationStart}/${matrix.name}`);
      fillUniform(this.#q.subarray(matrix.qOffset, matrix.qOffset + matrix.cols * matrix.rank), 1, random);
    }
    this.#qReady = true;
  }
}
