/** Docker's ignore-file patterns (`*`, `?`, `**`, `!` exceptions), as the build context sees them. */
import { readFileSync } from 'node:fs';

interface Rule {
  pattern: RegExp;
  exclude: boolean;
}

function toRegExp(glob: string): RegExp {
  let source = '';
  const cleaned = glob.replace(/^\/+/, '').replace(/\/+$/, '');
  for (let i = 0; i < cleaned.length; i++) {
    const c = cleaned[i]!;
    if (cleaned.startsWith('**/', i)) {
      source += '(?:.*/)?';
      i += 2;
    } else if (cleaned.startsWith('**', i)) {
      source += '.*';
      i += 1;
    } else if (c === '*') source += '[^/]*';
    else if (c === '?') source += '[^/]';
    else source += c.replace(/[.+^${}()|[\]\\]/g, '\\$&');
  }
  // A pattern that matches a directory excludes everything in it too.
  return new RegExp(`^${source}(?:/.*)?$`);
}

export function readDockerignore(path: string): Rule[] {
  return readFileSync(path, 'utf8')
    .split('\n')
    .map((line) => line.trim())
    .filter((line) => line !== '' && !line.startsWith('#'))
    .map((line) =>
      line.startsWith('!')
        ? { pattern: toRegExp(line.slice(1)), exclude: false }
        : { pattern: toRegExp(line), exclude: true },
    );
}

/** Whether `path` (relative to the build context, with `/`) is left out of the context; the last matching rule wins. */
export function isIgnored(rules: readonly Rule[], path: string): boolean {
  let ignored = false;
  for (const rule of rules) if (rule.pattern.test(path)) ignored = rule.exclude;
  return ignored;
}
