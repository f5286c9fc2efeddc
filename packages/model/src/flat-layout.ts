/**
 * The flat vector a training step hands to the all-reduce, and its fixed order.
 *
 * One `Float32Array`, identical in layout on every worker because it is derived from the
 * architecture alone (depth, stem, widths, channels, classes; not the batch or image size):
 *
 *   [ gradient section                         | statistics section                          ]
 *   [ ∂loss/∂p for every trainable p, model    | every batch-norm layer's running mean, then  ]
 *   [ order: stem conv, bn1 γ, β; each block's | its running variance, as they stand after    ]
 *   [ path convs and BNs, then its shortcut;   | this step's forward pass (model order)       ]
 *   [ fc kernel, fc bias                       |                                              ]
 *
 * Model order is `listParameters` / `listStatistics` in `resnet.ts`: the stem, then each block's
 * path (conv1, bn1, conv2, bn2[, conv3, bn3]) followed by its shortcut (downsample.0 conv,
 * downsample.1 BN), then the dense head. Conv kernels are HWIO and the dense kernel [in, out],
 * row-major, as tfjs stores them.
 *
 * The all-reduce averages the whole vector. For the gradient section that is ordinary
 * data-parallel SGD. For the statistics section it keeps every replica's batch-norm running
 * statistics identical: every replica starts the step from the same running values r, so the
 * average of the replicas' updates (1 − m)·r + m·bᵢ is (1 − m)·r + m·mean(bᵢ), the running
 * average of the replicas' averaged batch statistics.
 */
import { createHash } from 'node:crypto';

import { listParameters, listStatistics } from './resnet.ts';
import type { ParameterRole, ResNetArchitecture, StatisticRole } from './resnet.ts';

export type FlatSection = 'gradient' | 'statistics';

export interface FlatEntry {
  /** `layer/weight`, e.g. `layer2.0.downsample.0/kernel` or `bn1/moving_variance`. */
  readonly name: string;
  readonly shape: readonly number[];
  /** Number of float32 values. */
  readonly size: number;
  /** Index of the first value in the flat vector. */
  readonly offset: number;
  readonly section: FlatSection;
  readonly role: ParameterRole | StatisticRole;
}

export interface FlatLayout {
  readonly entries: readonly FlatEntry[];
  /** Values in the gradient section; it starts at 0. */
  readonly gradientLength: number;
  /** Values in the statistics section; it starts at `gradientLength`. */
  readonly statisticsLength: number;
  /** Length of the whole flat vector. */
  readonly totalLength: number;
  /** SHA-256 over every entry's name, shape and section: equal digests mean equal layouts. */
  readonly digest: string;
}

/** The flat layout of a ResNet architecture. */
export function flatLayoutFor(architecture: ResNetArchitecture): FlatLayout {
  const entries: FlatEntry[] = [];
  let offset = 0;
  for (const { name, shape, role } of listParameters(architecture)) {
    const size = shape.reduce((a, b) => a * b, 1);
    entries.push({ name, shape, size, offset, section: 'gradient', role });
    offset += size;
  }
  const gradientLength = offset;
  for (const { name, shape, role } of listStatistics(architecture)) {
    entries.push({ name, shape, size: shape[0], offset, section: 'statistics', role });
    offset += shape[0];
  }
  const hash = createHash('sha256');
  for (const entry of entries) hash.update(`${entry.section}:${entry.name}:${entry.shape.join('x')};`);
  return {
    entries,
    gradientLength,
    statisticsLength: offset - gradientLength,
    totalLength: offset,
    digest: hash.digest('hex'),
  };
}

/** The entries of one section, in order. */
export function sectionEntries(layout: FlatLayout, section: FlatSection): FlatEntry[] {
  return layout.entries.filter((entry) => entry.section === section);
}

/** A human-readable table of the layout (one line per entry), for docs and debugging. */
export function describeFlatLayout(layout: FlatLayout): string {
  const lines = layout.entries.map(
    (e) => `${String(e.offset).padStart(10)}  ${String(e.size).padStart(9)}  ${e.section.padEnd(10)}  ${e.name} [${e.shape.join(', ')}]`,
  );
  return [`    offset       size  section     name [shape]`, ...lines].join('\n');
}
