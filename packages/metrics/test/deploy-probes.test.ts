/**
 * The Kubernetes base's pods, played by real processes on this machine: the coordinator with the
 * Deployment's command, arguments and environment (its `--resume` wrapper included), workers
 * with the StatefulSet's, with addresses and ports moved to loopback and the run made small.
 * Their probes are asked on the paths the manifests name: readiness means taking workers (the
 * coordinator) or being in a ring (a worker), liveness only answering. A worker killed as an
 * evicted pod is, and its replacement started from the same arguments as a restarted pod,
 * change the world of the running job. At the end the Deployment's coordinator stays up serving
 * the finished run (a Deployment restarts whatever exits), a coordinator pod restarted on that
 * volume serves it as it ended, and the JobSet's exits 0 (its Job completes) instead of failing.
 * The StatefulSet's workers stay up between runs too, and join the run when it is given another
 * epoch.
 */
import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { freePort, lastLines, pollHttp, startRingtrain, type RingtrainProcess } from './support/processes.ts';
import { DEPLOY_DIR, REPO_ROOT, readYaml } from './support/repo.ts';

// eslint-disable-next-line @typescript-eslint/no-explicit-any
type Obj = Record<string, any>;

const BASE = join(DEPLOY_DIR, 'k8s', 'base');
const coordinatorContainer = readYaml<Obj>(join(BASE, 'coordinator-deployment.yaml')).spec.template.spec.containers[0];
const workerContainer = readYaml<Obj>(join(BASE, 'worker-statefulset.yaml')).spec.template.spec.containers[0];
const jobSetCoordinator = readYaml<Obj>(join(DEPLOY_DIR, 'k8s', 'jobset', 'jobset.yaml')).spec.replicatedJobs.find((j: Obj) => j.name === 'coordinator').template.spec.template.spec
  .containers[0];
const TOKEN = 'c'.repeat(64);
/** A run small enough to train in seconds: a quarter-width ResNet-18 on 8,192 images. */
const SMALL_RUN = ['--limit-train', '8192', '--limit-test', '256', '--width', '0.25', '--batch-size', '64', '--log-format', 'json'];

/** Kubernetes' `$(VAR)` references in `value`, expanded from `env`. */
function expand(value: string, env: Record<string, string>): string {
  return value.replace(/\$\((\w+)\)/g, (_m, name: string) => {
    if (env[name] === undefined) throw new Error(`$(${name}) has no value in the test's environment`);
    return env[name];
  });
}

/** `args` with the value after each flag of `values` replaced. */
function withFlags(args: readonly string[], values: Record<string, string>): string[] {
  const out = [...args];
  for (const [flag, value] of Object.entries(values)) {
    const at = out.indexOf(flag);
    if (at < 0) throw new Error(`the manifest passes no ${flag}`);
    out[at + 1] = value;
  }
  return out;
}

/** `args` without `flag` and its value. */
function withoutFlag(args: readonly string[], flag: string): string[] {
  const at = args.indexOf(flag);
  if (at < 0) throw new Error(`the manifest passes no ${flag}`);
  return [...args.slice(0, at), ...args.slice(at + 2)];
}

/** The probe paths of a container, as the manifest names them. */
const probePaths = (container: Obj) => ({
  readiness: container.readinessProbe.httpGet.path as string,
  liveness: container.livenessProbe.httpGet.path as string,
});

const started: RingtrainProcess[] = [];
const scratch = mkdtempSync(join(tmpdir(), 'ringtrain-probes-'));
afterAll(async () => {
  await Promise.all(started.map((p) => p.stop()));
  rmSync(scratch, { recursive: true, force: true });
});

