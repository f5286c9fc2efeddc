/**
 * Reading Fashion-MNIST from disk. Parsing and checking live in pure functions (`idx.ts`,
 * `labelled-images.ts`); this module only adds the file system. The files are read and gunzipped
 * concurrently (gunzip runs on the libuv thread pool).
 */
import { readFile } from 'node:fs/promises';
import { verifySha256 } from './checksum.ts';
import { inspectDataDir } from './data-dir.ts';
import type { FashionMnistPaths } from './data-dir.ts';
import { IdxBadDimensionsError } from './errors.ts';
import { FASHION_MNIST_CLASSES, FASHION_MNIST_FILES, FASHION_MNIST_UPSTREAM_URL } from './fashion-mnist-files.ts';
import { decompressIdxAsync, parseIdx } from './idx.ts';
import type { IdxFile } from './idx.ts';
import { pairImagesWithLabels } from './labelled-images.ts';
import type { TrainTestSplits } from './labelled-images.ts';
import { fashionMnistNotFound } from './not-found.ts';

export interface ReadOptions {
  /**
   * Check each file's SHA-256 (of its decompressed bytes) against the known Fashion-MNIST sums.
   * Turn off only to read another data set in the same format.
   * @default true
   */
  verifyChecksums?: boolean;
}

export interface ReadIdxFileOptions {
  /** The magic number the file must have. */
  expectedMagic?: number;
  /** The SHA-256 (lower-case hex) its decompressed bytes must have; unchecked when absent. */
  sha256?: string;
}

/**
 * Reads, decompresses (when gzipped), verifies and parses one IDX file. Errors name `path`.
 */
export async function readIdxFile(path: string, options: ReadIdxFileOptions = {}): Promise<IdxFile> {
  const bytes = await readFile(path);
  const raw = await decompressIdxAsync(bytes, path);
  if (options.sha256 !== undefined) verifySha256(raw, options.sha256, path);
  const parseOptions = options.expectedMagic === undefined ? {} : { expectedMagic: options.expectedMagic };
  return parseIdx(raw, path, parseOptions);
}

/** Reads the four files at `paths` into the train and test splits. */
export async function readFashionMnistFiles(paths: FashionMnistPaths, options: ReadOptions = {}): Promise<TrainTestSplits> {
  const verify = options.verifyChecksums ?? true;
  const read = (key: keyof FashionMnistPaths): Promise<IdxFile> => {
    const file = FASHION_MNIST_FILES[key];
    return readIdxFile(paths[key], { expectedMagic: file.magic, ...(verify ? { sha256: file.sha256 } : {}) });
  };
  const [trainImages, trainLabels, testImages, testLabels] = await Promise.all([
    read('trainImages'),
    read('trainLabels'),
    read('testImages'),
    read('testLabels'),
  ]);
  const train = pairImagesWithLabels(
    trainImages,
    trainLabels,
    { images: paths.trainImages, labels: paths.trainLabels },
    FASHION_MNIST_CLASSES,
  );
  const test = pairImagesWithLabels(
    testImages,
    testLabels,
    { images: paths.testImages, labels: paths.testLabels },
    FASHION_MNIST_CLASSES,
  );
  if (train.rows !== test.rows || train.cols !== test.cols) {
    throw new IdxBadDimensionsError(
      `${paths.trainImages} holds ${train.rows}×${train.cols} images but ${paths.testImages} holds ${test.rows}×${test.cols}`,
    );
  }
  return { train, test };
}

/**
 * Reads Fashion-MNIST from one directory holding the four files (each raw or `.gz`).
 *
 * @throws {DataNotFoundError} when a file is missing
 */
export async function readFashionMnistDir(dir: string, options: ReadOptions = {}): Promise<TrainTestSplits> {
  const inspection = await inspectDataDir(dir);
  if (!inspection.complete) {
    throw fashionMnistNotFound([{ dir, source: 'data-dir', problem: inspection.problem }], dir, FASHION_MNIST_UPSTREAM_URL);
  }
  return readFashionMnistFiles(inspection.paths, options);
}
