/**
 * Training recipes: every ingredient of how a run trains, with the default recipe, the named
 * presets (`--preset`), and how flags, a preset and the defaults combine (a flag given on the
 * command line wins over the preset, the preset over the default).
 *
 * The default is the recipe that fits the main job (one epoch of ResNet-18 at 28×28 in about a
 * minute on two cores); `d2l` is the d2l chapter's exactly; `fast` is the one to run for the
 * best model in a few epochs. docs/benchmarks.md ("Recipes") has the measurements behind each
 * choice.
 */
import type { PrecisionChoice } from './precision.ts';

export interface Recipe {
  stem: 'd2l' | 'small' | 'compact';
  width: number;
  imageSize: number;
  epochs: number;
  batchSize: number;
  /**
   * Peak learning rate. A recipe's own rate is for a global batch of `LR_REFERENCE_BATCH` and
   * follows the batch linearly (Goyal et al.); a rate given with `--lr` is taken as it is.
   */
  lr: number;
  lrSchedule: 'constant' | 'step' | 'cosine' | 'onecycle';
  /** Warmup as a share of the epochs; `warmupSteps` (a flag only) wins when given. */
  warmupEpochs: number;
  momentum: number;
  nesterov: boolean;
  weightDecay: number;
  labelSmoothing: number;
  augment: boolean;
  /** With `augment`, background pixels added on each side before the random crop (0: flip alone). */
  cropPadding: number;
  /** With `augment`, flip each image on every other epoch instead of at random. */
  alternateFlips: boolean;
  zeroInitResidual: boolean;
  testTimeFlip: boolean;
  /** Decay of the weight average evaluation uses; 0: evaluate the live weights. */
  emaDecay: number;
  /** Ramp the weight average's decay up over the first steps (timm/TensorFlow style). */
  emaWarmup: boolean;
  /**
   * What the convolutions compute in: bf16 is mixed precision (float32 master weights) on CPUs
   * with AVX512-BF16 or AMX; auto is bf16 where a launch's workers can compute it (see precision.ts).
   */
  precision: PrecisionChoice;
}

export type RecipeFlags = { [K in keyof Recipe]?: Recipe[K] | undefined };

/** The global batch a recipe's learning rate is given for. */
export const LR_REFERENCE_BATCH = 256;

/**
 * Nesterov momentum with a one-cycle rate (a fifth of the run up, the rest straight down),
 * label smoothing, weight decay on kernels only, and zero-initialised residual γ so that
 * ResNet-50 to -152 train from the first step.
 */
export const DEFAULT_RECIPE: Recipe = {
  stem: 'd2l',
  width: 1,
  imageSize: 28,
  epochs: 1,
  batchSize: 256,
  lr: 0.2,
  lrSchedule: 'onecycle',
  warmupEpochs: 0.2,
  momentum: 0.9,
  nesterov: true,
  weightDecay: 5e-4,
  labelSmoothing: 0.1,
  augment: false,
  cropPadding: 4,
  alternateFlips: false,
  zeroInitResidual: true,
  testTimeFlip: false,
  emaDecay: 0,
  emaWarmup: false,
  precision: 'f32',
};

export const PRESET_NAMES = ['d2l', 'fast'] as const;
export type PresetName = (typeof PRESET_NAMES)[number];

export const PRESETS: Readonly<Record<PresetName, { summary: string; recipe: Partial<Recipe> }>> = {
  d2l: {
    summary: 'the d2l chapter: 96×96, 10 epochs, plain SGD lr 0.05, constant (for machines with GPUs)',
    recipe: {
      stem: 'd2l',
      width: 1,
      imageSize: 96,
      epochs: 10,
      batchSize: 256,
      lr: 0.05,
      lrSchedule: 'constant',
      warmupEpochs: 0,
      momentum: 0,
      nesterov: false,
      weightDecay: 0,
      labelSmoothing: 0,
      augment: false,
      cropPadding: 4,
      alternateFlips: false,
      zeroInitResidual: false,
      testTimeFlip: false,
      emaDecay: 0,
      emaWarmup: false,
      precision: 'f32',
    },
  },
  fast: {
    summary: 'the best model in a few epochs: compact stem at width 0.5, 5 epochs, random horizontal flip without a crop, flip test-time augmentation',
    // The crop (--crop-padding 4) costs 2 points at 5 epochs and 1.4 at 10: docs/benchmarks.md, "Time to accuracy".
    // bf16 reaches each accuracy 14–22% sooner at the same final accuracy: "Mixed precision" there.
    recipe: { stem: 'compact', width: 0.5, epochs: 5, augment: true, cropPadding: 0, testTimeFlip: true, warmupEpochs: 0.5, precision: 'auto' },
  },
};

/** The recipe a run trains with: flags over the preset over the default. */
export function resolveRecipe(flags: RecipeFlags, preset: PresetName | undefined): Recipe {
  const chosen = preset === undefined ? {} : PRESETS[preset].recipe;
  const recipe = { ...DEFAULT_RECIPE, ...chosen };
  for (const key of Object.keys(recipe) as (keyof Recipe)[]) {
    const value = flags[key];
    if (value !== undefined) (recipe as Record<keyof Recipe, unknown>)[key] = value;
  }
  if (flags.lr === undefined) recipe.lr = (recipe.lr * recipe.batchSize) / LR_REFERENCE_BATCH;
  return recipe;
}

/** The recipe in one line, for the start of a run and its summary. */
export function describeRecipe(recipe: Recipe, preset: PresetName | undefined): string {
  const sgd = recipe.momentum === 0 ? 'SGD' : `SGD ${recipe.nesterov ? 'Nesterov ' : ''}momentum ${recipe.momentum}`;
  const warmup = recipe.warmupEpochs > 0 ? `, warmup ${recipe.warmupEpochs} epoch(s)` : '';
  const parts = [
    `${sgd} lr ${recipe.lr} ${recipe.lrSchedule}${warmup}`,
    recipe.weightDecay > 0 ? `weight decay ${recipe.weightDecay}` : null,
    recipe.labelSmoothing > 0 ? `label smoothing ${recipe.labelSmoothing}` : null,
    recipe.augment ? `${recipe.cropPadding > 0 ? `crop (${recipe.cropPadding} px) + ` : ''}${recipe.alternateFlips ? 'alternating ' : ''}flip` : null,
    recipe.zeroInitResidual ? 'zero-init residual γ' : null,
    recipe.testTimeFlip ? 'flip TTA' : null,
    recipe.emaDecay > 0 ? `weight EMA ${recipe.emaDecay}${recipe.emaWarmup ? ' with warm-up' : ''}` : null,
    recipe.precision === 'f32' ? null : `${recipe.precision} convolutions`,
  ].filter((p) => p !== null);
  return `${preset === undefined ? 'default recipe' : `preset ${preset}`}: ${parts.join(', ')}`;
}
