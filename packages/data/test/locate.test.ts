import { mkdir } from 'node:fs/promises';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { DataNotFoundError, candidateDataDirs, defaultCacheDir, locateFashionMnist } from '../src/index.ts';
import type { LocateOptions } from '../src/index.ts';
import { REAL_DATA_DIR, linkRealFiles, tempDir } from './data-dirs.ts';

describe('locateFashionMnist', () => {
  let root: string;
  let remove: () => Promise<void>;
  let dirs: { explicit: string; env: string; system: string; cache: string; nowhere: string };

  beforeEach(async () => {
    ({ dir: root, remove } = await tempDir());
    dirs = {
      explicit: join(root, 'explicit'),
      env: join(root, 'env'),
      system: join(root, 'system'),
      cache: join(root, 'cache'),
      nowhere: join(root, 'nowhere'),
    };
    for (const dir of [dirs.explicit, dirs.env, dirs.system, dirs.cache]) {
      await mkdir(dir);
      await linkRealFiles(dir);
    }
  });
  afterEach(async () => remove());

  const options = (overrides: LocateOptions): LocateOptions => ({
    env: {},
    systemDir: dirs.nowhere,
    cacheDir: dirs.nowhere,
    ...overrides,
  });

  it('takes the explicit directory over the environment variable and the system directory', async () => {
    const found = await locateFashionMnist(
      options({ dataDir: dirs.explicit, env: { FASHION_MNIST_DIR: dirs.env }, systemDir: dirs.system }),
    );
    expect(found.dir).toBe(dirs.explicit);
    expect(found.source).toBe('data-dir');
    expect(found.paths.trainImages).toBe(join(dirs.explicit, 'train-images-idx3-ubyte.gz'));
  });

  it('takes the environment variable over the system directory', async () => {
    const found = await locateFashionMnist(options({ env: { FASHION_MNIST_DIR: dirs.env }, systemDir: dirs.system }));
    expect([found.dir, found.source]).toEqual([dirs.env, 'env']);
  });

  it('takes the system directory over the user cache', async () => {
    const found = await locateFashionMnist(options({ systemDir: dirs.system, cacheDir: dirs.cache }));
    expect([found.dir, found.source]).toEqual([dirs.system, 'system']);
  });

  it('falls back to the user cache when the system directory is absent', async () => {
    const found = await locateFashionMnist(options({ systemDir: dirs.nowhere, cacheDir: dirs.cache }));
    expect([found.dir, found.source]).toEqual([dirs.cache, 'cache']);
  });

  it("finds Debian's dataset-fashion-mnist with default options", async () => {
    const found = await locateFashionMnist({ env: {} });
    expect([found.dir, found.source]).toEqual([REAL_DATA_DIR, 'system']);
  });

  it('ignores an empty FASHION_MNIST_DIR', async () => {
    const found = await locateFashionMnist(options({ env: { FASHION_MNIST_DIR: '' }, systemDir: dirs.system }));
    expect(found.source).toBe('system');
  });

  it('does not fall back from an explicit directory that lacks files to other data', async () => {
    const partial = join(root, 'partial');
    await mkdir(partial);
    await linkRealFiles(partial, ['trainImages', 'trainLabels', 'testImages']);
    const error = await locateFashionMnist(options({ dataDir: partial, systemDir: dirs.system })).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(DataNotFoundError);
    expect((error as DataNotFoundError).places).toEqual([
      { dir: partial, source: 'data-dir', problem: 'lacks t10k-labels-idx1-ubyte[.gz]' },
    ]);
  });

  it('lists every place looked and every way to get the data when nothing is found', async () => {
    const system = join(root, 'no-system');
    const cache = join(root, 'no-cache');
    const error = await locateFashionMnist({ env: {}, systemDir: system, cacheDir: cache }).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(DataNotFoundError);
    const notFound = error as DataNotFoundError;
    expect(notFound.code).toBe('RINGTRAIN_DATA_NOT_FOUND');
    expect(notFound.places.map((p) => p.dir)).toEqual([system, cache]);
    const message = notFound.message;
    expect(message).toContain(`${system} (dataset-fashion-mnist): does not exist`);
    expect(message).toContain(`${cache} (user cache): does not exist`);
    expect(message).toContain('apt-get install dataset-fashion-mnist');
    expect(message).toContain('--data-dir DIR');
    expect(message).toContain('FASHION_MNIST_DIR=DIR');
    expect(message).toContain(`--allow-download to fetch it from https://raw.githubusercontent.com/zalandoresearch/fashion-mnist/`);
    expect(message).toContain(`into ${cache}`);
  });
});

describe('candidateDataDirs', () => {
  it('looks only at the explicit directory when one is given', () => {
    expect(candidateDataDirs({ dataDir: '/data/fm', env: { FASHION_MNIST_DIR: '/env/fm' } })).toEqual([
      { dir: '/data/fm', source: 'data-dir' },
    ]);
  });

  it('looks at the system directory, then the cache, when nothing is named', () => {
    expect(candidateDataDirs({ env: { HOME: '/home/ann' } })).toEqual([
      { dir: '/usr/share/datasets/fashion-mnist', source: 'system' },
      { dir: '/home/ann/.cache/ringtrain/fashion-mnist', source: 'cache' },
    ]);
  });
});

describe('defaultCacheDir', () => {
  it('lives under XDG_CACHE_HOME when it is an absolute path', () => {
    expect(defaultCacheDir({ env: { XDG_CACHE_HOME: '/var/cache/ann', HOME: '/home/ann' } })).toBe(
      '/var/cache/ann/ringtrain/fashion-mnist',
    );
  });

  it('ignores a relative XDG_CACHE_HOME, as the XDG specification says', () => {
    expect(defaultCacheDir({ env: { XDG_CACHE_HOME: 'cache', HOME: '/home/ann' } })).toBe(
      '/home/ann/.cache/ringtrain/fashion-mnist',
    );
  });
});
