/**
 * Where the run's token comes from: --token-file (the way), RINGTRAIN_TOKEN, or --token with a
 * warning that the process list shows it; bad token files are refused with the path and why.
 */
import { chmod, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { findToken, requireToken } from '../src/token.ts';
import { runRingtrain } from './launch-helpers.ts';

describe('the token', () => {
  let dir: string;
  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'ringtrain-token-'));
  });
  afterAll(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  it('reads the first line of a private token file, without a warning', async () => {
    const path = join(dir, 'private');
    await writeFile(path, 'f00d-secret\nignored second line\n');
    await chmod(path, 0o600);
    const warnings: string[] = [];
    expect(requireToken({ tokenFile: path }, {}, (w) => warnings.push(w))).toBe('f00d-secret');
    expect(warnings).toEqual([]);
  });

  it('warns of a token file other users can read, and of a token on the command line', async () => {
    const path = join(dir, 'shared');
    await writeFile(path, 'f00d-secret\n');
    await chmod(path, 0o644);
    const warnings: string[] = [];
    expect(requireToken({ tokenFile: path }, {}, (w) => warnings.push(w))).toBe('f00d-secret');
    expect(warnings).toEqual([`the token file ${path} can be read by other users (mode 644); chmod 600 ${path}`]);
    expect(requireToken({ token: 'on-the-line' }, {}, (w) => warnings.push(w))).toBe('on-the-line');
    expect(warnings[1]).toMatch(/--token puts the run's secret in the process list/);
  });

  it('takes RINGTRAIN_TOKEN when no flag gives one, and says how to give one when nothing does', () => {
    expect(findToken({}, { RINGTRAIN_TOKEN: 'from-env' })).toBe('from-env');
    expect(findToken({}, {})).toBeUndefined();
    expect(() => requireToken({}, {})).toThrow(/a token is required: pass --token-file FILE or set RINGTRAIN_TOKEN/);
  });

  it('refuses a missing file, an empty one, and both flags at once, naming what is wrong', async () => {
    const missing = join(dir, 'nope');
    expect(() => requireToken({ tokenFile: missing }, {})).toThrow(`--token-file ${missing}: cannot read it (no such file)`);
    const empty = join(dir, 'empty');
    await writeFile(empty, '\n');
    expect(() => requireToken({ tokenFile: empty }, {})).toThrow(/its first line is empty/);
    expect(() => requireToken({ tokenFile: dir }, {})).toThrow(/cannot read it \(it is a directory\)/);
    expect(() => requireToken({ token: 'a', tokenFile: missing }, {})).toThrow('give the token once: --token or --token-file, not both');
  });

  it('stops a worker at once, before it dials anything, when its token file cannot be read', async () => {
    const missing = join(dir, 'absent-token');
    const run = runRingtrain(['worker', '--coordinator', 'ws://127.0.0.1:9', '--token-file', missing, '--metrics-port', '0'], { RINGTRAIN_TOKEN: '' });
    const { code, stderr } = await run.exited;
    expect(code).toBe(1);
    expect(stderr).toContain(`--token-file ${missing}: cannot read it (no such file)`);
  });
});
