import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { stringify } from 'yaml';
import { COORDINATOR_METRIC_NAMES as C } from '../src/index.ts';
import { metricNamesIn, unknownMetricNamesIn, withGrafanaVariablesReplaced } from './support/promql.ts';
import { promtool } from './support/promtool.ts';
import { DEPLOY_DIR } from './support/repo.ts';

interface Target {
  expr?: string;
  refId: string;
  datasource?: { uid?: string };
}
interface Panel {
  id: number;
  type: string;
  title: string;
  gridPos: { x: number; y: number; w: number; h: number };
  datasource?: { uid?: string };
  targets?: Target[];
  panels?: Panel[];
}
interface Dashboard {
  panels: Panel[];
  templating: { list: { name: string; type: string }[] };
}

const dashboardFile = join(DEPLOY_DIR, 'grafana', 'ringtrain-dashboard.json');
const readDashboard = (): Dashboard => JSON.parse(readFileSync(dashboardFile, 'utf8'));
const allPanels = (d: Dashboard) => d.panels.flatMap((p) => [p, ...(p.panels ?? [])]);
const queries = (d: Dashboard) =>
  allPanels(d).flatMap((p) => (p.targets ?? []).map((t) => ({ panel: p.title, refId: t.refId, expr: t.expr ?? '' })));

/** Queries naming metrics ringtrain does not export, as "panel/refId: names". */
function unknownMetrics(d: Dashboard): string[] {
  return queries(d).flatMap((q) => {
    const unknown = unknownMetricNamesIn(q.expr);
    return unknown.length > 0 ? [`${q.panel}/${q.refId}: ${unknown.join(', ')}`] : [];
  });
}

/** promtool's verdict on every query, each written as a recording rule. */
function checkSyntax(d: Dashboard, dir: string) {
  const rules = queries(d).map((q, i) => ({
    record: `grafana:query_${i}`,
    expr: withGrafanaVariablesReplaced(q.expr),
  }));
  writeFileSync(join(dir, 'dashboard-queries.yml'), stringify({ groups: [{ name: 'dashboard', rules }] }));
  return promtool(['check', 'rules', 'dashboard-queries.yml'], { cwd: dir });
}

const scratch = mkdtempSync(join(tmpdir(), 'ringtrain-grafana-'));
afterAll(() => rmSync(scratch, { recursive: true, force: true }));

describe('deploy/grafana/ringtrain-dashboard.json', () => {
  const dashboard = readDashboard();

  it('queries only metrics that ringtrain exports', () => {
    expect(queries(dashboard).length).toBeGreaterThan(20);
    expect(unknownMetrics(dashboard)).toEqual([]);
  });

  it('names the query of a misspelled metric, so the check can fail', () => {
    const broken = readDashboard();
    const throughput = broken.panels.find((p) => p.title === 'Throughput')!;
    throughput.targets![0]!.expr = 'sum(ringtrain_examples_per_sec)';
    expect(unknownMetrics(broken)).toEqual(['Throughput/A: ringtrain_examples_per_sec']);
  });

  it('holds queries that all parse as PromQL', () => {
    const result = checkSyntax(dashboard, mkdtempSync(join(scratch, 'ok-')));
    expect(result.output).toMatch(/SUCCESS/);
    expect(result.status).toBe(0);
  });

  it('fails the PromQL check on a query with a syntax error', () => {
    const broken = readDashboard();
    broken.panels.find((p) => p.title === 'Loss')!.targets![0]!.expr = 'max(ringtrain_train_loss';
    const result = checkSyntax(broken, mkdtempSync(join(scratch, 'broken-')));
    expect(result.status).not.toBe(0);
  });

  it.each([
    ['Throughput', [C.examplesPerSecond, C.examplesProcessed]],
    ['Loss', [C.trainLoss, C.testLoss]],
    ['Accuracy', [C.trainAccuracy, C.testAccuracy]],
    ['Step time by rank', [`${C.stepPhaseSeconds}_sum`, `${C.stepPhaseSeconds}_count`]],
    ['Workers', [C.rankState, C.rankExamplesPerSecond]],
    ['Epoch', [C.epoch, C.plannedEpochs]],
    ['Step', [C.step, C.plannedSteps]],
    ['Progress', [C.step, C.plannedSteps]],
  ])('has a %s panel reading %j, as the built-in page has', (title, metrics) => {
    const panel = allPanels(dashboard).find((p) => p.title === title && p.type !== 'row');
    expect(panel, title).toBeDefined();
    const read = new Set((panel!.targets ?? []).flatMap((t) => metricNamesIn(t.expr ?? '')));
    for (const metric of metrics) expect(read.has(metric), `${title} reads ${metric}`).toBe(true);
  });

  it('reads every panel and query from the data source chosen in its datasource variable', () => {
    expect(dashboard.templating.list).toContainEqual(
      expect.objectContaining({ name: 'datasource', type: 'datasource' }),
    );
    for (const panel of allPanels(dashboard).filter((p) => p.type !== 'row')) {
      expect(panel.datasource?.uid, panel.title).toBe('${datasource}');
      for (const target of panel.targets ?? []) expect(target.datasource?.uid, panel.title).toBe('${datasource}');
    }
  });

  it('gives every panel its own id and a place within the 24-column grid', () => {
    const panels = allPanels(dashboard);
    expect(new Set(panels.map((p) => p.id)).size).toBe(panels.length);
    for (const p of panels) expect(p.gridPos.x + p.gridPos.w, p.title).toBeLessThanOrEqual(24);
  });
});
