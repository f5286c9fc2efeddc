import * as tf from '@tensorflow/tfjs-core';
import '@tensorflow/tfjs-layers';
import { describe, expect, it } from 'vitest';

import { InvalidBackendOptionsError, initWasmBackend, selectBackend } from '../../src/backends/index.ts';

// A file of its own: the thread count is fixed once the wasm backend starts in a process.
describe('the threaded wasm build in Node', () => {
  it('starts with two XNNPACK threads and trains a convolution like the cpu backend', async () => {
    const selection = await selectBackend('wasm', { wasmThreads: 2 });
    expect(selection.detail).toMatch(/^threaded-simd build, 2 thread\(s\)/);

    const gradient = async (backend: string): Promise<Float32Array> => {
      await tf.setBackend(backend);
      return tf.tidy(() => {
        const x = tf.tensor4d(Float32Array.from({ length: 2 * 9 * 9 * 3 }, (_, i) => Math.sin(i)), [2, 9, 9, 3]);
        const w = tf.tensor4d(Float32Array.from({ length: 3 * 3 * 3 * 16 }, (_, i) => Math.cos(i)), [3, 3, 3, 16]);
        const g = tf.grad((f: tf.Tensor) => tf.sum(tf.square(tf.conv2d(x, f as tf.Tensor4D, 2, 'same'))))(w);
        return g.dataSync() as Float32Array;
      });
    };
    const wasm = await gradient('wasm');
    const cpu = await gradient('cpu');
    const scale = Math.max(...cpu.map(Math.abs));
    const worst = Math.max(...wasm.map((v, i) => Math.abs(v - (cpu[i] as number))));
    expect(worst / scale).toBeLessThan(1e-5);
  });

  it('refuses another thread count once started', async () => {
    await expect(initWasmBackend({ threads: 1 })).rejects.toThrow(InvalidBackendOptionsError);
    await expect(initWasmBackend({ threads: 1 })).rejects.toThrow(/already running with 2 thread\(s\)/);
  });
});
