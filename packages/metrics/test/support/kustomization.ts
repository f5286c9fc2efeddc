/**
 * What a kustomization (or component) file refers to, and whether it all exists: resources
 * (files, or directories holding a kustomization), components, and patch files. Kustomize
 * would fail on a missing file only when someone builds that overlay; this finds it at once.
 */
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, statSync, writeFileSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';
import { parseAllDocuments, stringify } from 'yaml';
import { fromRoot, readYaml } from './repo.ts';

/** Whether kubectl, whose `kustomize` renders the manifests as `kubectl apply -k` would, is here. */
export const hasKubectl = spawnSync('kubectl', ['version', '--client'], { encoding: 'utf8' }).status === 0;

/** `kubectl kustomize dir` as objects. */
export function kustomize(dir: string): Record<string, unknown>[] {
  const result = spawnSync('kubectl', ['kustomize', dir], { encoding: 'utf8', timeout: 60_000 });
  if (result.status !== 0) throw new Error(`kubectl kustomize ${fromRoot(dir)} failed: ${result.stderr}`);
  return parseAllDocuments(result.stdout).map((d) => d.toJS() as Record<string, unknown>);
}

/**
 * An overlay of `base` (an overlay, or the jobset or trainer kustomization) made under `scratch`
 * that adds `component`, in the base's namespace, as docs/deploy.md tells users to do.
 */
export function overlayWithComponent(base: string, component: string, scratch: string): string {
  const dir = mkdtempSync(join(scratch, 'with-component-'));
  const k = {
    apiVersion: 'kustomize.config.k8s.io/v1beta1',
    kind: 'Kustomization',
    namespace: readYaml<{ namespace?: string }>(join(base, 'kustomization.yaml')).namespace,
    resources: [relative(dir, base)],
    components: [relative(dir, component)],
  };
  writeFileSync(join(dir, 'kustomization.yaml'), stringify(k));
  return dir;
}

const KNOWN_FIELDS = new Set([
  'apiVersion',
  'kind',
  'namespace',
  'labels',
  'resources',
  'components',
  'patches',
  'images',
]);

interface Kustomization {
  apiVersion?: unknown;
  kind?: unknown;
  resources?: unknown;
  components?: unknown;
  patches?: unknown;
  [field: string]: unknown;
}

function strings(value: unknown, field: string, problems: string[]): string[] {
  if (value === undefined) return [];
  if (!Array.isArray(value) || !value.every((v) => typeof v === 'string')) {
    problems.push(`${field} is not a list of paths`);
    return [];
  }
  return value;
}

/** The files and directories `file` refers to (absolute) and what is wrong with them. */
export function checkKustomization(file: string): { references: string[]; problems: string[] } {
  const problems: string[] = [];
  const references: string[] = [];
  const dir = dirname(file);
  const k = readYaml<Kustomization>(file);
  if (k.kind !== 'Kustomization' && k.kind !== 'Component')
    problems.push(`kind ${String(k.kind)} is not Kustomization or Component`);
  for (const field of Object.keys(k)) {
    if (!KNOWN_FIELDS.has(field)) problems.push(`field ${field} is not one these deploy files use (a typo?)`);
  }
  const directoryKustomization = (path: string) => join(path, 'kustomization.yaml');

  for (const resource of strings(k.resources, 'resources', problems)) {
    const path = resolve(dir, resource);
    references.push(path);
    if (!existsSync(path)) problems.push(`resource ${resource} does not exist`);
    else if (statSync(path).isDirectory() && !existsSync(directoryKustomization(path))) {
      problems.push(`resource ${resource} is a directory without kustomization.yaml`);
    }
  }
  for (const component of strings(k.components, 'components', problems)) {
    const path = resolve(dir, component);
    references.push(path);
    if (!existsSync(directoryKustomization(path))) problems.push(`component ${component} has no kustomization.yaml`);
    else if (readYaml<Kustomization>(directoryKustomization(path)).kind !== 'Component') {
      problems.push(`component ${component} is not of kind Component`);
    }
  }
  if (k.patches !== undefined) {
    if (!Array.isArray(k.patches)) problems.push('patches is not a list');
    else
      for (const patch of k.patches as unknown[]) {
        const path = (patch as { path?: unknown }).path;
        if (typeof path !== 'string') {
          problems.push('a patch has no path (inline patches are not used here)');
          continue;
        }
        const absolute = resolve(dir, path);
        references.push(absolute);
        if (!existsSync(absolute)) problems.push(`patch ${path} does not exist`);
      }
  }
  return { references, problems: problems.map((p) => `${fromRoot(file)}: ${p}`) };
}
