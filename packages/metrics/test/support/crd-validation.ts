/**
 * Checks a JobSet or a Kubeflow Trainer object: its own fields against the schemas of
 * crd-schemas.ts (with ajv), and the Kubernetes types inside it (Job templates, a trainer's
 * environment and resources) against the Kubernetes schemas, so that a misspelt probe deep in a
 * JobSet's pod template is found as it is in a StatefulSet's.
 */
import { Ajv, type ErrorObject, type ValidateFunction } from 'ajv';
import { CRD_SCHEMAS } from './crd-schemas.ts';

/** What was found wrong, one sentence per problem. */
type Problems = string[];
// eslint-disable-next-line @typescript-eslint/no-explicit-any
type Obj = Record<string, any>;
/** Checks a Kubernetes object of a built-in kind (kubernetes-validation.ts passes its own). */
export type KubernetesCheck = (object: Obj, options: { partial?: boolean }) => Problems;

// strictRequired would refuse the `not: { required }` that keeps torch and mpi apart.
const ajv = new Ajv({ allErrors: true, strict: true, strictRequired: false });
const validators = new Map<string, ValidateFunction>(Object.entries(CRD_SCHEMAS).map(([key, schema]) => [key, ajv.compile(schema)]));

/** Whether `apiVersion` belongs to a custom resource group this check has schemas for. */
export function isCustomResourceGroup(apiVersion: string): boolean {
  return apiVersion.startsWith('jobset.x-k8s.io/') || apiVersion.startsWith('trainer.kubeflow.org/');
}

function describe(error: ErrorObject, what: string): string {
  const at = error.instancePath || '/';
  if (error.keyword === 'additionalProperties')
    return `${error.instancePath}/${String(error.params.additionalProperty)} is not a field of ${what}`;
  return `${at} ${error.message ?? error.keyword}`;
}

/** The Job templates of a JobSet spec found at `path`, each with where it sits. */
function jobTemplatesOf(spec: Obj | undefined, path: string): { at: string; template: Obj }[] {
  const jobs: unknown = spec?.replicatedJobs;
  if (!Array.isArray(jobs)) return [];
  return jobs.flatMap((job: Obj, i) =>
    job?.template !== null && typeof job?.template === 'object' ? [{ at: `${path}/replicatedJobs/${i}/template`, template: job.template as Obj }] : [],
  );
}

/** The embedded Kubernetes parts of `object`, as objects of built-in kinds, with where each sits. */
function embeddedParts(object: Obj): { at: string; inner: string; object: Obj; what: string }[] {
  const asJob = (template: Obj) => ({
    apiVersion: 'batch/v1',
    kind: 'Job',
    metadata: { name: 'template', ...(template.metadata ?? {}) },
    spec: template.spec,
  });
  const jobs = (spec: Obj | undefined, path: string) =>
    jobTemplatesOf(spec, path).map(({ at, template }) => ({ at, inner: '', object: asJob(template), what: 'batch/v1 Job' }));
  switch (object.kind) {
    case 'JobSet':
      return jobs(object.spec, '/spec');
    case 'TrainingRuntime':
    case 'ClusterTrainingRuntime':
      return jobs(object.spec?.template?.spec, '/spec/template/spec');
    case 'TrainJob': {
      const trainer: Obj | undefined = object.spec?.trainer;
      if (trainer === undefined || (trainer.env === undefined && trainer.resourcesPerNode === undefined)) return [];
      const container: Obj = { name: 'node' };
      if (trainer.env !== undefined) container.env = trainer.env;
      if (trainer.resourcesPerNode !== undefined) container.resources = trainer.resourcesPerNode;
      const pod = { apiVersion: 'v1', kind: 'Pod', metadata: { name: 'node' }, spec: { containers: [container] } };
      return [{ at: '/spec/trainer', inner: '/spec/containers/0', object: pod, what: 'v1 Pod' }];
    }
    default:
      return [];
  }
}

const renameTrainerPaths = (problem: string) => problem.replace(/^\/spec\/trainer\/resources\b/, '/spec/trainer/resourcesPerNode');

/**
 * Problems of a custom resource. With `partial` (a patch), missing required fields are not
 * problems.
 */
export function validateCustomResource(object: Obj, options: { partial?: boolean }, checkKubernetes: KubernetesCheck): Problems {
  const key = `${String(object.apiVersion)} ${String(object.kind)}`;
  const validate = validators.get(key);
  if (validate === undefined) return [`${key} is not a custom resource this check has a schema for`];
  const problems: Problems = [];
  if (!validate(object))
    for (const error of validate.errors ?? []) {
      if (options.partial && error.keyword === 'required') continue;
      problems.push(describe(error, key));
    }
  for (const part of embeddedParts(object)) {
    for (const problem of checkKubernetes(part.object, options)) {
      // Paths of the built-in object, made paths of the custom resource.
      const local = part.inner === '' ? problem : problem.replace(part.inner, '');
      problems.push(renameTrainerPaths(`${part.at}${local}`).replace(` of ${part.what}`, ` of the ${part.what} it embeds`));
    }
  }
  return problems;
}
