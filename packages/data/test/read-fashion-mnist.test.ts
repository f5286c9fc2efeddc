import { readFile, symlink, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { gunzipSync } from 'node:zlib';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import {
  DataChecksumError,
  DataCountMismatchError,
  DataNotFoundError,
  FASHION_MNIST_FILES,
  IdxBadMagicError,
  loadFashionMnist,
  readFashionMnistDir,
  readIdxFile,
} from '../src/index.ts';
import type { LabelledImages } from '../src/index.ts';
import { sameBytes } from './bytes.ts';
import { REAL_DATA_DIR, linkRealFiles, realFile, tempDir } from './data-dirs.ts';

function classCounts(split: LabelledImages): number[] {
  const counts = new Array<number>(10).fill(0);
  for (const label of split.labels) counts[label] = (counts[label] ?? 0) + 1;
  return counts;
}

describe('reading the real Fashion-MNIST files', () => {
  it('reads 60,000 training and 10,000 test images of 28×28 with balanced classes', async () => {
    const { train, test } = await readFashionMnistDir(REAL_DATA_DIR);
    expect([train.count, train.rows, train.cols]).toEqual([60_000, 28, 28]);
    expect([test.count, test.rows, test.cols]).toEqual([10_000, 28, 28]);
    expect(train.images.length).toBe(60_000 * 784);
    expect(test.labels.length).toBe(10_000);
    // Fashion-MNIST is balanced: 6,000 training and 1,000 test images per class.
    expect(classCounts(train)).toEqual(new Array(10).fill(6_000));
    expect(classCounts(test)).toEqual(new Array(10).fill(1_000));
    // Real images: a dark background and bright garments, not a constant fill.
    const first = train.images.subarray(0, 784);
    expect(first[0]).toBe(0);
    expect(Math.max(...first)).toBeGreaterThan(200);
  });

  it('keeps only the first examples when limits are given', async () => {
    const full = await readFashionMnistDir(REAL_DATA_DIR);
    const { train, test } = await loadFashionMnist({ dataDir: REAL_DATA_DIR, limitTrain: 1_000, limitTest: 100 });
    expect(train.count).toBe(1_000);
    expect(test.count).toBe(100);
    expect(sameBytes(train.images, full.train.images.subarray(0, 1_000 * 784))).toBe(true);
    expect(sameBytes(test.labels, full.test.labels.subarray(0, 100))).toBe(true);
  });
});

describe('reading a directory that is not the release', () => {
  let dir: string;
  let remove: () => Promise<void>;
  beforeEach(async () => ({ dir, remove } = await tempDir()));
  afterEach(async () => remove());

  const testLabelsRaw = async (): Promise<Uint8Array> => gunzipSync(await readFile(realFile('testLabels')));

  it('reads raw (not gzipped) files like the gzipped ones', async () => {
    await linkRealFiles(dir, ['trainImages', 'trainLabels', 'testImages']);
    await writeFile(join(dir, FASHION_MNIST_FILES.testLabels.name), await testLabelsRaw());
    const raw = await readFashionMnistDir(dir);
    const gz = await readFashionMnistDir(REAL_DATA_DIR);
    expect(raw.test.labels.length).toBe(10_000);
    expect(sameBytes(raw.test.labels, gz.test.labels)).toBe(true);
  });

  it('rejects a tampered file by its SHA-256, naming the file', async () => {
    await linkRealFiles(dir, ['trainImages', 'trainLabels', 'testImages']);
    const labels = await testLabelsRaw();
    // Change one label to another valid class: the file still parses, only the sum can tell.
    labels[labels.length - 1] = ((labels[labels.length - 1] as number) + 1) % 10;
    const tampered = join(dir, FASHION_MNIST_FILES.testLabels.name);
    await writeFile(tampered, labels);

    const error = await readFashionMnistDir(dir).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(DataChecksumError);
    expect((error as DataChecksumError).code).toBe('RINGTRAIN_DATA_CHECKSUM');
    expect((error as Error).message).toContain(tampered);
    expect((error as Error).message).toContain(FASHION_MNIST_FILES.testLabels.sha256);

    // Without verification the same file reads, with the changed label.
    const unverified = await readFashionMnistDir(dir, { verifyChecksums: false });
    expect(unverified.test.labels[9_999]).toBe(labels[labels.length - 1]);
  });

  it('names both files and both counts when the labels file is one short', async () => {
    await linkRealFiles(dir, ['trainImages', 'trainLabels', 'testImages']);
    const labels = await testLabelsRaw();
    const shorter = labels.slice(0, labels.length - 1);
    new DataView(shorter.buffer).setUint32(4, 9_999, false);
    const labelsPath = join(dir, FASHION_MNIST_FILES.testLabels.name);
    await writeFile(labelsPath, shorter);

    const error = await readFashionMnistDir(dir, { verifyChecksums: false }).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(DataCountMismatchError);
    expect((error as Error).message).toBe(
      `${join(dir, `${FASHION_MNIST_FILES.testImages.name}.gz`)} has 10000 images but ${labelsPath} has 9999 labels`,
    );
  });

  it('rejects a labels file standing in for an images file by its magic', async () => {
    await linkRealFiles(dir, ['trainImages', 'trainLabels', 'testLabels']);
    const imagesPath = join(dir, `${FASHION_MNIST_FILES.testImages.name}.gz`);
    await symlink(realFile('testLabels'), imagesPath);
    await expect(readFashionMnistDir(dir, { verifyChecksums: false })).rejects.toThrowError(IdxBadMagicError);
    await expect(readIdxFile(imagesPath, { expectedMagic: FASHION_MNIST_FILES.testImages.magic })).rejects.toThrowError(
      `${imagesPath}: wrong IDX magic 2049 (0x00000801), expected 2051 (0x00000803)`,
    );
  });

  it('names the missing files of an incomplete directory', async () => {
    await linkRealFiles(dir, ['trainImages', 'trainLabels']);
    const error = await readFashionMnistDir(dir).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(DataNotFoundError);
    expect((error as Error).message).toContain(`${dir} (--data-dir): lacks t10k-images-idx3-ubyte[.gz], t10k-labels-idx1-ubyte[.gz]`);
  });
});
