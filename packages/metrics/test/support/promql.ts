/**
 * The metric names a PromQL expression reads, found without a full parser: strings, label
 * matchers, range and subquery brackets and grouping label lists are removed, and what is left
 * is a sequence of numbers, keywords, function names (followed by `(`) and metric names.
 * Expressions may hold Grafana variables (`$__rate_interval`, `${var}`). Syntax is checked
 * separately, by promtool.
 */
import { HISTOGRAM_METRIC_NAMES, METRIC_NAMES } from '../../src/index.ts';

const KEYWORDS = new Set([
  'and',
  'or',
  'unless',
  'by',
  'without',
  'on',
  'ignoring',
  'group_left',
  'group_right',
  'offset',
  'bool',
  'atan2',
  'inf',
  'nan',
]);

/** Metrics Prometheus makes itself for every target. */
const SYNTHETIC_METRICS = new Set(['up', 'scrape_duration_seconds', 'scrape_samples_scraped']);

export function metricNamesIn(expr: string): string[] {
  const stripped = expr
    .replace(/"(?:[^"\\]|\\.)*"|'(?:[^'\\]|\\.)*'|`[^`]*`/g, ' ')
    .replace(/\[[^\]]*\]/g, ' ')
    .replace(/\{[^}]*\}/g, ' ')
    .replace(/\b(?:by|without|on|ignoring|group_left|group_right)\s*\([^)]*\)/gi, ' ')
    .replace(/\$\{[^}]*\}|\$\w+/g, ' ');
  const names = new Set<string>();
  const token = /(0x[0-9a-f]+|\d+(?:\.\d*)?(?:e[+-]?\d+)?[a-z]*|\.\d+)|([a-z_:][a-z0-9_:]*)(\s*\()?/gi;
  for (const [, number, identifier, call] of stripped.matchAll(token)) {
    if (number !== undefined || identifier === undefined || call !== undefined) continue;
    if (KEYWORDS.has(identifier.toLowerCase())) continue;
    names.add(identifier);
  }
  return [...names];
}

/**
 * The names in `expr` that ringtrain does not export: not in `METRIC_NAMES`, not a histogram's
 * `_bucket`/`_sum`/`_count` series, not one Prometheus makes itself.
 */
export function unknownMetricNamesIn(expr: string): string[] {
  const known = new Set(METRIC_NAMES);
  const histograms = new Set(HISTOGRAM_METRIC_NAMES);
  return metricNamesIn(expr).filter((name) => {
    if (known.has(name) || SYNTHETIC_METRICS.has(name)) return false;
    const series = /^(.*)_(bucket|sum|count)$/.exec(name);
    return !(series && histograms.has(series[1]!));
  });
}

/** Grafana's built-in interval variables replaced by durations promtool can parse. */
export function withGrafanaVariablesReplaced(expr: string): string {
  return expr.replaceAll('$__rate_interval', '1m').replaceAll('$__interval', '1m').replaceAll('$__range', '1h');
}
