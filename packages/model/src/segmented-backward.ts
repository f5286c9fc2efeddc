/**
 * The backward pass in segments, each announced the moment its part of the flat vector is final,
 * so that the all-reduce of the output side can run while the input side is still computing.
 *
 *   A. The flat vector (`flat-layout.ts`) is cut into segments at the ResNet's stage boundaries.
 *      In the order they become final: the statistics section (written right after the forward
 *      pass, before any gradient), the head (`fc`), stage 4 (`layer4.*`), 3, 2, 1, and the stem
 *      (`conv1`, `bn1`). Each is one contiguous range, and they are announced from the end of the
 *      vector towards its start, so what is final at any moment is always a suffix of it.
 *   B. The pass itself is the ordinary one: one forward, one `tf.variableGrads`. The forward reads
 *      every trainable parameter through a tap, an identity whose gradient is the parameter's own
 *      (`tf.customGrad` over a clone, which shares the parameter's data). tfjs walks the tape from
 *      the loss back and calls a node's gradient only after every node that consumed its output,
 *      so the `dy` a tap receives is the parameter's complete gradient: the tap copies it into the
 *      flat vector, and when the last parameter of a segment has arrived the segment is final.
 *      Each segment's backward thus starts from the gradient w.r.t. its output, accumulated by the
 *      segment after it, exactly as in one unsegmented pass.
 *   C. Nothing is computed twice and no kernel sees different inputs: the taps add identity nodes
 *      only, so the flat vector is bit-for-bit that of the unsegmented step (a test checks it).
 *      The extra cost is one tape node and one callback per parameter.
 *
 * Once a segment is announced its range belongs to the listener (an all-reduce may average it in
 * place while the rest of the backward runs): nothing here touches it again.
 */
import * as tf from '@tensorflow/tfjs-core';

import { InvalidOptionsError } from './errors.ts';
import type { FlatEntry, FlatLayout } from './flat-layout.ts';
import { readTensorInto } from './tensor-io.ts';

/** A range of the flat vector, `[start, end)`, whose values are final. */
export interface FlatRange {
  /** `statistics`, `head`, `stage4` … `stage1` or `stem`. */
  readonly segment: string;
  readonly start: number;
  readonly end: number;
}

/** Called as each segment of the flat vector becomes final, in the order of `backwardSegments`. */
export type SegmentReadyListener = (range: FlatRange) => void;

/** The segments of a flat layout in the order the segmented backward finishes them. */
export function backwardSegments(layout: FlatLayout): FlatRange[] {
  const segments: FlatRange[] = [];
  if (layout.statisticsLength > 0) segments.push({ segment: 'statistics', start: layout.gradientLength, end: layout.totalLength });
  let current: { segment: string; start: number; end: number } | null = null;
  const inModelOrder: FlatRange[] = [];
  for (const entry of layout.entries) {
    if (entry.section !== 'gradient') continue;
    const segment = segmentOf(entry);
    if (current !== null && current.segment === segment) {
      current.end = entry.offset + entry.size;
      continue;
    }
    if (inModelOrder.some((range) => range.segment === segment)) {
      throw new InvalidOptionsError(`flat layout entry ${entry.name} at offset ${entry.offset} breaks segment '${segment}' into two ranges`);
    }
    current = { segment, start: entry.offset, end: entry.offset + entry.size };
    inModelOrder.push(current);
  }
  return [...segments, ...inModelOrder.reverse()];
}

/** The stage a parameter belongs to, from its torchvision-style name. */
function segmentOf(entry: FlatEntry): string {
  const stage = /^layer(\d+)\./.exec(entry.name);
  if (stage !== null) return `stage${stage[1]}`;
  if (entry.name.startsWith('fc/')) return 'head';
  return 'stem';
}

/**
 * One step's taps: hands the forward pass a stand-in for each parameter (`read`) and writes the
 * parameters' gradients into `flat` as the backward pass reaches them.
 */
export class SegmentedGradientWriter {
  readonly #flat: Float32Array;
  readonly #listener: SegmentReadyListener;
  readonly #entries = new Map<string, { entry: FlatEntry; segment: number }>();
  readonly #segments: FlatRange[];
  /** Parameters each segment still waits for. */
  readonly #missing: number[];
  readonly #written = new Set<string>();
  #announced = 0;
  #statisticsWritten = false;

  constructor(layout: FlatLayout, flat: Float32Array, listener: SegmentReadyListener) {
    if (flat.length !== layout.totalLength) {
      throw new InvalidOptionsError(`the flat vector has ${flat.length} values, the layout ${layout.totalLength}`);
    }
    this.#flat = flat;
    this.#listener = listener;
    this.#segments = backwardSegments(layout);
    this.#missing = this.#segments.map(() => 0);
    for (const entry of layout.entries) {
      if (entry.section !== 'gradient') continue;
      const segment = this.#segments.findIndex((range) => entry.offset >= range.start && entry.offset < range.end);
      this.#entries.set(entry.name, { entry, segment });
      this.#missing[segment] = (this.#missing[segment] as number) + 1;
    }
  }

  /**
   * The tensor the forward pass reads parameter `name` as: an identity of `variable` whose
   * gradient lands in the flat vector. Call it inside the `tf.variableGrads` function.
   */
  read(name: string, variable: tf.Tensor): tf.Tensor {
    const found = this.#entries.get(name);
    if (found === undefined) throw new InvalidOptionsError(`the flat layout has no parameter '${name}' to follow`);
    const tap = tf.customGrad((...args) => {
      const input = args[0] as tf.Tensor;
      return {
        value: tf.clone(input),
        gradFunc: (dy: tf.Tensor | tf.Tensor[]) => {
          const gradient = Array.isArray(dy) ? (dy[0] as tf.Tensor) : dy;
          this.#write(found.entry, found.segment, gradient);
          return [gradient];
        },
      };
    });
    return tap(variable) as tf.Tensor;
  }

  /** The statistics section has been written: announce it (call after the forward pass). */
  statisticsWritten(): void {
    this.#statisticsWritten = true;
    this.#flush();
  }

  /** Throws unless every segment was announced: a parameter the loss did not reach has no gradient. */
  finish(): void {
    if (this.#announced === this.#segments.length) return;
    const missing = [...this.#entries.keys()].filter((name) => !this.#written.has(name));
    throw new InvalidOptionsError(
      `the segmented backward finished ${this.#announced} of ${this.#segments.length} segments; ` +
        `no gradient reached ${missing.slice(0, 5).join(', ')}${missing.length > 5 ? ` and ${missing.length - 5} more` : ''}`,
    );
  }

  #write(entry: FlatEntry, segment: number, gradient: tf.Tensor): void {
    if (this.#written.has(entry.name)) throw new InvalidOptionsError(`parameter '${entry.name}' received a second gradient in one step`);
    this.#written.add(entry.name);
    readTensorInto(gradient, this.#flat, entry.offset);
    this.#missing[segment] = (this.#missing[segment] as number) - 1;
    this.#flush();
  }

  /** Announces, in order, every segment that is final. Segments finish in that order (B), so no time is lost. */
  #flush(): void {
    for (;;) {
      const range = this.#segments[this.#announced];
      if (range === undefined || this.#missing[this.#announced] !== 0) return;
      if (range.segment === 'statistics' && !this.#statisticsWritten) return;
      this.#announced++;
      this.#listener(range);
    }
  }
}
