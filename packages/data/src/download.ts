/**
 * Downloading Fashion-MNIST from its upstream source. Only ever run when the user asked for it
 * (`--allow-download`). Each file is verified (SHA-256 of the decompressed bytes) before it is
 * written, and written atomically (a temporary file renamed into place), so a crash or a bad
 * download never leaves a partial file where the next run would look.
 */
import { randomUUID } from 'node:crypto';
import { mkdir, rename, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { verifySha256 } from './checksum.ts';
import { findDataFile } from './data-dir.ts';
import type { FashionMnistPaths } from './data-dir.ts';
import { DataDownloadError, InvalidDataOptionError } from './errors.ts';
import { FASHION_MNIST_FILE_KEYS, FASHION_MNIST_FILES, FASHION_MNIST_UPSTREAM_URL } from './fashion-mnist-files.ts';
import { decompressIdxAsync, isGzip } from './idx.ts';
import { requireInteger } from './validate.ts';

export interface DownloadOptions {
  /** The directory to download into; created when missing. Files already there are kept. */
  targetDir: string;
  /**
   * Where the `.gz` files are, as a URL prefix (`<baseUrl>/train-images-idx3-ubyte.gz`).
   * @default FASHION_MNIST_UPSTREAM_URL
   */
  baseUrl?: string;
  /**
   * Time allowed for each file, from request to last byte.
   * @default 300000
   */
  timeoutMs?: number;
  /**
   * Largest response accepted for one file (the largest real one is about 26 MiB gzipped).
   * @default 104857600
   */
  maxFileBytes?: number;
}

/**
 * Downloads whichever of the four files `targetDir` lacks, verifying each against its known
 * SHA-256 before writing it. Returns the paths of all four.
 *
 * @throws {DataDownloadError} a request fails, times out, answers non-2xx or is too large
 * @throws {DataChecksumError} a downloaded file is not the Fashion-MNIST release (nothing is written)
 */
export async function downloadFashionMnist(options: DownloadOptions): Promise<FashionMnistPaths> {
  const baseUrl = parseBaseUrl(options.baseUrl ?? FASHION_MNIST_UPSTREAM_URL);
  const timeoutMs = requireInteger('timeoutMs', options.timeoutMs ?? 300_000, 1);
  const maxFileBytes = requireInteger('maxFileBytes', options.maxFileBytes ?? 104_857_600, 1);
  await mkdir(options.targetDir, { recursive: true });
  const paths: Partial<FashionMnistPaths> = {};
  // One file at a time: the link is the bottleneck, and it keeps at most one file in memory.
  for (const key of FASHION_MNIST_FILE_KEYS) {
    const present = await findDataFile(options.targetDir, key);
    if (present !== undefined) {
      paths[key] = present;
      continue;
    }
    const file = FASHION_MNIST_FILES[key];
    const url = new URL(`${file.name}.gz`, baseUrl).href;
    const bytes = await fetchBytes(url, timeoutMs, maxFileBytes);
    verifySha256(await decompressIdxAsync(bytes, url), file.sha256, url);
    const path = join(options.targetDir, isGzip(bytes) ? `${file.name}.gz` : file.name);
    await writeAtomically(path, bytes);
    paths[key] = path;
  }
  return paths as FashionMnistPaths;
}

function parseBaseUrl(value: string): URL {
  // A directory URL, so that relative file names resolve inside it.
  const withSlash = value.endsWith('/') ? value : `${value}/`;
  if (!URL.canParse(withSlash) || !/^https?:$/.test(new URL(withSlash).protocol)) {
    throw new InvalidDataOptionError(`downloadBaseUrl must be an http(s) URL, got ${JSON.stringify(value)}`);
  }
  return new URL(withSlash);
}

async function fetchBytes(url: string, timeoutMs: number, maxBytes: number): Promise<Uint8Array> {
  let response: Response;
  const signal = AbortSignal.timeout(timeoutMs);
  try {
    response = await fetch(url, { signal, redirect: 'follow' });
  } catch (cause) {
    throw new DataDownloadError(`GET ${url} failed: ${describe(cause)}`, { cause });
  }
  if (!response.ok || response.body === null) {
    await response.body?.cancel();
    throw new DataDownloadError(`GET ${url} answered HTTP ${response.status} ${response.statusText}`);
  }
  const chunks: Uint8Array[] = [];
  let total = 0;
  try {
    for await (const chunk of response.body) {
      total += chunk.byteLength;
      if (total > maxBytes) {
        await response.body.cancel();
        throw new DataDownloadError(`GET ${url}: response exceeds maxFileBytes (${maxBytes} bytes)`);
      }
      chunks.push(chunk);
    }
  } catch (cause) {
    if (cause instanceof DataDownloadError) throw cause;
    throw new DataDownloadError(`GET ${url} failed while reading the body: ${describe(cause)}`, { cause });
  }
  return Buffer.concat(chunks, total);
}

async function writeAtomically(path: string, bytes: Uint8Array): Promise<void> {
  const temp = `${path}.${process.pid}.${randomUUID()}.part`;
  try {
    await writeFile(temp, bytes);
    await rename(temp, path);
  } catch (error) {
    await rm(temp, { force: true });
    throw error;
  }
}

function describe(cause: unknown): string {
  if (cause instanceof Error) {
    const inner = cause.cause instanceof Error ? ` (${cause.cause.message})` : '';
    return `${cause.message}${inner}`;
  }
  return String(cause);
}
