import { describe, expect, it } from 'vitest';
import { ErrorFeedback, InvalidAllReduceOptionError, RingAllReduce, createMemoryTransports } from '../../src/allreduce/index.ts';
import { roundToFormat } from './half-reference.ts';
import { rankVector } from './vectors.ts';

const formats = ['bf16', 'f16'] as const;

/** Values of many magnitudes, f16's subnormals and its saturation range included. */
function gradient(length: number, seed: number): Float32Array {
  const scales = rankVector(length, 7, seed);
  return rankVector(length, 3, seed).map((x, i) => x * 10 ** Math.round(12 * (scales[i] as number) - 3));
}

describe('error feedback', () => {
  it.each(formats)('%s: what is sent plus the new residual is exactly what the rank wanted to send, step after step', (format) => {
    const length = 20_011;
    const feedback = new ErrorFeedback(length, format);
    const wrong: string[] = [];
    for (let step = 0; step < 5; step++) {
      const input = gradient(length, step);
      const previous = feedback.residual.slice();
      const sent = feedback.compensate(input.slice());
      const residual = feedback.residual;
      for (let i = 0; i < length && wrong.length < 5; i++) {
        const wanted = Math.fround((input[i] as number) + (previous[i] as number));
        const q = sent[i] as number;
        const r = residual[i] as number;
        // The sent value is the 16-bit rounding of what was wanted, as the reference rounds it.
        if (q !== Math.fround(roundToFormat(wanted, format))) wrong.push(`step ${step} [${i}]: sent ${q} for ${wanted}`);
        if (r !== Math.fround(wanted - q)) wrong.push(`step ${step} [${i}]: residual ${r} for ${wanted} - ${q}`);
        const carried = Math.fround(q + r);
        if (format === 'bf16' || Math.abs(wanted) <= 65_504) {
          if (carried !== wanted) wrong.push(`step ${step} [${i}]: ${q} + ${r} = ${carried}, wanted ${wanted}`);
        } else if (Math.abs(carried - wanted) > ulp(wanted)) {
          // Beyond f16's range the excess is float32-rounded: off by at most one float32 step.
          wrong.push(`step ${step} [${i}]: saturated ${q} + ${r} = ${carried}, wanted ${wanted}`);
        }
      }
    }
    expect(wrong).toEqual([]);
  });

  it('loses nothing over the steps: the sum of what was sent plus the last residual equals the sum of the inputs', () => {
    const length = 4096;
    const feedback = new ErrorFeedback(length, 'bf16');
    const inputs = Array.from({ length: 50 }, (_, step) => rankVector(length, 1, step).map((x) => x * 1e-3));
    const sentTotal = new Float64Array(length);
    const inputTotal = new Float64Array(length);
    for (const input of inputs) {
      const sent = feedback.compensate(input.slice());
      for (let i = 0; i < length; i++) {
        sentTotal[i] = (sentTotal[i] as number) + (sent[i] as number);
        inputTotal[i] = (inputTotal[i] as number) + (input[i] as number);
      }
    }
    let worstCarried = 0;
    let worstDropped = 0;
    for (let i = 0; i < length; i++) {
      worstCarried = Math.max(worstCarried, Math.abs((sentTotal[i] as number) + (feedback.residual[i] as number) - (inputTotal[i] as number)));
      worstDropped = Math.max(worstDropped, Math.abs((sentTotal[i] as number) - (inputTotal[i] as number)));
    }
    // Only float32 rounding of the running residual remains, far below one bf16 rounding step.
    expect(worstCarried).toBeLessThan(1e-8);
    expect(worstDropped).toBeLessThan(1e-5);
  });

  it.each(formats)('%s: a NaN or infinite value is sent as it is and leaves no residual behind', (format) => {
    const feedback = new ErrorFeedback(4, format);
    feedback.compensate(Float32Array.of(0.1, 0.1, 0.1, 0.1));
    const sent = feedback.compensate(Float32Array.of(NaN, Infinity, -Infinity, 0.1));
    expect(Number.isNaN(sent[0])).toBe(true);
    expect(Array.from(sent.subarray(1, 3))).toEqual([Infinity, -Infinity]);
    expect(Array.from(feedback.residual.subarray(0, 3))).toEqual([0, 0, 0]);
    expect(Number.isFinite(feedback.residual[3])).toBe(true);
  });

  it('carries the excess of a value f16 saturates into the next step', () => {
    const feedback = new ErrorFeedback(1, 'f16');
    expect(feedback.compensate(Float32Array.of(70_000))[0]).toBe(65_504);
    expect(feedback.residual[0]).toBe(4_496);
    expect(feedback.compensate(Float32Array.of(0))[0]).toBe(4_496);
    expect(feedback.residual[0]).toBe(0);
  });

  it('sends f32 unchanged and keeps no residual', () => {
    const feedback = new ErrorFeedback(3, 'f32');
    const input = Float32Array.of(0.1, 1e-30, 1e30);
    expect(Array.from(feedback.compensate(input.slice()))).toEqual(Array.from(input));
    expect(Array.from(feedback.residual)).toEqual([0, 0, 0]);
  });

  it('refuses a gradient of another length and an unknown format, naming them', () => {
    expect(() => new ErrorFeedback(3, 'bf16').compensate(new Float32Array(4))).toThrow('error feedback was built for 3 elements, the gradient has 4');
    expect(() => new ErrorFeedback(3, 'fp8' as never)).toThrow(InvalidAllReduceOptionError);
    expect(() => new ErrorFeedback(-1, 'bf16')).toThrow(/length must be an integer from 0/);
  });

  it('forgets the residual on reset', () => {
    const feedback = new ErrorFeedback(2, 'bf16');
    feedback.compensate(Float32Array.of(1 + 2 ** -9, 0.1));
    expect(feedback.residual.some((r) => r !== 0)).toBe(true);
    feedback.reset();
    expect(Array.from(feedback.residual)).toEqual([0, 0]);
  });

  it.each(formats)('%s: compensated gradients travel through the ring without further loss at their first rounding', async (format) => {
    const ranks = 3;
    const length = 999;
    const feedbacks = Array.from({ length: ranks }, () => new ErrorFeedback(length, format));
    const ring = createMemoryTransports(ranks).map((transport) => new RingAllReduce(transport, { maxBucketBytes: 400, wireFormat: format }));
    for (let step = 0; step < 3; step++) {
      const sent = feedbacks.map((feedback, rank) => feedback.compensate(rankVector(length, rank, step)));
      const before = sent.map((v) => v.slice());
      const results = await Promise.all(ring.map((r, rank) => r.allReduce(sent[rank] as Float32Array)));
      // Each rank's compensated values are already 16-bit values: rounding them again changes nothing.
      for (const values of before) for (const x of values) expect(Math.fround(roundToFormat(x, format))).toBe(x);
      expect(results[0]?.data).toEqual(results[2]?.data);
    }
  });
});

/** The distance from `x` to the next float32 of larger magnitude. */
function ulp(x: number): number {
  const bits = new Uint32Array(Float32Array.of(Math.abs(x)).buffer);
  const next = new Float32Array(Uint32Array.of((bits[0] as number) + 1).buffer)[0] as number;
  return next - Math.abs(x);
}
