/**
 * The CPU worker image's build, carried out without Docker: the build stage's COPY instructions
 * fill a scratch directory from the build context (less what the ignore file leaves out), its
 * RUN instructions other than apt-get run there as written, and the tree they leave is started
 * with the final stage's ENV, ENTRYPOINT and CMD. Its apt-get steps are not run: the packages
 * they name must be installed on this machine (scripts/setup.sh installs them), else the suite
 * is skipped and says so.
 */
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, renameSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { copyIntoWorkdir } from './support/build-context.ts';
import { parseDockerfile, stagesOf, type Stage } from './support/dockerfile.ts';
import { freePort, pollHttp, startRingtrain, type RingtrainProcess } from './support/processes.ts';
import { DEPLOY_DIR, REPO_ROOT } from './support/repo.ts';

const DOCKER_DIR = join(DEPLOY_DIR, 'docker');
const stages = stagesOf(parseDockerfile(readFileSync(join(DOCKER_DIR, 'worker-cpu.Dockerfile'), 'utf8')));
const buildStage = stages.find((s) => s.name === 'build')!;
const finalStage = stages.at(-1)!;
const runsOf = (stage: Stage) => stage.instructions.filter((i) => i.keyword === 'RUN').map((i) => i.args);

/** The Debian packages a stage's `apt-get install` lines name. */
function aptPackagesOf(stage: Stage): string[] {
  return runsOf(stage).flatMap((run) =>
    [...run.matchAll(/apt-get install ([^&]*)/g)].flatMap((m) => m[1]!.split(/\s+/).filter((w) => w !== '' && !w.startsWith('-'))),
  );
}

/** The stage's RUN commands that are not apt-get's, without their BuildKit flags (--mount=…). */
function commandsOf(stage: Stage): string[] {
  return runsOf(stage)
    .map((run) => run.replace(/^(--\S+\s+)+/, ''))
    .filter((run) => !run.startsWith('apt-get'));
}

/** The final stage's ENV, as variables. */
function envOf(stage: Stage): Record<string, string> {
  const env: Record<string, string> = {};
  for (const i of stage.instructions.filter((x) => x.keyword === 'ENV'))
    for (const pair of i.args.split(/\s+/)) {
      const [key, value] = pair.split('=', 2);
      env[key!] = value!;
    }
  return env;
}

const jsonArgsOf = (stage: Stage, keyword: string): string[] =>
  JSON.parse(stage.instructions.find((i) => i.keyword === keyword)!.args) as string[];

/** The image's CMD, with the addresses and ports a worker on this shared machine can use. */
function commandFor(coordinatorUrl: string, metricsPort: number): string[] {
  const args = jsonArgsOf(finalStage, 'CMD');
  const replace = (flag: string, value: string) => {
    const at = args.indexOf(flag);
    expect(at, `the image's CMD passes ${flag}`).toBeGreaterThan(0);
    args[at + 1] = value;
  };
  replace('--coordinator', coordinatorUrl);
  replace('--peer-host', '127.0.0.1');
  replace('--peer-port', '0');
  replace('--metrics-host', '127.0.0.1');
  replace('--metrics-port', String(metricsPort));
  return args;
}

const missingPackages = aptPackagesOf(buildStage).filter(
  (p) => spawnSync('dpkg', ['-s', p], { encoding: 'utf8' }).status !== 0,
);
const hasReadelf = spawnSync('readelf', ['--version']).status === 0;
if (missingPackages.length > 0)
  console.warn(`deploy-worker-image: skipped, the build stage's packages ${missingPackages.join(', ')} are not installed (bash scripts/setup.sh)`);

const TOKEN = 'b'.repeat(64);
const started: RingtrainProcess[] = [];
afterAll(async () => {
  await Promise.all(started.map((p) => p.stop()));
});

