import { describe, expect, it } from 'vitest';
import { metricNamesIn, unknownMetricNamesIn } from './support/promql.ts';

describe('metricNamesIn', () => {
  it.each([
    ['ringtrain_step', ['ringtrain_step']],
    ['max(ringtrain_epoch) / max(ringtrain_planned_epochs)', ['ringtrain_epoch', 'ringtrain_planned_epochs']],
    [
      'sum by (rank, phase) (rate(ringtrain_step_phase_seconds_sum[$__rate_interval]))',
      ['ringtrain_step_phase_seconds_sum'],
    ],
    ['up{job="ringtrain-worker", instance=~"w.*"} == 0', ['up']],
    ['a_total offset 5m > 1e3 and on (job) b{state="training"} == bool 1', ['a_total', 'b']],
    [
      'histogram_quantile(0.9, sum by (le) (rate(x_bucket[5m]))) * on(instance) group_left(version) info',
      ['x_bucket', 'info'],
    ],
    ['label_replace(m, "dst", "$1", "src", "(.*)")', ['m']],
    ['max_over_time(rate(c_total[1m])[30m:1m]) < Inf', ['c_total']],
    ['sum(x) without (rank)', ['x']],
  ])('finds in %s the names %j', (expr, names) => {
    expect(metricNamesIn(expr)).toEqual(names);
  });
});

describe('unknownMetricNamesIn', () => {
  it('accepts ringtrain metrics, histogram series of ringtrain histograms and up', () => {
    expect(
      unknownMetricNamesIn(
        'rate(ringtrain_worker_allreduce_duration_seconds_bucket[1m]) + ringtrain_step + up + ringtrain_process_cpu_seconds_total',
      ),
    ).toEqual([]);
  });

  it('names a misspelled metric and a _bucket series of a metric that is no histogram', () => {
    expect(unknownMetricNamesIn('ringtrain_examples_per_sec + ringtrain_train_loss_bucket')).toEqual([
      'ringtrain_examples_per_sec',
      'ringtrain_train_loss_bucket',
    ]);
  });
});
