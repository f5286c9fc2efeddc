/**
 * What every native kernel works with: the addon, the tensors' `Float32Array`s in the cpu
 * backend's data map (inputs read in place; outputs taken from the backend's pool and handed to
 * the data map, so a disposed tensor releases its memory as on the cpu backend), and tfjs's cpu
 * kernel of the same name for whatever a native kernel does not cover (other dtypes, layouts or
 * attributes).
 */
import { getKernel } from '@tensorflow/tfjs-core';
import type { KernelConfig, KernelFunc, NamedAttrMap, NamedTensorInfoMap, TensorInfo } from '@tensorflow/tfjs-core';
import type { MathBackendCPU } from '@tensorflow/tfjs-backend-cpu';

import type { NativeAddon } from '../addon.ts';
import { MissingCpuKernelError } from '../errors.ts';

/** The backend a native kernel runs on: the cpu backend's data map plus pooled output arrays. */
export type NativeKernelBackend = MathBackendCPU & {
  /** An array for a kernel output; its contents are arbitrary, the kernel must write them all. */
  allocate(length: number): Float32Array;
};

export interface KernelArgs {
  readonly inputs: NamedTensorInfoMap;
  readonly backend: NativeKernelBackend;
  readonly attrs: NamedAttrMap;
}

/** Counts of how often each kernel ran natively and how often it handed over to the cpu kernel. */
export interface KernelCounts {
  native: number;
  fallback: number;
}

export class KernelContext {
  readonly addon: NativeAddon;
  readonly backendName: string;
  readonly counts = new Map<string, KernelCounts>();
  private readonly cpuKernels = new Map<string, KernelFunc>();

  constructor(addon: NativeAddon, backendName: string) {
    this.addon = addon;
    this.backendName = backendName;
  }

  /** tfjs's cpu kernel `kernelName`, looked up once. */
  cpu(kernelName: string): KernelFunc {
    let kernel = this.cpuKernels.get(kernelName);
    if (kernel === undefined) {
      const config = getKernel(kernelName, 'cpu');
      if (config === undefined) throw new MissingCpuKernelError(kernelName);
      kernel = config.kernelFunc;
      this.cpuKernels.set(kernelName, kernel);
    }
    return kernel;
  }

  /**
   * A kernel config for this backend: `run` returns the result, or `null` to hand the call to
   * the cpu kernel. A case the addon declines (`ERR_NATIVE_UNSUPPORTED`) or oneDNN refuses
   * (`ERR_NATIVE_DNNL`) also goes to the cpu kernel; any other error is a bug and propagates.
   */
  kernel(kernelName: string, run: (args: KernelArgs) => TensorInfo | TensorInfo[] | null): KernelConfig {
    const counts: KernelCounts = { native: 0, fallback: 0 };
    this.counts.set(kernelName, counts);
    const kernelFunc: KernelFunc = (params) => {
      const args = params as unknown as KernelArgs;
      let result: TensorInfo | TensorInfo[] | null;
      try {
        result = run({ inputs: args.inputs, backend: args.backend, attrs: args.attrs ?? {} });
      } catch (error) {
        const code = (error as { code?: unknown }).code;
        if (code !== 'ERR_NATIVE_DNNL' && code !== 'ERR_NATIVE_UNSUPPORTED') throw error;
        result = null;
      }
      if (result !== null) {
        counts.native++;
        return result;
      }
      counts.fallback++;
      return this.cpu(kernelName)(params);
    };
    return { kernelName, backendName: this.backendName, kernelFunc };
  }

  /** A kernel config for a kernel tfjs has no cpu kernel of: `run` handles every call or throws. */
  ownKernel(kernelName: string, run: (args: KernelArgs) => TensorInfo | TensorInfo[]): KernelConfig {
    const counts: KernelCounts = { native: 0, fallback: 0 };
    this.counts.set(kernelName, counts);
    const kernelFunc: KernelFunc = (params) => {
      const args = params as unknown as KernelArgs;
      const result = run({ inputs: args.inputs, backend: args.backend, attrs: args.attrs ?? {} });
      counts.native++;
      return result;
    };
    return { kernelName, backendName: this.backendName, kernelFunc };
  }
}

/** The tensor's values when it is a float32 tensor stored as a Float32Array, else null. */
export function float32Values(backend: MathBackendCPU, tensor: TensorInfo | undefined): Float32Array | null {
  if (tensor === undefined || tensor.dtype !== 'float32') return null;
  const values = backend.data.get(tensor.dataId)?.values;
  return values instanceof Float32Array ? values : null;
}

export function sizeOf(shape: readonly number[]): number {
  let size = 1;
  for (const d of shape) size *= d;
  return size;
}

/** A new float32 tensor in the backend's data map, owning `values`. */
export function output(backend: MathBackendCPU, shape: number[], values: Float32Array): TensorInfo {
  return backend.makeTensorInfo(shape, 'float32', values);
}
