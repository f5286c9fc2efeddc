/**
 * The data type the native convolutions compute in. `bf16` is mixed precision: oneDNN reads
 * activations, filters and output gradients in bf16 and accumulates and writes float32, so the
 * weights, their gradients, batch norm and the optimizer all stay float32 (float32 master
 * weights). It is offered only where the CPU multiplies bf16 in hardware (AVX512-BF16 or AMX);
 * oneDNN would emulate it elsewhere, slower than float32. Like the thread count, the choice
 * holds for the JavaScript thread that makes it, the one that computes.
 */
import { DEFAULT_ADDON_PATH, loadAddon } from './addon.ts';
import type { NativeAddon } from './addon.ts';
import { InvalidNativeOptionsError, NativeBackendUnavailableError } from './errors.ts';

export const CONVOLUTION_PRECISIONS = ['f32', 'bf16'] as const;
export type ConvolutionPrecision = (typeof CONVOLUTION_PRECISIONS)[number];

const CODES: Readonly<Record<ConvolutionPrecision, number>> = { f32: 0, bf16: 1 };

export type Bf16Support = { readonly supported: true } | { readonly supported: false; readonly reason: string };

/** Whether bf16 convolutions can run here, and if not why; never throws. */
export function bf16ConvolutionSupport(addonPath: string = DEFAULT_ADDON_PATH): Bf16Support {
  const load = loadAddon(addonPath);
  if (!load.ok) return { supported: false, reason: load.reason };
  if (load.addon.bf16InHardware() === 1) return { supported: true };
  const isa = load.addon.version().split(',')[1] ?? 'unknown';
  return { supported: false, reason: `bf16 convolutions need a CPU with AVX512-BF16 or AMX; the best oneDNN finds on this one is ${isa}` };
}

/**
 * Makes the native convolutions of the calling thread compute in `precision`.
 * @throws InvalidNativeOptionsError for bf16 on a CPU without bf16 arithmetic, or an unknown name
 */
export function setConvolutionPrecision(precision: ConvolutionPrecision, addonPath: string = DEFAULT_ADDON_PATH): void {
  const code = Object.hasOwn(CODES, precision) ? CODES[precision] : undefined;
  if (code === undefined) {
    throw new InvalidNativeOptionsError(`unknown convolution precision '${String(precision)}'; choose one of ${CONVOLUTION_PRECISIONS.join(', ')}`);
  }
  const addon = requireAddon(addonPath);
  if (precision === 'bf16') {
    const support = bf16ConvolutionSupport(addonPath);
    if (!support.supported) throw new InvalidNativeOptionsError(support.reason);
  }
  addon.setConvolutionPrecision(code);
}

/** The precision the calling thread's native convolutions compute in. */
export function convolutionPrecision(addonPath: string = DEFAULT_ADDON_PATH): ConvolutionPrecision {
  return requireAddon(addonPath).getConvolutionPrecision() === CODES.bf16 ? 'bf16' : 'f32';
}

function requireAddon(addonPath: string): NativeAddon {
  const load = loadAddon(addonPath);
  if (!load.ok) throw new NativeBackendUnavailableError(load.reason);
  return load.addon;
}
