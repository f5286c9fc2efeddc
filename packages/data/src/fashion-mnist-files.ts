/**
 * The four files of Fashion-MNIST and what they must contain.
 *
 * The SHA-256 sums are of the decompressed IDX bytes, not of the `.gz` files: distributions
 * recompress the archives (Debian's `dataset-fashion-mnist` does), which changes the gzip bytes
 * but not the data, so only the decompressed hash identifies the data set whatever the packaging.
 */
import { IDX_IMAGES_MAGIC, IDX_LABELS_MAGIC } from './idx.ts';

/** One file of the data set. */
export interface FashionMnistFile {
  /** The file name without `.gz`; a directory may hold it raw or gzipped. */
  name: string;
  /** The IDX magic number it must have. */
  magic: number;
  /** SHA-256 of the decompressed IDX bytes, lower-case hex. */
  sha256: string;
}

/** The four files, keyed by role. */
export const FASHION_MNIST_FILES = {
  trainImages: {
    name: 'train-images-idx3-ubyte',
    magic: IDX_IMAGES_MAGIC,
    sha256: 'c59f468a2f672dc815687fe0f83887768d799fd8a3f3276145d20f83aa44d888',
  },
  trainLabels: {
    name: 'train-labels-idx1-ubyte',
    magic: IDX_LABELS_MAGIC,
    sha256: 'bad3541b69d912435c50bb6ba87bec294ff4f6a2e1246121d8633921760443d9',
  },
  testImages: {
    name: 't10k-images-idx3-ubyte',
    magic: IDX_IMAGES_MAGIC,
    sha256: '5b4141f0afbad91edebe8549f8fcffe087ea10ca49f1dbef5c9a5cd8815ce37b',
  },
  testLabels: {
    name: 't10k-labels-idx1-ubyte',
    magic: IDX_LABELS_MAGIC,
    sha256: '0402a96d92fd2663957122ceb108a494c5af83dab82d92729df917d7dec38c34',
  },
} as const satisfies Record<string, FashionMnistFile>;

/** The role of a file in the data set. */
export type FashionMnistFileKey = keyof typeof FASHION_MNIST_FILES;

/** The roles in a fixed order (train images, train labels, test images, test labels). */
export const FASHION_MNIST_FILE_KEYS = Object.keys(FASHION_MNIST_FILES) as FashionMnistFileKey[];

/** The number of classes; every label is below it. */
export const FASHION_MNIST_CLASSES = 10;

/** The class names, by label. */
export const FASHION_MNIST_CLASS_NAMES = [
  'T-shirt/top',
  'Trouser',
  'Pullover',
  'Dress',
  'Coat',
  'Sandal',
  'Shirt',
  'Sneaker',
  'Bag',
  'Ankle boot',
] as const;

/** Where Debian's `dataset-fashion-mnist` package installs the files. */
export const FASHION_MNIST_SYSTEM_DIR = '/usr/share/datasets/fashion-mnist';

/** The official upstream location of the `.gz` files (the zalandoresearch/fashion-mnist repository). */
export const FASHION_MNIST_UPSTREAM_URL =
  'https://raw.githubusercontent.com/zalandoresearch/fashion-mnist/master/data/fashion/';

/** The environment variable naming a directory that holds the files. */
export const FASHION_MNIST_DIR_ENV = 'FASHION_MNIST_DIR';
