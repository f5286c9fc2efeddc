import { describe, expect, it } from 'vitest';
import { InvalidCoordinatorOptionError, machineConfig, resolveCoordinatorOptions } from '../src/index.ts';

const token = 'a-token-of-enough-length';
const counts = { train: 60, test: 0 };

describe('the alternating-flips option', () => {
  it('is off by default and then left out of what the workers are sent', () => {
    const { hyper } = machineConfig(resolveCoordinatorOptions({ token, augment: true }), counts);
    expect(Object.hasOwn(hyper.preprocess, 'alternateFlips')).toBe(false);
  });

  it('reaches the preprocessing of every assignment when on', () => {
    const { hyper } = machineConfig(resolveCoordinatorOptions({ token, augment: true, alternateFlips: true }), counts);
    expect(hyper.preprocess).toMatchObject({ augment: true, alternateFlips: true });
  });

  it('is refused without the augmentation it changes', () => {
    expect(() => resolveCoordinatorOptions({ token, alternateFlips: true })).toThrow(InvalidCoordinatorOptionError);
    expect(() => resolveCoordinatorOptions({ token, alternateFlips: true })).toThrow('alternateFlips needs augment');
  });
});
