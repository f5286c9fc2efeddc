import { DataBadLabelError, DataCountMismatchError, IdxBadDimensionsError } from './errors.ts';
import type { IdxFile } from './idx.ts';
import { requireInteger } from './validate.ts';

/** A split of the data set: `count` greyscale images of `rows`×`cols` bytes and their labels. */
export interface LabelledImages {
  /** `count·rows·cols` bytes, image after image, row-major, 0 = background. */
  images: Uint8Array;
  /** `count` labels, each below the class count. */
  labels: Uint8Array;
  count: number;
  rows: number;
  cols: number;
}

/** The two splits of Fashion-MNIST. */
export interface TrainTestSplits {
  train: LabelledImages;
  test: LabelledImages;
}

/**
 * Pairs a parsed images file with its labels file, checking that both hold the same number of
 * examples and that every label is below `classes`. The names are the files', for errors.
 *
 * @throws {IdxBadDimensionsError} the images file is not 3-dimensional or the labels file not 1-dimensional
 * @throws {DataCountMismatchError} the two files hold different counts
 * @throws {DataBadLabelError} a label is `classes` or more
 */
export function pairImagesWithLabels(
  images: IdxFile,
  labels: IdxFile,
  names: { images: string; labels: string },
  classes: number,
): LabelledImages {
  if (images.dims.length !== 3) {
    throw new IdxBadDimensionsError(
      `${names.images}: an images file has 3 dimensions (count, rows, cols), this one has [${images.dims.join(', ')}]`,
    );
  }
  if (labels.dims.length !== 1) {
    throw new IdxBadDimensionsError(
      `${names.labels}: a labels file has 1 dimension (count), this one has [${labels.dims.join(', ')}]`,
    );
  }
  const [count, rows, cols] = images.dims as [number, number, number];
  const labelCount = labels.dims[0] as number;
  if (count !== labelCount) {
    throw new DataCountMismatchError(
      `${names.images} has ${count} images but ${names.labels} has ${labelCount} labels`,
    );
  }
  const data = labels.data;
  for (let i = 0; i < data.length; i++) {
    if ((data[i] as number) >= classes) {
      throw new DataBadLabelError(
        `${names.labels}: label ${data[i]} at index ${i} is not below the class count ${classes}`,
      );
    }
  }
  return { images: images.data, labels: labels.data, count, rows, cols };
}

/**
 * The first `limit` examples of a split (all of them when `limit` is undefined or larger than the
 * split). Views, not copies.
 */
export function takeFirst(split: LabelledImages, limit: number | undefined): LabelledImages {
  if (limit === undefined) return split;
  requireInteger('limit', limit, 0);
  if (limit >= split.count) return split;
  const pixels = split.rows * split.cols;
  return {
    images: split.images.subarray(0, limit * pixels),
    labels: split.labels.subarray(0, limit),
    count: limit,
    rows: split.rows,
    cols: split.cols,
  };
}
