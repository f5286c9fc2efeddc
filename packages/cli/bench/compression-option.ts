/**
 * Whether this build's coordinator offers `--compression`, and with which choices: read from its
 * `--help`, so the cluster benchmark runs compressed rows exactly when there is something to run.
 */
import { execFileSync } from 'node:child_process';
import { BIN } from '../test/launch-helpers.ts';

/** The `--compression` choices other than `none`; empty when the option does not exist. */
export async function availableCompressions(): Promise<string[]> {
  const help = execFileSync(process.execPath, [BIN, 'coordinator', '--help'], { encoding: 'utf8' });
  const line = help.split('\n').find((l) => l.trimStart().startsWith('--compression'));
  if (line === undefined) return [];
  const choices = /choices: ([^)]*)\)/.exec(line)?.[1];
  if (choices === undefined) return [];
  return choices.split(',').map((c) => c.trim().replace(/^"|"$/g, '')).filter((c) => c !== '' && c !== 'none');
}

/** Uncompressed over compressed bytes of a wire format, NaN when it depends on more than its name. */
export function compressionRatioOf(name: string): number {
  if (name === 'none') return 1;
  if (name === 'bf16' || name === 'fp16' || name === 'f16') return 2;
  return Number.NaN;
}
