/**
 * Watching a real run from outside, with real parts only: `ringtrain launch` trains a tiny-width
 * ResNet-18 (small stem) on real Fashion-MNIST with two worker processes that serve their own
 * metrics; a real Prometheus server scrapes the coordinator and both workers every second; a
 * headless Chromium opens the live dashboard. All of it shares one short run, so the checks
 * that need a live run come first, in order, and the ones that read back what Prometheus
 * stored come after it ended.
 */
import { spawnSync } from 'node:child_process';
import { mkdir, mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { RunStatus } from '@ringtrain/coordinator';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { RunSummary } from '../src/index.ts';
import { launchChromium, type HeadlessChromium } from './browser.ts';
import { readSummary, runRingtrain, type RunningCommand } from './launch-helpers.ts';
import { freePort, freePortRange } from './ports.ts';
import { startPrometheus, type RunningPrometheus, type Sample } from './prometheus.ts';

const TRAIN = 1000;
const TEST = 300;
const EPOCHS = 2;
const BATCH = 32;
const WORKERS = 2;
const STEPS = EPOCHS * Math.ceil(TRAIN / BATCH);
const SCREENSHOT = fileURLToPath(new URL('../../coordinator/test-output/dashboard.png', import.meta.url));

/** Polls `read` until `done` holds for its value; fails naming `what` after `timeoutMs`. */
async function until<T>(what: string, read: () => Promise<T>, done: (value: T) => boolean, timeoutMs = 60_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let last: T | undefined;
  for (;;) {
    try {
      last = await read();
      if (done(last)) return last;
    } catch {
      // Not answering yet.
    }
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}; last seen: ${JSON.stringify(last)?.slice(0, 500)}`);
    await new Promise((r) => setTimeout(r, 200));
  }
}

function promtoolCheck(exposition: string): { status: number | null; output: string } {
  const result = spawnSync('promtool', ['check', 'metrics'], { input: exposition, encoding: 'utf8', timeout: 60_000 });
  if (result.error) throw new Error(`could not run promtool (Debian package prometheus): ${result.error.message}`);
  return { status: result.status, output: `${result.stdout}${result.stderr}`.trim() };
}

/** What the dashboard's page holds, as seen from `page.evaluate` (this package has no DOM types). */
interface DashboardPage {
  ringtrainDashboard?: { updates: number; status: RunStatus | null; charts: Record<string, { data: (number | null)[][]; series: unknown[] }> };
  document: { getElementById(id: string): { dataset: Record<string, string | undefined> } | null };
}

const valuesOf = (samples: Sample[]): number[] => samples.flatMap((s) => s.values.map(([, v]) => v));

describe('a live run seen through its metrics, Prometheus and the dashboard', () => {
  let dir: string;
  let prometheus: RunningPrometheus;
  let run: RunningCommand;
  let base: string;
  let workerBases: string[];
  let exitedRun: { code: number | null; stdout: string; stderr: string } | undefined;
  let summary: RunSummary;
  let browser: HeadlessChromium | undefined;
  /** A moment during training, in Unix seconds, for queries about the live run. */

  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'ringtrain-observe-'));
    const coordinatorPort = await freePort();
    const metricsBase = await freePortRange(WORKERS);
    base = `http://127.0.0.1:${coordinatorPort}`;
    workerBases = Array.from({ length: WORKERS }, (_, i) => `http://127.0.0.1:${metricsBase + i}`);
    prometheus = await startPrometheus({
      dir: join(dir, 'prometheus'),
      port: await freePort(),
      jobs: {
        'ringtrain-coordinator': [`127.0.0.1:${coordinatorPort}`],
        'ringtrain-worker': workerBases.map((b) => b.slice('http://'.length)),
      },
    });
    run = runRingtrain([
      'launch',
      '--workers', String(WORKERS),
      '--port', String(coordinatorPort),
      '--worker-metrics-port-base', String(metricsBase),
      '--model', 'resnet18', '--stem', 'small', '--width', '0.25', '--image-size', '28',
      '--epochs', String(EPOCHS),
      '--batch-size', String(BATCH),
      '--lr', '0.05',
      '--backend', 'wasm',
      '--limit-train', String(TRAIN),
      '--limit-test', String(TEST),
      '--log-format', 'json',
      '--log-level', 'info',
      '--summary-json', join(dir, 'summary.json'),
    ]);
    await run.url;
  }, 120_000);

  afterAll(async () => {
    await browser?.close();
    if (exitedRun === undefined) {
      run?.kill('SIGINT');
      await run?.exited;
    }
    await prometheus?.stop();
    if (dir !== undefined) await rm(dir, { recursive: true, force: true });
  }, 60_000);

  it('answers /healthz, and /status describes the run, its progress and both workers while it trains', async () => {
    const health = await fetch(`${base}/healthz`);
    expect(health.status).toBe(200);
    expect(await health.json()).toMatchObject({ status: 'ok' });

    const status = await until(
      'the first steps',
      async () => (await (await fetch(`${base}/status`)).json()) as RunStatus,
      (s) => s.progress.stepsDone >= 2 && s.workers.every((w) => w.stepTimeMs !== null),
    );
    expect(status.phase).toMatch(/^(training|evaluating)$/);
    expect(status.run).toMatchObject({
      model: 'resnet18',
      spec: { depth: 18, stem: 'small', widthMultiplier: 0.25, imageSize: 28 },
      epochs: EPOCHS,
      globalBatchSize: BATCH,
      batchSizePerWorker: BATCH / WORKERS,
      worldSize: WORKERS,
      trainExamples: TRAIN,
      testExamples: TEST,
      backends: ['wasm'],
    });
    expect(status.progress).toMatchObject({ epochs: EPOCHS, totalSteps: STEPS, stepsPerEpoch: STEPS / EPOCHS });
    expect(status.progress.elapsedSeconds).toBeGreaterThan(0);
    expect(status.progress.etaSeconds).toBeGreaterThan(0);
    expect(status.throughput.examplesPerSecond).toBeGreaterThan(0);
    expect(status.latest.trainLoss).toBeGreaterThan(0);
    expect(status.latest.trainAccuracy).toBeGreaterThanOrEqual(0);
    expect(status.workers.map((w) => w.rank).sort()).toEqual([0, 1]);
    for (const w of status.workers) {
      expect(w).toMatchObject({ backend: 'wasm', connected: true });
      expect(w.workerId).toMatch(/^worker-[01]$/);
      expect(w.host.length).toBeGreaterThan(0);
      expect(w.state).toMatch(/^(training|evaluating|evaluated)$/);
      expect(w.examples).toBeGreaterThan(0);
      // Real timings: a ResNet-18 step computes for milliseconds at least, and the parts add up to something.
      expect(w.stepTimeMs?.compute).toBeGreaterThan(0);
      expect(w.stepTimeMs?.allReduce).toBeGreaterThan(0);
      expect(w.stepTimeMs?.waiting).toBeGreaterThanOrEqual(0);
    }
    expect(status.series.step.length).toBeGreaterThanOrEqual(2);
  });

  it('passes promtool check metrics on real scrapes of the coordinator and of each worker', async () => {
    const coordinator = await (await fetch(`${base}/metrics`)).text();
    expect(coordinator).toMatch(/^ringtrain_steps_completed_total [1-9]/m);
    expect(coordinator).toMatch(/^ringtrain_build_info\{version="[^"]+",backend="wasm",model="resnet18"\} 1$/m);
    expect(promtoolCheck(coordinator)).toEqual({ status: 0, output: '' });
    for (const workerBase of workerBases) {
      const exposition = await (await fetch(`${workerBase}/metrics`)).text();
      expect(exposition).toMatch(/^ringtrain_worker_examples_processed_total\{rank="[01]"\} [1-9]/m);
      expect(exposition).toMatch(/^ringtrain_worker_tfjs_tensors\{rank="[01]"\} [1-9]/m);
      expect(exposition).toMatch(/^ringtrain_worker_allreduce_sent_bytes_total\{rank="[01]"\} [1-9]/m);
      expect(promtoolCheck(exposition)).toEqual({ status: 0, output: '' });
      const health = await fetch(`${workerBase}/healthz`);
      expect(health.status).toBe(200);
      expect(await health.json()).toMatchObject({ status: 'ok', inRing: true });
    }
  });

  it('shows the run live in a headless Chromium: the step count advances, the charts fill, both workers are listed', async () => {
    browser = await launchChromium();
    const page = await browser.context.newPage();
    const problems: string[] = [];
    const foreign: string[] = [];
    page.on('pageerror', (error) => problems.push(error.message));
    page.on('console', (message) => {
      if (message.type() === 'error') problems.push(message.text());
    });
    page.on('request', (request) => {
      if (!request.url().startsWith(base)) foreign.push(request.url());
    });
    await page.goto(`${base}/`);

    const readStep = () => page.evaluate(() => Number((globalThis as unknown as DashboardPage).document.getElementById('step')?.dataset['value'] ?? '0'));
    await page.waitForFunction(() => ((globalThis as unknown as DashboardPage).ringtrainDashboard?.updates ?? 0) > 0);
    const first = await until('a step on the page', readStep, (n) => n > 0, 30_000);
    const later = await until('the page to show a later step', readStep, (n) => n > first, 30_000);
    expect(later).toBeGreaterThan(first);

    // Wait for the first evaluation, so the accuracy chart holds a test point too.
    await until(
      'the first epoch to be evaluated on the page',
      () => page.evaluate(() => (globalThis as unknown as DashboardPage).ringtrainDashboard?.status?.epochs.length ?? 0),
      (n) => n >= 1,
      60_000,
    );
    const charts = await page.evaluate(() => {
      const charts = (globalThis as unknown as DashboardPage).ringtrainDashboard?.charts ?? {};
      const summary = (name: string) => ({
        series: charts[name]?.series.length ?? 0,
        points: charts[name]?.data[0]?.length ?? 0,
        filled: (charts[name]?.data ?? []).slice(1).map((ys) => ys.filter((y) => y !== null).length),
      });
      return { throughput: summary('throughput'), loss: summary('loss'), accuracy: summary('accuracy'), stepTime: summary('stepTime') };
    });
    expect(charts.throughput.points).toBeGreaterThanOrEqual(2);
    expect(charts.throughput.filled[0]).toBe(charts.throughput.points);
    expect(charts.loss.series).toBe(4);
    expect(charts.loss.filled[0]).toBeGreaterThanOrEqual(2);
    // The test accuracy: one point per evaluated epoch.
    expect(charts.accuracy.filled[2]).toBeGreaterThanOrEqual(1);
    expect(charts.stepTime.points).toBe(WORKERS);
    expect(charts.stepTime.filled.every((n) => n === WORKERS)).toBe(true);

    const rows = await page.locator('#workers-body tr').evaluateAll((trs) => trs.map((tr) => [...tr.querySelectorAll('td')].map((td) => td.textContent?.trim() ?? '')));
    expect(rows).toHaveLength(WORKERS);
    expect(rows.map((r) => r[0]).sort()).toEqual(['0', '1']);
    expect(rows.map((r) => r[1]).sort()).toEqual(['worker-0', 'worker-1']);
    for (const row of rows) {
      expect(row[3]).toBe('wasm');
      expect(Number(row[5])).toBeGreaterThan(0);
    }
    // One generation, opened at the start, with both workers.
    const membership = await page.locator('#membership-body tr').evaluateAll((trs) => trs.map((tr) => [...tr.querySelectorAll('td')].map((td) => td.textContent?.trim() ?? '')));
    expect(membership).toHaveLength(1);
    expect(membership[0]?.slice(0, 4)).toEqual(['1', 'start', '0', String(WORKERS)]);
    expect(membership[0]?.[6]?.split(', ').sort()).toEqual(['worker-0', 'worker-1']);
    expect(rows.every((r) => / s ago$/.test(r[8] ?? ''))).toBe(true);
    expect(await page.locator('#config').textContent()).toContain('ResNet-18, small stem, width ×0.25');
    expect(await page.locator('#epochs').textContent()).toMatch(/^[12]$/);

    await mkdir(join(SCREENSHOT, '..'), { recursive: true });
    await page.screenshot({ path: SCREENSHOT, fullPage: true });
    expect(problems).toEqual([]);
    expect(foreign).toEqual([]);
  });

  it('finishes the run and exits cleanly', async () => {
    exitedRun = await run.exited;
    expect(exitedRun.code, `ringtrain launch failed:\n${exitedRun.stdout}\n${exitedRun.stderr}`).toBe(0);
    summary = await readSummary(join(dir, 'summary.json'));
    expect(summary.steps).toBe(STEPS);
    expect(exitedRun.stdout).toMatch(/dashboard on http:\/\/127\.0\.0\.1:\d+\//);
  });

  it('logs JSON lines in which every worker line carries its worker id, and its rank once assigned', () => {
    const lines = exitedRun!.stderr
      .split('\n')
      .filter((l) => l.startsWith('{'))
      .map((l) => JSON.parse(l) as Record<string, unknown>);
    const workerLines = lines.filter((l) => l['name'] === 'worker');
    expect(workerLines.length).toBeGreaterThan(4);
    for (const line of workerLines) {
      expect(line['workerId']).toMatch(/^worker-[01]$/);
      expect('rank' in line).toBe(true);
    }
    const ranked = workerLines.filter((l) => typeof l['rank'] === 'number');
    expect(new Set(ranked.map((l) => l['rank']))).toEqual(new Set([0, 1]));
    expect(lines.some((l) => l['name'] === 'coordinator' && typeof l['level'] === 'number' && typeof l['msg'] === 'string')).toBe(true);
  });

  it('let Prometheus scrape throughput and accuracy series that match what the run reported', async () => {
    const up = await prometheus.query('max_over_time(up[10m])');
    const upByJob = (job: string) => up.filter((s) => s.metric['job'] === job).map((s) => s.values[0]?.[1]);
    expect(upByJob('ringtrain-coordinator')).toEqual([1]);
    expect(upByJob('ringtrain-worker')).toEqual([1, 1]);

    const throughput = valuesOf(await prometheus.query('ringtrain_examples_per_second[10m]'));
    expect(throughput.length, prometheus.output()).toBeGreaterThanOrEqual(5);
    expect(Math.max(...throughput)).toBeGreaterThan(0);
    // The examples counter only grows, and never past what the run trained (no rate is asserted:
    // a measured speed depends on the machine).
    const [resets] = valuesOf(await prometheus.query('resets(ringtrain_examples_processed_total[10m])'));
    expect(resets).toBe(0);
    const [examples] = valuesOf(await prometheus.query('max_over_time(ringtrain_examples_processed_total[10m])'));
    expect(examples).toBeGreaterThan(0);
    expect(examples).toBeLessThanOrEqual(summary.epochs * TRAIN);

    const trainAccuracy = valuesOf(await prometheus.query('ringtrain_train_accuracy_ratio[10m]'));
    expect(trainAccuracy.length).toBeGreaterThanOrEqual(5);
    expect(trainAccuracy.every((a) => a >= 0 && a <= 1)).toBe(true);
    expect(Math.max(...trainAccuracy)).toBeGreaterThan(0.1);

    // The first epoch's test accuracy was scraped while the second epoch trained.
    const testAccuracy = valuesOf(await prometheus.query('ringtrain_test_accuracy_ratio[10m]'));
    const firstEpoch = summary.history[0]?.testAccuracy ?? Number.NaN;
    expect(firstEpoch).toBeGreaterThan(0.1);
    expect(testAccuracy.some((a) => Math.abs(a - firstEpoch) < 1e-12)).toBe(true);

    const workerExamples = await prometheus.query('max_over_time(ringtrain_worker_examples_processed_total{rank=~"[0-9]+"}[10m])');
    expect(workerExamples.map((s) => s.metric['rank']).sort()).toEqual(['0', '1']);
    expect(workerExamples.every((s) => (s.values[0]?.[1] ?? 0) > 0)).toBe(true);
    const stepPhases = await prometheus.query('max_over_time(ringtrain_worker_step_phase_seconds_count{phase="compute",rank=~"[0-9]+"}[10m])');
    expect(stepPhases).toHaveLength(WORKERS);
  });
});
