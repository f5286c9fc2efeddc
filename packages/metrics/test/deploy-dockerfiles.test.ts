import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { copySources, parseDockerfile, stagesOf, type Stage } from './support/dockerfile.ts';
import { isIgnored, readDockerignore } from './support/dockerignore.ts';
import { DEPLOY_DIR, REPO_ROOT, filesUnder } from './support/repo.ts';

const DOCKER_DIR = join(DEPLOY_DIR, 'docker');
const IMAGES = ['coordinator', 'worker-cpu', 'worker-gpu'];

/** What is wrong with a Dockerfile whose build context is the repository root. */
function dockerfileProblems(text: string, ignoreFile: string): string[] {
  const problems: string[] = [];
  const stages = stagesOf(parseDockerfile(text));
  const ignore = readDockerignore(ignoreFile);
  const stageNames = new Set(stages.map((s) => s.name).filter(Boolean));
  stages.forEach((stage: Stage, index) => {
    if (stage.from === '') problems.push(`stage ${index} starts from an empty image name (an ARG without default?)`);
    for (const instruction of stage.instructions) {
      if (instruction.keyword !== 'COPY' && instruction.keyword !== 'ADD') continue;
      const copy = copySources(instruction);
      if (copy.from !== undefined) {
        const fromEarlierStage = stages.slice(0, index).some((s) => s.name === copy.from);
        if (stageNames.has(copy.from) && !fromEarlierStage)
          problems.push(`line ${copy.line}: --from=${copy.from} is not an earlier stage`);
        continue;
      }
      for (const source of copy.sources) {
        if (!existsSync(join(REPO_ROOT, source)))
          problems.push(`line ${copy.line}: ${source} does not exist in the repository`);
        else if (isIgnored(ignore, source))
          problems.push(`line ${copy.line}: ${source} is left out of the build context`);
      }
    }
  });
  const last = stages.at(-1);
  const user = last?.instructions.filter((i) => i.keyword === 'USER').at(-1)?.args;
  if (user === undefined || /^(root|0)(:|$)/.test(user)) problems.push('the final stage runs as root');
  for (const keyword of ['ENTRYPOINT', 'CMD']) {
    const instruction = last?.instructions.find((i) => i.keyword === keyword);
    if (instruction === undefined) problems.push(`the final stage has no ${keyword}`);
    else
      try {
        JSON.parse(instruction.args);
      } catch {
        problems.push(`${keyword} is not in exec form (a JSON array), so signals would go to a shell`);
      }
  }
  return problems;
}

/**
 * What keeps the CPU worker image off ringtrain's native backend, or makes its build download
 * more than npm and Debian packages: oneDNN's headers at build, its runtime (and OpenMP's) in
 * the final stage, both stages on one base image (so the libdnnl linked against is the one
 * installed), no tfjs-node, and a command that insists on the native backend.
 */
function cpuWorkerProblems(text: string): string[] {
  const problems: string[] = [];
  const stages = stagesOf(parseDockerfile(text));
  const build = stages.find((s) => s.name === 'build');
  const final = stages.at(-1)!;
  const runs = (stage: Stage | undefined) => (stage?.instructions ?? []).filter((i) => i.keyword === 'RUN').map((i) => i.args).join('\n');
  if (!/apt-get install[^&]*\blibdnnl-dev\b/.test(runs(build))) problems.push('the build stage does not install libdnnl-dev');
  if (build?.from !== final.from) problems.push(`the build stage starts from ${build?.from}, the final stage from ${final.from}`);
  if (/@tensorflow\/tfjs-node/.test(stages.map(runs).join('\n')))
    problems.push('a RUN installs @tensorflow/tfjs-node, whose install downloads libtensorflow');
  for (const [pkg, what] of [
    ['libdnnl2', 'the oneDNN runtime'],
    ['libgomp1', 'the OpenMP runtime'],
  ])
    if (!new RegExp(`apt-get install[^&]*\\b${pkg}\\b`).test(runs(final)))
      problems.push(`the final stage does not install ${pkg}, ${what} the addon links to`);
  const cmd = final.instructions.find((i) => i.keyword === 'CMD');
  const args = cmd === undefined ? [] : (JSON.parse(cmd.args) as string[]);
  if (args[args.indexOf('--backend') + 1] !== 'native' || !args.includes('--backend'))
    problems.push('CMD does not ask for --backend native, so a worker without the addon would train on a fallback');
  return problems;
}

const read = (image: string) => readFileSync(join(DOCKER_DIR, `${image}.Dockerfile`), 'utf8');
const ignoreFileOf = (image: string) => join(DOCKER_DIR, `${image}.Dockerfile.dockerignore`);
const entrypoint = (image: string) =>
  JSON.parse(
    stagesOf(parseDockerfile(read(image)))
      .at(-1)!
      .instructions.find((i) => i.keyword === 'ENTRYPOINT')!.args,
  );

