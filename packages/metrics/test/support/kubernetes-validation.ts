/**
 * Checks a Kubernetes object against the API schema of its apiVersion and kind, with the
 * offline JSON schemas of kubernetes-models, and also reports fields the schema does not know
 * (the schemas allow them, but the API server drops them, so `readinessProbes:` would silently
 * disable a probe). Unknown fields are found by watching which properties the compiled
 * validator reads: it reads every property its schema defines, and no other.
 *
 * prometheus-operator's kinds have no schema here; their required fields are checked by hand.
 * JobSet and Kubeflow Trainer objects go to crd-validation.ts, which comes back here for the
 * Kubernetes types they embed.
 */
import * as models from 'kubernetes-models';
import { isCustomResourceGroup, validateCustomResource } from './crd-validation.ts';

interface ModelClass {
  new (data: object): { toJSON(): object; validate(): void };
  prototype: { validate(): void };
}

interface AjvError {
  instancePath: string;
  keyword: string;
  message?: string;
}

/** What the schema and the hand checks found wrong, one sentence per problem. */
export type Problems = string[];

const lowerCamel = (group: string) =>
  group
    .split('.')
    .map((part, i) => (i === 0 ? part : part.charAt(0).toUpperCase() + part.slice(1)))
    .join('');

/** The kubernetes-models class of `apiVersion`/`kind`, if the library has one. */
export function modelClassFor(apiVersion: string, kind: string): ModelClass | undefined {
  const [group, version] = apiVersion.includes('/') ? apiVersion.split('/') : ['', apiVersion];
  const root = models as unknown as Record<string, Record<string, Record<string, unknown>> | undefined>;
  const versions =
    group === '' ? { [version!]: root[version!] as unknown as Record<string, unknown> } : root[lowerCamel(group!)];
  const model = versions?.[version!]?.[kind];
  return typeof model === 'function' ? (model as ModelClass) : undefined;
}

/** Wraps `value` so that every own property read through it is recorded in `read`. */
function recordingReads(value: unknown, path: string, read: Set<string>, all: Set<string>): unknown {
  if (value === null || typeof value !== 'object') return value;
  for (const key of Object.keys(value)) all.add(`${path}/${key}`);
  return new Proxy(value, {
    get(target, key, receiver) {
      if (typeof key === 'string' && Object.hasOwn(target, key)) {
        read.add(`${path}/${key}`);
        return recordingReads((target as Record<string, unknown>)[key], `${path}/${key}`, read, all);
      }
      return Reflect.get(target, key, receiver);
    },
  });
}

/**
 * Problems of `object` against its schema. With `partial`, missing required fields are not
 * problems (a strategic-merge patch names only what it changes).
 */
export function validateKubernetesObject(
  object: Record<string, unknown>,
  options: { partial?: boolean } = {},
): Problems {
  const { apiVersion, kind } = object;
  if (typeof apiVersion !== 'string' || typeof kind !== 'string') return ['has no apiVersion or kind'];
  if (apiVersion.startsWith('monitoring.coreos.com/')) return validatePrometheusOperatorObject(object);
  if (isCustomResourceGroup(apiVersion)) return validateCustomResource(object, options, validateKubernetesObject);
  const Model = modelClassFor(apiVersion, kind);
  if (Model === undefined) return [`${apiVersion} ${kind} is not a Kubernetes kind this check knows`];

  const problems: Problems = [];
  const read = new Set<string>();
  const all = new Set<string>();
  const plain = new Model(object).toJSON();
  try {
    Model.prototype.validate.call(recordingReads(plain, '', read, all));
  } catch (error) {
    const errors = (error as { errors?: AjvError[] }).errors ?? [];
    if (errors.length === 0) throw error;
    for (const e of errors) {
      if (options.partial && e.keyword === 'required') continue;
      problems.push(`${e.instancePath || '/'} ${e.message ?? e.keyword}`);
    }
  }
  for (const path of all) {
    if (!read.has(path) && !path.startsWith('/status'))
      problems.push(`${path} is not a field of ${apiVersion} ${kind}`);
  }
  return problems;
}

function isObject(value: unknown): value is Record<string, unknown> {
  return value !== null && typeof value === 'object' && !Array.isArray(value);
}

/** The fields prometheus-operator requires of a PodMonitor or PrometheusRule, checked by hand. */
function validatePrometheusOperatorObject(object: Record<string, unknown>): Problems {
  const problems: Problems = [];
  const metadata = object.metadata;
  if (!isObject(metadata) || typeof metadata.name !== 'string') problems.push('/metadata/name is missing');
  const spec = object.spec;
  if (!isObject(spec)) return [...problems, '/spec is missing'];
  switch (object.kind) {
    case 'PodMonitor': {
      if (!isObject(spec.selector)) problems.push('/spec/selector is missing');
      const endpoints = spec.podMetricsEndpoints;
      if (!Array.isArray(endpoints) || endpoints.length === 0)
        problems.push('/spec/podMetricsEndpoints is missing or empty');
      else
        endpoints.forEach((endpoint: unknown, i) => {
          if (!isObject(endpoint) || (typeof endpoint.port !== 'string' && endpoint.portNumber === undefined)) {
            problems.push(`/spec/podMetricsEndpoints/${i} names no port`);
          }
        });
      break;
    }
    case 'PrometheusRule': {
      const groups = spec.groups;
      if (!Array.isArray(groups) || groups.length === 0) problems.push('/spec/groups is missing or empty');
      else
        groups.forEach((group: unknown, g) => {
          if (!isObject(group) || typeof group.name !== 'string') problems.push(`/spec/groups/${g}/name is missing`);
          const rules = isObject(group) ? group.rules : undefined;
          if (!Array.isArray(rules)) problems.push(`/spec/groups/${g}/rules is missing`);
          else
            rules.forEach((rule: unknown, r) => {
              const named = isObject(rule) && (typeof rule.alert === 'string') !== (typeof rule.record === 'string');
              if (!named) problems.push(`/spec/groups/${g}/rules/${r} needs exactly one of alert and record`);
              if (!isObject(rule) || typeof rule.expr !== 'string')
                problems.push(`/spec/groups/${g}/rules/${r}/expr is missing`);
            });
        });
      break;
    }
    default:
      problems.push(
        `${String(object.apiVersion)} ${String(object.kind)} is not a prometheus-operator kind this check knows`,
      );
  }
  return problems;
}
