import { Registry } from 'prom-client';
import { describe, expect, it } from 'vitest';
import {
  COORDINATOR_METRIC_NAMES,
  HISTOGRAM_METRIC_NAMES,
  METRIC_NAMES,
  METRIC_PREFIX,
  PROCESS_METRIC_NAMES,
  SHARED_METRIC_NAMES,
  WORKER_METRIC_NAMES,
  createCoordinatorMetrics,
  createWorkerMetrics,
} from '../src/index.ts';
import { busyRegistries, familiesOf } from './support/exposition.ts';

const LOW_CARDINALITY_LABELS = new Set(['rank', 'worker', 'model', 'state', 'phase', 'reason', 'version', 'backend', 'cause']);
/** prom-client's own defaults, registered under our prefix. */
const isProcessDefault = (name: string) => /^ringtrain_(process|nodejs)_/.test(name);

describe('METRIC_NAMES', () => {
  const { coordinator, worker } = busyRegistries();

  it('lists exactly the ringtrain metrics the coordinator and a worker export, besides the unused process defaults', async () => {
    const exported = new Map([...familiesOf(await coordinator.metrics()), ...familiesOf(await worker.metrics())]);
    const ours = [...exported.keys()].filter((name) => !isProcessDefault(name));
    expect(new Set(ours)).toEqual(new Set(METRIC_NAMES.filter((name) => !isProcessDefault(name))));
    for (const name of Object.values(PROCESS_METRIC_NAMES)) expect(exported.has(name), name).toBe(true);
  });

  it('has the coordinator export its table and the shared metrics, and a worker its own', async () => {
    const coordinatorOnly = new Registry();
    createCoordinatorMetrics(coordinatorOnly, { version: '1', backend: 'cpu', model: 'm', processMetrics: false });
    const workerOnly = new Registry();
    createWorkerMetrics(workerOnly, { version: '1', backend: 'cpu', processMetrics: false });
    expect(new Set(familiesOf(await coordinatorOnly.metrics()).keys())).toEqual(
      new Set([...Object.values(SHARED_METRIC_NAMES), ...Object.values(COORDINATOR_METRIC_NAMES)]),
    );
    expect(new Set(familiesOf(await workerOnly.metrics()).keys())).toEqual(
      new Set([...Object.values(SHARED_METRIC_NAMES), ...Object.values(WORKER_METRIC_NAMES)]),
    );
  });

  it('names every metric with the prefix, in snake case, with _total on counters and only on counters', async () => {
    const exported = new Map([...familiesOf(await coordinator.metrics()), ...familiesOf(await worker.metrics())]);
    for (const [name, type] of exported) {
      expect(name.startsWith(METRIC_PREFIX), name).toBe(true);
      expect(name, name).toMatch(/^[a-z][a-z0-9_]*$/);
      expect(name.endsWith('_total'), `${name} is a ${type}`).toBe(type === 'counter');
    }
  });

  it('lists as histograms exactly the histogram families', async () => {
    const exported = new Map([...familiesOf(await coordinator.metrics()), ...familiesOf(await worker.metrics())]);
    const histograms = [...exported].filter(([name, type]) => type === 'histogram' && !isProcessDefault(name));
    expect(new Set(histograms.map(([name]) => name))).toEqual(new Set(HISTOGRAM_METRIC_NAMES));
  });

  it('uses only low-cardinality labels on ringtrain metrics', async () => {
    for (const registry of [coordinator, worker]) {
      for (const metric of await registry.getMetricsAsJSON()) {
        if (isProcessDefault(metric.name)) continue;
        for (const value of metric.values) {
          for (const label of Object.keys(value.labels)) {
            if (label === 'le') continue;
            expect(LOW_CARDINALITY_LABELS.has(label), `${metric.name} has label ${label}`).toBe(true);
          }
        }
      }
    }
  });
});
