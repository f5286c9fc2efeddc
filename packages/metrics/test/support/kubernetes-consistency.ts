/**
 * Whether a rendered set of ringtrain's Kubernetes objects fits together, beyond what each
 * object's schema can say: Services and policies select pods that exist, named ports exist,
 * probes and scrape annotations point at open ports, every container has requests and limits,
 * the network policies let through exactly the ports the containers open, and the number of
 * workers stays within the coordinator's --min-workers and --max-workers. Pods are those of
 * Deployments and StatefulSets, and of the replicated jobs of a JobSet or a Trainer runtime.
 */

// Objects already checked against their schemas, so their shapes are known: any keeps this short.
// eslint-disable-next-line @typescript-eslint/no-explicit-any
type Obj = Record<string, any>;

interface Workload {
  kind: string;
  name: string;
  podLabels: Record<string, string>;
  podAnnotations: Record<string, string>;
  containers: Obj[];
  podSecurityContext: Obj | undefined;
  serviceName?: string;
  /** How many pods run at once: a StatefulSet's replicas, a replicated job's parallelism. */
  pods: number;
}

const matches = (selector: Record<string, string> | undefined, labels: Record<string, string>) =>
  selector !== undefined && Object.entries(selector).every(([k, v]) => labels[k] === v);

function workloadOf(kind: string, name: string, template: Obj, pods: number, serviceName?: string): Workload {
  return {
    kind,
    name,
    podLabels: template.metadata?.labels ?? {},
    podAnnotations: template.metadata?.annotations ?? {},
    containers: template.spec.containers,
    podSecurityContext: template.spec.securityContext,
    serviceName,
    pods,
  };
}

/** The replicated jobs of a JobSet spec as workloads named <owner>/<replicatedJob>. */
function replicatedJobWorkloads(kind: string, owner: string, spec: Obj | undefined): Workload[] {
  return (spec?.replicatedJobs ?? []).map((job: Obj) =>
    workloadOf(kind, `${owner}/${job.name}`, job.template.spec.template, (job.replicas ?? 1) * (job.template.spec.parallelism ?? 1)),
  );
}

export function workloadsOf(objects: readonly Obj[]): Workload[] {
  return objects.flatMap((o): Workload[] => {
    switch (o.kind) {
      case 'Deployment':
      case 'StatefulSet':
        return [workloadOf(o.kind, o.metadata.name, o.spec.template, o.spec.replicas ?? 1, o.spec.serviceName)];
      case 'JobSet':
        return replicatedJobWorkloads(o.kind, o.metadata.name, o.spec);
      case 'TrainingRuntime':
      case 'ClusterTrainingRuntime':
        return replicatedJobWorkloads(o.kind, o.metadata.name, o.spec.template?.spec);
      default:
        return [];
    }
  });
}

const flagValue = (args: readonly string[] | undefined, flag: string): string | undefined => {
  const i = (args ?? []).indexOf(flag);
  return i < 0 ? undefined : args![i + 1];
};

/**
 * The number of workers every object asks for lies within the coordinator's --min-workers and
 * --max-workers, and a disruption budget of the workers keeps --min-workers of them.
 */
function worldSizeProblems(objects: readonly Obj[], workloads: readonly Workload[]): string[] {
  const problems: string[] = [];
  const role = (w: Workload) => w.podLabels['app.kubernetes.io/name'];
  const coordinator = workloads.find((w) => role(w) === 'ringtrain-coordinator');
  if (coordinator === undefined) return problems;
  const args: string[] = coordinator.containers[0]?.args ?? [];
  const min = Number(flagValue(args, '--min-workers') ?? 2);
  const max = Number(flagValue(args, '--max-workers') ?? min);
  const within = (what: string, n: number) => {
    if (!(n >= min && n <= max)) problems.push(`${what} asks for ${n} workers, outside --min-workers ${min} and --max-workers ${max}`);
  };
  for (const w of workloads.filter((x) => role(x) === 'ringtrain-worker')) within(w.name, w.pods);
  for (const o of objects) {
    if (o.kind === 'TrainingRuntime' && o.spec.mlPolicy?.numNodes !== undefined) within(`${o.metadata.name} mlPolicy`, o.spec.mlPolicy.numNodes);
    if (o.kind === 'TrainJob' && o.spec.trainer?.numNodes !== undefined) within(`TrainJob ${o.metadata.name}`, o.spec.trainer.numNodes);
    if (o.kind === 'PodDisruptionBudget' && matches(o.spec.selector?.matchLabels, { 'app.kubernetes.io/name': 'ringtrain-worker' })) {
      if (o.spec.minAvailable !== min)
        problems.push(`PodDisruptionBudget ${o.metadata.name} keeps ${o.spec.minAvailable} workers, not --min-workers ${min}`);
    }
  }
  return problems;
}

const containerPorts = (w: Workload): Obj[] => w.containers.flatMap((c) => c.ports ?? []);

