import { spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { composeProblems } from './support/compose.ts';
import { DEPLOY_DIR, readYaml } from './support/repo.ts';

const composeFile = join(DEPLOY_DIR, 'docker-compose.yml');
const hasDockerCompose = spawnSync('docker-compose', ['version'], { encoding: 'utf8' }).status === 0;

const scratch = mkdtempSync(join(tmpdir(), 'ringtrain-compose-'));
afterAll(() => rmSync(scratch, { recursive: true, force: true }));

/**
 * A copy of the compose file holding `text`, in a scratch tree that links to the real
 * deploy/ directories, so its relative paths resolve as the original's do.
 */
function brokenCopy(text: string): string {
  const root = mkdtempSync(join(scratch, 'copy-'));
  const deploy = join(root, 'deploy');
  mkdirSync(deploy);
  for (const dir of ['docker', 'prometheus', 'grafana']) symlinkSync(join(DEPLOY_DIR, dir), join(deploy, dir));
  writeFileSync(join(deploy, 'docker-compose.yml'), text);
  return join(deploy, 'docker-compose.yml');
}

describe('deploy/docker-compose.yml', () => {
  it('builds from Dockerfiles that exist, mounts files that exist, and scrapes services that it defines', () => {
    expect(composeProblems(composeFile)).toEqual([]);
  });

  it('names a missing Dockerfile, a missing mount and a scrape target no service answers to, so the check can fail', () => {
    const text = readFileSync(composeFile, 'utf8')
      .replace('deploy/docker/worker-cpu.Dockerfile', 'deploy/docker/worker.Dockerfile')
      .replace('./prometheus/alerts.yml:', './prometheus/alert.yml:')
      .replaceAll('- ringtrain-workers', '- workers');
    expect(composeProblems(brokenCopy(text))).toEqual([
      expect.stringMatching(/^worker: Dockerfile .*deploy\/docker\/worker.Dockerfile does not exist$/),
      'prometheus: mounted ./prometheus/alert.yml does not exist',
      'job ringtrain-worker scrapes ringtrain-workers:7072, but no service answers to ringtrain-workers',
    ]);
  });

  it('takes the token from the environment and commits none', () => {
    const services = readYaml<{ services: Record<string, { environment?: Record<string, string> }> }>(
      composeFile,
    ).services;
    for (const name of ['coordinator', 'worker', 'worker-gpu']) {
      expect(services[name]!.environment!.RINGTRAIN_TOKEN).toMatch(/^\$\{RINGTRAIN_TOKEN:\?/);
    }
  });

  describe.skipIf(!hasDockerCompose)('checked by docker-compose config', () => {
    const config = (file: string, env: Record<string, string>) =>
      spawnSync('docker-compose', ['-f', file, 'config', '-q'], {
        encoding: 'utf8',
        cwd: scratch,
        env: { PATH: process.env.PATH ?? '', ...env },
        timeout: 60_000,
      });

    it('is a valid Compose file', () => {
      const result = config(composeFile, { RINGTRAIN_TOKEN: 'a'.repeat(64) });
      expect(result.stderr).toBe('');
      expect(result.status).toBe(0);
    });

    it('refuses to start without RINGTRAIN_TOKEN and says how to make one', () => {
      const result = config(composeFile, {});
      expect(result.status).not.toBe(0);
      expect(result.stderr).toMatch(/set RINGTRAIN_TOKEN, e.g. export RINGTRAIN_TOKEN="\$\(openssl rand -hex 32\)"/);
    });

    it('rejects a copy with a misspelled service key', () => {
      const file = brokenCopy(
        readFileSync(composeFile, 'utf8').replace('    restart: unless-stopped', '    restrat: unless-stopped'),
      );
      expect(config(file, { RINGTRAIN_TOKEN: 'x' }).status).not.toBe(0);
      expect(config(brokenCopy(readFileSync(composeFile, 'utf8')), { RINGTRAIN_TOKEN: 'x' }).status).toBe(0);
    });
  });
});
