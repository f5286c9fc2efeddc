/**
 * @ringtrain/model's SGD update in native code: the same arithmetic as its JavaScript loops, bit
 * for bit (native/sgd.cc says how), vectorised and split across the addon's threads. The model's
 * `Sgd` uses it whenever the addon loads, whatever the tfjs backend, since replicas that mix
 * it with the JavaScript loops still agree exactly. It runs on the native backend's threads when
 * that backend is registered, and on one thread otherwise: a worker on another backend has not
 * been given a share of the machine's cores, and the update is memory-bound anyway.
 */
import { DEFAULT_ADDON_PATH, SGD_KINDS, loadAddon } from './addon.ts';
import { registeredNativeThreads } from './native-backend.ts';

export type SgdVariant = keyof typeof SGD_KINDS;

/** Values [start, end) of the parameter vector, with or without weight decay. */
export interface SgdSegment {
  readonly start: number;
  readonly end: number;
  readonly decays: boolean;
}

export interface SgdHyperParameters {
  readonly weightDecay: number;
  /** μ; for the first step of Nesterov momentum μ, and 0 for the first step without it. */
  readonly momentum: number;
  /** 1 − dampening. */
  readonly keep: number;
  readonly learningRate: number;
}

/** Updates `parameters` (and `buffer`) in place. */
export type NativeSgdStep = (
  variant: SgdVariant,
  parameters: Float32Array,
  gradient: Float32Array,
  buffer: Float32Array | null,
  segments: Int32Array,
  hyper: SgdHyperParameters,
) => void;

/** Segments as the addon takes them, ascending and disjoint. */
export function encodeSgdSegments(segments: readonly SgdSegment[]): Int32Array {
  return Int32Array.from(segments.flatMap((s) => [s.start, s.end, s.decays ? 1 : 0]));
}

/** The native update, or null when the addon is not built or does not load. */
export function nativeSgdStep(addonPath: string = DEFAULT_ADDON_PATH): NativeSgdStep | null {
  const load = loadAddon(addonPath);
  if (!load.ok) return null;
  const { addon } = load;
  return (variant, parameters, gradient, buffer, segments, hyper) => {
    const maxThreads = registeredNativeThreads() ?? 1;
    addon.sgdStep(SGD_KINDS[variant], parameters, gradient, buffer, segments, hyper.weightDecay, hyper.momentum, hyper.keep, hyper.learningRate, maxThreads);
  };
}
