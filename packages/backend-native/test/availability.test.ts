import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

import { afterAll, describe, expect, it } from 'vitest';

import { INSTALL_FIX, NativeBackendUnavailableError, nativeBackendAvailability, registerNativeBackend } from '../src/index.ts';
import { nativeAvailable, nativeSuite } from './support/native.ts';

describe('the native backend when its addon is missing', () => {
  const dir = mkdtempSync(join(tmpdir(), 'backend-native-'));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it('reports itself unavailable with the package to install and the rebuild command', () => {
    const availability = nativeBackendAvailability(join(dir, 'missing.node'));
    expect(availability.available).toBe(false);
    expect(availability.available ? '' : availability.reason).toContain('apt-get install libdnnl-dev, then npm rebuild @ringtrain/backend-native');
    expect(INSTALL_FIX).toBe('apt-get install libdnnl-dev, then npm rebuild @ringtrain/backend-native');
  });

  it('reports an addon that does not load, with the loader’s reason and the fix', () => {
    const broken = join(dir, 'broken.node');
    writeFileSync(broken, 'not a shared object');
    const availability = nativeBackendAvailability(broken);
    expect(availability.available).toBe(false);
    const reason = availability.available ? '' : availability.reason;
    expect(reason).toMatch(/^the native addon failed to load \(.+\); apt-get install libdnnl-dev/);
  });

  it('refuses to register, throwing NativeBackendUnavailableError with that reason', () => {
    let caught: unknown;
    try {
      registerNativeBackend({ addonPath: join(dir, 'missing.node') });
    } catch (error) {
      caught = error;
    }
    expect(caught).toBeInstanceOf(NativeBackendUnavailableError);
    expect((caught as NativeBackendUnavailableError).code).toBe('RINGTRAIN_NATIVE_UNAVAILABLE');
    expect((caught as NativeBackendUnavailableError).reason).toContain(INSTALL_FIX);
  });
});

describe.skipIf(!nativeAvailable)(nativeSuite('the native backend when its addon is built'), () => {
  it('reports itself available', () => {
    expect(nativeBackendAvailability()).toEqual({ available: true });
  });

  it('describes the oneDNN it runs on', () => {
    const info = registerNativeBackend({ threads: 1 });
    expect(info.name).toBe('native');
    expect(info.dnnlVersion).toMatch(/^\d+\.\d+\.\d+$/);
    expect(info.runtime).toBe('omp');
    expect(info.threads).toBe(1);
    expect(info.nativeKernels).toContain('Conv2DBackpropFilter');
  });

  const waitPolicyAfterLoading = (env: Record<string, string>): string => {
    const fixture = fileURLToPath(new URL('./fixtures/wait-policy.ts', import.meta.url));
    const { OMP_WAIT_POLICY: _policy, GOMP_SPINCOUNT: _spins, ...rest } = process.env;
    const result = spawnSync(process.execPath, ['--import', 'tsx', fixture], { encoding: 'utf8', env: { ...rest, ...env } });
    expect(result.status, result.stderr).toBe(0);
    return result.stdout.trim();
  };

  it('lets idle OpenMP threads sleep unless the environment says how they should wait', () => {
    expect(waitPolicyAfterLoading({})).toBe('PASSIVE');
    expect(waitPolicyAfterLoading({ OMP_WAIT_POLICY: 'active' })).toBe('active');
    expect(waitPolicyAfterLoading({ GOMP_SPINCOUNT: '1000' })).toBe('(unset)');
  });
});
