/** Temporary data directories for tests, made from the real Fashion-MNIST files. */
import { mkdtemp, rm, symlink } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { FASHION_MNIST_FILE_KEYS, FASHION_MNIST_FILES, FASHION_MNIST_SYSTEM_DIR } from '../src/fashion-mnist-files.ts';
import type { FashionMnistFileKey } from '../src/fashion-mnist-files.ts';

/** The Debian package's directory, which the tests read real data from. */
export const REAL_DATA_DIR = FASHION_MNIST_SYSTEM_DIR;

/** The path of a real `.gz` file. */
export function realFile(key: FashionMnistFileKey): string {
  return join(REAL_DATA_DIR, `${FASHION_MNIST_FILES[key].name}.gz`);
}

/** A fresh empty temporary directory, and a function removing it. */
export async function tempDir(prefix = 'ringtrain-data-'): Promise<{ dir: string; remove: () => Promise<void> }> {
  const dir = await mkdtemp(join(tmpdir(), prefix));
  return { dir, remove: () => rm(dir, { recursive: true, force: true }) };
}

/** Links the real `.gz` files of `keys` (all four by default) into `dir`. */
export async function linkRealFiles(dir: string, keys: readonly FashionMnistFileKey[] = FASHION_MNIST_FILE_KEYS): Promise<void> {
  for (const key of keys) {
    await symlink(realFile(key), join(dir, `${FASHION_MNIST_FILES[key].name}.gz`));
  }
}
