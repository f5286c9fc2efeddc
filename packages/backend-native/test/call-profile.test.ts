import * as tf from '@tensorflow/tfjs-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import { NativeProfileRunningError, startNativeCallProfile } from '../src/index.ts';
import { nativeAvailable, nativeSuite, useCpuBackend, useNativeBackend } from './support/native.ts';

describe.skipIf(!nativeAvailable)(nativeSuite('profiling calls into the addon'), () => {
  beforeAll(() => useNativeBackend(1));
  afterAll(() => useCpuBackend());

  const convolve = (): void => {
    tf.tidy(() => tf.conv2d(tf.ones([2, 6, 6, 3]) as tf.Tensor4D, tf.ones([3, 3, 3, 4]) as tf.Tensor4D, 1, 'same').dataSync());
  };

  it('counts and times each addon function called while it runs, and nothing after', () => {
    const profile = startNativeCallProfile();
    convolve();
    convolve();
    const totals = profile.stop();
    expect(totals.get('conv2d')?.calls).toBe(2);
    expect(totals.get('conv2d')?.milliseconds).toBeGreaterThan(0);
    expect(totals.has('sgdStep')).toBe(false);

    const next = startNativeCallProfile();
    const after = next.stop();
    expect(after.size).toBe(0);
    convolve();
    expect(totals.get('conv2d')?.calls).toBe(2);
  });

  it('refuses a second profile while one runs', () => {
    const profile = startNativeCallProfile();
    try {
      expect(() => startNativeCallProfile()).toThrow(NativeProfileRunningError);
    } finally {
      profile.stop();
    }
  });
});
