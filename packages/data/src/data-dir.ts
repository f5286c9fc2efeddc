import { stat } from 'node:fs/promises';
import { join } from 'node:path';
import { FASHION_MNIST_FILE_KEYS, FASHION_MNIST_FILES } from './fashion-mnist-files.ts';
import type { FashionMnistFileKey } from './fashion-mnist-files.ts';

/** The path of each of the four files. */
export type FashionMnistPaths = Record<FashionMnistFileKey, string>;

/** What a directory holds: all four files, or why it does not do. */
export type DataDirInspection =
  | { dir: string; complete: true; paths: FashionMnistPaths }
  | { dir: string; complete: false; problem: string };

/**
 * Looks for the four files in `dir`, each either raw (`train-images-idx3-ubyte`) or gzipped
 * (`train-images-idx3-ubyte.gz`); the raw file wins when both exist, as it needs no gunzip.
 * Only checks presence; contents are checked when read.
 */
export async function inspectDataDir(dir: string): Promise<DataDirInspection> {
  const dirStat = await stat(dir).catch(() => undefined);
  if (dirStat === undefined) return { dir, complete: false, problem: 'does not exist' };
  if (!dirStat.isDirectory()) return { dir, complete: false, problem: 'is not a directory' };
  const paths: Partial<FashionMnistPaths> = {};
  const missing: string[] = [];
  for (const key of FASHION_MNIST_FILE_KEYS) {
    const found = await findDataFile(dir, key);
    if (found === undefined) missing.push(`${FASHION_MNIST_FILES[key].name}[.gz]`);
    else paths[key] = found;
  }
  if (missing.length > 0) return { dir, complete: false, problem: `lacks ${missing.join(', ')}` };
  return { dir, complete: true, paths: paths as FashionMnistPaths };
}

/** The path of one of the files in `dir`, raw preferred over `.gz`, or undefined when neither is there. */
export async function findDataFile(dir: string, key: FashionMnistFileKey): Promise<string | undefined> {
  const name = FASHION_MNIST_FILES[key].name;
  for (const path of [join(dir, name), join(dir, `${name}.gz`)]) {
    const s = await stat(path).catch(() => undefined);
    if (s?.isFile()) return path;
  }
  return undefined;
}
