import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';

import { describe, expect, it } from 'vitest';

import { nativeAvailable, nativeSuite } from './support/native.ts';

const fixture = fileURLToPath(new URL('./fixtures/profiled-kernels.ts', import.meta.url));

describe.skipIf(!nativeAvailable)(nativeSuite('native kernels under signals'), () => {
  it('keep the heap intact while the V8 profiler interrupts them with SIGPROF', () => {
    const result = spawnSync(process.execPath, ['--import', 'tsx', fixture], { encoding: 'utf8', timeout: 60_000 });
    expect(result.stderr).not.toMatch(/corrupted|invalid pointer|double free/);
    expect(result.status).toBe(0);
    // The one output pixel sees 2×2 taps of 256 channels of 0.5 × 0.25.
    expect(result.stdout.trim()).toBe('ok 128');
  });
});