describe('deploy/docker', () => {
  it('holds a Dockerfile and an ignore file for each image, and nothing else', () => {
    const expected = IMAGES.flatMap((i) => [`${i}.Dockerfile`, `${i}.Dockerfile.dockerignore`]).sort();
    expect(
      filesUnder(DOCKER_DIR)
        .map((f) => f.slice(DOCKER_DIR.length + 1))
        .sort(),
    ).toEqual(expected);
  });

  it.each(IMAGES)(
    '%s.Dockerfile copies only paths that exist and are in the build context, and runs as a non-root user',
    (image) => {
      expect(dockerfileProblems(read(image), ignoreFileOf(image))).toEqual([]);
    },
  );

  it('names a copied path that does not exist, a root user and a shell-form entrypoint, so the check can fail', () => {
    const broken = read('coordinator')
      .replace('COPY packages ./packages', 'COPY packages ./packages\nCOPY pakages/cli ./packages/cli')
      .replace('USER 10001:10001', 'USER root')
      .replace(/ENTRYPOINT \[.*\]/, 'ENTRYPOINT npx ringtrain');
    const problems = dockerfileProblems(broken, ignoreFileOf('coordinator'));
    expect(problems).toEqual(
      expect.arrayContaining([
        expect.stringMatching(/pakages\/cli does not exist in the repository/),
        'the final stage runs as root',
        'ENTRYPOINT is not in exec form (a JSON array), so signals would go to a shell',
      ]),
    );
  });

  it('names a copied path that the ignore file leaves out of the context', () => {
    const broken = read('coordinator').replace(
      'COPY packages ./packages',
      'COPY packages ./packages\nCOPY docs ./docs',
    );
    expect(dockerfileProblems(broken, ignoreFileOf('coordinator'))).toEqual([
      expect.stringMatching(/docs is left out of the build context/),
    ]);
  });

  it('keeps the three ignore files identical', () => {
    const [first, ...rest] = IMAGES.map((i) => readFileSync(ignoreFileOf(i), 'utf8'));
    for (const other of rest) expect(other).toBe(first);
  });

  it('sends the sources and manifests into the build context but not dependencies, tests or secrets', () => {
    const ignore = readDockerignore(ignoreFileOf('coordinator'));
    for (const kept of [
      'package.json',
      'package-lock.json',
      'packages/cli/package.json',
      'packages/metrics/src/index.ts',
    ]) {
      expect(isIgnored(ignore, kept), kept).toBe(false);
    }
    for (const left of [
      'node_modules/ws/index.js',
      'packages/metrics/node_modules/yaml/package.json',
      'packages/metrics/test/x.test.ts',
      '.git/HEAD',
      'deploy/.env',
    ]) {
      expect(isIgnored(ignore, left), left).toBe(true);
    }
  });

  it.each(IMAGES)('%s runs the ringtrain command with npx behind tini', (image) => {
    expect(entrypoint(image)).toEqual(['tini', '--', 'npx', '--no', 'ringtrain']);
  });

  it('builds the GPU worker on CUDA 11.2 with cuDNN 8 and installs tfjs-node-gpu 4.22.0 on it', () => {
    const stages = stagesOf(parseDockerfile(read('worker-gpu')));
    expect(stages.find((s) => s.name === 'cuda-node')?.from).toBe('nvidia/cuda:11.2.2-cudnn8-runtime-ubuntu20.04');
    const installs = stages
      .flatMap((s) => s.instructions)
      .filter((i) => i.keyword === 'RUN' && i.args.includes('npm install'));
    expect(installs.map((i) => i.args).join(' ')).toMatch(/@tensorflow\/tfjs-node-gpu@4\.22\.0/);
    expect(stages.find((s) => s.name === 'node')?.from).toMatch(/^node:20-/);
  });

  it('installs the same tfjs version in the GPU worker as @ringtrain/model depends on', () => {
    const model = JSON.parse(readFileSync(join(REPO_ROOT, 'packages', 'model', 'package.json'), 'utf8'));
    const version = model.dependencies['@tensorflow/tfjs-core'];
    expect(read('worker-gpu')).toContain(`@tensorflow/tfjs-node-gpu@${version}`);
  });

  it('builds the CPU worker on the native backend from Debian oneDNN, with nothing downloaded but packages', () => {
    expect(cpuWorkerProblems(read('worker-cpu'))).toEqual([]);
  });

  it('names a tfjs-node install, a missing oneDNN runtime and a worker free to fall back, so the check can fail', () => {
    const broken = read('worker-cpu')
      .replace('npm ci --omit=dev --no-audit --no-fund', 'npm ci --omit=dev --no-audit --no-fund && npm install --no-save @tensorflow/tfjs-node@4.22.0')
      .replace('tini libdnnl2 libgomp1', 'tini')
      .replace('"--backend", "native", ', '');
    expect(cpuWorkerProblems(broken)).toEqual([
      'a RUN installs @tensorflow/tfjs-node, whose install downloads libtensorflow',
      'the final stage does not install libdnnl2, the oneDNN runtime the addon links to',
      'the final stage does not install libgomp1, the OpenMP runtime the addon links to',
      'CMD does not ask for --backend native, so a worker without the addon would train on a fallback',
    ]);
  });

  it('leaves a native addon built on the host out of the build context', () => {
    const ignore = readDockerignore(ignoreFileOf('worker-cpu'));
    expect(isIgnored(ignore, 'packages/backend-native/build/Release/ringtrain_dnnl.node')).toBe(true);
    expect(isIgnored(ignore, 'packages/backend-native/binding.gyp')).toBe(false);
    expect(isIgnored(ignore, 'packages/backend-native/native/conv.cc')).toBe(false);
  });
});
