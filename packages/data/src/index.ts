export {
  DATA_ERROR_CODES,
  DataBadLabelError,
  DataChecksumError,
  DataCountMismatchError,
  DataDownloadError,
  DataError,
  DataIndexRangeError,
  DataNotFoundError,
  IdxBadDimensionsError,
  IdxBadGzipError,
  IdxBadMagicError,
  IdxBadTypeError,
  IdxTrailingBytesError,
  IdxTruncatedError,
  InvalidDataOptionError,
  SamplerRangeError,
} from './errors.ts';
export type { DataErrorCode } from './errors.ts';
export {
  IDX_IMAGES_MAGIC,
  IDX_LABELS_MAGIC,
  IDX_TYPE_UBYTE,
  decompressIdx,
  decompressIdxAsync,
  isGzip,
  parseIdx,
} from './idx.ts';
export type { IdxFile, ParseIdxOptions } from './idx.ts';
export {
  FASHION_MNIST_CLASSES,
  FASHION_MNIST_CLASS_NAMES,
  FASHION_MNIST_DIR_ENV,
  FASHION_MNIST_FILES,
  FASHION_MNIST_FILE_KEYS,
  FASHION_MNIST_SYSTEM_DIR,
  FASHION_MNIST_UPSTREAM_URL,
} from './fashion-mnist-files.ts';
export type { FashionMnistFile, FashionMnistFileKey } from './fashion-mnist-files.ts';
export { pairImagesWithLabels, takeFirst } from './labelled-images.ts';
export type { LabelledImages, TrainTestSplits } from './labelled-images.ts';
export { sha256Hex, verifySha256 } from './checksum.ts';
export { findDataFile, inspectDataDir } from './data-dir.ts';
export type { DataDirInspection, FashionMnistPaths } from './data-dir.ts';
export { readFashionMnistDir, readFashionMnistFiles, readIdxFile } from './read-dir.ts';
export type { ReadIdxFileOptions, ReadOptions } from './read-dir.ts';
export { downloadFashionMnist } from './download.ts';
export type { DownloadOptions } from './download.ts';
export { candidateDataDirs, defaultCacheDir, locateFashionMnist } from './locate.ts';
export type { DataSource, FashionMnistLocation, LocateOptions } from './locate.ts';
export type { PlaceLooked } from './not-found.ts';
export { loadFashionMnist } from './load.ts';
export type { LoadOptions, LoadedFashionMnist } from './load.ts';
export { PRNG_DOMAIN, Xoshiro128, randomPermutation } from './prng.ts';
export { DistributedSampler } from './sampler.ts';
export type { DistributedSamplerOptions } from './sampler.ts';
export { EpochPlan } from './epoch-plan.ts';
export type { EpochSegment, RankIndices } from './epoch-plan.ts';
export { DEFAULT_CROP_PADDING_PX, FASHION_MNIST_MEAN, FASHION_MNIST_STD, gatherLabels, preprocessBatch } from './preprocess.ts';
export type { AugmentOptions, PreprocessOptions } from './preprocess.ts';
export { bilinearAxis, bilinearResizer, resizeBilinear } from './resize.ts';
export type { BilinearResizer, ResizeAxis } from './resize.ts';
