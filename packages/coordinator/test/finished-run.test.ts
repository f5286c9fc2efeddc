import { mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { FINISHED_RUN_FILE, readFinishedRun, writeFinishedRun, type FinishedRun } from '../src/finished-run.ts';
import type { RunStatus } from '../src/observe/run-status.ts';

const scratch = mkdtempSync(join(tmpdir(), 'ringtrain-finished-run-'));
afterAll(() => rmSync(scratch, { recursive: true, force: true }));

const record = (step: number): FinishedRun => ({
  formatVersion: 1,
  finishedAt: '2026-01-01T00:00:00.000Z',
  step,
  epoch: 2,
  status: { phase: 'finished', progress: { stepsDone: step } } as unknown as RunStatus,
  metrics: 'ringtrain_steps_completed_total 128\n',
});

describe('the finished-run record', () => {
  it('reads back what was written, and leaves no temporary file', async () => {
    const dir = join(scratch, 'whole');
    await writeFinishedRun(dir, record(128));
    expect(await readFinishedRun(dir, 128)).toEqual({ record: record(128) });
    expect(readdirSync(dir)).toEqual([FINISHED_RUN_FILE]);
  });

  it("refuses another run's record, naming both steps", async () => {
    const dir = join(scratch, 'other');
    await writeFinishedRun(dir, record(64));
    expect(await readFinishedRun(dir, 128)).toEqual({
      problem: `${join(dir, FINISHED_RUN_FILE)} records a run that ended at step 64, the newest checkpoint is of step 128`,
    });
  });

  it.each([
    ['no file', undefined, /cannot be read/],
    ['a file that is not JSON', '{"formatVersion": 1,', /is not JSON$/],
    ['a record of another format', JSON.stringify({ ...record(128), formatVersion: 2 }), /is not a finished-run record of format version 1$/],
    ['a record without its metrics', JSON.stringify({ ...record(128), metrics: undefined }), /is not a finished-run record of format version 1$/],
  ])('says why it cannot use %s', async (_what, text, problem) => {
    const dir = mkdtempSync(join(scratch, 'bad-'));
    if (text !== undefined) writeFileSync(join(dir, FINISHED_RUN_FILE), text);
    const found = await readFinishedRun(dir, 128);
    expect('problem' in found && found.problem).toMatch(problem);
  });
});
