/**
 * Where Fashion-MNIST is, looked for in this order:
 *
 *   1. `dataDir` (the CLI's `--data-dir`)
 *   2. the `FASHION_MNIST_DIR` environment variable
 *   3. `/usr/share/datasets/fashion-mnist` (Debian's `dataset-fashion-mnist`)
 *   4. the user cache, `$XDG_CACHE_HOME/ringtrain/fashion-mnist` or `~/.cache/ringtrain/fashion-mnist`
 *   5. a download from upstream, only with `allowDownload`
 *
 * A directory named explicitly (1 or 2) is the only one looked at: when it lacks a file the
 * answer is an error, never a silent fall back to other data. With `allowDownload` the missing
 * files are then downloaded into that directory (else into the cache).
 */
import { homedir } from 'node:os';
import { join, resolve } from 'node:path';
import { inspectDataDir } from './data-dir.ts';
import type { FashionMnistPaths } from './data-dir.ts';
import { downloadFashionMnist } from './download.ts';
import {
  FASHION_MNIST_DIR_ENV,
  FASHION_MNIST_SYSTEM_DIR,
  FASHION_MNIST_UPSTREAM_URL,
} from './fashion-mnist-files.ts';
import { fashionMnistNotFound } from './not-found.ts';
import type { PlaceLooked } from './not-found.ts';

/** Where a directory to look in came from. */
export type DataSource = 'data-dir' | 'env' | 'system' | 'cache';

export interface LocateOptions {
  /** A directory holding the four files (raw or `.gz`); when set, the only place looked. */
  dataDir?: string;
  /**
   * The environment to read `FASHION_MNIST_DIR`, `XDG_CACHE_HOME` and `HOME` from.
   * @default process.env
   */
  env?: Readonly<Record<string, string | undefined>>;
  /**
   * The system-wide directory.
   * @default FASHION_MNIST_SYSTEM_DIR ('/usr/share/datasets/fashion-mnist')
   */
  systemDir?: string;
  /**
   * The user cache directory, also where downloads go.
   * @default '$XDG_CACHE_HOME/ringtrain/fashion-mnist', else '~/.cache/ringtrain/fashion-mnist'
   */
  cacheDir?: string;
  /**
   * Download the files from `downloadBaseUrl` when no directory has them.
   * @default false
   */
  allowDownload?: boolean;
  /**
   * Where downloads come from.
   * @default FASHION_MNIST_UPSTREAM_URL
   */
  downloadBaseUrl?: string;
  /**
   * Time allowed per downloaded file.
   * @default 300000
   */
  downloadTimeoutMs?: number;
}

/** Where the data set was found. */
export interface FashionMnistLocation {
  /** The directory holding the files. */
  dir: string;
  /** Which of the places it was; `download` when it was just downloaded there. */
  source: DataSource | 'download';
  /** The path of each file. */
  paths: FashionMnistPaths;
}

/** The directories to look in, in order, given the options and environment. Pure. */
export function candidateDataDirs(options: LocateOptions = {}): { dir: string; source: DataSource }[] {
  const env = options.env ?? process.env;
  if (nonEmpty(options.dataDir)) return [{ dir: resolve(options.dataDir), source: 'data-dir' }];
  const fromEnv = env[FASHION_MNIST_DIR_ENV];
  if (nonEmpty(fromEnv)) return [{ dir: resolve(fromEnv), source: 'env' }];
  return [
    { dir: options.systemDir ?? FASHION_MNIST_SYSTEM_DIR, source: 'system' },
    { dir: defaultCacheDir(options), source: 'cache' },
  ];
}

/** The user cache directory for the data set. Pure. */
export function defaultCacheDir(options: Pick<LocateOptions, 'cacheDir' | 'env'> = {}): string {
  if (options.cacheDir !== undefined) return options.cacheDir;
  const env = options.env ?? process.env;
  const xdg = env.XDG_CACHE_HOME;
  // The XDG spec ignores relative values.
  const base = nonEmpty(xdg) && xdg.startsWith('/') ? xdg : join(nonEmpty(env.HOME) ? env.HOME : homedir(), '.cache');
  return join(base, 'ringtrain', 'fashion-mnist');
}

/**
 * Finds the four files of Fashion-MNIST (see the module comment for the order).
 *
 * @throws {DataNotFoundError} listing every place looked and every way to get the data
 * @throws {DataDownloadError} / {DataChecksumError} when an allowed download fails
 */
export async function locateFashionMnist(options: LocateOptions = {}): Promise<FashionMnistLocation> {
  const candidates = candidateDataDirs(options);
  const places: PlaceLooked[] = [];
  for (const { dir, source } of candidates) {
    const inspection = await inspectDataDir(dir);
    if (inspection.complete) return { dir, source, paths: inspection.paths };
    places.push({ dir, source, problem: inspection.problem });
  }
  const first = candidates[0];
  const explicit = first !== undefined && (first.source === 'data-dir' || first.source === 'env');
  const downloadDir = explicit ? first.dir : defaultCacheDir(options);
  const baseUrl = options.downloadBaseUrl ?? FASHION_MNIST_UPSTREAM_URL;
  if (options.allowDownload !== true) throw fashionMnistNotFound(places, downloadDir, baseUrl);
  const paths = await downloadFashionMnist({
    targetDir: downloadDir,
    baseUrl,
    ...(options.downloadTimeoutMs === undefined ? {} : { timeoutMs: options.downloadTimeoutMs }),
  });
  return { dir: downloadDir, source: 'download', paths };
}

function nonEmpty(value: string | undefined): value is string {
  return value !== undefined && value !== '';
}
