import { createRandom, describeResNet, flatLayoutFor } from '@ringtrain/model';
import type { CompressionSpec } from '@ringtrain/protocol';
import { describe, expect, it } from 'vitest';
import { createMemoryTransports, RingAllReduce } from '../../src/allreduce/index.ts';
import { lowRankPlan, planLowRank, PlainReducer, PowerSgdReducer, type LowRankPlan, type MatrixRegion } from '../../src/compression/index.ts';

const SEED = 1234;

function powerSgd(rank: number, startStep = 0): CompressionSpec {
  return { method: 'powersgd', rank, startStep };
}

function ringsOf(worldSize: number, maxBucketBytes: number, generation = 0): RingAllReduce[] {
  return createMemoryTransports(worldSize, { generation }).map((transport) => new RingAllReduce(transport, { maxBucketBytes }));
}

function randomVector(length: number, stream: string): Float32Array {
  const random = createRandom(SEED, stream);
  return Float32Array.from({ length }, () => 2 * random() - 1);
}

/** Two matrices with uncompressed values before, between and after them. */
function regionsOf(shapes: readonly [number, number][]): { regions: MatrixRegion[]; totalLength: number } {
  const regions: MatrixRegion[] = [];
  let offset = 3;
  shapes.forEach(([rows, cols], i) => {
    regions.push({ name: `w${i}`, offset, rows, cols });
    offset += rows * cols + 5;
  });
  return { regions, totalLength: offset + 2 };
}

/** Every replica reduces its own gradient for `step` at once; returns copies of the results. */
async function reduceAll(reducers: readonly PowerSgdReducer[], rings: readonly RingAllReduce[], gradients: readonly Float32Array[], step: number): Promise<Float32Array[]> {
  const outcomes = await Promise.all(reducers.map((reducer, rank) => reducer.reduce(rings[rank] as RingAllReduce, (gradients[rank] as Float32Array).slice(), step)));
  return outcomes.map((outcome) => outcome.data);
}

function bits(vector: Float32Array): Uint32Array {
  return new Uint32Array(vector.buffer, vector.byteOffset, vector.length);
}

// ------------------------------------------------------------------ the reference, in f64 loops

/** PowerSGD as the paper states it, on numbers (f64), one matrix at a time, with its own state. */
class ReferencePowerSgd {
  readonly q = new Map<string, number[][]>();
  readonly residuals: Map<string, number[][]>[];

  constructor(
    readonly plan: LowRankPlan,
    worldSize: number,
  ) {
    this.residuals = Array.from({ length: worldSize }, () => new Map());
    for (const m of plan.matrices) {
      // The documented initial Q: uniform in [−1, 1) from (seed, generation start 0, matrix name).
      const random = createRandom(SEED, `powersgd-q/0/${m.name}`);
      // Stored column by column: Q[j][k] is value k·cols + j.
      const flat = Array.from({ length: m.cols * m.rank }, () => Math.fround(2 * random() - 1));
      this.q.set(m.name, Array.from({ length: m.cols }, (_, j) => Array.from({ length: m.rank }, (_, k) => flat[k * m.cols + j] as number)));
      for (const residual of this.residuals) residual.set(m.name, Array.from({ length: m.rows }, () => new Array<number>(m.cols).fill(0)));
    }
  }

