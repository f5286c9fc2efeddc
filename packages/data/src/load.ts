import { takeFirst } from './labelled-images.ts';
import type { TrainTestSplits } from './labelled-images.ts';
import { locateFashionMnist } from './locate.ts';
import type { FashionMnistLocation, LocateOptions } from './locate.ts';
import { readFashionMnistFiles } from './read-dir.ts';
import type { ReadOptions } from './read-dir.ts';
import { requireInteger } from './validate.ts';

export interface LoadOptions extends LocateOptions, ReadOptions {
  /** Keep at most the first this many training examples (for fast runs); all when absent. */
  limitTrain?: number;
  /** Keep at most the first this many test examples; all when absent. */
  limitTest?: number;
}

/** Both splits, and where they were read from. */
export interface LoadedFashionMnist extends TrainTestSplits {
  location: FashionMnistLocation;
}

/**
 * Locates (see {@link locateFashionMnist}), reads and verifies Fashion-MNIST.
 * Every file is read and checked whole; the limits only cut the returned views.
 */
export async function loadFashionMnist(options: LoadOptions = {}): Promise<LoadedFashionMnist> {
  if (options.limitTrain !== undefined) requireInteger('limitTrain', options.limitTrain, 0);
  if (options.limitTest !== undefined) requireInteger('limitTest', options.limitTest, 0);
  const location = await locateFashionMnist(options);
  const { train, test } = await readFashionMnistFiles(location.paths, options);
  return {
    train: takeFirst(train, options.limitTrain),
    test: takeFirst(test, options.limitTest),
    location,
  };
}
