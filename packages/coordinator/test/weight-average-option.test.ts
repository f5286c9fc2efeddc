import { describe, expect, it } from 'vitest';
import { InvalidCoordinatorOptionError, machineConfig, resolveCoordinatorOptions } from '../src/index.ts';

const token = 'a-token-of-enough-length';
const counts = { train: 60, test: 0 };

describe('the weight-average options', () => {
  it('are off by default and then left out of the hyper-parameters the workers are sent', () => {
    const options = resolveCoordinatorOptions({ token });
    expect(options.emaDecay).toBe(0);
    expect(options.emaWarmup).toBe(false);
    const { hyper } = machineConfig(options, counts);
    expect(Object.hasOwn(hyper, 'emaDecay')).toBe(false);
    expect(Object.hasOwn(hyper, 'emaWarmup')).toBe(false);
  });

  it.each([
    { emaDecay: 0.999, emaWarmup: true },
    { emaDecay: 0.9, emaWarmup: false },
  ])('reach the hyper-parameters of every assignment when on (decay $emaDecay, warm-up $emaWarmup)', (fields) => {
    const { hyper } = machineConfig(resolveCoordinatorOptions({ token, ...fields }), counts);
    expect(hyper.emaDecay).toBe(fields.emaDecay);
    expect(hyper.emaWarmup).toBe(fields.emaWarmup);
  });

  it.each([-0.01, 1.5, Number.NaN])('refuses emaDecay %s, naming the option and its range', (emaDecay) => {
    expect(() => resolveCoordinatorOptions({ token, emaDecay })).toThrow(InvalidCoordinatorOptionError);
    expect(() => resolveCoordinatorOptions({ token, emaDecay })).toThrow(`emaDecay must be a number from 0 to 1, got ${String(emaDecay)}`);
  });

  it('refuses emaWarmup without a weight average', () => {
    expect(() => resolveCoordinatorOptions({ token, emaWarmup: true })).toThrow('emaWarmup needs emaDecay above 0');
  });
});
