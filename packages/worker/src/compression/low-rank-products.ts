/**
 * The arithmetic of one PowerSGD round on one matrix, written so that every replica computes the
 * same bits: plain loops in a fixed order, every sum accumulated in f64 from the first term to the
 * last and rounded to f32 once, when it is stored.
 *
 * M is row-major, rows×cols at `m[mOffset]`. The factors are stored column by column, each column
 * contiguous: P (rows×rank) as `p[pOffset + k·rows + i]`, Q (cols×rank) as `q[qOffset + k·cols + j]`,
 * so that every inner loop below runs over contiguous memory.
 */

/** One matrix M of the gradient, its factors and its residual, where each sits in its buffer. */
export interface MatrixFactors {
  /** M, row-major, rows×cols from `mOffset`. */
  readonly m: Float32Array;
  readonly mOffset: number;
  readonly rows: number;
  readonly cols: number;
  readonly rank: number;
  /** P, rows×rank, column by column from `pOffset`. */
  readonly p: Float32Array;
  readonly pOffset: number;
  /** Q, cols×rank, column by column from `qOffset`. */
  readonly q: Float32Array;
  readonly qOffset: number;
  /** What earlier steps did not send, row-major like M, from `residualOffset`. */
  readonly residual: Float64Array;
  readonly residualOffset: number;
}

/**
 * M += residual (rounded to f32: the gradient plus what earlier steps did not send), then
 * P = M·Q.
 */
export function correctAndMultiplyByQ(f: MatrixFactors): void {
  const { m, mOffset, rows, cols, residual, residualOffset, q, qOffset, rank, p, pOffset } = f;
  for (let i = 0; i < rows; i++) {
    const row = mOffset + i * cols;
    const residualRow = residualOffset + i * cols;
    for (let j = 0; j < cols; j++) m[row + j] = (m[row + j] as number) + (residual[residualRow + j] as number);
    // Two columns per pass over the row (each sum still runs j = 0, 1, …): half the loop overhead.
    let k = 0;
    for (; k + 1 < rank; k += 2) {
      const first = qOffset + k * cols;
      const second = first + cols;
      let sum0 = 0;
      let sum1 = 0;
      for (let j = 0; j < cols; j++) {
        const value = m[row + j] as number;
        sum0 += value * (q[first + j] as number);
        sum1 += value * (q[second + j] as number);
      }
      p[pOffset + k * rows + i] = sum0;
      p[pOffset + (k + 1) * rows + i] = sum1;
    }
    if (k < rank) {
      const column = qOffset + k * cols;
      let sum = 0;
      for (let j = 0; j < cols; j++) sum += (m[row + j] as number) * (q[column + j] as number);
      p[pOffset + k * rows + i] = sum;
    }
  }
}

/** Q = Mᵀ·P; `sums` holds at least cols·rank values. */
export function multiplyTransposedByP(f: MatrixFactors, sums: Float64Array): void {
  const { m, mOffset, rows, cols, p, pOffset, rank, q, qOffset } = f;
  const size = cols * rank;
  sums.fill(0, 0, size);
  for (let i = 0; i < rows; i++) {
    const row = mOffset + i * cols;
    let k = 0;
    for (; k + 1 < rank; k += 2) {
      const factor0 = p[pOffset + k * rows + i] as number;
      const factor1 = p[pOffset + (k + 1) * rows + i] as number;
      const first = k * cols;
      const second = first + cols;
      for (let j = 0; j < cols; j++) {
        const value = m[row + j] as number;
        sums[first + j] = (sums[first + j] as number) + value * factor0;
        sums[second + j] = (sums[second + j] as number) + value * factor1;
      }
    }
    if (k < rank) {
      const factor = p[pOffset + k * rows + i] as number;
      const column = k * cols;
      for (let j = 0; j < cols; j++) sums[column + j] = (sums[column + j] as number) + (m[row + j] as number) * factor;
    }
  }
  for (let t = 0; t < size; t++) q[qOffset + t] = sums[t] as number;
}

