/**
 * A straggler in a real run: one of three worker processes holds a step (alive, answering
 * heartbeats, its compute merely slow) far past --stall-timeout-ms. The coordinator names it,
 * evicts it (--on-stall evict) and the other two go on in a new generation; once its step is
 * over the straggler finds itself evicted, reconnects and joins the running job again. The run
 * ends with exit 0, every sample of every epoch trained exactly once and identical replicas.
 * Nothing is asserted on a duration.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { RunSummary } from '../src/index.ts';
import { readSummary, runRingtrain } from './launch-helpers.ts';
import { readCommittedSteps, sampleCounts, type CommittedStep } from './support/committed-steps.ts';
import { startWorker, until, type WorkerProcess } from './support/worker-processes.ts';

const TRAIN = 1200;
const EPOCHS = 4;
const TOKEN = 'straggler-test-token-0123456789abcdef';

describe('a worker that holds a step past the stall timeout', () => {
  let dir: string;
  let exitCode: number | null;
  let output: string;
  let summary: RunSummary;
  let committed: CommittedStep[];
  const workers: WorkerProcess[] = [];

  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'ringtrain-straggler-'));
    const stepLog = join(dir, 'committed.jsonl');
    const coordinator = runRingtrain(
      [
        'coordinator', '--port', '0', '--min-workers', '2', '--max-workers', '3', '--rendezvous-settle-ms', '60000',
        '--stall-warning-ms', '500', '--stall-timeout-ms', '1500', '--on-stall', 'evict',
        '--model', 'resnet18', '--width', '0.5', '--batch-size', '60', '--epochs', String(EPOCHS),
        '--limit-train', String(TRAIN), '--limit-test', '300', '--checksum-every', '1',
        '--step-log', stepLog, '--summary-json', join(dir, 'summary.json'), '--log-format', 'json',
      ],
      { RINGTRAIN_TOKEN: TOKEN },
    );
    const url = await coordinator.url;
    workers.push(startWorker(url, dir, 'steady-a', TOKEN), startWorker(url, dir, 'steady-b', TOKEN));
    // Holds step 4 for 3 s, twice the stall timeout, as a worker on an overloaded host would; the
    // run has most of its 80 steps to go when it is back.
    const straggler = startWorker(url, dir, 'straggler', TOKEN, ['--inject-fault', 'stall@4:compute:3000']);
    workers.push(straggler);
    await until('the straggler is evicted', () => /worker straggler .*evicted as a straggler/.test(coordinator.output()));
    const result = await coordinator.exited;
    exitCode = result.code;
    output = coordinator.output();
    summary = await readSummary(join(dir, 'summary.json'));
    committed = await readCommittedSteps(stepLog);
  }, 300_000);

  afterAll(async () => {
    for (const w of workers) if (w.child.exitCode === null) w.child.kill('SIGKILL');
    if (dir !== undefined) await rm(dir, { recursive: true, force: true });
  });

  it('names the straggler, evicts it, and finishes with exit 0', () => {
    expect(exitCode, output).toBe(0);
    expect(output).toMatch(/stalled for \d+ s waiting for .*straggler/);
    expect(output).toMatch(/worker straggler .*evicted as a straggler/);
    expect(summary.testAccuracy).toBeGreaterThan(0);
  });

  it('goes on without it, and takes it back once its step is over', () => {
    expect(summary.generations).toBeGreaterThanOrEqual(3);
    const generationsOf = (n: number): CommittedStep[] => committed.filter((s) => s.ranks.length === n);
    expect(generationsOf(2).length).toBeGreaterThan(0);
    // Steps of three ranks after the eviction: the straggler is back.
    const evictedAt = Math.min(...generationsOf(2).map((s) => s.step));
    expect(committed.some((s) => s.ranks.length === 3 && s.step > evictedAt)).toBe(true);
    expect(output).toMatch(/worker straggler \(rank \d, .*\) is ready/);
  });

  it('trains every sample of every epoch exactly once', () => {
    for (let epoch = 0; epoch < EPOCHS; epoch++) {
      const counts = sampleCounts(committed, epoch);
      expect(counts.size, `epoch ${epoch}`).toBe(TRAIN);
      expect([...counts.values()].every((c) => c === 1), `epoch ${epoch}`).toBe(true);
    }
  });

  it('keeps the replicas identical', () => {
    expect(output).not.toMatch(/checksums? (differ|disagree)/);
    expect(summary.checksumsAgreed).toBeGreaterThan(0);
  });

  it('lets every worker, the straggler too, leave cleanly', async () => {
    const codes = await Promise.all(workers.map((w) => w.exited));
    expect(codes, workers.map((w) => w.output().slice(-2000)).join('\n---\n')).toEqual([0, 0, 0]);
  });
});
