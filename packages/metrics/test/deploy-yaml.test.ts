import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { DEPLOY_DIR, filesUnder, fromRoot, isYaml, parseYamlDocuments, readYamlDocuments } from './support/repo.ts';

describe('the YAML and JSON under deploy/', () => {
  const yamlFiles = filesUnder(DEPLOY_DIR, isYaml);

  it('include the files every part of the deployment needs', () => {
    const names = yamlFiles.map(fromRoot);
    for (const expected of [
      'deploy/docker-compose.yml',
      'deploy/prometheus/prometheus.yml',
      'deploy/prometheus/alerts.yml',
      'deploy/prometheus/alerts.test.yml',
      'deploy/grafana/provisioning/datasources/prometheus.yml',
      'deploy/grafana/provisioning/dashboards/ringtrain.yml',
      'deploy/k8s/base/kustomization.yaml',
      'deploy/k8s/overlays/cpu/kustomization.yaml',
      'deploy/k8s/overlays/gpu/kustomization.yaml',
    ]) {
      expect(names).toContain(expected);
    }
  });

  it.each(yamlFiles.map((f) => [fromRoot(f), f]))('%s parses without errors or warnings', (_name, file) => {
    expect(readYamlDocuments(file).length).toBeGreaterThan(0);
  });

  it('names the file and the problem when YAML is malformed, so the check can fail', () => {
    const text = readFileSync(join(DEPLOY_DIR, 'prometheus', 'alerts.yml'), 'utf8').replace(
      'groups:',
      'groups:\n  - name: [unclosed',
    );
    expect(() => parseYamlDocuments(text, 'broken alerts.yml')).toThrow(/^broken alerts.yml: /);
  });

  it('has a Grafana dashboard that is valid JSON', () => {
    const dashboard = JSON.parse(readFileSync(join(DEPLOY_DIR, 'grafana', 'ringtrain-dashboard.json'), 'utf8'));
    expect(dashboard.uid).toBe('ringtrain');
  });
});
