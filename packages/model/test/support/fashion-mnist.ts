import { loadFashionMnist, preprocessBatch } from '@ringtrain/data';

export interface LabelledBatch {
  /** NHWC, normalised as in training. */
  readonly images: Float32Array;
  readonly labels: Uint8Array;
  readonly count: number;
}

export interface FashionMnistSubset {
  readonly train: LabelledBatch;
  readonly test: LabelledBatch;
}

/** The first `train` training and `test` test images of the real Fashion-MNIST, preprocessed. */
export async function loadFashionMnistSubset(train: number, test: number, imageSize = 28): Promise<FashionMnistSubset> {
  const loaded = await loadFashionMnist({ limitTrain: train, limitTest: test });
  const batch = (split: typeof loaded.train): LabelledBatch => {
    const indices = Array.from({ length: split.count }, (_, i) => i);
    return {
      images: preprocessBatch(split.images, split.rows, split.cols, indices, { imageSize }),
      labels: split.labels.slice(0, split.count),
      count: split.count,
    };
  };
  return { train: batch(loaded.train), test: batch(loaded.test) };
}

/** Examples `start … start + count − 1` of a batch (views, not copies). */
export function slice(batch: LabelledBatch, start: number, count: number): LabelledBatch {
  const perImage = batch.images.length / batch.count;
  return {
    images: batch.images.subarray(start * perImage, (start + count) * perImage),
    labels: batch.labels.subarray(start, start + count),
    count,
  };
}
