/**
 * prom-client's default process metrics (CPU, memory, event loop lag, GC, handles), registered
 * on the given registry with the ringtrain prefix so they sort with the rest.
 *
 * prom-client also exports three gauges named like counters (`nodejs_active_handles_total`,
 * `…_requests_total`, `…_resources_total`), which `promtool check metrics` flags; they are the
 * sums of the per-type gauges `nodejs_active_handles{type}` etc., so they are dropped.
 */
import { collectDefaultMetrics, type Registry } from 'prom-client';
import { METRIC_PREFIX } from './names.ts';

const GAUGES_NAMED_LIKE_COUNTERS = [
  'nodejs_active_handles_total',
  'nodejs_active_requests_total',
  'nodejs_active_resources_total',
];

export function registerProcessMetrics(registry: Registry): void {
  collectDefaultMetrics({ register: registry, prefix: METRIC_PREFIX });
  for (const name of GAUGES_NAMED_LIKE_COUNTERS) {
    if (registry.getSingleMetric(METRIC_PREFIX + name) !== undefined) registry.removeSingleMetric(METRIC_PREFIX + name);
  }
}
