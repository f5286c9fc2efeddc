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

/** Makes the native backend unavailable, as on a machine without libdnnl-dev. */
const WITHOUT_NATIVE = { nativeAddonPath: '/nonexistent/ringtrain_dnnl.node' } as const;

describe('selectBackend', () => {
  it('picks the native backend when its addon is built and the tfjs-node packages are absent', async () => {
    const selection = await selectBackend('auto');
    expect(selection.name).toBe('native');
    expect(tf.getBackend()).toBe('native');
    expect(selection.detail).toMatch(/^oneDNN \d+\.\d+\.\d+ \(.+\), \d+ thread\(s\)$/);
    expect(selection.reasons.map((r) => r.backend)).toEqual(['tfjs-node-gpu', 'tfjs-node']);
  });

  it("picks wasm when native cannot load either, saying why each faster backend was skipped", async () => {
    const selection = await selectBackend('auto', WITHOUT_NATIVE);
    expect(selection.name).toBe('wasm');
    expect(tf.getBackend()).toBe('wasm');
    expect(selection.reasons.map((r) => r.backend)).toEqual(['tfjs-node-gpu', 'tfjs-node', 'native']);
    expect(selection.reasons[0]?.skippedBecause).toMatch(/@tensorflow\/tfjs-node-gpu is not installed/);
    expect(selection.reasons[1]?.skippedBecause).toMatch(/@tensorflow\/tfjs-node is not installed/);
    expect(selection.reasons[2]?.skippedBecause).toMatch(/apt-get install libdnnl-dev/);
    expect(selection.detail).toMatch(/simd build, 1 thread\(s\), training kernels registered/);
    expect(tf.getKernel('Conv2DBackpropFilter', 'wasm')).toBeDefined();
  });

  it('tries the backends fastest first', () => {
    expect(AUTO_BACKEND_ORDER).toEqual(['tfjs-node-gpu', 'tfjs-node', 'native', 'wasm', 'cpu']);
  });

  it('logs the choice once, as describeBackendSelection words it', async () => {
    const lines: string[] = [];
    const selection = await selectBackend('auto', { ...WITHOUT_NATIVE, log: (line) => lines.push(line) });
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

  it('throws for an explicit native choice whose addon is missing, naming the package to install', async () => {
    await expect(selectBackend('native', WITHOUT_NATIVE)).rejects.toThrow(/backend 'native' is unavailable: .*apt-get install libdnnl-dev/);
  });

  it.each([0, 2.5])('rejects %s native threads before trying any backend', async (nativeThreads) => {
    await expect(selectBackend('auto', { nativeThreads })).rejects.toThrow(InvalidBackendOptionsError);
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
    const selection = await selectBackend('auto', { ...WITHOUT_NATIVE, importModule: async () => ({}) });
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