  step(gradients: readonly Float32Array[]): number[] {
    const n = gradients.length;
    const out = new Array<number>(this.plan.totalLength).fill(0);
    for (let i = 0; i < out.length; i++) out[i] = gradients.reduce((sum, g) => sum + (g[i] as number), 0) / n;
    for (const m of this.plan.matrices) {
      const ms = gradients.map((g, rank) => {
        const residual = this.residuals[rank]?.get(m.name) as number[][];
        return Array.from({ length: m.rows }, (_, i) => Array.from({ length: m.cols }, (_, j) => (g[m.offset + i * m.cols + j] as number) + (residual[i]?.[j] as number)));
      });
      const q = this.q.get(m.name) as number[][];
      const p = Array.from({ length: m.rows }, (_, i) =>
        Array.from({ length: m.rank }, (_, k) => ms.reduce((sum, mat) => sum + mat[i]!.reduce((s, v, j) => s + v * q[j]![k]!, 0), 0) / n),
      );
      for (let k = 0; k < m.rank; k++) {
        for (let done = 0; done < k; done++) {
          const dot = p.reduce((s, row) => s + row[k]! * row[done]!, 0);
          for (const row of p) row[k] = row[k]! - dot * row[done]!;
        }
        const norm = Math.sqrt(p.reduce((s, row) => s + row[k]! * row[k]!, 0));
        for (const row of p) row[k] = norm > 0 ? row[k]! / norm : 0;
      }
      const newQ = Array.from({ length: m.cols }, (_, j) =>
        Array.from({ length: m.rank }, (_, k) => ms.reduce((sum, mat) => sum + mat.reduce((s, row, i) => s + row[j]! * p[i]![k]!, 0), 0) / n),
      );
      this.q.set(m.name, newQ);
      for (let i = 0; i < m.rows; i++) {
        for (let j = 0; j < m.cols; j++) {
          const a = p[i]!.reduce((s, v, k) => s + v * newQ[j]![k]!, 0);
          out[m.offset + i * m.cols + j] = a;
          ms.forEach((mat, rank) => {
            this.residuals[rank]!.get(m.name)![i]![j] = mat[i]![j]! - a;
          });
        }
      }
    }
    return out;
  }
}

function maxAbsDifference(a: Float32Array, b: readonly number[]): number {
  let worst = 0;
  for (let i = 0; i < a.length; i++) worst = Math.max(worst, Math.abs((a[i] as number) - (b[i] as number)));
  return worst;
}

// ------------------------------------------------------------------ tests

