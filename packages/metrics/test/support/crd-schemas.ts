/**
 * JSON schemas of the custom resources ringtrain ships manifests for, written from the upstream
 * CRDs because no npm package carries them, and compared with them field by field:
 *
 * - JobSet (jobset.x-k8s.io/v1alpha2): kubernetes-sigs/jobset
 *   config/components/crd/bases/jobset.x-k8s.io_jobsets.yaml at commit
 *   01078527ec4383c3d7289b5af3e0a788324e14ec (controller-gen v0.16.2, the first with
 *   `groupName`).
 * - TrainingRuntime (trainer.kubeflow.org/v1alpha1): kubeflow/trainer
 *   manifests/base/crds/trainer.kubeflow.org_trainingruntimes.yaml at commit
 *   029b90c3d5465eb3efbf2de81f3d9bc3e43086f3; ClusterTrainingRuntime:
 *   trainer.kubeflow.org_clustertrainingruntimes.yaml at commit
 *   147081432be5e0ca102ef41aebef422396102182; TrainJob: trainer.kubeflow.org_trainjobs.yaml at
 *   commit 0f13bb7a01973a1717651000c746d634bd4161e9 (all controller-gen v0.18.0). Trainer embeds
 *   a newer JobSet API than the JobSet CRD above (`InPlaceRestart`, `onJobFailureMessagePatterns`,
 *   up to 5 `dependsOn`, `volumeClaimPolicies`), hence two JobSet specs here.
 *
 * Left out, and refused as unknown fields if a manifest uses them: a TrainJob's `initializer`
 * and `runtimePatches`, the contents of `volumeClaimPolicies`. Enum values, required fields,
 * bounds and the CEL rules that JSON Schema can say (one ML policy at most, StartupPolicy InOrder
 * not with dependsOn, a TrainJob's name an RFC 1035 label, its managedBy one of two) are the
 * CRDs'. Every object is closed (additionalProperties: false), so a misspelt or unknown field is
 * an error, as it is for the API server's structural schemas (which prune it).
 *
 * The Kubernetes types these embed (a Job template, environment variables, resource
 * requirements) are left open here and checked against the Kubernetes schemas by the caller.
 */

const closed = (properties: Record<string, unknown>, required: string[] = []) => ({
  type: 'object',
  additionalProperties: false,
  properties,
  ...(required.length > 0 ? { required } : {}),
});
/** `format: int32`, with the `minimum` the CRD gives, if any. */
const int32 = (minimum?: number) => ({ type: 'integer', minimum: minimum ?? -2_147_483_648, maximum: 2_147_483_647 });
const strings = { type: 'array', items: { type: 'string' } };
const stringMap = { type: 'object', additionalProperties: { type: 'string' } };
const dnsLabel = { type: 'string', pattern: '^[a-z0-9]([-a-z0-9]*[a-z0-9])?$', maxLength: 63 };
/** A Kubernetes type the caller checks against its own schema. */
const embedded = { type: 'object' };

/** The `metadata` the CRDs allow in a template (a Job's, a JobSet's). */
const templateMeta = closed({
  annotations: stringMap,
  finalizers: strings,
  labels: stringMap,
  name: { type: 'string' },
  namespace: { type: 'string' },
});
/** The CRDs leave an object's own `metadata` to the API server (`type: object`); what ringtrain's manifests use of it. */
const objectMeta = closed({
  name: { type: 'string' },
  generateName: { type: 'string' },
  namespace: { type: 'string' },
  labels: stringMap,
  annotations: stringMap,
});

/** What changed in the JobSet API between the JobSet CRD checked and the one Trainer embeds. */
interface JobSetApi {
  restartStrategies: string[];
  ruleFields: Record<string, unknown>;
  maxDependsOn: number;
  extraSpec: Record<string, unknown>;
}
const JOBSET_CRD: JobSetApi = { restartStrategies: ['Recreate', 'BlockingRecreate'], ruleFields: {}, maxDependsOn: 1, extraSpec: {} };
const JOBSET_IN_TRAINER: JobSetApi = {
  restartStrategies: ['Recreate', 'BlockingRecreate', 'InPlaceRestart'],
  ruleFields: { onJobFailureMessagePatterns: strings },
  maxDependsOn: 5,
  extraSpec: { volumeClaimPolicies: { type: 'array', maxItems: 50, items: embedded } },
};

