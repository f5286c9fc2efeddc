/** Reads samples back out of a prom-client registry, as a scrape would see them. */
import type { Registry } from 'prom-client';

export interface Sample {
  /** The sample's own name: a histogram's are `<name>_bucket`, `<name>_sum`, `<name>_count`. */
  name: string;
  labels: Record<string, string | number>;
  value: number;
}

/** Every sample of the family `family` (empty when the registry has no such metric). */
export async function samplesOf(registry: Registry, family: string): Promise<Sample[]> {
  const metric = (await registry.getMetricsAsJSON()).find((m) => m.name === family);
  if (metric === undefined) return [];
  return metric.values.map((v) => ({
    name: (v as { metricName?: string }).metricName ?? family,
    labels: { ...(v.labels as Record<string, string | number>) },
    value: v.value,
  }));
}

/**
 * The value of the one sample named `name` (a family, or a histogram's `_sum`/`_count`) whose
 * labels include `labels`; undefined when there is none, an error when there are several.
 */
export async function valueOf(
  registry: Registry,
  name: string,
  labels: Record<string, string> = {},
): Promise<number | undefined> {
  const family = name.replace(/_(sum|count)$/, '');
  const candidates = [
    ...(await samplesOf(registry, name)),
    ...(family === name ? [] : await samplesOf(registry, family)),
  ];
  const matches = candidates.filter(
    (s) => s.name === name && Object.entries(labels).every(([k, v]) => String(s.labels[k]) === v),
  );
  if (matches.length > 1) throw new Error(`${name} ${JSON.stringify(labels)} matches ${matches.length} samples`);
  return matches[0]?.value;
}
