/**
 * Turning bytes into a model input batch, identically on the coordinator and on every worker:
 *
 *   1. scale each byte to [0, 1] and normalise with (v − mean) / std;
 *   2. resize bilinearly (half-pixel centres) to `imageSize`×`imageSize`, when asked;
 *   3. augment, when asked: pad `cropPaddingPx` background pixels on each side, crop a random
 *      `imageSize` window (torchvision's `RandomCrop(size, padding)`), then flip horizontally
 *      with probability ½ (`RandomHorizontalFlip`).
 *
 * Normalising before resizing gives the same result as after, since bilinear weights sum to 1;
 * it lets step 1 be a 256-entry table. The random choices of each sample come from its own
 * stream seeded by `(seed, epoch, sample index)`, so the result depends neither on the batch a
 * sample lands in nor on the worker that computes it.
 */
import { DataIndexRangeError, InvalidDataOptionError } from './errors.ts';
import { PRNG_DOMAIN, Xoshiro128 } from './prng.ts';
import { bilinearResizer, resizeBilinear } from './resize.ts';
import type { BilinearResizer } from './resize.ts';
import { requireFinite, requireInteger } from './validate.ts';

/** The mean pixel of Fashion-MNIST's training set, on the [0, 1] scale. */
export const FASHION_MNIST_MEAN = 0.286;
/** The standard deviation of Fashion-MNIST's training pixels, on the [0, 1] scale. */
export const FASHION_MNIST_STD = 0.353;
/** Background pixels added on each side before the random crop: torchvision's CIFAR padding. */
export const DEFAULT_CROP_PADDING_PX = 4;

export interface AugmentOptions {
  /** The run's augmentation seed; the same on every worker. */
  seed: number;
  /** The epoch; each epoch draws new crops and flips. */
  epoch: number;
  /**
   * Background pixels added on each side before the random crop, at the output size.
   * 0 disables the crop.
   * @default DEFAULT_CROP_PADDING_PX (4)
   */
  cropPaddingPx?: number;
  /**
   * Flip horizontally with probability ½.
   * @default true
   */
  flip?: boolean;
  /**
   * With `flip`, flip each image on every other epoch instead of at random: the side of epoch 0
   * is drawn once per image, and each later epoch shows the other side (airbench's alternating
   * flip). Every image is seen mirrored in half the epochs, never twice in a row the same way.
   * @default false
   */
  alternateFlips?: boolean;
}

export interface PreprocessOptions {
  /**
   * The output side length; images are resized to it when it differs from theirs
   * (28 for Fashion-MNIST as is, 96 for the d2l recipe, 224 ImageNet-style).
   * @default the input size (images must then be square)
   */
  imageSize?: number;
  /**
   * Subtracted after scaling to [0, 1].
   * @default FASHION_MNIST_MEAN (0.286)
   */
  mean?: number;
  /**
   * Divides after subtracting the mean.
   * @default FASHION_MNIST_STD (0.353)
   */
  std?: number;
  /** Random crop and flip; none when absent. */
  augment?: AugmentOptions;
  /** A buffer of exactly `n·imageSize·imageSize` floats to write into instead of a new one. */
  out?: Float32Array;
}

/**
 * Builds a batch from the images at `indices`: a `Float32Array` in NHWC order, shape
 * `[indices.length, imageSize, imageSize, 1]`.
 *
 * @param images `count·rows·cols` bytes, image after image
 * @param rows the height of each stored image
 * @param cols the width of each stored image
 * @param indices which images, in batch order
 * @throws {InvalidDataOptionError} for unusable sizes or options
 * @throws {DataIndexRangeError} when an index is not an image
 */