describe('PowerSGD over the ring', () => {
  it.each([
    // ranks, rank r, bucket bytes, matrix shapes
    [2, 2, 64, [[7, 5], [13, 11]]],
    [3, 2, 52, [[7, 5], [13, 11]]],
    [3, 1, 1 << 20, [[9, 17], [1, 30]]],
    [2, 4, 36, [[31, 6], [5, 23]]],
    [3, 6, 44, [[7, 5], [4, 9]]],
  ] as const)(
    'over %i ranks at rank %i (%i-byte buckets, matrices %j) equals the reference for three warm-started steps and leaves the replicas bit-identical',
    async (worldSize, rank, bucketBytes, shapes) => {
      const { regions, totalLength } = regionsOf(shapes as unknown as [number, number][]);
      const plan = lowRankPlan(regions, totalLength, rank);
      const reducers = Array.from({ length: worldSize }, () => new PowerSgdReducer(powerSgd(rank), plan, SEED));
      const rings = ringsOf(worldSize, bucketBytes);
      const reference = new ReferencePowerSgd(plan, worldSize);
      for (let step = 0; step < 3; step++) {
        const gradients = Array.from({ length: worldSize }, (_, r) => randomVector(totalLength, `g/${step}/${r}`));
        const results = await reduceAll(reducers, rings, gradients, step);
        const expected = reference.step(gradients);
        const scale = Math.max(...expected.map(Math.abs));
        expect(maxAbsDifference(results[0] as Float32Array, expected)).toBeLessThan(1e-4 * scale);
        for (const result of results.slice(1)) expect(bits(result)).toEqual(bits(results[0] as Float32Array));
      }
    },
  );

  it('clamps a rank above min(rows, cols) to min(rows, cols), where the product is the averaged matrix itself', async () => {
    const { regions, totalLength } = regionsOf([[7, 5]]);
    const plan = lowRankPlan(regions, totalLength, 9);
    expect(plan.matrices[0]?.rank).toBe(5);
    expect(plan.pLength).toBe(7 * 5);
    expect(plan.qLength).toBe(5 * 5);
    const reducers = [0, 1].map(() => new PowerSgdReducer(powerSgd(9), plan, SEED));
    const gradients = [0, 1].map((r) => randomVector(totalLength, `full/${r}`));
    const [result] = await reduceAll(reducers, ringsOf(2, 64), gradients, 0);
    for (let i = 0; i < totalLength; i++) expect(result?.[i]).toBeCloseTo(((gradients[0]![i] as number) + (gradients[1]![i] as number)) / 2, 5);
  });

  it('carries the residual exactly: approximation + residual == gradient + previous residual, bit for bit, every step', async () => {
    const { regions, totalLength } = regionsOf([[12, 9], [6, 20]]);
    const plan = lowRankPlan(regions, totalLength, 2);
    const reducers = [0, 1, 2].map(() => new PowerSgdReducer(powerSgd(2), plan, SEED));
    const rings = ringsOf(3, 40);
    for (let step = 0; step < 4; step++) {
      const gradients = [0, 1, 2].map((r) => randomVector(totalLength, `ef/${step}/${r}`));
      const before = reducers.map((reducer) => reducer.residual.slice());
      const results = await reduceAll(reducers, rings, gradients, step);
      reducers.forEach((reducer, r) => {
        for (const m of plan.matrices) {
          for (let t = 0; t < m.rows * m.cols; t++) {
            const corrected = Math.fround((gradients[r]![m.offset + t] as number) + (before[r]![m.residualOffset + t] as number));
            const approximation = results[r]![m.offset + t] as number;
            expect(approximation + (reducer.residual[m.residualOffset + t] as number)).toBe(corrected);
          }
        }
      });
      // Something was left behind: rank 2 of these matrices is no exact copy.
      expect(reducers[0]!.residual.some((value) => Math.abs(value) > 1e-3)).toBe(true);
    }
  });

  it('averages plainly before the start step, bit-identical to an uncompressed all-reduce, and keeps no residual', async () => {
    const { regions, totalLength } = regionsOf([[8, 8]]);
    const plan = lowRankPlan(regions, totalLength, 1);
    const reducers = [0, 1].map(() => new PowerSgdReducer(powerSgd(1, 2), plan, SEED));
    const plain = [0, 1].map(() => new PlainReducer({ method: 'none', rank: 1, startStep: 0 }));
    const rings = ringsOf(2, 48);
    const plainRings = ringsOf(2, 48);
    for (const step of [0, 1]) {
      const gradients = [0, 1].map((r) => randomVector(totalLength, `warmup/${step}/${r}`));
      const results = await reduceAll(reducers, rings, gradients, step);
      const expected = await Promise.all(plain.map((reducer, r) => reducer.reduce(plainRings[r] as RingAllReduce, gradients[r]!.slice(), step)));
      expect(bits(results[0]!)).toEqual(bits(expected[0]!.data));
      expect(reducers[0]!.residual.every((value) => value === 0)).toBe(true);
    }
    const gradients = [0, 1].map((r) => randomVector(totalLength, `warmup/2/${r}`));
    const outcomes = await Promise.all(reducers.map((reducer, r) => reducer.reduce(rings[r] as RingAllReduce, gradients[r]!.slice(), 2)));
    expect(outcomes.map((o) => [o.compressed, o.calls])).toEqual([
      [true, 2],
      [true, 2],
    ]);
  });

  it('sends (n + m)·r values per matrix plus the uncompressed rest, 2(N − 1)/N of them per rank', async () => {
    const { regions, totalLength } = regionsOf([[30, 20], [10, 40]]);
    const plan = lowRankPlan(regions, totalLength, 2);
    const reducers = [0, 1].map(() => new PowerSgdReducer(powerSgd(2), plan, SEED));
    const rings = ringsOf(2, 1 << 20);
    const gradients = [0, 1].map((r) => randomVector(totalLength, `bytes/${r}`));
    const outcomes = await Promise.all(reducers.map((reducer, r) => reducer.reduce(rings[r] as RingAllReduce, gradients[r]!.slice(), 0)));
    const values = (30 + 20) * 2 + (10 + 40) * 2 + (totalLength - 30 * 20 - 10 * 40);
    expect(outcomes[0]!.bytesSent).toBe(values * 4);
    expect(reducers[0]!.compressedBytes).toBe(values * 4);
  });

  it('warm-starts from the last Q, and a new generation resets every member alike: zero residuals, Q re-drawn from the seed and its start step', async () => {
    const { regions, totalLength } = regionsOf([[10, 7], [9, 12]]);
    const plan = lowRankPlan(regions, totalLength, 2);
    const veterans = [0, 1].map(() => new PowerSgdReducer(powerSgd(2), plan, SEED));
    const rings = ringsOf(2, 60);
    for (let step = 0; step < 3; step++) await reduceAll(veterans, rings, [0, 1].map((r) => randomVector(totalLength, `history/${step}/${r}`)), step);

    // Without a reset, step 3 depends on the history (warm start and residuals).
    const fresh = [0, 1].map(() => new PowerSgdReducer(powerSgd(2), plan, SEED));
    const gradients = [0, 1].map((r) => randomVector(totalLength, `after/${r}`));
    const warm = await reduceAll(veterans.map((v) => v), ringsOf(2, 60, 1), gradients, 3);
    fresh.forEach((reducer) => reducer.startGeneration(3));
    const cold = await reduceAll(fresh, ringsOf(2, 60, 2), gradients, 3);
    expect(bits(warm[0]!)).not.toEqual(bits(cold[0]!));

    // Generation 3 starts at step 4: a veteran and a newcomer must apply the same.
    const newcomer = new PowerSgdReducer(powerSgd(2), plan, SEED);
    const members = [veterans[0]!, newcomer];
    members.forEach((reducer) => reducer.startGeneration(4));
    expect(veterans[0]!.residual.every((value) => value === 0)).toBe(true);
    const next = [0, 1].map((r) => randomVector(totalLength, `gen3/${r}`));
    const mixed = await reduceAll(members, ringsOf(2, 60, 3), next, 4);
    const allNew = [0, 1].map(() => new PowerSgdReducer(powerSgd(2), plan, SEED));
    allNew.forEach((reducer) => reducer.startGeneration(4));
    const reference = await reduceAll(allNew, ringsOf(2, 60, 4), next, 4);
    expect(bits(mixed[0]!)).toEqual(bits(reference[0]!));
    expect(bits(mixed[1]!)).toEqual(bits(mixed[0]!));
    // Another start step draws another Q.
    const elsewhere = [0, 1].map(() => new PowerSgdReducer(powerSgd(2), plan, SEED));
    elsewhere.forEach((reducer) => reducer.startGeneration(5));
    const shifted = await reduceAll(elsewhere, ringsOf(2, 60, 5), next, 5);
    expect(bits(shifted[0]!)).not.toEqual(bits(reference[0]!));
  });

  it('sends a zero gradient as zeros (vanishing columns stay zero, no NaN)', async () => {
    const { regions, totalLength } = regionsOf([[6, 6]]);
    const plan = lowRankPlan(regions, totalLength, 2);
    const reducers = [0, 1].map(() => new PowerSgdReducer(powerSgd(2), plan, SEED));
    const results = await reduceAll(reducers, ringsOf(2, 32), [0, 1].map(() => new Float32Array(totalLength)), 0);
    expect(results[0]!.every((value) => value === 0)).toBe(true);
  });
});

