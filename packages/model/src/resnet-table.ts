/**
 * The one table every ResNet depth is built from, as torchvision's `torchvision/models/resnet.py`
 * (v1.5: in bottlenecks the stride sits on the 3×3 convolution, not on the first 1×1).
 */

export type BlockKind = 'basic' | 'bottleneck';

export const RESNET_DEPTHS = [18, 34, 50, 101, 152] as const;
export type ResNetDepth = (typeof RESNET_DEPTHS)[number];

export interface ResNetTableRow {
  readonly block: BlockKind;
  /** Number of residual blocks in each of the four stages. */
  readonly stageBlocks: readonly [number, number, number, number];
}

export const RESNET_TABLE: Readonly<Record<ResNetDepth, ResNetTableRow>> = {
  18: { block: 'basic', stageBlocks: [2, 2, 2, 2] },
  34: { block: 'basic', stageBlocks: [3, 4, 6, 3] },
  50: { block: 'bottleneck', stageBlocks: [3, 4, 6, 3] },
  101: { block: 'bottleneck', stageBlocks: [3, 4, 23, 3] },
  152: { block: 'bottleneck', stageBlocks: [3, 8, 36, 3] },
};

/** Output channels of a block = stage width · expansion. */
export const BLOCK_EXPANSION: Readonly<Record<BlockKind, number>> = { basic: 1, bottleneck: 4 };

/** Stage widths before the width multiplier (torchvision's 64/128/256/512). */
export const STAGE_WIDTHS = [64, 128, 256, 512] as const;

/** The first stage keeps the stem's resolution; each later stage halves it. */
export const STAGE_STRIDES = [1, 2, 2, 2] as const;

/** Stem width before the width multiplier. */
export const STEM_WIDTH = 64;

export type StemKind = 'd2l' | 'small' | 'compact';

export interface StemRow {
  readonly kernelSize: number;
  readonly stride: number;
  /** A 3×3 stride-2 max-pool ('same' padding) after the stem's ReLU. */
  readonly maxPool: boolean;
}

export const STEMS: Readonly<Record<StemKind, StemRow>> = {
  /** 7×7/2 convolution, BN, ReLU, 3×3/2 max-pool: the d2l chapter's (and torchvision's) stem. */
  d2l: { kernelSize: 7, stride: 2, maxPool: true },
  /** 3×3/1 convolution, BN, ReLU and no pool, keeping a 28×28 input's resolution. */
  small: { kernelSize: 3, stride: 1, maxPool: false },
  /**
   * 3×3/1 convolution, BN, ReLU, 3×3/2 max-pool: a 28×28 input enters the first stage at 14×14,
   * a quarter of `small`'s cost with four times the d2l stem's resolution.
   */
  compact: { kernelSize: 3, stride: 1, maxPool: true },
};

/**
 * Batch-norm hyper-parameters in PyTorch's convention: running = (1 − m)·running + m·batch.
 * (tfjs-layers and Keras write the same thing as momentum 1 − m = 0.9.)
 */
export const BATCH_NORM_MOMENTUM = 0.1;
export const BATCH_NORM_EPSILON = 1e-5;
