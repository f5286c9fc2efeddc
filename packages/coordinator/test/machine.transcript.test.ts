import { readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { parseTranscript, playTranscript, renderTranscript } from './transcript.ts';

const dir = join(import.meta.dirname, 'testdata');
const files = readdirSync(dir).filter((f) => f.endsWith('.txt'));

describe('the coordinator state machine replays its transcripts', () => {
  it.each(files)('answers every event of %s with the outbox the transcript records', (file) => {
    const text = readFileSync(join(dir, file), 'utf8');
    const blocks = parseTranscript(text);
    const results = playTranscript(blocks);
    if (process.env['REWRITE'] === '1') {
      writeFileSync(join(dir, file), renderTranscript(results));
      return;
    }
    for (const [i, block] of blocks.entries()) {
      const actual = results[i]?.actual ?? [];
      expect(actual.length === 0 ? ['(nothing)'] : actual, `after "${block.command}"`).toEqual(block.expected);
    }
  });
});
