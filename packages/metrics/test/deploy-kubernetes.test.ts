import { randomBytes } from 'node:crypto';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, relative } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { stringify } from 'yaml';
import { consistencyProblems } from './support/kubernetes-consistency.ts';
import { validateKubernetesObject } from './support/kubernetes-validation.ts';
import { checkKustomization, hasKubectl, kustomize, overlayWithComponent } from './support/kustomization.ts';
import { DEPLOY_DIR, filesUnder, fromRoot, isYaml, readYaml, readYamlDocuments } from './support/repo.ts';

// eslint-disable-next-line @typescript-eslint/no-explicit-any
type Obj = Record<string, any>;

const K8S_DIR = join(DEPLOY_DIR, 'k8s');
const BASE = join(K8S_DIR, 'base');
const SHARED = join(K8S_DIR, 'shared');
const OVERLAYS = { cpu: join(K8S_DIR, 'overlays', 'cpu'), gpu: join(K8S_DIR, 'overlays', 'gpu') };
const JOBSET = join(K8S_DIR, 'jobset');
const TRAINER = join(K8S_DIR, 'trainer');
const OPERATOR_COMPONENT = join(K8S_DIR, 'components', 'prometheus-operator');
const KUEUE_COMPONENT = join(K8S_DIR, 'components', 'kueue');

const yamlFiles = filesUnder(K8S_DIR, isYaml);
const kustomizationFiles = yamlFiles.filter((f) => f.endsWith('/kustomization.yaml'));
const checkedKustomizations = kustomizationFiles.map((f) => ({ file: f, ...checkKustomization(f) }));
const patchFiles = new Set(
  kustomizationFiles.flatMap((f) =>
    ((readYaml<{ patches?: { path: string }[] }>(f).patches ?? []) as { path: string }[]).map((p) =>
      join(dirname(f), p.path),
    ),
  ),
);
const objectFiles = yamlFiles.filter((f) => !kustomizationFiles.includes(f));
const objects = objectFiles.flatMap((file) =>
  (readYamlDocuments(file) as Obj[]).map((object) => ({ file, object, patch: patchFiles.has(file) })),
);

const render = (dir: string) => kustomize(dir) as Obj[];

/**
 * A kustomization as kustomize would render it, without kustomize: its resources in order (a
 * directory's own kustomization rendered first, in place), with the namespace and the part-of
 * label (on objects and pod templates) that its kustomization adds.
 */
function renderByHand(dir: string): Obj[] {
  const k = readYaml<{ namespace: string; resources: string[]; labels: { pairs: Record<string, string> }[] }>(
    join(dir, 'kustomization.yaml'),
  );
  const labels = Object.assign({}, ...k.labels.map((l) => l.pairs));
  return k.resources.flatMap((r) =>
    (r.endsWith('.yaml') ? (readYamlDocuments(join(dir, r)) as Obj[]) : renderByHand(join(dir, r))).map((o) => {
      o.metadata.labels = { ...o.metadata.labels, ...labels };
      if (o.kind !== 'Namespace') o.metadata.namespace = k.namespace;
      if (o.spec?.template?.metadata)
        o.spec.template.metadata.labels = { ...o.spec.template.metadata.labels, ...labels };
      return o;
    }),
  );
}
const renderBaseByHand = () => renderByHand(BASE);

const scratch = mkdtempSync(join(tmpdir(), 'ringtrain-k8s-'));
afterAll(() => rmSync(scratch, { recursive: true, force: true }));

const withComponent = (base: string, component: string) => overlayWithComponent(base, component, scratch);
const withOperatorComponent = (overlay: string) => withComponent(overlay, OPERATOR_COMPONENT);

const worker = (rendered: Obj[]) =>
  rendered.find((o) => o.kind === 'StatefulSet' && o.metadata.name === 'ringtrain-worker')!;
const workerContainer = (rendered: Obj[]) => worker(rendered).spec.template.spec.containers[0];

