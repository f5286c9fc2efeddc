/**
 * The observer beside the machine, across a regroup: reports of a step that was discarded (sent
 * by a rank that then died) must give way to the next generation's reports of that step, whose
 * ranks are numbered anew. Driven by the real machine, with the real sampler.
 */
import { Registry } from 'prom-client';
import { describe, expect, it } from 'vitest';
import { createCoordinatorState, machineConfig, resolveCoordinatorOptions, step, type CoordinatorEvent, type CoordinatorState } from '../src/index.ts';
import { RunObserver } from '../src/observe/run-observer.ts';

const TOKEN = 'run-observer-test-token-0123456789';

/** An event without its time, which `feed` adds. */
type Untimed<E> = E extends unknown ? Omit<E, 'atMs'> : never;

describe('the run observer across a regroup', () => {
  it('replaces the reports of a discarded step with the next generation\u2019s, and counts the step once', async () => {
    const options = resolveCoordinatorOptions({ token: TOKEN, minWorkers: 2, maxWorkers: 3, rendezvousSettleMs: 1000, globalBatchSize: 6 });
    const registry = new Registry();
    const observer = new RunObserver({ options, counts: { train: 60, test: 0 }, version: 'test', clock: () => 0, registry });
    let state: CoordinatorState = createCoordinatorState(machineConfig(options, { train: 60, test: 0 }), 0);
    observer.attach(state);
    let atMs = 0;
    const feed = (event: Untimed<CoordinatorEvent>): void => {
      atMs += 1;
      const withTime = { ...event, atMs } as CoordinatorEvent;
      const result = step(state, withTime);
      state = result.state;
      observer.observe(withTime, state, result.outbox);
    };
    const report = (workerId: string, stepIndex: number): void =>
      feed({
        type: 'step-reported',
        workerId,
        report: { generation: state.generation, epoch: 0, step: stepIndex, loss: 1, correct: 1, count: 2, computeMs: 10, allReduceMs: 1, waitMs: 0, sentBytes: 0, weightChecksum: '' },
      });
    for (const [i, id] of ['w1', 'w2', 'w3'].entries()) {
      feed({ type: 'worker-joined', connectionId: id, workerId: id, hostname: 'h', pid: i, backend: 'cpu', peerAddress: { host: '127.0.0.1', port: 9000 + i }, generation: 0 });
    }
    const members = (): string[] => state.workers.filter((w) => w.rank !== null).map((w) => w.workerId);
    const formGeneration = (stepsDone: number, aborted = -1): void => {
      for (const id of members()) feed({ type: 'replica-reported', workerId: id, generation: state.generation, stepsDone, abortedStep: aborted, position: null });
      for (const id of members()) feed({ type: 'worker-ready', workerId: id, generation: state.generation, step: state.nextStep, weightChecksum: 'c' });
    };
    formGeneration(-1);
    for (const id of members()) report(id, 0);
    // Rank 0 finishes step 1 and dies before the others do: no survivor holds step 1.
    report('w1', 1);
    feed({ type: 'worker-left', workerId: 'w1', reason: 'killed' });
    formGeneration(1, 1);
    expect(state.recovery.stepsDiscarded).toBe(1);
    // The new rank 0 (w2) and rank 1 (w3) train step 1 again.
    expect(() => {
      report('w2', 1);
      report('w3', 1);
    }).not.toThrow();
    expect(state.nextStep).toBe(2);
    const exposition = await registry.metrics();
    expect(exposition).toMatch(/^ringtrain_steps_completed_total 2$/m);
    expect(exposition).toMatch(/^ringtrain_steps_discarded_total 1$/m);
    expect(exposition).toMatch(/^ringtrain_membership_changes_total\{cause="worker_lost"\} 1$/m);
  });
});
