/**
 * A worker's Prometheus metrics on a registry of its own (never prom-client's global one), ready
 * to hand to the `Worker` and to serve with `startWorkerMetricsServer`.
 */
import { createWorkerMetrics, type WorkerMetrics } from '@ringtrain/metrics';
import { Registry } from 'prom-client';

export interface WorkerMetricsSetup {
  registry: Registry;
  metrics: WorkerMetrics;
}

/** A fresh registry with the worker's metrics (and the process metrics) on it. */
export function createWorkerMetricsRegistry(info: { version: string; backend: string }): WorkerMetricsSetup {
  const registry = new Registry();
  return { registry, metrics: createWorkerMetrics(registry, info) };
}
