import { Registry, register as globalRegistry } from 'prom-client';
import { describe, expect, it } from 'vitest';
import {
  COORDINATOR_FAILURE_REASONS,
  COORDINATOR_METRIC_NAMES as N,
  InvalidLabelValueError,
  InvalidMetricValueError,
  RUN_STATES,
  TooManyLabelValuesError,
  createCoordinatorMetrics,
  type CoordinatorMetricsOptions,
  type RankStep,
} from '../src/index.ts';
import { samplesOf, valueOf } from './support/metric-values.ts';

function build(options: Partial<CoordinatorMetricsOptions> = {}) {
  const registry = new Registry();
  let nowMs = 1_000_000;
  const metrics = createCoordinatorMetrics(registry, {
    version: '0.1.0',
    backend: 'cpu',
    model: 'resnet18',
    processMetrics: false,
    now: () => nowMs,
    ...options,
  });
  return {
    registry,
    metrics,
    advance(ms: number) {
      nowMs += ms;
    },
  };
}

function rankStep(rank: number, change: Partial<RankStep> = {}): RankStep {
  return {
    rank,
    examples: 64,
    correct: 32,
    loss: 1,
    computeSeconds: 0.4,
    allReduceSeconds: 0.1,
    waitSeconds: 0.02,
    ...change,
  };
}

