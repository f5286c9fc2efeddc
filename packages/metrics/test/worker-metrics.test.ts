import { Registry } from 'prom-client';
import { describe, expect, it } from 'vitest';
import {
  InvalidMetricValueError,
  STEP_PHASES,
  UNASSIGNED,
  WORKER_FAILURE_REASONS,
  WORKER_METRIC_NAMES as N,
  createWorkerMetrics,
  type WorkerMetricsOptions,
} from '../src/index.ts';
import { samplesOf, valueOf } from './support/metric-values.ts';

function build(options: Partial<WorkerMetricsOptions> = {}) {
  const registry = new Registry();
  const metrics = createWorkerMetrics(registry, {
    version: '0.1.0',
    backend: 'cpu',
    processMetrics: false,
    ...options,
  });
  return { registry, metrics };
}

describe('createWorkerMetrics', () => {
  it('labels every series with the rank it was given', async () => {
    const { registry, metrics } = build({ rank: 2 });
    metrics.recordStep({ examples: 32, computeSeconds: 1, allReduceSeconds: 0.5, waitSeconds: 0.25 });
    expect(metrics.rankLabel).toBe('2');
    expect(await valueOf(registry, N.examplesProcessed, { rank: '2' })).toBe(32);
    expect(await valueOf(registry, `${N.stepPhaseSeconds}_sum`, { rank: '2', phase: 'all_reduce' })).toBe(0.5);
  });

  it('exports every series at 0 before the first step, so rate() works from the start', async () => {
    const { registry } = build();
    expect(await valueOf(registry, N.examplesProcessed, { rank: UNASSIGNED })).toBe(0);
    for (const phase of STEP_PHASES) {
      expect(await valueOf(registry, `${N.stepPhaseSeconds}_count`, { rank: UNASSIGNED, phase })).toBe(0);
    }
    expect(await valueOf(registry, `${N.allReduceSeconds}_count`, { rank: UNASSIGNED })).toBe(0);
    for (const reason of WORKER_FAILURE_REASONS) {
      expect(await valueOf(registry, N.failures, { rank: UNASSIGNED, reason })).toBe(0);
    }
  });

  it('records an all-reduce as bytes sent and received, the gradient size and its duration', async () => {
    const { registry, metrics } = build({ rank: 0 });
    metrics.recordAllReduce({
      gradientBytes: 44_000_000,
      sentBytes: 22_000_000,
      receivedBytes: 22_000_000,
      seconds: 0.03,
    });
    metrics.recordAllReduce({
      gradientBytes: 44_000_000,
      sentBytes: 22_000_000,
      receivedBytes: 21_999_996,
      seconds: 0.05,
    });
    expect(await valueOf(registry, N.allReduceSentBytes, { rank: '0' })).toBe(44_000_000);
    expect(await valueOf(registry, N.allReduceReceivedBytes, { rank: '0' })).toBe(43_999_996);
    expect(await valueOf(registry, N.gradientBytes, { rank: '0' })).toBe(44_000_000);
    expect(await valueOf(registry, `${N.allReduceSeconds}_count`, { rank: '0' })).toBe(2);
    expect(await valueOf(registry, `${N.allReduceSeconds}_sum`, { rank: '0' })).toBeCloseTo(0.08, 12);
  });

  it('takes what tf.memory() reports as the tensors and bytes TensorFlow.js holds', async () => {
    const { registry, metrics } = build({ rank: 1 });
    const memory = { numTensors: 412, numBytes: 46_800_000, numDataBuffers: 412, unreliable: false };
    metrics.setTensorMemory(memory);
    expect(await valueOf(registry, N.tensors, { rank: '1' })).toBe(412);
    expect(await valueOf(registry, N.tensorBytes, { rank: '1' })).toBe(46_800_000);
  });

  it('moves gauges to the new rank and starts new counter series when the rank changes', async () => {
    const { registry, metrics } = build();
    metrics.setTensorMemory({ numTensors: 10, numBytes: 4000 });
    metrics.recordStep({ examples: 16, computeSeconds: 0.1, allReduceSeconds: 0, waitSeconds: 0 });
    metrics.setRank(1);
    metrics.recordStep({ examples: 8, computeSeconds: 0.1, allReduceSeconds: 0, waitSeconds: 0 });
    expect((await samplesOf(registry, N.tensors)).map((s) => [s.labels.rank, s.value])).toEqual([['1', 10]]);
    expect(await valueOf(registry, N.examplesProcessed, { rank: UNASSIGNED })).toBe(16);
    expect(await valueOf(registry, N.examplesProcessed, { rank: '1' })).toBe(8);
    expect(await valueOf(registry, N.failures, { rank: '1', reason: 'peer_lost' })).toBe(0);
  });

  it('counts failures by reason under the current rank', async () => {
    const { registry, metrics } = build({ rank: 3 });
    metrics.recordFailure('peer_lost');
    metrics.recordFailure('out_of_memory');
    expect(await valueOf(registry, N.failures, { rank: '3', reason: 'peer_lost' })).toBe(1);
    expect(await valueOf(registry, N.failures, { rank: '3', reason: 'out_of_memory' })).toBe(1);
  });

  it('exports the model once it is assigned', async () => {
    const { registry, metrics } = build();
    expect(metrics.buildInfo.model).toBe(UNASSIGNED);
    metrics.setBuildInfo({ model: 'resnet50' });
    const info = await samplesOf(registry, 'ringtrain_build_info');
    expect(info.map((s) => s.labels)).toEqual([{ version: '0.1.0', backend: 'cpu', model: 'resnet50' }]);
  });

  it.each([
    ['a negative rank', () => build().metrics.setRank(-1), /rank must be an integer ≥ 0, got -1/],
    [
      'a fractional byte count',
      () => build().metrics.recordAllReduce({ gradientBytes: 4, sentBytes: 1.5, receivedBytes: 0, seconds: 0 }),
      /sentBytes/,
    ],
    [
      'a NaN duration',
      () => build().metrics.recordAllReduce({ gradientBytes: 4, sentBytes: 0, receivedBytes: 0, seconds: Number.NaN }),
      /seconds must be a finite number/,
    ],
    ['a negative tensor count', () => build().metrics.setTensorMemory({ numTensors: -1, numBytes: 0 }), /numTensors/],
  ])('refuses %s', (_what, act, message) => {
    expect(act).toThrow(InvalidMetricValueError);
    expect(act).toThrow(message);
  });
});