describe('deploy/k8s', () => {
  it.each(objects.map((o) => [`${fromRoot(o.file)} ${o.object.kind} ${o.object.metadata?.name}`, o]))(
    '%s matches the schema of its kind, with no unknown field',
    (_name, { object, patch }) => {
      expect(validateKubernetesObject(object, { partial: patch })).toEqual([]);
    },
  );

  it('finds a misspelled field, a wrong type and a missing required field, so the check can fail', () => {
    const statefulSet = readYamlDocuments(join(BASE, 'worker-statefulset.yaml'))[0] as Obj;
    const container = statefulSet.spec.template.spec.containers[0];
    container.readinessProbes = container.readinessProbe;
    container.ports[0].containerPort = 'seven thousand';
    delete statefulSet.spec.selector;
    expect(validateKubernetesObject(statefulSet)).toEqual(
      expect.arrayContaining([
        '/spec/template/spec/containers/0/readinessProbes is not a field of apps/v1 StatefulSet',
        '/spec/template/spec/containers/0/ports/0/containerPort must be integer',
        '/spec must have required property selector',
      ]),
    );
  });

  it('checks the required fields of a PodMonitor by hand', () => {
    const monitor = readYaml<Obj>(join(OPERATOR_COMPONENT, 'pod-monitor.yaml'));
    delete monitor.spec.podMetricsEndpoints[1].port;
    expect(validateKubernetesObject(monitor)).toEqual(['/spec/podMetricsEndpoints/1 names no port']);
  });

  it.each(checkedKustomizations.map((k) => [fromRoot(k.file), k]))('%s refers only to files that exist', (_name, k) => {
    expect(k.problems).toEqual([]);
  });

  it('names a kustomization entry whose file is missing', () => {
    const dir = join(scratch, 'missing-patch');
    mkdirSync(dir);
    const text = readFileSync(join(OVERLAYS.cpu, 'kustomization.yaml'), 'utf8').replace(
      'worker-resources.yaml',
      'worker-resource.yaml',
    );
    writeFileSync(join(dir, 'kustomization.yaml'), text);
    expect(checkKustomization(join(dir, 'kustomization.yaml')).problems).toEqual(
      expect.arrayContaining([
        expect.stringMatching(/patch worker-resource.yaml does not exist$/),
        expect.stringMatching(/resource \.\.\/\.\.\/base does not exist$/),
      ]),
    );
  });

  it('has no file that no kustomization uses', () => {
    const used = new Set(
      checkedKustomizations.flatMap((k) =>
        k.references.flatMap((r) => (isYaml(r) ? [r] : [join(r, 'kustomization.yaml')])),
      ),
    );
    // The entry points: the overlays users deploy and the component they may add.
    for (const root of [...Object.values(OVERLAYS), JOBSET, TRAINER, OPERATOR_COMPONENT, KUEUE_COMPONENT])
      used.add(join(root, 'kustomization.yaml'));
    for (const file of yamlFiles) expect(used.has(file), `${fromRoot(file)} is used by no kustomization`).toBe(true);
  });

  it('commits only the placeholder token, never a real one', () => {
    const secret = readYaml<Obj>(join(SHARED, 'token-secret.yaml'));
    expect(secret.stringData).toEqual({ token: 'REPLACE_ME' });
    expect(secret.data).toBeUndefined();
  });

  it('has a base whose parts fit together (rendered without kustomize)', () => {
    expect(consistencyProblems(renderBaseByHand())).toEqual([]);
  });

  it('finds a Service that selects no pods and a policy that blocks a container port, so the check can fail', () => {
    const rendered = renderBaseByHand();
    const service = rendered.find((o) => o.kind === 'Service' && o.metadata.name === 'ringtrain-worker')!;
    service.spec.selector = { 'app.kubernetes.io/name': 'ringtrain-workers' };
    rendered.find((o) => o.kind === 'NetworkPolicy' && o.metadata.name === 'ringtrain-worker')!.spec.ingress.pop();
    const problems = consistencyProblems(rendered);
    expect(problems).toContain('Service ringtrain-worker selects no pods');
    expect(problems).toContain('ringtrain-worker: no NetworkPolicy lets in its port 7072');
  });

  describe.skipIf(!hasKubectl)('rendered with kubectl kustomize', () => {
    const rendered = hasKubectl
      ? {
          cpu: render(OVERLAYS.cpu),
          gpu: render(OVERLAYS.gpu),
          cpuWithOperator: render(withOperatorComponent(OVERLAYS.cpu)),
          gpuWithOperator: render(withOperatorComponent(OVERLAYS.gpu)),
          jobset: render(JOBSET),
          trainer: render(TRAINER),
          jobsetWithKueue: render(withComponent(JOBSET, KUEUE_COMPONENT)),
          trainerWithKueue: render(withComponent(TRAINER, KUEUE_COMPONENT)),
        }
      : undefined;
    const variants = Object.entries(rendered ?? {});

    it.each(variants)('the %s variant holds objects that match their schemas', (_variant, objects) => {
      for (const object of objects)
        expect(validateKubernetesObject(object), `${object.kind} ${object.metadata.name}`).toEqual([]);
    });

    it.each(variants)('the %s variant fits together', (_variant, objects) => {
      expect(consistencyProblems(objects)).toEqual([]);
    });

    it('runs CPU workers on the CPU image without GPUs', () => {
      const container = workerContainer(rendered!.cpu);
      expect(container.image).toBe('ringtrain/worker-cpu:0.1.0');
      expect(JSON.stringify(container.resources)).not.toMatch(/nvidia/);
    });

    it('runs GPU workers on the GPU image, one GPU each, tolerating GPU nodes', () => {
      const container = workerContainer(rendered!.gpu);
      expect(container.image).toBe('ringtrain/worker-gpu:0.1.0');
      expect(container.resources.requests['nvidia.com/gpu']).toBe(1);
      expect(container.resources.limits['nvidia.com/gpu']).toBe(1);
      expect(worker(rendered!.gpu).spec.template.spec.tolerations).toContainEqual(
        expect.objectContaining({ key: 'nvidia.com/gpu' }),
      );
      // The patch replaced only what it names: the probes and ports of the base are still there.
      expect(container.readinessProbe.httpGet.path).toBe('/readyz');
      expect(container.ports.map((p: Obj) => p.name)).toEqual(['peer', 'metrics']);
    });

    it('has each worker advertise its stable name under the headless Service', () => {
      const args: string[] = workerContainer(rendered!.cpu).args;
      const host = args[args.indexOf('--advertise-host') + 1];
      expect(host).toBe(`$(POD_NAME).${worker(rendered!.cpu).spec.serviceName}.$(POD_NAMESPACE).svc`);
      const env = workerContainer(rendered!.cpu).env.map((e: Obj) => e.name);
      expect(env.indexOf('POD_NAME')).toBeLessThan(env.indexOf('RINGTRAIN_TOKEN'));
    });

    it('groups the ring by node: each worker names its node as its host group', () => {
      const container = workerContainer(rendered!.cpu);
      const args: string[] = container.args;
      expect(args[args.indexOf('--host-group') + 1]).toBe('$(NODE_NAME)');
      expect(container.env.find((e: Obj) => e.name === 'NODE_NAME').valueFrom.fieldRef.fieldPath).toBe('spec.nodeName');
    });

    it('replaces the placeholder token with the private overlay docs/deploy.md describes', () => {
      const dir = mkdtempSync(join(scratch, 'private-overlay-'));
      const token = randomBytes(32).toString('hex');
      writeFileSync(join(dir, 'token.env'), `token=${token}\n`);
      writeFileSync(
        join(dir, 'kustomization.yaml'),
        stringify({
          apiVersion: 'kustomize.config.k8s.io/v1beta1',
          kind: 'Kustomization',
          namespace: 'ringtrain',
          resources: [relative(dir, OVERLAYS.gpu)],
          images: [{ name: 'ringtrain/coordinator', newName: 'registry.example/ringtrain/coordinator' }],
          secretGenerator: [{ name: 'ringtrain-token', behavior: 'replace', envs: ['token.env'] }],
          generatorOptions: { disableNameSuffixHash: true },
        }),
      );
      const objects = render(dir);
      const secrets = objects.filter((o) => o.kind === 'Secret');
      expect(secrets).toHaveLength(1);
      expect(secrets[0]!.metadata).toMatchObject({ name: 'ringtrain-token', namespace: 'ringtrain' });
      expect(Buffer.from(secrets[0]!.data.token, 'base64').toString()).toBe(token);
      expect(secrets[0]!.stringData).toBeUndefined();
      expect(workerContainer(objects).image).toBe('ringtrain/worker-gpu:0.1.0');
      expect(consistencyProblems(objects)).toEqual([]);
    });

    it('adds a PodMonitor and the alert rules with the prometheus-operator component', () => {
      const kinds = rendered!.cpuWithOperator.map((o) => o.kind);
      expect(kinds).toContain('PodMonitor');
      expect(kinds).toContain('PrometheusRule');
      expect(rendered!.cpu.map((o) => o.kind)).not.toContain('PodMonitor');
    });
  });
});
