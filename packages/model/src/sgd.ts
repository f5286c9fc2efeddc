/**
 * SGD with momentum, Nesterov momentum and weight decay, with PyTorch's `torch.optim.SGD`
 * semantics, applied to a flat parameter vector laid out as the gradient section of a
 * `FlatLayout`. For every value, with decay d (0 where it does not apply), momentum μ,
 * dampening τ and learning rate η:
 *
 *   g ← g + d·p
 *   b ← g                      on the first step
 *   b ← μ·b + (1 − τ)·g        afterwards
 *   g ← g + μ·b  (Nesterov)  or  g ← b
 *   p ← p − η·g
 *
 * It runs on `Float32Array`s, independent of the tfjs backend: every replica holds the same
 * parameters and applies the same averaged gradient, so the result is bit-identical across
 * replicas. The loops below are the definition; when the native addon loads, its copy of them
 * (bit for bit the same arithmetic, vectorised and threaded; @ringtrain/backend-native's
 * `nativeSgdStep`) runs instead, several times faster over a ResNet's millions of parameters.
 * (A NaN comes out as a NaN either way, though not always with the same sign bit.)
 */
import { encodeSgdSegments, nativeSgdStep } from '@ringtrain/backend-native';
import type { NativeSgdStep, SgdVariant } from '@ringtrain/backend-native';

import { withDefaults } from './with-defaults.ts';
import { FlatLengthMismatchError, InvalidOptionsError } from './errors.ts';
import { sectionEntries } from './flat-layout.ts';
import type { FlatEntry, FlatLayout } from './flat-layout.ts';

export interface SgdOptions {
  /** Momentum factor μ; 0 turns momentum off. @default 0.9 */
  readonly momentum: number;
  /** Dampening τ of the momentum buffer update. @default 0 */
  readonly dampening: number;
  /** Nesterov momentum (needs μ > 0 and τ = 0, as in PyTorch). @default false */
  readonly nesterov: boolean;
  /** L2 weight decay added to the gradient (PyTorch's `weight_decay`). @default 0.0001 */
  readonly weightDecay: number;
  /**
   * Also decay batch-norm γ, β and the dense bias. Off by default: decaying them only pulls the
   * normalisation towards zero scale without regularising anything.
   * @default false
   */
  readonly decayBatchNormAndBias: boolean;
}

export const DEFAULT_SGD_OPTIONS: SgdOptions = {
  momentum: 0.9,
  dampening: 0,
  nesterov: false,
  weightDecay: 1e-4,
  decayBatchNormAndBias: false,
};

/** The optimizer's state: the momentum buffer in gradient-section layout, null before the first step. */
export interface SgdState {
  readonly momentumBuffer: Float32Array | null;
}

/** Whether weight decay applies to an entry under the given options. */
export function decays(entry: FlatEntry, options: SgdOptions): boolean {
  if (entry.role === 'conv-kernel' || entry.role === 'dense-kernel') return true;
  return options.decayBatchNormAndBias;
}

export function resolveSgdOptions(input: Partial<SgdOptions> = {}): SgdOptions {
  const options = withDefaults(DEFAULT_SGD_OPTIONS, input);
  const { momentum, dampening, weightDecay } = options;
  if (!Number.isFinite(momentum) || momentum < 0 || momentum >= 1) {
    throw new InvalidOptionsError(`SGD momentum must be in [0, 1), got ${momentum}`);
  }
  if (!Number.isFinite(dampening) || dampening < 0 || dampening > 1) {
    throw new InvalidOptionsError(`SGD dampening must be in [0, 1], got ${dampening}`);
  }
  if (!Number.isFinite(weightDecay) || weightDecay < 0) {
    throw new InvalidOptionsError(`SGD weightDecay must be a non-negative number, got ${weightDecay}`);
  }
  if (options.nesterov && (momentum === 0 || dampening !== 0)) {
    throw new InvalidOptionsError(
      `Nesterov momentum needs momentum > 0 and dampening 0, got momentum ${momentum} and dampening ${dampening}`,
    );
  }
  return options;
}

export interface SgdImplementation {
  /** The native update to run instead of the JavaScript loops; null runs the loops. @default nativeSgdStep() */
  readonly native?: NativeSgdStep | null;
}

export class Sgd {
  readonly options: SgdOptions;
  private readonly entries: readonly FlatEntry[];
  private readonly length: number;
  private readonly native: NativeSgdStep | null;
  private readonly segments: Int32Array;
  private momentumBuffer: Float32Array | null = null;

