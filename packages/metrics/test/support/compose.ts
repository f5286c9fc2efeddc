/**
 * Whether deploy/docker-compose.yml hangs together: build contexts and Dockerfiles exist, bind
 * mounts point at files that exist, and the Prometheus and Grafana configurations it mounts
 * address services (and ports) that the file defines.
 */
import { existsSync } from 'node:fs';
import { dirname, posix, resolve } from 'node:path';
import { fromRoot, readYaml } from './repo.ts';

interface Service {
  build?: { context?: string; dockerfile?: string };
  command?: string[] | string;
  entrypoint?: string[] | string;
  volumes?: string[];
  networks?: Record<string, { aliases?: string[] } | null>;
}

interface PrometheusConfig {
  scrape_configs?: {
    job_name: string;
    static_configs?: { targets: string[] }[];
    dns_sd_configs?: { names: string[]; port: number }[];
  }[];
}

const flagValue = (words: string, flag: string) => new RegExp(`${flag}[ =](\\d+)`).exec(words)?.[1];

/** Everything wrong with the compose file `file` (paths relative to its directory). */
export function composeProblems(file: string): string[] {
  const problems: string[] = [];
  const dir = dirname(file);
  const compose = readYaml<{ services?: Record<string, Service> }>(file);
  const services = compose.services ?? {};
  const words = (s: Service) => [s.entrypoint ?? [], s.command ?? []].flat().join(' ');

  // Which services answer to a DNS name: their own name and their network aliases.
  const byName = new Map<string, string[]>();
  for (const [name, service] of Object.entries(services)) {
    byName.set(name, [...(byName.get(name) ?? []), name]);
    for (const network of Object.values(service.networks ?? {})) {
      for (const alias of network?.aliases ?? []) byName.set(alias, [...(byName.get(alias) ?? []), name]);
    }
  }

  const mounted = new Map<string, { service: string; source: string }>();
  for (const [name, service] of Object.entries(services)) {
    if (service.build) {
      const context = resolve(dir, service.build.context ?? '.');
      if (!existsSync(context)) problems.push(`${name}: build context ${service.build.context} does not exist`);
      const dockerfile = resolve(context, service.build.dockerfile ?? 'Dockerfile');
      if (!existsSync(dockerfile)) problems.push(`${name}: Dockerfile ${fromRoot(dockerfile)} does not exist`);
    }
    for (const volume of service.volumes ?? []) {
      const [source, target] = volume.split(':');
      if (!source!.startsWith('.') && !source!.startsWith('/')) continue;
      const path = resolve(dir, source!);
      if (!existsSync(path)) problems.push(`${name}: mounted ${source} does not exist`);
      else mounted.set(`${name}:${target}`, { service: name, source: path });
    }
  }

  // The Prometheus configuration scrapes services that exist, on the ports they listen on.
  const prometheusConfig = mounted.get('prometheus:/etc/prometheus/prometheus.yml');
  if (prometheusConfig === undefined)
    problems.push('prometheus: no configuration mounted at /etc/prometheus/prometheus.yml');
  else {
    const config = readYaml<PrometheusConfig>(prometheusConfig.source);
    for (const job of config.scrape_configs ?? []) {
      const targets = [
        ...(job.static_configs ?? []).flatMap((s) => s.targets),
        ...(job.dns_sd_configs ?? []).flatMap((d) => d.names.map((n) => `${n}:${d.port}`)),
      ];
      for (const target of targets) {
        const [host, port] = target.split(':');
        if (host === 'localhost') continue;
        const owners = byName.get(host!);
        if (owners === undefined) {
          problems.push(`job ${job.job_name} scrapes ${target}, but no service answers to ${host}`);
          continue;
        }
        for (const owner of owners) {
          const listens = [
            flagValue(words(services[owner]!), '--port'),
            flagValue(words(services[owner]!), '--metrics-port'),
          ];
          if (!listens.includes(port))
            problems.push(`job ${job.job_name} scrapes ${target}, but ${owner} serves no port ${port}`);
        }
      }
    }
  }

  // Grafana's data source and dashboard provider point at what the file provides.
  for (const [key, { source }] of mounted) {
    if (!key.startsWith('grafana:')) continue;
    if (key.endsWith('/provisioning/datasources')) {
      const datasources = readYaml<{ datasources: { url: string }[] }>(resolve(source, 'prometheus.yml')).datasources;
      for (const { url } of datasources) {
        const host = new URL(url).hostname;
        if (!byName.has(host)) problems.push(`grafana data source ${url}: no service answers to ${host}`);
      }
    }
    if (key.endsWith('/provisioning/dashboards')) {
      const providers = readYaml<{ providers: { options: { path: string } }[] }>(
        resolve(source, 'ringtrain.yml'),
      ).providers;
      for (const { options } of providers) {
        const dashboards = [...mounted.keys()].filter(
          (k) => k.startsWith('grafana:') && posix.dirname(k.slice('grafana:'.length)) === options.path,
        );
        if (dashboards.length === 0)
          problems.push(`grafana dashboard provider reads ${options.path}, where nothing is mounted`);
      }
    }
  }
  return problems;
}