describe('the PowerSGD plan of a ResNet', () => {
  const layout = flatLayoutFor(describeResNet({ depth: 18, stem: 'd2l' }));

  it('compresses every conv and dense kernel where (n + m)·r < n·m and sends vectors and running statistics uncompressed', () => {
    for (const rank of [1, 2, 4, 16, 64]) {
      const plan = planLowRank(layout, rank);
      const compressed = new Set(plan.matrices.map((m) => m.name));
      for (const entry of layout.entries) {
        const isKernel = entry.section === 'gradient' && entry.shape.length >= 2;
        const cols = entry.shape[entry.shape.length - 1] as number;
        const rows = entry.size / cols;
        const pays = isKernel && (rows + cols) * Math.min(rank, rows, cols) < rows * cols;
        expect(compressed.has(entry.name), `${entry.name} at rank ${rank}`).toBe(pays);
      }
      const matrixValues = plan.matrices.reduce((sum, m) => sum + m.rows * m.cols, 0);
      expect(plan.plainLength + matrixValues).toBe(layout.totalLength);
    }
  });

  it('views a conv kernel (HWIO) as [kh·kw·in, out] and the dense kernel as [in, out]', () => {
    const plan = planLowRank(layout, 2);
    const byName = new Map(plan.matrices.map((m) => [m.name, m]));
    const conv = layout.entries.find((e) => e.name.endsWith('/kernel') && e.shape.length === 4 && e.shape[2] === 64 && e.shape[3] === 128);
    expect(conv).toBeDefined();
    const view = byName.get(conv!.name);
    expect([view?.rows, view?.cols]).toEqual([conv!.shape[0]! * conv!.shape[1]! * 64, 128]);
    const dense = layout.entries.find((e) => e.shape.length === 2);
    expect([byName.get(dense!.name)?.rows, byName.get(dense!.name)?.cols]).toEqual(dense!.shape);
  });

  it('refuses a rank below 1', () => {
    expect(() => planLowRank(layout, 0)).toThrow(/rank must be an integer of at least 1, got 0/);
  });
});