describe('createCoordinatorMetrics', () => {
  it('exports build info as an info gauge of 1 with version, backend and model labels', async () => {
    const { registry, metrics } = build();
    expect(await samplesOf(registry, 'ringtrain_build_info')).toEqual([
      { name: 'ringtrain_build_info', labels: { version: '0.1.0', backend: 'cpu', model: 'resnet18' }, value: 1 },
    ]);
    metrics.setBuildInfo({ backend: 'tensorflow' });
    expect(await samplesOf(registry, 'ringtrain_build_info')).toEqual([
      {
        name: 'ringtrain_build_info',
        labels: { version: '0.1.0', backend: 'tensorflow', model: 'resnet18' },
        value: 1,
      },
    ]);
  });

  it('registers on the registry it is given and leaves the global registry alone', async () => {
    const before = (await globalRegistry.getMetricsAsJSON()).length;
    const { registry } = build({ processMetrics: true });
    expect(await valueOf(registry, 'ringtrain_process_cpu_seconds_total')).toBeGreaterThanOrEqual(0);
    expect((await globalRegistry.getMetricsAsJSON()).length).toBe(before);
    // A second set of metrics on a second fresh registry does not collide with the first.
    expect(() => build({ processMetrics: true })).not.toThrow();
  });

  it('sums examples and counts one step when every rank of a step has reported', async () => {
    const { registry, metrics } = build();
    metrics.recordStep({ epoch: 0, step: 1, ranks: [rankStep(0, { examples: 64 }), rankStep(1, { examples: 60 })] });
    metrics.recordStep({ epoch: 1, step: 2, ranks: [rankStep(0, { examples: 64 }), rankStep(1, { examples: 64 })] });
    expect(await valueOf(registry, N.examplesProcessed)).toBe(252);
    expect(await valueOf(registry, N.stepsCompleted)).toBe(2);
    expect(await valueOf(registry, N.epoch)).toBe(1);
    expect(await valueOf(registry, N.step)).toBe(2);
  });

  it("weights the train loss by each rank's examples and reports accuracy as a ratio", async () => {
    const { registry, metrics } = build();
    metrics.recordStep({
      epoch: 0,
      step: 7,
      ranks: [rankStep(0, { examples: 30, correct: 3, loss: 2 }), rankStep(1, { examples: 10, correct: 9, loss: 1 })],
    });
    expect(await valueOf(registry, N.trainLoss)).toBeCloseTo((30 * 2 + 10 * 1) / 40, 12);
    expect(await valueOf(registry, N.trainAccuracy)).toBeCloseTo(12 / 40, 12);
  });

  it('records a NaN loss as NaN, so that the loss alert can see it', async () => {
    const { registry, metrics } = build();
    metrics.recordStep({ epoch: 0, step: 1, ranks: [rankStep(0, { loss: Number.NaN }), rankStep(1)] });
    expect(await valueOf(registry, N.trainLoss)).toBeNaN();
  });

  it("observes each rank's compute, all-reduce and waiting seconds under its own phase", async () => {
    const { registry, metrics } = build();
    metrics.recordStep({
      epoch: 0,
      step: 1,
      ranks: [
        rankStep(0, { computeSeconds: 0.5, allReduceSeconds: 0.25, waitSeconds: 0.125 }),
        rankStep(3, { computeSeconds: 2, allReduceSeconds: 1, waitSeconds: 0 }),
      ],
    });
    const sum = (rank: string, phase: string) => valueOf(registry, `${N.stepPhaseSeconds}_sum`, { rank, phase });
    expect(await sum('0', 'compute')).toBe(0.5);
    expect(await sum('0', 'all_reduce')).toBe(0.25);
    expect(await sum('0', 'waiting')).toBe(0.125);
    expect(await sum('3', 'compute')).toBe(2);
    expect(await valueOf(registry, `${N.stepPhaseSeconds}_count`, { rank: '3', phase: 'waiting' })).toBe(1);
    const bucket = (await samplesOf(registry, N.stepPhaseSeconds)).find(
      (s) => s.name.endsWith('_bucket') && s.labels.rank === '0' && s.labels.phase === 'compute' && s.labels.le === 0.5,
    );
    expect(bucket?.value).toBe(1);
  });

  it('computes examples per second over the window from the injected clock, and 0 after a silent window', async () => {
    const { registry, metrics, advance } = build({ throughputWindowMs: 10_000 });
    expect(await valueOf(registry, N.examplesPerSecond)).toBe(0);
    // Steps of 1 s with 128 examples each (64 per rank).
    for (let step = 1; step <= 20; step++) {
      advance(1000);
      metrics.recordStep({
        epoch: 0,
        step,
        ranks: [
          rankStep(0, { computeSeconds: 0.9, allReduceSeconds: 0.1, waitSeconds: 0 }),
          rankStep(1, { computeSeconds: 0.8, allReduceSeconds: 0.1, waitSeconds: 0.1 }),
        ],
      });
    }
    expect(await valueOf(registry, N.examplesPerSecond)).toBeCloseTo(128, 9);
    expect(await valueOf(registry, N.rankExamplesPerSecond, { rank: '1' })).toBeCloseTo(64, 9);
    advance(10_000);
    expect(await valueOf(registry, N.examplesPerSecond)).toBe(0);
    expect(await valueOf(registry, N.rankExamplesPerSecond, { rank: '0' })).toBe(0);
  });

  it('marks exactly one run state with 1 and refuses a state it does not know', async () => {
    const { registry, metrics } = build();
    expect(await valueOf(registry, N.runState, { state: 'waiting_for_workers' })).toBe(1);
    metrics.setRunState('evaluating');
    const states = await samplesOf(registry, N.runState);
    expect(states.map((s) => s.labels.state)).toEqual([...RUN_STATES]);
    expect(states.filter((s) => s.value === 1).map((s) => s.labels.state)).toEqual(['evaluating']);
    expect(() => metrics.setRunState('paused' as never)).toThrow(InvalidMetricValueError);
  });

  it('counts workers by state, drops states nobody is in to 0 and removes the series of ranks that left', async () => {
    const { registry, metrics } = build();
    metrics.setWorkers([
      { rank: 0, state: 'in-round' },
      { rank: 1, state: 'in-round' },
      { rank: null, state: 'connecting' },
    ]);
    metrics.recordStep({ epoch: 0, step: 1, ranks: [rankStep(0), rankStep(1)] });
    expect(await valueOf(registry, N.workers, { state: 'in-round' })).toBe(2);
    expect(await valueOf(registry, N.workers, { state: 'connecting' })).toBe(1);
    expect(await valueOf(registry, N.rankState, { rank: '1', state: 'in-round' })).toBe(1);
    expect(await valueOf(registry, N.rankState, { rank: '1', state: 'connecting' })).toBe(0);

    metrics.setWorkers([{ rank: 0, state: 'draining' }]);
    expect(await valueOf(registry, N.workers, { state: 'in-round' })).toBe(0);
    expect(await valueOf(registry, N.workers, { state: 'connecting' })).toBe(0);
    expect(await valueOf(registry, N.workers, { state: 'draining' })).toBe(1);
    expect(await valueOf(registry, N.rankState, { rank: '0', state: 'draining' })).toBe(1);
    expect(await valueOf(registry, N.rankState, { rank: '0', state: 'in-round' })).toBe(0);
    const ranks = new Set((await samplesOf(registry, N.rankState)).map((s) => s.labels.rank));
    expect([...ranks]).toEqual(['0']);
    expect((await samplesOf(registry, N.rankExamplesPerSecond)).map((s) => s.labels.rank)).toEqual(['0']);
  });

  it('refuses two connected workers holding the same rank', () => {
    const { metrics } = build();
    expect(() =>
      metrics.setWorkers([
        { rank: 2, state: 'ready' },
        { rank: 2, state: 'ready' },
      ]),
    ).toThrow(/two connected workers hold rank 2/);
  });

  it('records an evaluation as test loss, test accuracy and the evaluated epoch', async () => {
    const { registry, metrics } = build();
    metrics.recordEvaluation({ epoch: 3, loss: 0.42, accuracy: 0.875 });
    expect(await valueOf(registry, N.testLoss)).toBe(0.42);
    expect(await valueOf(registry, N.testAccuracy)).toBe(0.875);
    expect(await valueOf(registry, N.evaluatedEpoch)).toBe(3);
    expect(await valueOf(registry, N.evaluations)).toBe(1);
    expect(() => metrics.recordEvaluation({ epoch: 3, loss: 0.4, accuracy: 87.5 })).toThrow(
      /accuracy must be a ratio between 0 and 1, got 87.5/,
    );
  });

  it('exports the plan and counts each ring formed', async () => {
    const { registry, metrics } = build();
    metrics.setPlan({ epochs: 10, stepsPerEpoch: 234 });
    metrics.startGeneration({ generation: 1, worldSize: 3 });
    metrics.startGeneration({ generation: 2, worldSize: 2 });
    expect(await valueOf(registry, N.plannedEpochs)).toBe(10);
    expect(await valueOf(registry, N.plannedSteps)).toBe(2340);
    expect(await valueOf(registry, N.generation)).toBe(2);
    expect(await valueOf(registry, N.worldSize)).toBe(2);
    expect(await valueOf(registry, N.rendezvous)).toBe(2);
  });

  it('counts membership changes by cause, recoveries with their time, and discarded steps', async () => {
    const { registry, metrics } = build();
    expect(await valueOf(registry, N.membershipChanges, { cause: 'worker_lost' })).toBe(0);
    metrics.startGeneration({ generation: 1, worldSize: 3, cause: 'start' });
    metrics.startGeneration({ generation: 2, worldSize: 2, cause: 'worker_lost' });
    metrics.startGeneration({ generation: 3, worldSize: 3, cause: 'worker_joined' });
    metrics.recordRecovery(1.25);
    metrics.recordRecovery(0.5);
    metrics.recordDiscardedSteps(1);
    expect(await valueOf(registry, N.membershipChanges, { cause: 'start' })).toBe(1);
    expect(await valueOf(registry, N.membershipChanges, { cause: 'worker_lost' })).toBe(1);
    expect(await valueOf(registry, N.membershipChanges, { cause: 'worker_joined' })).toBe(1);
    expect(await valueOf(registry, N.membershipChanges, { cause: 'ring_failed' })).toBe(0);
    expect(await valueOf(registry, N.recoveries)).toBe(2);
    expect(await valueOf(registry, N.recoverySeconds)).toBe(1.75);
    expect(await valueOf(registry, N.stepsDiscarded)).toBe(1);
    expect(() => metrics.startGeneration({ generation: 4, worldSize: 1, cause: 'meteor' as 'start' })).toThrow('membership cause must be one of start, worker_lost');
    expect(() => metrics.recordRecovery(-1)).toThrow('recovery seconds must be a finite number of at least 0, got -1');
  });

  it('exports the known failure reasons at 0 from the start and counts a new reason', async () => {
    const { registry, metrics } = build();
    for (const reason of COORDINATOR_FAILURE_REASONS) {
      expect(await valueOf(registry, N.failures, { reason })).toBe(0);
    }
    metrics.recordFailure('heartbeat_timeout');
    metrics.recordFailure('heartbeat_timeout');
    metrics.recordFailure('checkpoint_write');
    expect(await valueOf(registry, N.failures, { reason: 'heartbeat_timeout' })).toBe(2);
    expect(await valueOf(registry, N.failures, { reason: 'checkpoint_write' })).toBe(1);
  });

  it('refuses a failure reason that is a sentence rather than a word', () => {
    const { metrics } = build();
    expect(() => metrics.recordFailure('Worker 3 timed out after 30 s')).toThrow(InvalidLabelValueError);
  });

  it('refuses more distinct label values than maxLabelValues allows', () => {
    const { metrics } = build({ maxLabelValues: 6 });
    metrics.recordFailure('one_more');
    expect(() => metrics.recordFailure('two_more')).toThrow(TooManyLabelValuesError);
    expect(() => metrics.recordFailure('two_more')).toThrow(/at most 6 are allowed/);
  });

  it.each([
    ['a negative duration', { computeSeconds: -0.1 }, /rank 0 computeSeconds must be a finite number ≥ 0, got -0.1/],
    ['an infinite wait', { waitSeconds: Number.POSITIVE_INFINITY }, /rank 0 waitSeconds/],
    ['more correct than examples', { correct: 65, examples: 64 }, /rank 0 reports 65 correct out of 64 examples/],
    ['a fractional example count', { examples: 1.5 }, /rank 0 examples must be an integer/],
  ])('refuses a step report with %s', (_what, change, message) => {
    const { metrics } = build();
    expect(() => metrics.recordStep({ epoch: 0, step: 1, ranks: [rankStep(0, change)] })).toThrow(message);
  });

  it('refuses a step without reports or with two reports from one rank', () => {
    const { metrics } = build();
    expect(() => metrics.recordStep({ epoch: 0, step: 4, ranks: [] })).toThrow(/step 4 has no rank reports/);
    expect(() => metrics.recordStep({ epoch: 0, step: 4, ranks: [rankStep(1), rankStep(1)] })).toThrow(
      /step 4 has two reports from rank 1/,
    );
  });

  it('refuses build info with an empty model', () => {
    expect(() => build({ model: '' })).toThrow(/build info model must be a non-empty string/);
  });
});
