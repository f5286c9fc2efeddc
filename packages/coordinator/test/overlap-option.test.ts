import { describe, expect, it } from 'vitest';
import { InvalidCoordinatorOptionError, machineConfig, resolveCoordinatorOptions } from '../src/index.ts';

const token = 'a-token-of-enough-length';
const counts = { train: 60, test: 0 };

describe('the overlap option', () => {
  it('is off by default and then left out of the hyper-parameters the workers are sent', () => {
    const options = resolveCoordinatorOptions({ token });
    expect(options.overlap).toBe(false);
    expect(Object.hasOwn(machineConfig(options, counts).hyper, 'overlap')).toBe(false);
  });

  it('reaches the hyper-parameters of every assignment when on', () => {
    const options = resolveCoordinatorOptions({ token, overlap: true });
    expect(machineConfig(options, counts).hyper.overlap).toBe(true);
  });

  it.each(['bf16', 'f16', 'powersgd'] as const)('refuses to combine with compression %s, naming both', (method) => {
    expect(() => resolveCoordinatorOptions({ token, overlap: true, compression: { method } })).toThrow(InvalidCoordinatorOptionError);
    expect(() => resolveCoordinatorOptions({ token, overlap: true, compression: { method } })).toThrow(`overlap needs compression none, got compression ${method}`);
  });

  it('refuses a value that is not true or false', () => {
    expect(() => resolveCoordinatorOptions({ token, overlap: 'yes' as unknown as boolean })).toThrow('overlap must be true or false, got yes');
  });
});

describe('the delayed all-reduce option', () => {
  it('is off by default and then left out of the hyper-parameters the workers are sent', () => {
    const options = resolveCoordinatorOptions({ token });
    expect(options.delayedAllReduce).toBe(false);
    expect(Object.hasOwn(machineConfig(options, counts).hyper, 'delayedAllReduce')).toBe(false);
  });

  it('goes to the workers in the assignment when on, with any compression', () => {
    const options = resolveCoordinatorOptions({ token, delayedAllReduce: true, compression: { method: 'powersgd' } });
    expect(machineConfig(options, counts).hyper.delayedAllReduce).toBe(true);
  });

  it('is refused with overlap, naming both', () => {
    expect(() => resolveCoordinatorOptions({ token, delayedAllReduce: true, overlap: true })).toThrow(InvalidCoordinatorOptionError);
    expect(() => resolveCoordinatorOptions({ token, delayedAllReduce: true, overlap: true })).toThrow('delayedAllReduce and overlap cannot both be on');
  });

  it('refuses what is not a boolean', () => {
    expect(() => resolveCoordinatorOptions({ token, delayedAllReduce: 1 as unknown as boolean })).toThrow('delayedAllReduce must be true or false, got 1');
  });
});
