import { execFile } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { describe, expect, it } from 'vitest';
import { DistributedSampler } from '../src/index.ts';

const run = promisify(execFile);
const fixture = fileURLToPath(new URL('./fixtures/print-permutation.ts', import.meta.url));

async function orderInChildProcess(datasetSize: number, seed: number, epoch: number): Promise<number[]> {
  const { stdout } = await run(process.execPath, ['--import', 'tsx', fixture, String(datasetSize), String(seed), String(epoch)]);
  return JSON.parse(stdout) as number[];
}

describe('the epoch order across processes', () => {
  it('is the same in separate processes as in this one, so workers agree without being told', async () => {
    const cases: [number, number, number][] = [
      [60_000, 42, 0],
      [1_001, 2 ** 40 + 7, 13],
    ];
    const children = await Promise.all(cases.map(([n, seed, epoch]) => orderInChildProcess(n, seed, epoch)));
    cases.forEach(([n, seed, epoch], i) => {
      const here = Array.from(new DistributedSampler({ datasetSize: n, seed }).permutation(epoch));
      expect(children[i]?.length).toBe(n);
      expect(children[i]).toEqual(here);
    });
  });
});