describe.skipIf(missingPackages.length > 0)('deploy/docker/worker-cpu.Dockerfile, built by its own commands', () => {
  const workdir = mkdtempSync(join(tmpdir(), 'ringtrain-worker-cpu-image-'));
  const addon = join(workdir, 'packages', 'backend-native', 'build', 'Release', 'ringtrain_dnnl.node');
  afterAll(() => rmSync(workdir, { recursive: true, force: true }));

  beforeAll(() => {
    copyIntoWorkdir(buildStage.instructions, REPO_ROOT, join(DOCKER_DIR, 'worker-cpu.Dockerfile.dockerignore'), workdir);
    for (const command of commandsOf(buildStage)) {
      const result = spawnSync('sh', ['-c', command], { cwd: workdir, encoding: 'utf8', timeout: 900_000, env: { ...process.env, NODE_ENV: '' } });
      if (result.status !== 0) throw new Error(`the build stage's RUN ${command} failed (${result.status}):\n${result.stdout}\n${result.stderr}`);
    }
  }, 900_000);

  it("builds the oneDNN addon with the build stage's own commands, and drops the compiler's objects", () => {
    const status = JSON.parse(readFileSync(join(workdir, 'packages', 'backend-native', 'build', 'install-status.json'), 'utf8'));
    expect(status).toEqual({ built: true, reason: 'built' });
    expect(existsSync(addon)).toBe(true);
    expect(existsSync(join(workdir, 'packages', 'backend-native', 'build', 'Release', 'obj.target'))).toBe(false);
  });

  it('installs no tfjs-node, whose install downloads libtensorflow', () => {
    expect(existsSync(join(workdir, 'node_modules', '@tensorflow', 'tfjs-node'))).toBe(false);
    expect(existsSync(join(workdir, 'node_modules', '@tensorflow', 'tfjs-node-gpu'))).toBe(false);
  });

  it.skipIf(!hasReadelf)('links the addon only to libraries Node itself needs or the final stage installs', () => {
    const needed = (file: string) =>
      [...spawnSync('readelf', ['-d', file], { encoding: 'utf8' }).stdout.matchAll(/\(NEEDED\).*\[(.+)\]/g)].map((m) => m[1]!);
    const fromNode = new Set(needed(process.execPath));
    const extra = needed(addon).filter((lib) => !fromNode.has(lib));
    expect(extra).toContain('libdnnl.so.2');
    const owners = extra.map((lib) => {
      const found = spawnSync('dpkg', ['-S', `*/${lib}`], { encoding: 'utf8' });
      expect(found.status, `no Debian package holds ${lib}`).toBe(0);
      return found.stdout.split(':')[0]!;
    });
    const installed = aptPackagesOf(finalStage);
    for (const [i, owner] of owners.entries()) expect(installed, `${extra[i]} is in ${owner}`).toContain(owner);
  });

  it('starts a worker from the built tree with the image\'s ENV, ENTRYPOINT and CMD, and it joins on backend native', async () => {
    expect(jsonArgsOf(finalStage, 'ENTRYPOINT').slice(2)).toEqual(['npx', '--no', 'ringtrain']);
    const port = await freePort();
    const coordinator = startRingtrain(
      REPO_ROOT,
      ['coordinator', '--port', String(port), '--min-workers', '2', '--log-format', 'json', '--limit-train', '512', '--limit-test', '256'],
      { RINGTRAIN_TOKEN: TOKEN },
    );
    started.push(coordinator);
    await coordinator.waitForLog(/coordinator listening/, 120_000);
    const worker = startRingtrain(workdir, [...commandFor(`ws://127.0.0.1:${port}`, await freePort()), '--log-format', 'json'], {
      ...envOf(finalStage),
      RINGTRAIN_TOKEN: TOKEN,
    });
    started.push(worker);
    const selected = await worker.waitForLog(/^backend /, 120_000);
    expect(selected.msg).toMatch(/^backend native \(oneDNN \d/);
    const status = await pollHttp(`http://127.0.0.1:${port}/status`, (_s, body) => (body as { workers?: unknown[] }).workers?.length === 1);
    expect((status.body as { workers: { backend: string }[] }).workers[0]!.backend).toBe('native');
    await worker.stop();
    await coordinator.stop();
  });

  it('fails a worker of the image that lacks the addon, naming the missing file', async () => {
    renameSync(addon, `${addon}.away`);
    try {
      const worker = startRingtrain(workdir, commandFor('ws://127.0.0.1:1', 0), { ...envOf(finalStage), RINGTRAIN_TOKEN: TOKEN });
      started.push(worker);
      expect(await worker.exited).not.toBe(0);
      expect(worker.lines.join('\n')).toContain(`backend 'native' is unavailable: the native addon is not built (no ${addon})`);
    } finally {
      renameSync(`${addon}.away`, addon);
    }
  });
});
