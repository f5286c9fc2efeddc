import { describe, expect, it } from 'vitest';
import { InvalidCoordinatorOptionError, machineConfig, resolveCoordinatorOptions } from '../src/index.ts';

const token = 'a-token-of-enough-length';
const counts = { train: 60, test: 0 };

describe('the precision option', () => {
  it('defaults to float32 and is then left out of what the workers are sent', () => {
    const options = resolveCoordinatorOptions({ token });
    expect(options.precision).toBe('f32');
    expect(Object.hasOwn(machineConfig(options, counts).hyper, 'precision')).toBe(false);
    expect(Object.hasOwn(machineConfig(resolveCoordinatorOptions({ token, precision: 'f32' }), counts).hyper, 'precision')).toBe(false);
  });

  it('reaches every assignment as bf16', () => {
    expect(machineConfig(resolveCoordinatorOptions({ token, precision: 'bf16' }), counts).hyper.precision).toBe('bf16');
  });

  it('refuses anything else, naming the choices', () => {
    expect(() => resolveCoordinatorOptions({ token, precision: 'f16' as never })).toThrow(InvalidCoordinatorOptionError);
    expect(() => resolveCoordinatorOptions({ token, precision: 'f16' as never })).toThrow('precision must be one of f32, bf16, got f16');
  });
});