  constructor(layout: FlatLayout, options: Partial<SgdOptions> = {}, implementation: SgdImplementation = {}) {
    this.options = resolveSgdOptions(options);
    this.entries = sectionEntries(layout, 'gradient');
    this.length = layout.gradientLength;
    this.native = implementation.native === undefined ? nativeSgdStep() : implementation.native;
    this.segments = encodeSgdSegments(
      this.entries.map((entry) => ({ start: entry.offset, end: entry.offset + entry.size, decays: decays(entry, this.options) })),
    );
  }

  /** Whether updates run in the native addon rather than in JavaScript. */
  get isNative(): boolean {
    return this.native !== null;
  }

  /** Updates `parameters` in place from `gradient` (both gradient-section layout). */
  step(parameters: Float32Array, gradient: Float32Array, learningRate: number): void {
    if (parameters.length !== this.length || gradient.length !== this.length) {
      throw new FlatLengthMismatchError(
        `SGD step: the layout has ${this.length} parameters, got ${parameters.length} parameters and ${gradient.length} gradient values`,
      );
    }
    if (!Number.isFinite(learningRate) || learningRate < 0) {
      throw new InvalidOptionsError(`learning rate must be a non-negative number, got ${learningRate}`);
    }
    const { momentum, dampening, nesterov, weightDecay } = this.options;
    const first = this.momentumBuffer === null;
    const buffer = momentum === 0 ? null : (this.momentumBuffer ??= new Float32Array(this.length));
    if (this.native !== null) {
      const variant: SgdVariant = buffer === null ? 'plain' : first ? 'firstMomentum' : nesterov ? 'nesterov' : 'momentum';
      const mu = variant === 'firstMomentum' && !nesterov ? 0 : momentum;
      this.native(variant, parameters, gradient, buffer, this.segments, { weightDecay, momentum: mu, keep: 1 - dampening, learningRate });
      return;
    }
    for (const entry of this.entries) {
      const decay = decays(entry, this.options) ? weightDecay : 0;
      const start = entry.offset;
      const end = start + entry.size;
      // One loop per case keeps each loop free of branches (about twice as fast in V8).
      if (buffer === null) plainStep(parameters, gradient, decay, learningRate, start, end);
      else if (first) firstMomentumStep(parameters, gradient, buffer, decay, nesterov ? momentum : 0, learningRate, start, end);
      else if (nesterov) nesterovStep(parameters, gradient, buffer, decay, momentum, learningRate, start, end);
      else momentumStep(parameters, gradient, buffer, decay, momentum, 1 - dampening, learningRate, start, end);
    }
  }

  /** A copy of the state, for checkpoints. */
  getState(): SgdState {
    return { momentumBuffer: this.momentumBuffer === null ? null : this.momentumBuffer.slice() };
  }

  setState(state: SgdState): void {
    const buffer = state.momentumBuffer;
    if (buffer !== null && buffer.length !== this.length) {
      throw new FlatLengthMismatchError(
        `SGD state: the layout has ${this.length} parameters, the momentum buffer has ${buffer.length}`,
      );
    }
    this.momentumBuffer = buffer === null ? null : buffer.slice();
  }
}

function plainStep(p: Float32Array, g: Float32Array, decay: number, lr: number, start: number, end: number): void {
  for (let i = start; i < end; i++) p[i] = p[i]! - lr * (g[i]! + decay * p[i]!);
}

/** b ← g; then p ← p − η·(g + ν·b) where ν is μ for Nesterov and 0 otherwise (so p ← p − η·b). */
function firstMomentumStep(
  p: Float32Array,
  g: Float32Array,
  b: Float32Array,
  decay: number,
  nesterovMomentum: number,
  lr: number,
  start: number,
  end: number,
): void {
  for (let i = start; i < end; i++) {
    const d = Math.fround(g[i]! + decay * p[i]!);
    b[i] = d;
    p[i] = p[i]! - lr * (d + nesterovMomentum * d);
  }
}

function momentumStep(
  p: Float32Array,
  g: Float32Array,
  b: Float32Array,
  decay: number,
  momentum: number,
  keep: number,
  lr: number,
  start: number,
  end: number,
): void {
  for (let i = start; i < end; i++) {
    const v = Math.fround(momentum * b[i]! + keep * (g[i]! + decay * p[i]!));
    b[i] = v;
    p[i] = p[i]! - lr * v;
  }
}

function nesterovStep(
  p: Float32Array,
  g: Float32Array,
  b: Float32Array,
  decay: number,
  momentum: number,
  lr: number,
  start: number,
  end: number,
): void {
  for (let i = start; i < end; i++) {
    const d = Math.fround(g[i]! + decay * p[i]!);
    const v = Math.fround(momentum * b[i]! + d);
    b[i] = v;
    p[i] = p[i]! - lr * (d + momentum * v);
  }
}
