import { copyFileSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { stringify } from 'yaml';
import { unknownMetricNamesIn } from './support/promql.ts';
import { promtool } from './support/promtool.ts';
import { DEPLOY_DIR, readYaml } from './support/repo.ts';

interface Rule {
  alert: string;
  expr: string;
  labels?: Record<string, string>;
  annotations?: Record<string, string>;
}
interface RuleFile {
  groups: { name: string; rules: Rule[] }[];
}
interface RuleTests {
  tests: { alert_rule_test?: { alertname: string; exp_alerts: unknown[] }[] }[];
}

const PROMETHEUS_DIR = join(DEPLOY_DIR, 'prometheus');
const alertsFile = join(PROMETHEUS_DIR, 'alerts.yml');
const alerts = readYaml<RuleFile>(alertsFile);
const rules = alerts.groups.flatMap((g) => g.rules);

const scratch = mkdtempSync(join(tmpdir(), 'ringtrain-prometheus-'));
afterAll(() => rmSync(scratch, { recursive: true, force: true }));

/** A copy of deploy/prometheus in a scratch directory, with `file` replaced by `text`. */
function brokenCopy(file: string, text: string): string {
  const dir = mkdtempSync(join(scratch, 'copy-'));
  for (const name of ['prometheus.yml', 'alerts.yml', 'alerts.test.yml'])
    copyFileSync(join(PROMETHEUS_DIR, name), join(dir, name));
  writeFileSync(join(dir, file), text);
  return dir;
}

describe('deploy/prometheus', () => {
  it('has a configuration that promtool check config accepts, rule files included', () => {
    const result = promtool(['check', 'config', 'prometheus.yml'], { cwd: PROMETHEUS_DIR });
    expect(result.output).toMatch(/SUCCESS: prometheus.yml is valid prometheus config file syntax/);
    expect(result.output).toMatch(/SUCCESS: 6 rules found/);
    expect(result.status).toBe(0);
  });

  it('has a Kubernetes configuration that promtool accepts (discovery swapped where promtool lacks it)', () => {
    let result = promtool(['check', 'config', 'prometheus-kubernetes.yml'], { cwd: PROMETHEUS_DIR });
    if (/field kubernetes_sd_configs not found/.test(result.output)) {
      // Debian builds Prometheus without Kubernetes discovery: check the rest with static targets.
      const config = readYaml<{ scrape_configs: Record<string, unknown>[] }>(
        join(PROMETHEUS_DIR, 'prometheus-kubernetes.yml'),
      );
      for (const job of config.scrape_configs) {
        expect(job.kubernetes_sd_configs).toBeDefined();
        delete job.kubernetes_sd_configs;
        job.static_configs = [{ targets: ['ringtrain-worker-0.ringtrain-worker.ringtrain.svc:7072'] }];
      }
      const dir = brokenCopy('prometheus-kubernetes.yml', stringify(config));
      result = promtool(['check', 'config', 'prometheus-kubernetes.yml'], { cwd: dir });
    }
    expect(result.output).toMatch(/SUCCESS/);
    expect(result.status).toBe(0);
  });

  it('fails promtool check config when a rule file is missing', () => {
    const text = readFileSync(join(PROMETHEUS_DIR, 'prometheus.yml'), 'utf8').replace(
      '- alerts.yml',
      '- alerts-missing.yml',
    );
    const result = promtool(['check', 'config', 'prometheus.yml'], { cwd: brokenCopy('prometheus.yml', text) });
    expect(result.status).not.toBe(0);
  });

  it('has alert rules that promtool check rules accepts', () => {
    const result = promtool(['check', 'rules', 'alerts.yml'], { cwd: PROMETHEUS_DIR });
    expect(result.output).toMatch(/SUCCESS: 6 rules found/);
    expect(result.status).toBe(0);
  });

  it('fails promtool check rules on an expression that does not parse', () => {
    const text = readFileSync(alertsFile, 'utf8').replace('increase(', 'increase((');
    const result = promtool(['check', 'rules', 'alerts.yml'], { cwd: brokenCopy('alerts.yml', text) });
    expect(result.status).not.toBe(0);
    expect(result.output).toMatch(/FAILED/);
  });

  it('passes its rule unit tests (promtool test rules)', () => {
    const result = promtool(['test', 'rules', 'alerts.test.yml'], { cwd: PROMETHEUS_DIR });
    expect(result.output).toMatch(/SUCCESS/);
    expect(result.status).toBe(0);
  });

  it('fails its rule unit tests when an alert no longer waits before firing', () => {
    const text = readFileSync(alertsFile, 'utf8').replace(
      /(alert: RingtrainWorkerDown\n\s+expr: .*\n\s+)for: 1m/,
      '$1for: 0m',
    );
    expect(text).not.toBe(readFileSync(alertsFile, 'utf8'));
    const result = promtool(['test', 'rules', 'alerts.test.yml'], { cwd: brokenCopy('alerts.yml', text) });
    expect(result.status).not.toBe(0);
    expect(result.output).toMatch(/RingtrainWorkerDown/);
  });

  it('covers the four alerts the run needs: worker down, throughput dropped, loss not finite, no progress', () => {
    expect(rules.map((r) => r.alert)).toEqual(
      expect.arrayContaining([
        'RingtrainWorkerDown',
        'RingtrainThroughputDropped',
        'RingtrainLossNotFinite',
        'RingtrainNoProgress',
      ]),
    );
  });

  it('has a unit test in which every alert fires', () => {
    const tests = readYaml<RuleTests>(join(PROMETHEUS_DIR, 'alerts.test.yml')).tests;
    const fired = new Set(
      tests.flatMap((t) => (t.alert_rule_test ?? []).filter((a) => a.exp_alerts.length > 0).map((a) => a.alertname)),
    );
    for (const rule of rules) expect(fired.has(rule.alert), `${rule.alert} is never shown firing`).toBe(true);
  });

  it.each(rules.map((r) => [r.alert, r]))('%s reads only metrics ringtrain exports', (_alert, rule) => {
    expect(unknownMetricNamesIn(rule.expr)).toEqual([]);
  });

  it.each(rules.map((r) => [r.alert, r]))('%s has a severity, a summary and a description', (_alert, rule) => {
    expect(['critical', 'warning']).toContain(rule.labels?.severity);
    expect(rule.annotations?.summary).toBeTruthy();
    expect(rule.annotations?.description).toBeTruthy();
  });

  it('selects only job names that the shipped scrape configurations set', () => {
    const config = readYaml<{ scrape_configs: { job_name: string }[] }>(join(PROMETHEUS_DIR, 'prometheus.yml'));
    const jobs = new Set(config.scrape_configs.map((j) => j.job_name));
    for (const rule of rules) {
      for (const [, job] of rule.expr.matchAll(/job="([^"]+)"/g))
        expect(jobs.has(job!), `${rule.alert}: job ${job}`).toBe(true);
    }
  });

  it('is mirrored exactly by the PrometheusRule for prometheus-operator', () => {
    const prometheusRule = readYaml<{ spec: RuleFile }>(
      join(DEPLOY_DIR, 'k8s', 'components', 'prometheus-operator', 'prometheus-rule.yaml'),
    );
    expect(prometheusRule.spec.groups).toEqual(alerts.groups);
  });
});