export function consistencyProblems(objects: readonly Obj[]): string[] {
  const problems: string[] = [];
  const workloads = workloadsOf(objects);
  const namespaceNames = new Set(objects.filter((o) => o.kind === 'Namespace').map((o) => o.metadata.name));

  for (const o of objects) {
    if (o.kind === 'Namespace') continue;
    if (!namespaceNames.has(o.metadata.namespace))
      problems.push(`${o.kind} ${o.metadata.name} is in no namespace of the deployment`);
  }

  for (const w of workloads) {
    if (w.podLabels['app.kubernetes.io/part-of'] !== 'ringtrain')
      problems.push(`${w.name}: pods lack app.kubernetes.io/part-of=ringtrain`);
    const portNames = new Set(containerPorts(w).map((p) => p.name));
    const portNumbers = new Set(containerPorts(w).map((p) => p.containerPort));
    for (const c of w.containers) {
      for (const kind of ['requests', 'limits']) {
        for (const resource of ['cpu', 'memory']) {
          if (c.resources?.[kind]?.[resource] === undefined)
            problems.push(`${w.name}/${c.name} has no ${resource} ${kind}`);
        }
      }
      // Readiness means taking part in the run (in a ring, or taking workers); liveness only answering.
      for (const [probe, path] of [
        ['readinessProbe', '/readyz'],
        ['livenessProbe', '/healthz'],
      ] as const) {
        const get = c[probe]?.httpGet;
        if (get?.path !== path) problems.push(`${w.name}/${c.name} has no ${probe} on ${path}`);
        else if (!portNames.has(get.port) && !portNumbers.has(get.port))
          problems.push(`${w.name}/${c.name} ${probe} port ${get.port} is not open`);
      }
      if (c.securityContext?.allowPrivilegeEscalation !== false)
        problems.push(`${w.name}/${c.name} may escalate privileges`);
      // Ports given as flags must be the container's ports.
      const args: string[] = c.args ?? [];
      for (const flag of ['--port', '--peer-port', '--metrics-port']) {
        const i = args.indexOf(flag);
        if (i >= 0 && !portNumbers.has(Number(args[i + 1])))
          problems.push(`${w.name}/${c.name} ${flag} ${args[i + 1]} is not a container port`);
      }
    }
    const scrapePort = w.podAnnotations['prometheus.io/port'];
    if (w.podAnnotations['prometheus.io/scrape'] !== 'true')
      problems.push(`${w.name}: pods are not annotated for scraping`);
    else if (!portNumbers.has(Number(scrapePort)))
      problems.push(`${w.name}: prometheus.io/port ${scrapePort} is not a container port`);
    if (w.kind === 'StatefulSet') {
      const service = objects.find((o) => o.kind === 'Service' && o.metadata.name === w.serviceName);
      if (service === undefined) problems.push(`${w.name}: its serviceName ${w.serviceName} is no Service`);
      else if (service.spec.clusterIP !== 'None') problems.push(`${w.name}: Service ${w.serviceName} is not headless`);
    }
    if (w.podSecurityContext?.runAsNonRoot !== true) problems.push(`${w.name}: pods may run as root`);
  }

  for (const service of objects.filter((o) => o.kind === 'Service')) {
    const selected = workloads.filter((w) => matches(service.spec.selector, w.podLabels));
    if (selected.length === 0) problems.push(`Service ${service.metadata.name} selects no pods`);
    for (const port of service.spec.ports ?? []) {
      for (const w of selected) {
        const target = port.targetPort ?? port.port;
        const open = containerPorts(w).some((p) => p.name === target || p.containerPort === target);
        if (!open) problems.push(`Service ${service.metadata.name} targets port ${target}, not open on ${w.name}`);
      }
    }
  }

  // Each container port must be let in by a policy selecting its pod, and no policy may open
  // a port that nothing listens on.
  const policies = objects.filter((o) => o.kind === 'NetworkPolicy');
  for (const policy of policies) {
    const selected = workloads.filter((w) => matches(policy.spec.podSelector.matchLabels, w.podLabels));
    if (selected.length === 0) problems.push(`NetworkPolicy ${policy.metadata.name} selects no pods`);
    for (const rule of policy.spec.ingress ?? []) {
      if (!rule.ports) problems.push(`NetworkPolicy ${policy.metadata.name} lets in every port`);
      for (const port of rule.ports ?? []) {
        if (
          !selected.some((w) => containerPorts(w).some((p) => p.containerPort === port.port || p.name === port.port))
        ) {
          problems.push(`NetworkPolicy ${policy.metadata.name} opens port ${port.port}, which nothing listens on`);
        }
      }
    }
  }
  for (const w of workloads) {
    const mine = policies.filter((p) => matches(p.spec.podSelector.matchLabels, w.podLabels));
    if (mine.length === 0) problems.push(`${w.name}: no NetworkPolicy selects its pods`);
    for (const port of containerPorts(w)) {
      const allowed = mine.some((p) =>
        (p.spec.ingress ?? []).some((rule: Obj) =>
          (rule.ports ?? []).some((rp: Obj) => rp.port === port.containerPort || rp.port === port.name),
        ),
      );
      if (!allowed) problems.push(`${w.name}: no NetworkPolicy lets in its port ${port.containerPort}`);
    }
  }

  for (const monitor of objects.filter((o) => o.kind === 'PodMonitor')) {
    const selected = workloads.filter((w) => matches(monitor.spec.selector.matchLabels, w.podLabels));
    if (selected.length === 0) problems.push(`PodMonitor ${monitor.metadata.name} selects no pods`);
    for (const endpoint of monitor.spec.podMetricsEndpoints) {
      if (!selected.some((w) => containerPorts(w).some((p) => p.name === endpoint.port))) {
        problems.push(`PodMonitor ${monitor.metadata.name} scrapes port ${endpoint.port}, which no selected pod names`);
      }
    }
    const jobLabel = monitor.spec.jobLabel;
    for (const w of selected)
      if (!w.podLabels[jobLabel]) problems.push(`${w.name}: pods lack the PodMonitor's job label ${jobLabel}`);
  }
  problems.push(...worldSizeProblems(objects, workloads));
  return problems;
}
