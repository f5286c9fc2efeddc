/**
 * Which parts of the flat gradient PowerSGD sends as low-rank factors, and where each factor sits
 * in the buffers the ring averages. Derived from the layout and the rank alone, so it is the same
 * on every replica.
 *
 * A weight is viewed as a matrix without moving a value: a convolution kernel, stored HWIO, is
 * the row-major matrix [kh·kw·in, out]; the dense kernel is [in, out] as stored. A matrix of n
 * rows and m columns is sent as P (n×r) and Q (m×r), (n + m)·r values instead of n·m; where that
 * does not pay, (n + m)·r ≥ n·m, it travels uncompressed with the vectors (biases, batch-norm
 * scales and offsets, the running statistics) in one fused stretch.
 *
 * A rank above min(n, m) is clamped to min(n, m): no product of rank r > min(n, m) says more.
 * Such a matrix never pays, so on a layout it is sent uncompressed; `lowRankPlan` with explicit
 * regions compresses whatever it is given.
 */
import type { FlatEntry, FlatLayout } from '@ringtrain/model';

/** A stretch of the flat vector, `start` to `start + length`. */
export interface FlatRange {
  readonly start: number;
  readonly length: number;
}

/** A region of the flat vector read as a row-major matrix. */
export interface MatrixRegion {
  readonly name: string;
  /** The first value in the flat vector. */
  readonly offset: number;
  readonly rows: number;
  readonly cols: number;
}

/** A matrix PowerSGD compresses, with the places of its factors. */
export interface LowRankMatrix extends MatrixRegion {
  /** The rank used: the one asked for, clamped to min(rows, cols). */
  readonly rank: number;
  /** Where its P (rows×rank, row-major) starts in the P buffer. */
  readonly pOffset: number;
  /** Where its Q (cols×rank, row-major) starts in the Q buffer. */
  readonly qOffset: number;
  /** Where its rows·cols residual values start in the error-feedback memory. */
  readonly residualOffset: number;
}

export interface LowRankPlan {
  readonly matrices: readonly LowRankMatrix[];
  /** What travels uncompressed, in flat order, adjacent stretches merged. */
  readonly plain: readonly FlatRange[];
  readonly plainLength: number;
  readonly pLength: number;
  readonly qLength: number;
  readonly residualLength: number;
  /** The flat vector's length. */
  readonly totalLength: number;
}

/** The matrix view of a gradient entry (conv [kh·kw·in, out], dense [in, out]), or null for a vector. */
export function matrixViewOf(entry: FlatEntry): { rows: number; cols: number } | null {
  if (entry.section !== 'gradient' || entry.shape.length < 2) return null;
  const cols = entry.shape[entry.shape.length - 1] as number;
  return { rows: entry.size / cols, cols };
}

/** Whether rank-`rank` factors of a rows×cols matrix are smaller than the matrix. */
export function lowRankPays(rows: number, cols: number, rank: number): boolean {
  const r = Math.min(rank, rows, cols);
  return (rows + cols) * r < rows * cols;
}

/** The plan for a model's flat layout: every weight matrix where rank `rank` pays, the rest uncompressed. */
export function planLowRank(layout: FlatLayout, rank: number): LowRankPlan {
  const regions: MatrixRegion[] = [];
  for (const entry of layout.entries) {
    const view = matrixViewOf(entry);
    if (view !== null && lowRankPays(view.rows, view.cols, rank)) regions.push({ name: entry.name, offset: entry.offset, ...view });
  }
  return lowRankPlan(regions, layout.totalLength, rank);
}

/** The plan compressing exactly `regions` (in flat order, disjoint) of a vector of `totalLength`. */
export function lowRankPlan(regions: readonly MatrixRegion[], totalLength: number, rank: number): LowRankPlan {
  if (!Number.isInteger(rank) || rank < 1) throw new RangeError(`the PowerSGD rank must be an integer of at least 1, got ${String(rank)}`);
  const matrices: LowRankMatrix[] = [];
  const plain: FlatRange[] = [];
  let pLength = 0;
  let qLength = 0;
  let residualLength = 0;
  let cursor = 0;
  const keepPlain = (start: number, end: number): void => {
    if (end <= start) return;
    const last = plain[plain.length - 1];
    if (last !== undefined && last.start + last.length === start) plain[plain.length - 1] = { start: last.start, length: end - last.start };
    else plain.push({ start, length: end - start });
  };
  for (const region of regions) {
    const size = region.rows * region.cols;
    if (region.offset < cursor || region.offset + size > totalLength || size === 0) {
      throw new RangeError(`matrix ${region.name} (${region.rows}×${region.cols} at ${region.offset}) overlaps another or leaves the vector of ${totalLength}`);
    }
    keepPlain(cursor, region.offset);
    const r = Math.min(rank, region.rows, region.cols);
    matrices.push({ ...region, rank: r, pOffset: pLength, qOffset: qLength, residualOffset: residualLength });
    pLength += region.rows * r;
    qLength += region.cols * r;
    residualLength += size;
    cursor = region.offset + size;
  }
  keepPlain(cursor, totalLength);
  const plainLength = plain.reduce((sum, range) => sum + range.length, 0);
  return { matrices, plain, plainLength, pLength, qLength, residualLength, totalLength };
}
