/**
 * The Kubernetes base's pods, played by real processes on this machine: the coordinator with the
 * Deployment's command, arguments and environment (its `--resume` wrapper included), workers
 * with the StatefulSet's, with addresses and ports moved to loopback and the run made small.
 * Their probes are asked on the paths the manifests name: readiness means taking workers (the
 * coordinator) or being in a ring (a worker), liveness only answering. A worker killed as an
 * evicted pod is, and its replacement started from the same arguments as a restarted pod,
 * change the world of the running job; a coordinator started again on the same volume resumes.
 */
import { mkdtempSync, readdirSync, rmSync } from 'node:fs';
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
function startCoordinator(port: number, checkpointDir: string, extra: readonly string[] = []): RingtrainProcess {
  const command: string[] = coordinatorContainer.command;
  expect(command.slice(0, 4)).toEqual(['tini', '--', 'sh', '-c']);
  const env = { CHECKPOINT_DIR: checkpointDir, RINGTRAIN_TOKEN: TOKEN };
  const args = withFlags(
    (coordinatorContainer.args as string[]).map((a) => expand(a, env)),
    { '--host': '127.0.0.1', '--port': String(port) },
  );
  const process = startRingtrain(REPO_ROOT, [...args, ...SMALL_RUN, ...extra], env, ['sh', ...command.slice(3)]);
  started.push(process);
  return process;
}

/** A worker container's arguments run as Kubernetes would run them, on loopback. */
function startWorker(coordinatorPort: number, metricsPort: number, podName: string): RingtrainProcess {
  const env = { POD_NAME: podName, POD_NAMESPACE: 'ringtrain', RINGTRAIN_BACKEND: 'native', CPU_LIMIT: '1', RINGTRAIN_TOKEN: TOKEN };
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
  const process = startRingtrain(REPO_ROOT, [...args, '--log-format', 'json'], env);
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

  it('is ready as the manifests mean it, goes on when a worker is lost and rejoined, and resumes a restarted coordinator', async () => {
    const port = await freePort();
    const checkpoints = join(scratch, 'checkpoints', 'ringtrain-coordinator');
    const coordinator = startCoordinator(port, checkpoints);
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

    // The run ends: everyone exits cleanly, and the coordinator has checkpointed on its volume.
    expect(await coordinator.exited).toBe(0);
    expect(await a.exited).toBe(0);
    expect(await c.exited).toBe(0);
    expect(readdirSync(checkpoints).filter((f) => f.endsWith('.rtck')).length).toBeGreaterThan(0);

    // The coordinator's pod restarted on the same volume: the wrapper adds --resume, and this
    // checkpoint, taken after the last epoch, is refused for asking no further epoch.
    const again = startCoordinator(port, checkpoints);
    expect(await again.exited).not.toBe(0);
    expect(again.lines.join('\n')).toMatch(/was taken after epoch 1 of a run of 1; ask for more --epochs to continue it/);
    // Asked for a second epoch, it goes on from that checkpoint and takes workers again.
    const longer = startCoordinator(port, checkpoints, ['--epochs', '2']);
    const resumed = await longer.waitForLog(/^resuming from /, 120_000);
    expect(String(resumed.msg)).toContain(checkpoints);
    expect((await pollHttp(`${http}/readyz`, answers(200), 120_000)).body).toMatchObject({ status: 'ready', phase: 'rendezvous' });
    await longer.stop();
  }, 1_200_000);
});
