import { describe, expect, it } from 'vitest';
import { InvalidCoordinatorOptionError, machineConfig, resolveCoordinatorOptions } from '../src/index.ts';

const token = 'a-token-of-enough-length';
const counts = { train: 60, test: 0 };

describe('the crop-padding option', () => {
  it('defaults to 4 pixels and is then left out of what the workers are sent', () => {
    const options = resolveCoordinatorOptions({ token, augment: true });
    expect(options.cropPaddingPx).toBe(4);
    expect(Object.hasOwn(machineConfig(options, counts).hyper.preprocess, 'cropPaddingPx')).toBe(false);
  });

  it('reaches the preprocessing of every assignment when changed, 0 included', () => {
    for (const cropPaddingPx of [0, 2, 14]) {
      const { hyper } = machineConfig(resolveCoordinatorOptions({ token, augment: true, cropPaddingPx }), counts);
      expect(hyper.preprocess).toMatchObject({ augment: true, cropPaddingPx });
    }
  });

  it('is refused without the augmentation it changes, and beyond half the image side', () => {
    expect(() => resolveCoordinatorOptions({ token, cropPaddingPx: 2 })).toThrow('cropPaddingPx needs augment');
    expect(() => resolveCoordinatorOptions({ token, augment: true, cropPaddingPx: 15 })).toThrow(InvalidCoordinatorOptionError);
    expect(() => resolveCoordinatorOptions({ token, augment: true, cropPaddingPx: 15 })).toThrow('cropPaddingPx must be an integer from 0 to 14, got 15');
    expect(() => resolveCoordinatorOptions({ token, augment: true, cropPaddingPx: 1.5 })).toThrow('cropPaddingPx must be an integer');
  });
});
