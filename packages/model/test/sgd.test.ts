import { describe, expect, it } from 'vitest';

import { FlatLengthMismatchError, InvalidOptionsError } from '../src/errors.ts';
import type { FlatEntry, FlatLayout } from '../src/flat-layout.ts';
import { Sgd } from '../src/sgd.ts';
import type { SgdOptions } from '../src/sgd.ts';

// A conv kernel of two values, one BN γ, one dense bias: enough to see where decay applies.
const entries: FlatEntry[] = [
  { name: 'conv1/kernel', shape: [2], size: 2, offset: 0, section: 'gradient', role: 'conv-kernel' },
  { name: 'bn1/gamma', shape: [1], size: 1, offset: 2, section: 'gradient', role: 'bn-gamma' },
  { name: 'fc/bias', shape: [1], size: 1, offset: 3, section: 'gradient', role: 'dense-bias' },
];
const layout: FlatLayout = { entries, gradientLength: 4, statisticsLength: 0, totalLength: 4, digest: 'test' };

function run(options: Partial<SgdOptions>, steps: number, learningRate = 0.1): number[] {
  const sgd = new Sgd(layout, options);
  const parameters = new Float32Array([1, -2, 0.5, 3]);
  const gradient = new Float32Array([0.1, 0.2, -0.3, 0.4]);
  for (let i = 0; i < steps; i++) sgd.step(parameters, gradient, learningRate);
  return [...parameters];
}

function expectClose(actual: number[], expected: number[]): void {
  expect(actual).toHaveLength(expected.length);
  actual.forEach((value, i) => expect(value, `value ${i}`).toBeCloseTo(expected[i] as number, 6));
}

describe('SGD with PyTorch semantics on the flat gradient layout', () => {
  it('adds weight decay to the gradient of kernels only, by default', () => {
    // conv: p − 0.1·(g + 0.01·p); γ and bias: p − 0.1·g.
    expectClose(run({ momentum: 0, weightDecay: 0.01 }, 1), [0.989, -2.018, 0.53, 2.96]);
  });

  it('decays batch-norm parameters and biases too when asked to', () => {
    expectClose(run({ momentum: 0, weightDecay: 0.01, decayBatchNormAndBias: true }, 1), [
      0.989, -2.018, 0.5 - 0.1 * (-0.3 + 0.005), 3 - 0.1 * (0.4 + 0.03),
    ]);
  });

  it('starts the momentum buffer at the first gradient, then accumulates μ·b + g', () => {
    // b₁ = g, b₂ = 1.9·g: two steps move p by 0.1·(1 + 1.9)·g.
    const g = [0.1, 0.2, -0.3, 0.4];
    const p = [1, -2, 0.5, 3];
    expectClose(run({ momentum: 0.9, weightDecay: 0 }, 2), p.map((v, i) => v - 0.29 * (g[i] as number)));
  });

  it('looks ahead with Nesterov momentum', () => {
    // Step 1 moves by 0.1·(g + 0.9·g), step 2 by 0.1·(g + 0.9·1.9·g).
    const g = [0.1, 0.2, -0.3, 0.4];
    const p = [1, -2, 0.5, 3];
    expectClose(run({ momentum: 0.9, nesterov: true, weightDecay: 0 }, 2), p.map((v, i) => v - 0.461 * (g[i] as number)));
  });

  it('dampens every gradient after the first', () => {
    // b₂ = 0.9·g + 0.5·g.
    const g = [0.1, 0.2, -0.3, 0.4];
    const p = [1, -2, 0.5, 3];
    expectClose(run({ momentum: 0.9, dampening: 0.5, weightDecay: 0 }, 2), p.map((v, i) => v - 0.24 * (g[i] as number)));
  });

  it('continues exactly from a saved momentum buffer', () => {
    const options = { momentum: 0.9, nesterov: true, weightDecay: 1e-3 };
    const gradient = new Float32Array([0.1, 0.2, -0.3, 0.4]);
    const straight = new Sgd(layout, options);
    const a = new Float32Array([1, -2, 0.5, 3]);
    for (let i = 0; i < 3; i++) straight.step(a, gradient, 0.05);

    const first = new Sgd(layout, options);
    const b = new Float32Array([1, -2, 0.5, 3]);
    first.step(b, gradient, 0.05);
    const resumed = new Sgd(layout, options);
    expect(resumed.getState().momentumBuffer).toBeNull();
    resumed.setState(first.getState());
    resumed.step(b, gradient, 0.05);
    resumed.step(b, gradient, 0.05);
    expect([...b]).toEqual([...a]);
  });

  it.each([
    [{ momentum: 1 }, /momentum must be in \[0, 1\), got 1/],
    [{ momentum: -0.1 }, /momentum must be in \[0, 1\)/],
    [{ weightDecay: -1 }, /weightDecay must be a non-negative number, got -1/],
    [{ dampening: 2 }, /dampening must be in \[0, 1\], got 2/],
    [{ nesterov: true, momentum: 0 }, /Nesterov momentum needs momentum > 0 and dampening 0/],
    [{ nesterov: true, momentum: 0.9, dampening: 0.1 }, /Nesterov momentum needs/],
  ])('rejects the options %j', (options, message) => {
    expect(() => new Sgd(layout, options)).toThrow(InvalidOptionsError);
    expect(() => new Sgd(layout, options)).toThrow(message);
  });

  it('rejects arrays and states whose length differs from the layout', () => {
    const sgd = new Sgd(layout);
    expect(() => sgd.step(new Float32Array(3), new Float32Array(4), 0.1)).toThrow(FlatLengthMismatchError);
    expect(() => sgd.step(new Float32Array(4), new Float32Array(4), Number.NaN)).toThrow(/learning rate must be/);
    expect(() => sgd.setState({ momentumBuffer: new Float32Array(5) })).toThrow(/momentum buffer has 5/);
  });
});