const jobSetSpec = (api: JobSetApi) => ({
  ...closed(
    {
      replicatedJobs: {
        type: 'array',
        items: closed(
          {
            // The CRD says only `string`; the name ends up in the Job's and the pods' names, which
            // must be DNS labels, so a name that is not one fails when the Jobs are created.
            name: dnsLabel,
            groupName: { type: 'string' },
            template: closed({ metadata: templateMeta, spec: embedded }),
            replicas: int32(),
            dependsOn: {
              type: 'array',
              maxItems: api.maxDependsOn,
              items: closed({ name: { type: 'string' }, status: { enum: ['Ready', 'Complete'] } }, ['name', 'status']),
            },
          },
          ['name', 'template'],
        ),
      },
      network: closed({
        enableDNSHostnames: { type: 'boolean' },
        subdomain: { type: 'string' },
        publishNotReadyAddresses: { type: 'boolean' },
      }),
      successPolicy: closed({ operator: { enum: ['All', 'Any'] }, targetReplicatedJobs: strings }, ['operator']),
      failurePolicy: closed({
        maxRestarts: int32(),
        restartStrategy: { enum: api.restartStrategies },
        rules: {
          type: 'array',
          items: closed(
            {
              name: { type: 'string' },
              action: { enum: ['FailJobSet', 'RestartJobSet', 'RestartJobSetAndIgnoreMaxRestarts'] },
              onJobFailureReasons: strings,
              targetReplicatedJobs: strings,
              ...api.ruleFields,
            },
            ['name', 'action'],
          ),
        },
      }),
      startupPolicy: closed({ startupPolicyOrder: { enum: ['AnyOrder', 'InOrder'] } }, ['startupPolicyOrder']),
      suspend: { type: 'boolean' },
      coordinator: closed({ replicatedJob: { type: 'string' }, jobIndex: { type: 'integer' }, podIndex: { type: 'integer' } }, ['replicatedJob']),
      managedBy: { type: 'string' },
      ttlSecondsAfterFinished: int32(0),
      ...api.extraSpec,
    },
    // The CRD does not require replicatedJobs; a JobSet without any makes no Job, which for
    // ringtrain is always a mistake.
    ['replicatedJobs'],
  ),
  // The CRD's rule "StartupPolicy and DependsOn APIs are mutually exclusive".
  not: {
    type: 'object',
    required: ['startupPolicy', 'replicatedJobs'],
    properties: {
      startupPolicy: { type: 'object', required: ['startupPolicyOrder'], properties: { startupPolicyOrder: { const: 'InOrder' } } },
      replicatedJobs: { type: 'array', contains: { type: 'object', required: ['dependsOn'] } },
    },
  },
});

const resource = (apiVersion: string, kind: string, spec: object, options: { name?: object; status?: boolean } = {}) =>
  closed(
    {
      apiVersion: { const: apiVersion },
      kind: { const: kind },
      metadata: { ...objectMeta, properties: { ...objectMeta.properties, name: options.name ?? { type: 'string' } }, required: ['name'] },
      spec,
      ...(options.status === false ? {} : { status: { type: 'object' } }),
    },
    ['apiVersion', 'kind', 'metadata', 'spec'],
  );

/** At most one of `names` (the CRDs' "Only one of the policy can be configured"). */
const atMostOneOf = (names: string[]) => ({
  not: { anyOf: names.flatMap((a, i) => names.slice(i + 1).map((b) => ({ required: [a, b] }))) },
});

