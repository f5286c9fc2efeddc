import * as tf from '@tensorflow/tfjs-core';
import { MathBackendCPU } from '@tensorflow/tfjs-backend-cpu';
import { afterEach, describe, expect, it } from 'vitest';

import {
  AUTO_BACKEND_ORDER,
  BackendUnavailableError,
  InvalidBackendOptionsError,
  UnknownBackendError,
  describeBackendSelection,
  selectBackend,
} from '../../src/backends/index.ts';

/** A stand-in for a tfjs-node package: importing it registers a 'tensorflow' backend. */
function packageRegisteringTensorflow(isUsingGpuDevice: boolean): (specifier: string) => Promise<unknown> {
  return async () => {
    if (tf.findBackendFactory('tensorflow') == null) {
      tf.registerBackend('tensorflow', () => Object.assign(new MathBackendCPU(), { isUsingGpuDevice }));
    }
    return {};
  };
}

afterEach(() => {
  if (tf.findBackendFactory('tensorflow') != null) tf.removeBackend('tensorflow');
});

describe('selectBackend', () => {
  it("picks wasm on a machine without the tfjs-node packages, saying why each faster backend was skipped", async () => {
    const selection = await selectBackend('auto');
    expect(selection.name).toBe('wasm');
    expect(tf.getBackend()).toBe('wasm');
    expect(selection.reasons.map((r) => r.backend)).toEqual(['tfjs-node-gpu', 'tfjs-node', 'native']);
    expect(selection.reasons[0]?.skippedBecause).toMatch(/@tensorflow\/tfjs-node-gpu is not installed/);
    expect(selection.reasons[1]?.skippedBecause).toMatch(/@tensorflow\/tfjs-node is not installed/);
    expect(selection.reasons[2]?.skippedBecause).toMatch(/not built yet/);
    expect(selection.detail).toMatch(/simd build, 1 thread\(s\), training kernels registered/);
    expect(tf.getKernel('Conv2DBackpropFilter', 'wasm')).toBeDefined();
  });

  it('tries the backends fastest first', () => {
    expect(AUTO_BACKEND_ORDER).toEqual(['tfjs-node-gpu', 'tfjs-node', 'native', 'wasm', 'cpu']);
  });

  it('logs the choice once, as describeBackendSelection words it', async () => {
    const lines: string[] = [];
    const selection = await selectBackend('auto', { log: (line) => lines.push(line) });
    expect(lines).toEqual([describeBackendSelection(selection)]);
    expect(lines[0]).toMatch(/^backend wasm \(.*\); skipped tfjs-node-gpu: .*; tfjs-node: .*; native: .*$/);
  });

  it('makes an explicit cpu choice current', async () => {
    const selection = await selectBackend('cpu');
    expect(selection).toEqual({ name: 'cpu', tfBackend: 'cpu', detail: 'JavaScript kernels', reasons: [] });
    expect(tf.getBackend()).toBe('cpu');
  });

  it('throws for an explicit backend that is not installed, naming it and the reason', async () => {
    const failure = selectBackend('tfjs-node');
    await expect(failure).rejects.toThrow(BackendUnavailableError);
    await expect(failure).rejects.toThrow("backend 'tfjs-node' is unavailable: @tensorflow/tfjs-node is not installed");
  });

  it('throws for the native backend, which is not built yet', async () => {
    await expect(selectBackend('native')).rejects.toThrow("backend 'native' is unavailable: the native oneDNN backend is not built yet");
  });

  it('rejects an unknown name, listing the known ones', async () => {
    await expect(selectBackend('tpu')).rejects.toThrow(UnknownBackendError);
    await expect(selectBackend('tpu')).rejects.toThrow(/unknown backend 'tpu'; choose one of 'auto', 'tfjs-node-gpu'/);
  });

  it.each([0, 1.5, 9])('rejects %s wasm threads before trying any backend', async (wasmThreads) => {
    await expect(selectBackend('auto', { wasmThreads })).rejects.toThrow(InvalidBackendOptionsError);
  });

  it('skips tfjs-node-gpu when TensorFlow sees no GPU, and takes its CPU kernels as tfjs-node', async () => {
    const importModule = async (specifier: string): Promise<unknown> => {
      if (specifier === '@tensorflow/tfjs-node-gpu') return packageRegisteringTensorflow(false)(specifier);
      throw Object.assign(new Error(`Cannot find package '${specifier}' imported from here`), { code: 'ERR_MODULE_NOT_FOUND' });
    };
    const selection = await selectBackend('auto', { importModule });
    expect(selection.name).toBe('tfjs-node');
    expect(selection.tfBackend).toBe('tensorflow');
    expect(selection.detail).toMatch(/from @tensorflow\/tfjs-node-gpu/);
    expect(selection.reasons).toEqual([
      { backend: 'tfjs-node-gpu', skippedBecause: expect.stringMatching(/sees no GPU device/) },
    ]);
  });

  it('takes tfjs-node-gpu when TensorFlow reports a GPU device', async () => {
    const selection = await selectBackend('auto', { importModule: packageRegisteringTensorflow(true) });
    expect(selection.name).toBe('tfjs-node-gpu');
    expect(selection.reasons).toEqual([]);
    expect(tf.getBackend()).toBe('tensorflow');
  });

  it('reports a package that loads but registers no backend', async () => {
    const selection = await selectBackend('auto', { importModule: async () => ({}) });
    expect(selection.name).toBe('wasm');
    expect(selection.reasons[0]?.skippedBecause).toMatch(/registered no 'tensorflow' backend/);
  });

  it('reports a package that is installed but fails to load, with its error', async () => {
    const importModule = async (): Promise<unknown> => {
      throw new Error('libtensorflow.so.2: cannot open shared object file');
    };
    const selection = await selectBackend('auto', { importModule });
    expect(selection.reasons[0]?.skippedBecause).toBe(
      '@tensorflow/tfjs-node-gpu is installed but failed to load: libtensorflow.so.2: cannot open shared object file',
    );
  });
});