/** The coordinator container's command run as Kubernetes would run it, tini left out. */
function startCoordinator(port: number, checkpointDir: string, extra: readonly string[] = [], container: Obj = coordinatorContainer): RingtrainProcess {
  const command: string[] = container.command;
  expect(command.slice(0, 4)).toEqual(['tini', '--', 'sh', '-c']);
  const env = { CHECKPOINT_DIR: checkpointDir, RINGTRAIN_TOKEN: TOKEN, JOBSET_NAME: 'ringtrain' };
  const args = withFlags(
    (container.args as string[]).map((a) => expand(a, env)),
    { '--host': '127.0.0.1', '--port': String(port) },
  );
  const process = startRingtrain(REPO_ROOT, [...args, ...SMALL_RUN, ...extra], env, ['sh', ...command.slice(3)]);
  started.push(process);
  return process;
}

/**
 * The run summary a coordinator writes once its run is over: `/status` says `finished` a moment
 * before the file is there.
 */
async function summaryWritten(path: string): Promise<Obj> {
  const deadline = Date.now() + 60_000;
  for (;;) {
    try {
      return JSON.parse(readFileSync(path, 'utf8')) as Obj;
    } catch (error) {
      if (Date.now() > deadline) throw error;
      await new Promise((r) => setTimeout(r, 100));
    }
  }
}

/** A worker container's arguments run as Kubernetes would run them, on loopback. */
function startWorker(coordinatorPort: number, metricsPort: number, podName: string): RingtrainProcess {
  const env = { NODE_NAME: 'node-a', POD_NAME: podName, POD_NAMESPACE: 'ringtrain', RINGTRAIN_BACKEND: 'native', CPU_LIMIT: '1', RINGTRAIN_TOKEN: TOKEN };
  const args = withFlags(
    (workerContainer.args as string[]).map((a) => expand(a, env)),
    {
      '--coordinator': `ws://127.0.0.1:${coordinatorPort}`,
      '--peer-host': '127.0.0.1',
      '--peer-port': '0',
      '--metrics-host': '127.0.0.1',
      '--metrics-port': String(metricsPort),
      '--advertise-host': '127.0.0.1',
    },
  );
  // The manifest's --after-run wait dials every 30 s between runs; a second here.
  const process = startRingtrain(REPO_ROOT, [...args, '--rejoin-interval-ms', '1000', '--log-format', 'json'], env);
  started.push(process);
  return process;
}

const answers = (status: number, state?: Obj) => (s: number, body: unknown) =>
  s === status && (state === undefined || Object.entries(state).every(([k, v]) => (body as Obj)[k] === v));