/**
 * Replaces M by its approximation A = P·Qᵀ (rounded to f32: the values the replica applies) and
 * writes the residual M − A to `residual` in f64, so that A + residual == M exactly wherever the
 * f64 difference of two f32 values is exact: wherever |M| and |A| lie within 2²⁹ of each other
 * (further apart, the residual is M − A rounded to 53 bits). `sums` holds at least cols values.
 */
export function approximateKeepingResidual(f: MatrixFactors, sums: Float64Array): void {
  const { m, mOffset, rows, cols, p, pOffset, q, qOffset, rank, residual, residualOffset } = f;
  if (rank <= 2) {
    approximateRankTwo(f);
    return;
  }
  for (let i = 0; i < rows; i++) {
    sums.fill(0, 0, cols);
    let k = 0;
    for (; k + 1 < rank; k += 2) {
      const factor0 = p[pOffset + k * rows + i] as number;
      const factor1 = p[pOffset + (k + 1) * rows + i] as number;
      const first = qOffset + k * cols;
      const second = first + cols;
      for (let j = 0; j < cols; j++) sums[j] = (sums[j] as number) + factor0 * (q[first + j] as number) + factor1 * (q[second + j] as number);
    }
    if (k < rank) {
      const factor = p[pOffset + k * rows + i] as number;
      const column = qOffset + k * cols;
      for (let j = 0; j < cols; j++) sums[j] = (sums[j] as number) + factor * (q[column + j] as number);
    }
    const row = mOffset + i * cols;
    const residualRow = residualOffset + i * cols;
    for (let j = 0; j < cols; j++) {
      const approximation = Math.fround(sums[j] as number);
      residual[residualRow + j] = (m[row + j] as number) - approximation;
      m[row + j] = approximation;
    }
  }
}

/** `approximateKeepingResidual` for rank 1 or 2 in one pass: the same sums (0 + p₀q₀ + p₁q₁ is p₀q₀ + p₁q₁). */
function approximateRankTwo(f: MatrixFactors): void {
  const { m, mOffset, rows, cols, p, pOffset, q, qOffset, rank, residual, residualOffset } = f;
  const second = qOffset + cols;
  for (let i = 0; i < rows; i++) {
    const factor0 = p[pOffset + i] as number;
    const factor1 = rank === 2 ? (p[pOffset + rows + i] as number) : 0;
    const row = mOffset + i * cols;
    const residualRow = residualOffset + i * cols;
    for (let j = 0; j < cols; j++) {
      const sum = rank === 2 ? factor0 * (q[qOffset + j] as number) + factor1 * (q[second + j] as number) : factor0 * (q[qOffset + j] as number);
      const approximation = Math.fround(sum);
      residual[residualRow + j] = (m[row + j] as number) - approximation;
      m[row + j] = approximation;
    }
  }
}

/**
 * Makes the `rank` columns of P orthonormal by Gram–Schmidt, in f64 in `scratch` (at least
 * rows·rank values): column by column, each projected against the finished ones in order
 * (modified Gram–Schmidt), then divided by its norm. A column that vanishes (a zero gradient, or
 * one of lower rank than asked) is left at zero: it then contributes nothing.
 */
export function orthonormaliseColumns(p: Float32Array, pOffset: number, rows: number, rank: number, scratch: Float64Array): void {
  const size = rows * rank;
  for (let t = 0; t < size; t++) scratch[t] = p[pOffset + t] as number;
  for (let k = 0; k < rank; k++) {
    const column = k * rows;
    for (let done = 0; done < k; done++) {
      const finished = done * rows;
      let dot = 0;
      for (let i = 0; i < rows; i++) dot += (scratch[column + i] as number) * (scratch[finished + i] as number);
      for (let i = 0; i < rows; i++) scratch[column + i] = (scratch[column + i] as number) - dot * (scratch[finished + i] as number);
    }
    let squares = 0;
    for (let i = 0; i < rows; i++) {
      const value = scratch[column + i] as number;
      squares += value * value;
    }
    const norm = Math.sqrt(squares);
    for (let i = 0; i < rows; i++) scratch[column + i] = norm > 0 ? (scratch[column + i] as number) / norm : 0;
  }
  for (let t = 0; t < size; t++) p[pOffset + t] = scratch[t] as number;
}
