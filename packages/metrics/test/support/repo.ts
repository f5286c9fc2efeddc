/** Where the repository and its deploy/ directory are, and how to list and read their files. */
import { readdirSync, readFileSync } from 'node:fs';
import { join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseAllDocuments } from 'yaml';

export const REPO_ROOT = fileURLToPath(new URL('../../../../', import.meta.url));
export const DEPLOY_DIR = join(REPO_ROOT, 'deploy');

/** Every file under `dir`, recursively, as absolute paths in a stable order. */
export function filesUnder(dir: string, keep: (path: string) => boolean = () => true): string[] {
  const found: string[] = [];
  for (const entry of readdirSync(dir, { withFileTypes: true }).sort((a, b) => a.name.localeCompare(b.name))) {
    const path = join(dir, entry.name);
    if (entry.isDirectory()) found.push(...filesUnder(path, keep));
    else if (keep(path)) found.push(path);
  }
  return found;
}

export const isYaml = (path: string) => /\.ya?ml$/.test(path);

/** A path relative to the repository root, for messages. */
export function fromRoot(path: string): string {
  return relative(REPO_ROOT, path);
}

/** The documents of YAML `text`; throws naming `name` with the parser's errors and warnings. */
export function parseYamlDocuments(text: string, name: string): unknown[] {
  // Merge keys (`<<: *anchor`), which docker-compose.yml uses, are YAML 1.1: enabled explicitly.
  const documents = parseAllDocuments(text, { prettyErrors: true, merge: true });
  const problems = documents.flatMap((d) => [...d.errors, ...d.warnings].map((e) => e.message));
  if (problems.length > 0) throw new Error(`${name}: ${problems.join('; ')}`);
  return documents.map((d) => d.toJS()).filter((d) => d !== null && d !== undefined);
}

/** The documents of a YAML file. */
export function readYamlDocuments(path: string): unknown[] {
  return parseYamlDocuments(readFileSync(path, 'utf8'), fromRoot(path));
}

/** The one document of a YAML file. */
export function readYaml<T = Record<string, unknown>>(path: string): T {
  const documents = readYamlDocuments(path);
  if (documents.length !== 1) throw new Error(`${fromRoot(path)} holds ${documents.length} documents, not 1`);
  return documents[0] as T;
}
