import { bf16ConvolutionSupport } from '@ringtrain/model';
import { describe, expect, it } from 'vitest';
import { InvalidArgumentError } from '../src/errors.ts';
import { resolvePrecision, workerBackendFor } from '../src/precision.ts';
import { resolveRecipe } from '../src/recipes.ts';

const bf16Here = bf16ConvolutionSupport().supported;

describe('the precision a run resolves to', () => {
  it('is float32 unless asked, and auto in the fast preset alone', () => {
    expect(resolveRecipe({}, undefined).precision).toBe('f32');
    expect(resolveRecipe({}, 'd2l').precision).toBe('f32');
    expect(resolveRecipe({}, 'fast').precision).toBe('auto');
    expect(resolveRecipe({ precision: 'f32' }, 'fast').precision).toBe('f32');
  });

  it('takes auto as bf16 for local native workers exactly when this CPU computes bf16', () => {
    expect(resolvePrecision('auto', { local: true, backend: 'auto' })).toBe(bf16Here ? 'bf16' : 'f32');
    expect(resolvePrecision('auto', { local: true, backend: 'native' })).toBe(bf16Here ? 'bf16' : 'f32');
  });

  it('takes auto as float32 for workers elsewhere, or on another backend', () => {
    expect(resolvePrecision('auto', { local: false })).toBe('f32');
    expect(resolvePrecision('auto', { local: true, backend: 'wasm' })).toBe('f32');
  });

  it('passes bf16 on to remote workers, which check for themselves', () => {
    expect(resolvePrecision('bf16', { local: false })).toBe('bf16');
  });

  it('refuses bf16 for local workers on another backend, naming it', () => {
    expect(() => resolvePrecision('bf16', { local: true, backend: 'cpu' })).toThrow(InvalidArgumentError);
    expect(() => resolvePrecision('bf16', { local: true, backend: 'cpu' })).toThrow('--precision bf16 runs on the native backend only, not on --backend cpu');
  });

  it('starts bf16 workers of --backend auto on native, which tfjs-node would otherwise win', () => {
    expect(workerBackendFor('bf16', 'auto')).toBe('native');
    expect(workerBackendFor('f32', 'auto')).toBe('auto');
    expect(workerBackendFor('bf16', 'native')).toBe('native');
  });
});