describe('the probes and restarts of deploy/k8s/base, on real processes', () => {
  it('probes readiness on /readyz and liveness on /healthz', () => {
    expect(probePaths(coordinatorContainer)).toEqual({ readiness: '/readyz', liveness: '/healthz' });
    expect(probePaths(workerContainer)).toEqual({ readiness: '/readyz', liveness: '/healthz' });
  });

  it('is ready as the manifests mean it, goes on when a worker is lost and rejoined, and serves its finished run across coordinator restarts', async () => {
    const port = await freePort();
    const checkpoints = join(scratch, 'checkpoints', 'ringtrain-coordinator');
    const summaryJson = join(scratch, 'summary.json');
    const coordinator = startCoordinator(port, checkpoints, ['--summary-json', summaryJson]);
    const http = `http://127.0.0.1:${port}`;
    const ready = await pollHttp(`${http}/readyz`, answers(200), 120_000);
    expect(ready.body).toMatchObject({ status: 'ready', phase: 'rendezvous', workers: 0, maxWorkers: 8, seats: 8 });
    expect(coordinator.lines.join('\n')).not.toMatch(/resuming from/);

    // One worker of two: alive, joined, but in no ring yet, so not ready.
    const [metricsA, metricsB, metricsC] = [await freePort(), await freePort(), await freePort()];
    const a = startWorker(port, metricsA, 'ringtrain-worker-0');
    const running: Record<string, RingtrainProcess> = { coordinator, 'worker 0': a };
    const logs = () => lastLines(running);
    await pollHttp(`${http}/status`, (_s, body) => (body as Obj).workers?.length === 1, 300_000, logs);
    await pollHttp(`http://127.0.0.1:${metricsA}/healthz`, answers(200), 300_000, logs);
    const alone = await fetch(`http://127.0.0.1:${metricsA}/readyz`);
    expect(alone.status).toBe(503);
    expect(await alone.json()).toMatchObject({ status: 'not-in-ring', inRing: false, rank: null });

    // The second closes the ring: both ready, in generation 1.
    const b = startWorker(port, metricsB, 'ringtrain-worker-1');
    running['worker 1'] = b;
    for (const metrics of [metricsA, metricsB])
      await pollHttp(`http://127.0.0.1:${metrics}/readyz`, answers(200, { status: 'ok', inRing: true }), 300_000, logs);
    await pollHttp(`${http}/status`, (_s, body) => (body as Obj).progress?.stepsDone > 0, 300_000, logs);

    // An evicted pod: with one worker left, below --min-workers, the run waits for a replacement.
    await b.stop(0);
    const lost = await pollHttp(`${http}/status`, (_s, body) => (body as Obj).phase === 'waiting', 120_000, logs);
    expect(await (await fetch(`${http}/readyz`)).json()).toMatchObject({ status: 'ready', workers: 1 });

    // The restarted pod, with the same arguments, joins the running job.
    const c = startWorker(port, metricsC, 'ringtrain-worker-1');
    running['worker 1, restarted'] = c;
    const rejoined = await pollHttp(`http://127.0.0.1:${metricsC}/readyz`, answers(200, { inRing: true }), 300_000, logs);
    expect((rejoined.body as Obj).generation).toBeGreaterThan((lost.body as Obj).membership.generation);
    expect((rejoined.body as Obj).steps).toBeGreaterThan(0);

    // The run ends: the coordinator has checkpointed on its volume and, as a Deployment's
    // container must, stays up answering for the finished run. So do the StatefulSet's workers
    // (a StatefulSet restarts what exits, and a finished run would refuse them): alive, not
    // ready, refused by the finished run each time they dial it.
    const ended = await pollHttp(`${http}/status`, (_s, body) => (body as Obj).phase === 'finished', 300_000, logs);
    for (const [w, metrics] of [[a, metricsA], [c, metricsC]] as const) {
      await w.waitForLog(/^the run is over \(.*\); waiting for the next/, 120_000);
      await w.waitForLog(/the run is over \(RINGTRAIN_RUN_OVER\)/, 120_000);
      expect((await fetch(`http://127.0.0.1:${metrics}/healthz`)).status).toBe(200);
      const idle = await fetch(`http://127.0.0.1:${metrics}/readyz`);
      expect(idle.status).toBe(503);
      expect(await idle.json()).toMatchObject({ status: 'between-runs', inRing: false });
      expect(await Promise.race([w.exited, 'still running'])).toBe('still running');
    }
    expect(readdirSync(checkpoints).filter((f) => f.endsWith('.rtck')).length).toBeGreaterThan(0);
    await new Promise((r) => setTimeout(r, 2000));
    expect(await Promise.race([coordinator.exited, 'still running'])).toBe('still running');
    expect((await fetch(`${http}/healthz`)).status).toBe(200);
    expect(await (await fetch(`${http}/readyz`)).json()).toMatchObject({ status: 'finished', phase: 'finished' });
    const summary = await summaryWritten(summaryJson);
    const final = ended.body as Obj;
    const metricsAtEnd = await (await fetch(`${http}/metrics`)).text();
    // The pod deleted or its node lost: SIGTERM ends a served finished run, cleanly. (The exit
    // status seen here is npx's, which the signal to the whole group ends too.)
    await coordinator.stop();
    await coordinator.waitForLog(/^stopped serving the finished run$/, 1000);

    // Its replacement on the same volume: the wrapper adds --resume, the checkpoint is of the
    // last epoch, and it serves the run as it ended instead of failing into a crash loop.
    const again = startCoordinator(port, checkpoints);
    await again.waitForLog(/^the run is finished: .* nothing to train$/, 120_000);
    const served = (await pollHttp(`${http}/status`, answers(200), 120_000)).body as Obj;
    // Nothing lost: the figures the first coordinator's summary gave, the history of epochs,
    // generations and workers it showed at its end.
    expect(served.phase).toBe('finished');
    expect(served.progress.stepsDone).toBe(summary.steps);
    expect(served.membership.generation).toBe(final.membership.generation);
    expect(served.epochs.at(-1).testAccuracy).toBe(summary.testAccuracy);
    expect(served.epochs).toEqual(final.epochs);
    expect(served.membership.generations).toEqual(final.membership.generations);
    // As a set: /status lists connected workers before departed ones, and whether the workers
    // had hung up yet when the record was written, or when /status was read, is a race.
    const ids = (status: Obj): string[] => status.workers.map((w: Obj) => w.workerId as string).sort();
    expect(ids(served)).toEqual(ids(final));
    expect(served.membership.generations.length).toBeGreaterThan(1);
    const stepsLine = (text: string) => text.split('\n').find((l) => /^ringtrain_steps_completed_total /.test(l));
    expect(stepsLine(metricsAtEnd)).toBeDefined();
    expect(stepsLine(await (await fetch(`${http}/metrics`)).text())).toBe(stepsLine(metricsAtEnd));
    expect((await fetch(`${http}/readyz`)).status).toBe(503);
    await new Promise((r) => setTimeout(r, 2000));
    expect(await Promise.race([again.exited, 'still running'])).toBe('still running');
    await again.stop();
    await again.waitForLog(/^stopped serving the finished run$/, 1000);

    // The JobSet's coordinator restarted on a finished run exits 0, so its Job completes.
    const jobSet = startCoordinator(port, checkpoints, [], jobSetCoordinator);
    expect(await jobSet.exited).toBe(0);
    expect(jobSet.lines.join('\n')).toMatch(/the run is finished: .*nothing to train/);

    // Without --if-finished a resume of a finished run is refused, naming what to ask for.
    const refusing = { ...coordinatorContainer, args: withoutFlag(coordinatorContainer.args as string[], '--if-finished') };
    const refused = startCoordinator(port, checkpoints, [], refusing);
    expect(await refused.exited).not.toBe(0);
    expect(refused.lines.join('\n')).toMatch(/was taken after epoch 1 of a run of 1; ask for more --epochs to continue it/);
    // Asked for a second epoch, it goes on from that checkpoint, and the workers that waited
    // through all of this join it and train the epoch to its end.
    const longerSummary = join(scratch, 'summary-2.json');
    const longer = startCoordinator(port, checkpoints, ['--epochs', '2', '--summary-json', longerSummary]);
    running['coordinator, 2 epochs'] = longer;
    const resumed = await longer.waitForLog(/^resuming from /, 120_000);
    expect(String(resumed.msg)).toContain(checkpoints);
    const second = (await pollHttp(`${http}/status`, (_s, body) => (body as Obj).phase === 'finished', 600_000, logs)).body as Obj;
    // Epochs count from 0 in /status: this coordinator trained the second.
    expect(second.epochs.map((e: Obj) => e.epoch)).toEqual([1]);
    expect(second.epochs.at(-1).testAccuracy).toEqual(expect.any(Number));
    const summary2 = await summaryWritten(longerSummary);
    expect(summary2.steps).toBe(2 * summary.steps);
    expect(second.workers).toHaveLength(2);
    for (const w of second.workers as Obj[]) expect(w.steps).toBeGreaterThan(0);
    await longer.stop();
    // SIGTERM ends a waiting worker cleanly.
    for (const w of [a, c]) {
      await w.waitForLog(/^the run is over \(.*\); waiting for the next/, 120_000);
      await w.stop();
    }
  }, 1_200_000);
});
