import { createServer } from 'node:http';
import type { Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { mkdir, readFile, readdir } from 'node:fs/promises';
import { join } from 'node:path';
import { gunzipSync, gzipSync } from 'node:zlib';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import {
  DataChecksumError,
  DataDownloadError,
  DataNotFoundError,
  FASHION_MNIST_FILES,
  FASHION_MNIST_FILE_KEYS,
  loadFashionMnist,
  locateFashionMnist,
} from '../src/index.ts';
import type { LocateOptions } from '../src/index.ts';
import { sameBytes } from './bytes.ts';
import { linkRealFiles, realFile, tempDir } from './data-dirs.ts';

/** A loopback HTTP server standing in for the upstream site: serves `files` under `/fm/`. */
class FakeUpstream {
  readonly files = new Map<string, Uint8Array>();
  readonly requests: string[] = [];
  private server: Server | undefined;

  async start(): Promise<string> {
    this.server = createServer((req, res) => {
      this.requests.push(req.url ?? '');
      const body = req.url?.startsWith('/fm/') ? this.files.get(req.url.slice('/fm/'.length)) : undefined;
      if (body === undefined) {
        res.writeHead(404).end('not here');
        return;
      }
      res.writeHead(200, { 'content-type': 'application/gzip', 'content-length': body.length }).end(body);
    });
    await new Promise<void>((resolve) => this.server?.listen(0, '127.0.0.1', resolve));
    const { port } = this.server.address() as AddressInfo;
    return `http://127.0.0.1:${port}/fm/`;
  }

  async stop(): Promise<void> {
    await new Promise<void>((resolve) => this.server?.close(() => resolve()));
  }
}

describe('downloading Fashion-MNIST when allowed', () => {
  const upstream = new FakeUpstream();
  let baseUrl: string;
  let root: string;
  let remove: () => Promise<void>;

  beforeAll(async () => {
    baseUrl = await upstream.start();
  });
  afterAll(async () => upstream.stop());

  beforeEach(async () => {
    ({ dir: root, remove } = await tempDir());
    upstream.requests.length = 0;
    upstream.files.clear();
    for (const key of FASHION_MNIST_FILE_KEYS) {
      upstream.files.set(`${FASHION_MNIST_FILES[key].name}.gz`, await readFile(realFile(key)));
    }
  });
  afterEach(async () => remove());

  const options = (overrides: LocateOptions = {}): LocateOptions => ({
    env: {},
    systemDir: join(root, 'no-system'),
    cacheDir: join(root, 'cache'),
    downloadBaseUrl: baseUrl,
    ...overrides,
  });

  it('downloads into the cache, verified, and finds the cache afterwards without the network', async () => {
    const loaded = await loadFashionMnist({ ...options({ allowDownload: true }), limitTest: 10 });
    expect(loaded.location.source).toBe('download');
    expect(loaded.location.dir).toBe(join(root, 'cache'));
    expect(upstream.requests.sort()).toEqual(
      FASHION_MNIST_FILE_KEYS.map((key) => `/fm/${FASHION_MNIST_FILES[key].name}.gz`).sort(),
    );
    expect(loaded.train.count).toBe(60_000);
    expect(loaded.test.count).toBe(10);

    const cached = (await readdir(join(root, 'cache'))).sort();
    expect(cached).toEqual(FASHION_MNIST_FILE_KEYS.map((key) => `${FASHION_MNIST_FILES[key].name}.gz`).sort());
    const written = await readFile(join(root, 'cache', 't10k-labels-idx1-ubyte.gz'));
    expect(sameBytes(written, await readFile(realFile('testLabels')))).toBe(true);

    upstream.requests.length = 0;
    const again = await locateFashionMnist(options({ allowDownload: true }));
    expect(again.source).toBe('cache');
    expect(upstream.requests).toEqual([]);
  });

  it('downloads only the files the cache lacks', async () => {
    const cache = join(root, 'cache');
    await mkdir(cache);
    await linkRealFiles(cache, ['trainImages', 'trainLabels', 'testImages']);
    const found = await locateFashionMnist(options({ allowDownload: true }));
    expect(found.source).toBe('download');
    expect(upstream.requests).toEqual(['/fm/t10k-labels-idx1-ubyte.gz']);
  });

  it('downloads into the explicit directory when one is named', async () => {
    const explicit = join(root, 'mine');
    await mkdir(explicit);
    await linkRealFiles(explicit, ['trainImages', 'trainLabels', 'testImages']);
    const found = await locateFashionMnist(options({ dataDir: explicit, allowDownload: true }));
    expect(found.dir).toBe(explicit);
    expect(upstream.requests).toEqual(['/fm/t10k-labels-idx1-ubyte.gz']);
    expect((await readdir(explicit)).sort()).toContain('t10k-labels-idx1-ubyte.gz');
  });

  it('rejects a download whose contents differ from the release and writes nothing', async () => {
    const labels = gunzipSync(await readFile(realFile('testLabels')));
    labels[100] = ((labels[100] as number) + 1) % 10;
    upstream.files.set('t10k-labels-idx1-ubyte.gz', gzipSync(labels));
    await mkdir(join(root, 'cache'));
    await linkRealFiles(join(root, 'cache'), ['trainImages', 'trainLabels', 'testImages']);

    const error = await locateFashionMnist(options({ allowDownload: true })).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(DataChecksumError);
    expect((error as Error).message).toContain(`${baseUrl}t10k-labels-idx1-ubyte.gz: SHA-256`);
    const cached = await readdir(join(root, 'cache'));
    expect(cached).not.toContain('t10k-labels-idx1-ubyte.gz');
    expect(cached.filter((name) => name.endsWith('.part'))).toEqual([]);
  });

  it('reports the URL and status of a failed request', async () => {
    upstream.files.delete('train-labels-idx1-ubyte.gz');
    await mkdir(join(root, 'cache'));
    await linkRealFiles(join(root, 'cache'), ['trainImages', 'testImages', 'testLabels']);
    const error = await locateFashionMnist(options({ allowDownload: true })).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(DataDownloadError);
    expect((error as DataDownloadError).code).toBe('RINGTRAIN_DATA_DOWNLOAD');
    expect((error as Error).message).toBe(`GET ${baseUrl}train-labels-idx1-ubyte.gz answered HTTP 404 Not Found`);
  });

  it('reports an unreachable server', async () => {
    const closed = new FakeUpstream();
    const closedUrl = await closed.start();
    await closed.stop();
    const error = await locateFashionMnist(options({ allowDownload: true, downloadBaseUrl: closedUrl })).catch(
      (e: unknown) => e,
    );
    expect(error).toBeInstanceOf(DataDownloadError);
    expect((error as Error).message).toMatch(/^GET http:\/\/127\.0\.0\.1:\d+\/fm\/train-images-idx3-ubyte\.gz failed: /);
  });

  it('rejects a base URL that is not http(s)', async () => {
    await expect(
      locateFashionMnist(options({ allowDownload: true, downloadBaseUrl: 'ftp://127.0.0.1/fm' })),
    ).rejects.toThrowError('downloadBaseUrl must be an http(s) URL, got "ftp://127.0.0.1/fm"');
  });

  it('never contacts the server unless downloading is allowed', async () => {
    await expect(locateFashionMnist(options())).rejects.toThrowError(DataNotFoundError);
    expect(upstream.requests).toEqual([]);
  });
});