export function preprocessBatch(
  images: Uint8Array,
  rows: number,
  cols: number,
  indices: ArrayLike<number>,
  options: PreprocessOptions = {},
): Float32Array {
  requireInteger('rows', rows, 1);
  requireInteger('cols', cols, 1);
  const pixels = rows * cols;
  if (images.length % pixels !== 0) {
    throw new InvalidDataOptionError(`images holds ${images.length} bytes, not a whole number of ${rows}×${cols} images`);
  }
  const count = images.length / pixels;
  if (options.imageSize === undefined && rows !== cols) {
    throw new InvalidDataOptionError(`imageSize is required for non-square ${rows}×${cols} images`);
  }
  const size = requireInteger('imageSize', options.imageSize ?? rows, 1);
  const mean = requireFinite('mean', options.mean ?? FASHION_MNIST_MEAN);
  const std = requireFinite('std', options.std ?? FASHION_MNIST_STD, true);
  const augment = options.augment;
  const cropPaddingPx = augment === undefined ? 0 : requireInteger('cropPaddingPx', augment.cropPaddingPx ?? DEFAULT_CROP_PADDING_PX, 0);
  if (augment !== undefined) {
    requireInteger('augment.seed', augment.seed, 0);
    requireInteger('augment.epoch', augment.epoch, 0);
  }
  const flip = augment !== undefined && (augment.flip ?? true);
  const alternate = augment?.alternateFlips === true;

  const n = indices.length;
  const outPixels = size * size;
  const out = options.out ?? new Float32Array(n * outPixels);
  if (out.length !== n * outPixels) {
    throw new InvalidDataOptionError(`out holds ${out.length} floats, the batch needs ${n}·${size}·${size} = ${n * outPixels}`);
  }

  const table = normalisationTable(mean, std);
  const background = table[0] as number;
  const resizer = rows === size && cols === size ? undefined : cachedResizer(rows, cols, size);
  const source = new Float32Array(pixels);
  const resized = resizer === undefined ? source : new Float32Array(outPixels);

  for (let b = 0; b < n; b++) {
    const index = indices[b] as number;
    if (!Number.isSafeInteger(index) || index < 0 || index >= count) {
      throw new DataIndexRangeError(`index ${index} at batch position ${b} is not an image (the data set has ${count})`);
    }
    const base = index * pixels;
    const target = b * outPixels;
    if (resizer === undefined && augment === undefined) {
      for (let i = 0; i < pixels; i++) out[target + i] = table[images[base + i] as number] as number;
      continue;
    }
    for (let i = 0; i < pixels; i++) source[i] = table[images[base + i] as number] as number;
    if (resizer !== undefined) resizeBilinear(resizer, source, resized);
    if (augment === undefined) {
      out.set(resized, target);
      continue;
    }
    // Draw in a fixed order (row shift, column shift, flip) so each choice is the same whatever the options.
    const rng = new Xoshiro128([PRNG_DOMAIN.augmentation, augment.seed, augment.epoch, index]);
    const window = 2 * cropPaddingPx + 1;
    const shiftY = rng.nextBelow(window) - cropPaddingPx;
    const shiftX = rng.nextBelow(window) - cropPaddingPx;
    const drawn = rng.nextFloat() < 0.5;
    const flipped = flip && (alternate ? firstFlip(augment.seed, index) !== (augment.epoch % 2 === 1) : drawn);
    copyShifted(resized, size, shiftY, shiftX, flipped, background, out, target);
  }
  return out;
}

/** The side image `index` shows in epoch 0 under alternating flips: one draw per image and seed. */
function firstFlip(seed: number, index: number): boolean {
  return new Xoshiro128([PRNG_DOMAIN.firstFlip, seed, index]).nextFloat() < 0.5;
}

/**
 * Gathers the labels at `indices` as the `Int32Array` a loss function takes.
 *
 * @throws {DataIndexRangeError} when an index is not a label
 */
export function gatherLabels(labels: Uint8Array, indices: ArrayLike<number>): Int32Array {
  const out = new Int32Array(indices.length);
  for (let b = 0; b < indices.length; b++) {
    const index = indices[b] as number;
    if (!Number.isSafeInteger(index) || index < 0 || index >= labels.length) {
      throw new DataIndexRangeError(`index ${index} at batch position ${b} is not a label (there are ${labels.length})`);
    }
    out[b] = labels[index] as number;
  }
  return out;
}

/**
 * Writes `src` (size×size) into `out` at `target`, where output (y, x) reads source
 * (y + shiftY, x' + shiftX) with x' = x, or size − 1 − x when flipped; outside is background.
 * This is "pad, crop at (p + shiftY, p + shiftX), then flip" without building the padded image.
 */
function copyShifted(
  src: Float32Array,
  size: number,
  shiftY: number,
  shiftX: number,
  flipped: boolean,
  background: number,
  out: Float32Array,
  target: number,
): void {
  for (let y = 0; y < size; y++) {
    const sy = y + shiftY;
    const row = target + y * size;
    if (sy < 0 || sy >= size) {
      out.fill(background, row, row + size);
      continue;
    }
    const srcRow = sy * size;
    for (let x = 0; x < size; x++) {
      const sx = (flipped ? size - 1 - x : x) + shiftX;
      out[row + x] = sx < 0 || sx >= size ? background : (src[srcRow + sx] as number);
    }
  }
}

function normalisationTable(mean: number, std: number): Float32Array {
  const table = new Float32Array(256);
  for (let v = 0; v < 256; v++) table[v] = (v / 255 - mean) / std;
  return table;
}

// Resizers hold their weights and a scratch buffer; a run uses one or two sizes.
const resizers = new Map<string, BilinearResizer>();

function cachedResizer(rows: number, cols: number, size: number): BilinearResizer {
  const key = `${rows}x${cols}->${size}`;
  let resizer = resizers.get(key);
  if (resizer === undefined) {
    resizer = bilinearResizer(rows, cols, size, size);
    resizers.set(key, resizer);
  }
  return resizer;
}