/** The ML policies of a runtime; ClusterTrainingRuntime's CRD was a newer one, with XGBoost and torch.envInjection. */
const mlPolicy = (cluster: boolean) => {
  const torch = cluster
    ? closed({
        envInjection: closed({
          targets: {
            type: 'array',
            maxItems: 16,
            items: closed(
              { jobName: { type: 'string', minLength: 1, maxLength: 253 }, containerNames: { type: 'array', minItems: 1, maxItems: 8, items: { type: 'string', maxLength: 63 } } },
              ['jobName'],
            ),
          },
        }),
      })
    : closed({ numProcPerNode: { anyOf: [{ type: 'integer', minimum: 1 }, { enum: ['auto', 'cpu', 'gpu'] }] } });
  const policies = cluster ? ['torch', 'mpi', 'jax', 'xgboost', 'flux'] : ['torch', 'mpi', 'jax'];
  return {
    ...closed({
      numNodes: int32(),
      torch,
      mpi: closed({
        numProcPerNode: int32(),
        mpiImplementation: { enum: ['OpenMPI', ''] },
        sshAuthMountPath: { type: 'string', ...(cluster ? { maxLength: 4096 } : {}) },
        runLauncherAsNode: { type: 'boolean' },
      }),
      jax: closed({}),
      flux: closed({ numProcPerNode: int32(1) }),
      ...(cluster ? { xgboost: closed({}) } : {}),
    }),
    ...atMostOneOf(policies),
  };
};

const trainingRuntimeSpec = (cluster: boolean) => ({
  ...closed({
    mlPolicy: mlPolicy(cluster),
    podGroupPolicy: closed({
      coscheduling: closed({ scheduleTimeoutSeconds: int32() }),
      volcano: closed({ networkTopology: closed({ highestTierAllowed: { type: 'integer' }, mode: { enum: ['hard', 'soft'] } }) }),
    }),
    template: { ...closed({ metadata: templateMeta, spec: jobSetSpec(JOBSET_IN_TRAINER) }), minProperties: 1 },
  }),
  minProperties: 1,
});

const containerStrings = { type: 'array', maxItems: 128, items: { type: 'string', maxLength: 65_536 } };
const trainJobSpec = closed(
  {
    runtimeRef: closed(
      {
        name: { type: 'string', minLength: 1, maxLength: 253 },
        apiGroup: { type: 'string', maxLength: 253 },
        // The CRD takes any string here (default ClusterTrainingRuntime); Trainer resolves only these two.
        kind: { type: 'string', maxLength: 253 },
      },
      ['name'],
    ),
    trainer: closed({
      image: { type: 'string', maxLength: 500 },
      command: containerStrings,
      args: containerStrings,
      env: { type: 'array', maxItems: 128, items: embedded },
      numNodes: int32(),
      resourcesPerNode: embedded,
      numProcPerNode: int32(),
    }),
    suspend: { type: 'boolean' },
    activeDeadlineSeconds: { type: 'integer', minimum: 1 },
    managedBy: { type: 'string', maxLength: 253, enum: ['trainer.kubeflow.org/trainjob-controller', 'kueue.x-k8s.io/multikueue'] },
  },
  ['runtimeRef'],
);

/** The schema of each kind, by `apiVersion kind`. */
export const CRD_SCHEMAS: Record<string, object> = {
  'jobset.x-k8s.io/v1alpha2 JobSet': resource('jobset.x-k8s.io/v1alpha2', 'JobSet', jobSetSpec(JOBSET_CRD)),
  // Runtimes have no status in their CRDs.
  'trainer.kubeflow.org/v1alpha1 TrainingRuntime': resource('trainer.kubeflow.org/v1alpha1', 'TrainingRuntime', trainingRuntimeSpec(false), { status: false }),
  'trainer.kubeflow.org/v1alpha1 ClusterTrainingRuntime': resource('trainer.kubeflow.org/v1alpha1', 'ClusterTrainingRuntime', trainingRuntimeSpec(true), { status: false }),
  // The CRD's rules on a TrainJob's name, which names its JobSet and the pods' DNS names.
  'trainer.kubeflow.org/v1alpha1 TrainJob': resource('trainer.kubeflow.org/v1alpha1', 'TrainJob', trainJobSpec, {
    name: { type: 'string', pattern: '^[a-z]([-a-z0-9]*[a-z0-9])?$', maxLength: 63 },
  }),
};
