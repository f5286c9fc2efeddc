import { convolutionPrecision, nativeBackendAvailability } from '@ringtrain/backend-native';
import { afterEach, describe, expect, it } from 'vitest';

import { bf16ConvolutionSupport, convolutionPrecisionsOn, UnsupportedPrecisionError, useConvolutionPrecision } from '../../src/backends/index.ts';

const nativeAvailable = nativeBackendAvailability().available;

describe('the convolution precision of a replica', () => {
  afterEach(() => {
    if (nativeAvailable) useConvolutionPrecision('native', 'f32');
  });

  it.each(['wasm', 'cpu', 'tfjs-node'] as const)('refuses bf16 on %s, naming the backend and the fix', (backend) => {
    expect(() => useConvolutionPrecision(backend, 'bf16')).toThrow(UnsupportedPrecisionError);
    expect(() => useConvolutionPrecision(backend, 'bf16')).toThrow(`bf16 convolutions run on the native backend only; this replica computes on '${backend}' (start the worker with --backend native)`);
  });

  it('takes float32 on any backend', () => {
    expect(() => useConvolutionPrecision('wasm', 'f32')).not.toThrow();
  });

  it.skipIf(!nativeAvailable)('sets the native backend to what the CPU can do, and refuses bf16 where it cannot', () => {
    const support = bf16ConvolutionSupport();
    if (support.supported) {
      useConvolutionPrecision('native', 'bf16');
      expect(convolutionPrecision()).toBe('bf16');
    } else {
      expect(() => useConvolutionPrecision('native', 'bf16')).toThrow(new UnsupportedPrecisionError(support.reason));
      expect(convolutionPrecision()).toBe('f32');
    }
    useConvolutionPrecision('native', 'f32');
    expect(convolutionPrecision()).toBe('f32');
  });

  it.each(['wasm', 'cpu', 'tfjs-node', ...(nativeAvailable ? ['native' as const] : [])] as const)('offers on %s exactly the precisions it accepts', (backend) => {
    const offered = convolutionPrecisionsOn(backend);
    expect(offered).toContain('f32');
    for (const precision of ['f32', 'bf16'] as const) {
      const accepted = (() => {
        try {
          useConvolutionPrecision(backend, precision);
          return true;
        } catch {
          return false;
        }
      })();
      expect(offered.includes(precision), precision).toBe(accepted);
    }
  });
});
