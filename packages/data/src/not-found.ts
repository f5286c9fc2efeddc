import { DataNotFoundError } from './errors.ts';
import {
  FASHION_MNIST_DIR_ENV,
  FASHION_MNIST_FILE_KEYS,
  FASHION_MNIST_FILES,
  FASHION_MNIST_SYSTEM_DIR,
} from './fashion-mnist-files.ts';

/** A directory that was looked at and why it did not do. */
export interface PlaceLooked {
  dir: string;
  /** Where the directory came from: `data-dir`, `env`, `system` or `cache`. */
  source: string;
  problem: string;
}

/**
 * The error for "Fashion-MNIST is nowhere": every place looked, then every way to get the data.
 *
 * @param downloadDir where `--allow-download` would put the files
 * @param downloadUrl where it would fetch them from
 */
export function fashionMnistNotFound(
  places: readonly PlaceLooked[],
  downloadDir: string,
  downloadUrl: string,
): DataNotFoundError {
  const files = FASHION_MNIST_FILE_KEYS.map((key) => FASHION_MNIST_FILES[key].name).join(', ');
  const lines = [
    'Fashion-MNIST was not found. Looked in:',
    ...places.map((p) => `  - ${p.dir} (${describeSource(p.source)}): ${p.problem}`),
    'Ways to get it:',
    `  - install Debian's package: apt-get install dataset-fashion-mnist (puts it in ${FASHION_MNIST_SYSTEM_DIR})`,
    `  - pass --data-dir DIR, a directory holding ${files} (each raw or .gz)`,
    `  - set ${FASHION_MNIST_DIR_ENV}=DIR`,
    `  - pass --allow-download to fetch it from ${downloadUrl} into ${downloadDir} (checked against known SHA-256 sums)`,
  ];
  return new DataNotFoundError(lines.join('\n'), places);
}

function describeSource(source: string): string {
  switch (source) {
    case 'data-dir':
      return '--data-dir';
    case 'env':
      return FASHION_MNIST_DIR_ENV;
    case 'system':
      return 'dataset-fashion-mnist';
    case 'cache':
      return 'user cache';
    default:
      return source;
  }
}
