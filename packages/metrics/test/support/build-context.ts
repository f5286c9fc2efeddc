/**
 * Carries out a Dockerfile stage's COPY instructions outside Docker: each source, as the build
 * context (the repository root, less what the ignore file leaves out) holds it, is copied to
 * its destination under a scratch directory that stands for the stage's WORKDIR.
 */
import { copyFileSync, mkdirSync, readdirSync, statSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { copySources, type Instruction } from './dockerfile.ts';
import { isIgnored, readDockerignore } from './dockerignore.ts';

/** Copies `source` (relative to `root`) to `target`, leaving out what `rules` ignore. */
function copyFromContext(root: string, source: string, target: string, rules: ReturnType<typeof readDockerignore>): void {
  if (isIgnored(rules, source)) return;
  const path = join(root, source);
  if (statSync(path).isDirectory()) {
    mkdirSync(target, { recursive: true });
    for (const entry of readdirSync(path)) copyFromContext(root, `${source}/${entry}`, join(target, entry), rules);
  } else {
    mkdirSync(dirname(target), { recursive: true });
    copyFileSync(path, target);
  }
}

/**
 * The COPY instructions of a stage (those without --from), carried out from `contextRoot` into
 * `workdir`. A destination ending in `/` (or `./`) receives the sources by their names.
 */
export function copyIntoWorkdir(instructions: readonly Instruction[], contextRoot: string, ignoreFile: string, workdir: string): void {
  const rules = readDockerignore(ignoreFile);
  for (const instruction of instructions) {
    if (instruction.keyword !== 'COPY') continue;
    const copy = copySources(instruction);
    if (copy.from !== undefined) continue;
    const destination = join(workdir, copy.destination);
    const intoDirectory = copy.destination.endsWith('/') || copy.sources.length > 1;
    for (const source of copy.sources) {
      const name = source.split('/').at(-1)!;
      copyFromContext(contextRoot, source, intoDirectory ? join(destination, name) : destination, rules);
    }
  }
}
