/**
 * Whether a rendered set of ringtrain's Kubernetes objects fits together, beyond what each
 * object's schema can say: Services and policies select pods that exist, named ports exist,
 * probes and scrape annotations point at open ports, every container has requests and limits,
 * and the network policies let through exactly the ports the containers open.
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
}

const matches = (selector: Record<string, string> | undefined, labels: Record<string, string>) =>
  selector !== undefined && Object.entries(selector).every(([k, v]) => labels[k] === v);

export function workloadsOf(objects: readonly Obj[]): Workload[] {
  return objects
    .filter((o) => o.kind === 'Deployment' || o.kind === 'StatefulSet')
    .map((o) => ({
      kind: o.kind,
      name: o.metadata.name,
      podLabels: o.spec.template.metadata?.labels ?? {},
      podAnnotations: o.spec.template.metadata?.annotations ?? {},
      containers: o.spec.template.spec.containers,
      podSecurityContext: o.spec.template.spec.securityContext,
      serviceName: o.spec.serviceName,
    }));
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
      for (const probe of ['readinessProbe', 'livenessProbe']) {
        const get = c[probe]?.httpGet;
        if (get?.path !== '/healthz') problems.push(`${w.name}/${c.name} has no ${probe} on /healthz`);
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
  return problems;
}
