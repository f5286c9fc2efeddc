import { spawnSync } from 'node:child_process';
import { copyFileSync, mkdirSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

import { afterAll, describe, expect, it } from 'vitest';

const script = fileURLToPath(new URL('../scripts/install.mjs', import.meta.url));

describe('the install script', () => {
  // A copy of the script in a scratch package, so that its build/ is not this package's.
  const dir = mkdtempSync(join(tmpdir(), 'backend-native-install-'));
  mkdirSync(join(dir, 'scripts'));
  copyFileSync(script, join(dir, 'scripts', 'install.mjs'));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  const run = (args: string[]) =>
    spawnSync(process.execPath, [join(dir, 'scripts', 'install.mjs'), ...args], {
      encoding: 'utf8',
      env: { ...process.env, RINGTRAIN_DNNL_HEADER: join(dir, 'no-such', 'dnnl.h') },
    });

  it('succeeds without oneDNN, printing one line that names the fix', () => {
    const result = run([]);
    expect(result.status).toBe(0);
    const lines = result.stdout.trim().split('\n');
    expect(lines).toHaveLength(1);
    expect(lines[0]).toContain('native backend not built: oneDNN headers not found');
    expect(lines[0]).toContain('apt-get install libdnnl-dev, then npm rebuild @ringtrain/backend-native');
    expect(result.stderr).toBe('');
  });

  it('records why it did not build, for the backend to quote at run time', () => {
    run([]);
    const status = JSON.parse(readFileSync(join(dir, 'build', 'install-status.json'), 'utf8')) as { built: boolean; reason: string };
    expect(status.built).toBe(false);
    expect(status.reason).toContain('oneDNN headers not found');
  });

  it('fails with --required, for builds that must have the addon', () => {
    expect(run(['--required']).status).toBe(1);
  });
});
