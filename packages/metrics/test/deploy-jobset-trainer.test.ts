/**
 * The forms of a ringtrain run that end: deploy/k8s/jobset (a JobSet) and deploy/k8s/trainer (a
 * Kubeflow Trainer TrainingRuntime and TrainJob), with the Kueue component for gang scheduling.
 * Their schemas are checked by deploy-kubernetes.test.ts with every other manifest; here, that
 * those checks find what they should, and that the pieces meet: the workers' way to the
 * coordinator, one coordinator command in every form, the runtime kept to the JobSet.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { consistencyProblems } from './support/kubernetes-consistency.ts';
import { validateKubernetesObject } from './support/kubernetes-validation.ts';
import { hasKubectl, kustomize, overlayWithComponent } from './support/kustomization.ts';
import { DEPLOY_DIR, readYaml, readYamlDocuments } from './support/repo.ts';

// eslint-disable-next-line @typescript-eslint/no-explicit-any
type Obj = Record<string, any>;

const K8S_DIR = join(DEPLOY_DIR, 'k8s');
const JOBSET_FILE = join(K8S_DIR, 'jobset', 'jobset.yaml');
const RUNTIME_FILE = join(K8S_DIR, 'trainer', 'training-runtime.yaml');
const TRAIN_JOB_FILE = join(K8S_DIR, 'trainer', 'train-job.yaml');
const DEPLOYMENT_FILE = join(K8S_DIR, 'base', 'coordinator-deployment.yaml');

const scratch = mkdtempSync(join(tmpdir(), 'ringtrain-jobset-'));
afterAll(() => rmSync(scratch, { recursive: true, force: true }));

const jobOf = (spec: Obj, name: string): Obj => spec.replicatedJobs.find((j: Obj) => j.name === name);
const podOf = (job: Obj): Obj => job.template.spec.template.spec;
const env = (container: Obj, name: string): Obj => container.env.find((e: Obj) => e.name === name);

describe('JobSet and Kubeflow Trainer manifests', () => {
  it('finds unknown fields, wrong values and a misspelt probe inside a JobSet pod template, so the check can fail', () => {
    const jobset = readYaml<Obj>(JOBSET_FILE);
    jobset.spec.successPolicy.operator = 'Every';
    jobset.spec.network.enableDnsHostnames = true;
    const workers = jobOf(jobset.spec, 'workers');
    workers.dependsOn[0].status = 'Started';
    const worker = podOf(workers).containers[0];
    worker.readinessProbes = worker.readinessProbe;
    podOf(workers).containers[0].ports[0].containerPort = '7071';
    expect(validateKubernetesObject(jobset)).toEqual(
      expect.arrayContaining([
        '/spec/successPolicy/operator must be equal to one of the allowed values',
        '/spec/network/enableDnsHostnames is not a field of jobset.x-k8s.io/v1alpha2 JobSet',
        '/spec/replicatedJobs/1/dependsOn/0/status must be equal to one of the allowed values',
        '/spec/replicatedJobs/1/template/spec/template/spec/containers/0/readinessProbes is not a field of the batch/v1 Job it embeds',
        '/spec/replicatedJobs/1/template/spec/template/spec/containers/0/ports/0/containerPort must be integer',
      ]),
    );
  });

  it('finds a TrainJob name that is no DNS label, a missing runtimeRef, a misspelt resource field and two ML policies, so the check can fail', () => {
    const job = readYaml<Obj>(TRAIN_JOB_FILE);
    job.metadata.name = 'Ringtrain_Fashion';
    delete job.spec.runtimeRef;
    job.spec.trainer.resourcesPerNode.limit = job.spec.trainer.resourcesPerNode.limits;
    expect(validateKubernetesObject(job)).toEqual(
      expect.arrayContaining([
        '/metadata/name must match pattern "^[a-z]([-a-z0-9]*[a-z0-9])?$"',
        '/spec must have required property \'runtimeRef\'',
        '/spec/trainer/resourcesPerNode/limit is not a field of the v1 Pod it embeds',
      ]),
    );
    const runtime = readYaml<Obj>(RUNTIME_FILE);
    runtime.spec.mlPolicy.torch = {};
    runtime.spec.mlPolicy.mpi = {};
    runtime.spec.mlPolicy.numNode = 2;
    expect(validateKubernetesObject(runtime)).toEqual(
      expect.arrayContaining([
        '/spec/mlPolicy must NOT be valid',
        '/spec/mlPolicy/numNode is not a field of trainer.kubeflow.org/v1alpha1 TrainingRuntime',
      ]),
    );
  });

  it('accepts the gang-scheduling policies docs/deploy.md names for the runtime, one at a time', () => {
    const runtime = readYaml<Obj>(RUNTIME_FILE);
    for (const policy of [{ volcano: {} }, { coscheduling: { scheduleTimeoutSeconds: 120 } }]) {
      runtime.spec.podGroupPolicy = policy;
      expect(validateKubernetesObject(runtime), JSON.stringify(policy)).toEqual([]);
    }
    runtime.spec.podGroupPolicy = { volcano: { networkTopology: { mode: 'strict' } } };
    expect(validateKubernetesObject(runtime)).toEqual(['/spec/podGroupPolicy/volcano/networkTopology/mode must be equal to one of the allowed values']);
  });

  it('refuses what the upstream CRDs refuse and their hand-written copies once let through', () => {
    const jobset = readYaml<Obj>(JOBSET_FILE);
    // The JobSet CRD's CEL rule: InOrder startup and dependsOn exclude each other.
    jobset.spec.startupPolicy = { startupPolicyOrder: 'InOrder' };
    // Values of a newer JobSet API (the one Trainer embeds), not of the JobSet CRD checked.
    jobset.spec.failurePolicy.restartStrategy = 'InPlaceRestart';
    jobset.spec.failurePolicy.rules = [{ name: 'again', action: 'RestartJob' }];
    jobOf(jobset.spec, 'workers').template.metadata = { generateName: 'w-' };
    expect(validateKubernetesObject(jobset).sort()).toEqual(
      [
        '/spec must NOT be valid',
        '/spec/failurePolicy/restartStrategy must be equal to one of the allowed values',
        '/spec/failurePolicy/rules/0/action must be equal to one of the allowed values',
        '/spec/replicatedJobs/1/template/metadata/generateName is not a field of jobset.x-k8s.io/v1alpha2 JobSet',
      ].sort(),
    );
    jobset.spec.startupPolicy.startupPolicyOrder = 'AnyOrder';
    jobset.spec.failurePolicy = { maxRestarts: 2 };
    delete jobOf(jobset.spec, 'workers').template.metadata;
    expect(validateKubernetesObject(jobset)).toEqual([]);

    const runtime = readYaml<Obj>(RUNTIME_FILE);
    runtime.status = {};
    runtime.spec.mlPolicy.mpi = { mpiImplementation: 'Intel' };
    runtime.spec.mlPolicy.jax = {};
    expect(validateKubernetesObject(runtime).sort()).toEqual(
      [
        '/status is not a field of trainer.kubeflow.org/v1alpha1 TrainingRuntime',
        '/spec/mlPolicy/mpi/mpiImplementation must be equal to one of the allowed values',
        '/spec/mlPolicy must NOT be valid',
      ].sort(),
    );
    // Trainer's JobSet takes InPlaceRestart and up to five dependencies.
    const inRuntime = readYaml<Obj>(RUNTIME_FILE);
    inRuntime.spec.template.spec.failurePolicy.restartStrategy = 'InPlaceRestart';
    expect(validateKubernetesObject(inRuntime)).toEqual([]);
  });

  it("keeps the TrainingRuntime's JobSet the JobSet of deploy/k8s/jobset, but for the names Trainer overrides", () => {
    const jobset = readYaml<Obj>(JOBSET_FILE).spec;
    const runtime = readYaml<Obj>(RUNTIME_FILE).spec.template.spec;
    // Trainer's TrainJob overrides the replicated job labelled as the trainer step, in its container "node".
    const node = jobOf(runtime, 'node');
    expect(node.template.metadata.labels['trainer.kubeflow.org/trainjob-ancestor-step']).toBe('trainer');
    expect(podOf(node).containers.map((c: Obj) => c.name)).toEqual(['node']);
    const renamed = structuredClone(jobset);
    const workers = jobOf(renamed, 'workers');
    workers.name = 'node';
    workers.template.metadata = node.template.metadata;
    const container = podOf(workers).containers[0];
    container.name = 'node';
    env(container, 'CPU_LIMIT').valueFrom.resourceFieldRef.containerName = 'node';
    expect(runtime).toEqual(renamed);
  });

  it('runs the coordinator with one command, arguments and environment in every form', () => {
    const deployment = readYaml<Obj>(DEPLOYMENT_FILE).spec.template.spec.containers[0];
    const inJobSet = podOf(jobOf(readYaml<Obj>(JOBSET_FILE).spec, 'coordinator')).containers[0];
    const inRuntime = podOf(jobOf(readYaml<Obj>(RUNTIME_FILE).spec.template.spec, 'coordinator')).containers[0];
    const ifFinished = (args: string[]) => args[args.indexOf('--if-finished') + 1];
    const withoutIfFinished = (args: string[]) => args.filter((_a, i) => args[i] !== '--if-finished' && args[i - 1] !== '--if-finished');
    for (const other of [inJobSet, inRuntime]) {
      expect(other.command).toEqual(deployment.command);
      expect(withoutIfFinished(other.args)).toEqual(withoutIfFinished(deployment.args));
      expect(other.readinessProbe.httpGet.path).toBe('/readyz');
      // A Job's coordinator on a finished run exits 0, so its Job completes.
      expect(ifFinished(other.args)).toBe('exit-0');
    }
    // A Deployment restarts what exits: its coordinator keeps serving the finished run.
    expect(ifFinished(deployment.args)).toBe('serve');
    // Each run keeps its checkpoints in a directory of its own name on the shared volume.
    expect(env(inJobSet, 'CHECKPOINT_DIR').value).toBe('/var/lib/ringtrain/checkpoints/$(JOBSET_NAME)');
    expect(env(deployment, 'CHECKPOINT_DIR').value).toMatch(/^\/var\/lib\/ringtrain\/checkpoints\/[a-z-]+$/);
  });

  it('finds a world outside the coordinator bounds and a disruption budget short of --min-workers, so the check can fail', () => {
    const jobset = readYaml<Obj>(JOBSET_FILE);
    jobOf(jobset.spec, 'workers').template.spec.parallelism = 9;
    const job = readYaml<Obj>(TRAIN_JOB_FILE);
    job.spec.trainer.numNodes = 1;
    const budget = readYamlDocuments(join(K8S_DIR, 'base', 'worker-disruption-budget.yaml'))[0] as Obj;
    budget.spec.minAvailable = 1;
    const namespace: Obj = { apiVersion: 'v1', kind: 'Namespace', metadata: { name: 'ringtrain' } };
    const inNamespace = [jobset, job, budget].map((o): Obj => ({ ...o, metadata: { ...o.metadata, namespace: 'ringtrain' } }));
    const problems = consistencyProblems([namespace, ...inNamespace]);
    expect(problems).toEqual(
      expect.arrayContaining([
        'ringtrain/workers asks for 9 workers, outside --min-workers 2 and --max-workers 8',
        'TrainJob ringtrain-fashion-mnist asks for 1 workers, outside --min-workers 2 and --max-workers 8',
        'PodDisruptionBudget ringtrain-worker keeps 1 workers, not --min-workers 2',
      ]),
    );
  });

  describe.skipIf(!hasKubectl)('rendered with kubectl kustomize', () => {
    const rendered = hasKubectl
      ? {
          jobset: kustomize(join(K8S_DIR, 'jobset')) as Obj[],
          trainer: kustomize(join(K8S_DIR, 'trainer')) as Obj[],
          jobsetWithKueue: kustomize(overlayWithComponent(join(K8S_DIR, 'jobset'), join(K8S_DIR, 'components', 'kueue'), scratch)) as Obj[],
          trainerWithKueue: kustomize(overlayWithComponent(join(K8S_DIR, 'trainer'), join(K8S_DIR, 'components', 'kueue'), scratch)) as Obj[],
        }
      : undefined;
    const jobSetSpecs = (objects: Obj[]): Obj[] =>
      objects.flatMap((o) => (o.kind === 'JobSet' ? [o.spec] : o.kind === 'TrainingRuntime' ? [o.spec.template.spec] : []));

    it.each(['jobset', 'trainer'] as const)(
      'has the %s workers dial the coordinator at the DNS name JobSet gives its pod',
      (variant) => {
        const [spec] = jobSetSpecs(rendered![variant]);
        expect(spec!.network.enableDNSHostnames).toBe(true);
        expect(spec!.network.subdomain).toBeUndefined();
        const coordinatorJob = jobOf(spec!, 'coordinator');
        expect(coordinatorJob.replicas).toBe(1);
        const port = podOf(coordinatorJob).containers[0].ports.find((p: Obj) => p.name === 'http').containerPort;
        const workers = spec!.replicatedJobs.find((j: Obj) => j.name !== 'coordinator');
        const worker = podOf(workers).containers[0];
        const args: string[] = worker.args;
        // <jobset>-<replicatedJob>-<jobIndex>-<podIndex>.<subdomain, by default the jobset's name>
        expect(args[args.indexOf('--coordinator') + 1]).toBe(`ws://$(JOBSET_NAME)-${coordinatorJob.name}-0-0.$(JOBSET_NAME):${port}`);
        expect(env(worker, 'JOBSET_NAME').valueFrom.fieldRef.fieldPath).toBe("metadata.labels['jobset.sigs.k8s.io/jobset-name']");
        // Workers on one node sit side by side in the ring.
        expect(args[args.indexOf('--host-group') + 1]).toBe('$(NODE_NAME)');
        expect(env(worker, 'NODE_NAME').valueFrom.fieldRef.fieldPath).toBe('spec.nodeName');
        expect(workers.dependsOn).toEqual([{ name: 'coordinator', status: 'Ready' }]);
      },
    );

    it('has the TrainJob use the runtime the kustomization ships', () => {
      const job = rendered!.trainer.find((o) => o.kind === 'TrainJob')!;
      const runtime = rendered!.trainer.find((o) => o.kind === job.spec.runtimeRef.kind && o.metadata.name === job.spec.runtimeRef.name);
      expect(runtime?.metadata.namespace).toBe(job.metadata.namespace);
      // Pods are named <trainjob>-coordinator-0-0: a hostname of 63 characters at most.
      expect(`${job.metadata.name}-coordinator-0-0`.length).toBeLessThanOrEqual(63);
    });

    it('labels the JobSet and the TrainJob, and nothing else, with the Kueue queue', () => {
      const queued = (objects: Obj[]) => objects.filter((o) => o.metadata.labels?.['kueue.x-k8s.io/queue-name'] === 'ringtrain').map((o) => o.kind);
      expect(queued(rendered!.jobsetWithKueue)).toEqual(['JobSet']);
      expect(queued(rendered!.trainerWithKueue)).toEqual(['TrainJob']);
      expect(queued(rendered!.jobset)).toEqual([]);
      for (const variant of [rendered!.jobsetWithKueue, rendered!.trainerWithKueue]) {
        for (const object of variant) expect(validateKubernetesObject(object), `${object.kind} ${object.metadata.name}`).toEqual([]);
        expect(consistencyProblems(variant)).toEqual([]);
      }
    });
  });
});
