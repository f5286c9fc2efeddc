/**
 * Liveness apart from compute: a worker answers the coordinator's heartbeats while a training
 * step computes, so a heartbeat timeout far shorter than a step cuts no one. The steps here
 * (ResNet-18 at 96×96, 128 images per worker) take several times the 500 ms timeout on any CPU
 * this runs on; a worker whose step held the thread that answers pings would be cut at its
 * first step, and the run would regroup or fail. Nothing is asserted on a duration.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { readSummary, runRingtrain, type RunningCommand } from './launch-helpers.ts';
import { until } from './support/worker-processes.ts';

const SHORT_HEARTBEATS = ['--heartbeat-interval-ms', '100', '--heartbeat-timeout-ms', '500'];

async function launch(
  dir: string,
  name: string,
  extra: string[],
  during?: (run: RunningCommand) => Promise<void>,
): Promise<{ code: number | null; output: string; summaryPath: string }> {
  const summaryPath = join(dir, `${name}.json`);
  const run = runRingtrain([
    'launch', '--workers', '2', '--port', '0', '--image-size', '96', '--batch-size', '256',
    '--limit-test', '128', '--log-format', 'json', '--log-level', 'info',
    '--summary-json', summaryPath, ...SHORT_HEARTBEATS, ...extra,
  ]);
  await during?.(run);
  const { code } = await run.exited;
  return { code, output: run.output(), summaryPath };
}

describe('heartbeats during long steps', () => {
  let dir: string;
  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'ringtrain-liveness-'));
  });
  afterAll(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  it('workers computing on a thread of their own are never taken for silent', async () => {
    const { code, output, summaryPath } = await launch(dir, 'threaded', ['--limit-train', '512']);
    expect(code, output).toBe(0);
    expect(output.match(/compute on a thread of its own/g)?.length, output).toBe(2);
    expect(output, output).not.toMatch(/no heartbeat answer/);
    const summary = await readSummary(summaryPath);
    expect(summary.generations).toBe(1);
    expect(summary.stepsDiscarded).toBe(0);
    expect(summary.steps).toBe(2);
  });

  it('workers that compute on the connection thread say so, and are given their slowest step', async () => {
    const { code, output, summaryPath } = await launch(dir, 'in-thread', ['--limit-train', '512', '--no-compute-thread']);
    expect(code, output).toBe(0);
    expect(output).not.toMatch(/compute on a thread of its own/);
    expect(output, output).not.toMatch(/no heartbeat answer/);
    const summary = await readSummary(summaryPath);
    expect(summary.generations).toBe(1);
    expect(summary.steps).toBe(2);
  });

  it('a coordinator that was itself paused takes nobody for silent when it resumes', async () => {
    // The launcher holds the coordinator; its workers are processes of their own and go on.
    const { code, output, summaryPath } = await launch(dir, 'paused-coordinator', ['--limit-train', '1024'], async (run) => {
      await until('training started', () => /step 1\/4/.test(run.output()));
      run.kill('SIGSTOP');
      await new Promise((r) => setTimeout(r, 2000));
      run.kill('SIGCONT');
    });
    expect(code, output).toBe(0);
    expect(output, output).not.toMatch(/no heartbeat answer/);
    const summary = await readSummary(summaryPath);
    expect(summary.generations).toBe(1);
    expect(summary.steps).toBe(4);
  });
});
