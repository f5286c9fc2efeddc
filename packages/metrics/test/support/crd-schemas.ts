/**
 * JSON schemas of the custom resources ringtrain ships manifests for, written from the upstream
 * API types because no npm package carries them: JobSet (jobset.x-k8s.io/v1alpha2, the fields
 * of JobSet 0.8 to 0.10, without volumeClaimPolicies) and Kubeflow Trainer v2
 * (trainer.kubeflow.org/v1alpha1: TrainingRuntime, ClusterTrainingRuntime, TrainJob, without
 * runtimePatches and the initializers). Every object is closed (additionalProperties: false), so
 * a misspelt or unknown field is an error, as it is for the API server's structural schemas.
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
const int32 = (minimum?: number) => ({ type: 'integer', ...(minimum === undefined ? {} : { minimum }), maximum: 2_147_483_647 });
const strings = { type: 'array', items: { type: 'string' } };
const stringMap = { type: 'object', additionalProperties: { type: 'string' } };
const dnsLabel = { type: 'string', pattern: '^[a-z0-9]([-a-z0-9]*[a-z0-9])?$', maxLength: 63 };
/** A Kubernetes type the caller checks against its own schema. */
const embedded = { type: 'object' };

const objectMeta = closed({
  name: { type: 'string' },
  generateName: { type: 'string' },
  namespace: { type: 'string' },
  labels: stringMap,
  annotations: stringMap,
});

const jobSetSpec = closed(
  {
    replicatedJobs: {
      type: 'array',
      minItems: 1,
      items: closed(
        {
          name: dnsLabel,
          groupName: { type: 'string' },
          template: closed({ metadata: objectMeta, spec: embedded }),
          replicas: int32(0),
          dependsOn: {
            type: 'array',
            maxItems: 1,
            items: closed({ name: dnsLabel, status: { enum: ['Ready', 'Complete'] } }, ['name', 'status']),
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
      maxRestarts: int32(0),
      restartStrategy: { enum: ['Recreate', 'BlockingRecreate', 'InPlaceRestart'] },
      rules: {
        type: 'array',
        items: closed(
          {
            name: { type: 'string', pattern: '^[A-Za-z]([A-Za-z0-9_,:]*[A-Za-z0-9_])?$' },
            action: {
              enum: ['FailJobSet', 'RestartJobSet', 'RestartJobSetAndIgnoreMaxRestarts', 'RestartJob', 'RestartJobAndIgnoreMaxRestarts'],
            },
            onJobFailureReasons: strings,
            onJobFailureMessagePatterns: strings,
            targetReplicatedJobs: strings,
          },
          ['name', 'action'],
        ),
      },
    }),
    startupPolicy: closed({ startupPolicyOrder: { enum: ['AnyOrder', 'InOrder'] } }, ['startupPolicyOrder']),
    suspend: { type: 'boolean' },
    coordinator: closed({ replicatedJob: { type: 'string' }, jobIndex: int32(0), podIndex: int32(0) }, ['replicatedJob']),
    managedBy: { type: 'string', maxLength: 63 },
    ttlSecondsAfterFinished: int32(0),
  },
  ['replicatedJobs'],
);

const resource = (apiVersion: string, kind: string, spec: object, name: object = { type: 'string' }) =>
  closed(
    {
      apiVersion: { const: apiVersion },
      kind: { const: kind },
      metadata: { ...objectMeta, properties: { ...objectMeta.properties, name }, required: ['name'] },
      spec,
      status: { type: 'object' },
    },
    ['apiVersion', 'kind', 'metadata', 'spec'],
  );

const trainingRuntimeSpec = {
  ...closed({
    mlPolicy: {
      ...closed({
        numNodes: int32(1),
        torch: closed({
          numProcPerNode: { anyOf: [{ type: 'integer', minimum: 1 }, { enum: ['auto', 'cpu', 'gpu'] }] },
          elasticPolicy: closed({ maxRestarts: int32(0), minNodes: int32(1), maxNodes: int32(1), metrics: { type: 'array' } }),
        }),
        mpi: closed({
          numProcPerNode: int32(1),
          mpiImplementation: { enum: ['OpenMPI', 'Intel', 'MPICH', ''] },
          sshAuthMountPath: { type: 'string' },
          runLauncherAsNode: { type: 'boolean' },
        }),
      }),
      not: { required: ['torch', 'mpi'] },
    },
    podGroupPolicy: {
      ...closed({
        coscheduling: closed({ scheduleTimeoutSeconds: int32(0) }),
        volcano: closed({ networkTopology: { type: 'object' } }),
      }),
      maxProperties: 1,
    },
    template: { ...closed({ metadata: objectMeta, spec: jobSetSpec }), minProperties: 1 },
  }),
  minProperties: 1,
};

const trainJobSpec = closed(
  {
    runtimeRef: closed(
      { name: { type: 'string', minLength: 1, maxLength: 253 }, apiGroup: { type: 'string' }, kind: { enum: ['TrainingRuntime', 'ClusterTrainingRuntime'] } },
      ['name'],
    ),
    trainer: closed({
      image: { type: 'string', maxLength: 500 },
      command: strings,
      args: strings,
      env: { type: 'array', items: embedded },
      numNodes: int32(1),
      resourcesPerNode: embedded,
      numProcPerNode: int32(1),
    }),
    suspend: { type: 'boolean' },
    activeDeadlineSeconds: { type: 'integer', minimum: 1 },
    managedBy: { enum: ['trainer.kubeflow.org/trainjob-controller', 'kueue.x-k8s.io/multikueue'] },
  },
  ['runtimeRef'],
);

/** The schema of each kind, by `apiVersion kind`. */
export const CRD_SCHEMAS: Record<string, object> = {
  'jobset.x-k8s.io/v1alpha2 JobSet': resource('jobset.x-k8s.io/v1alpha2', 'JobSet', jobSetSpec),
  'trainer.kubeflow.org/v1alpha1 TrainingRuntime': resource('trainer.kubeflow.org/v1alpha1', 'TrainingRuntime', trainingRuntimeSpec),
  'trainer.kubeflow.org/v1alpha1 ClusterTrainingRuntime': resource('trainer.kubeflow.org/v1alpha1', 'ClusterTrainingRuntime', trainingRuntimeSpec),
  // A TrainJob's name names its JobSet and the pods' DNS names: an RFC 1035 label.
  'trainer.kubeflow.org/v1alpha1 TrainJob': resource('trainer.kubeflow.org/v1alpha1', 'TrainJob', trainJobSpec, {
    type: 'string',
    pattern: '^[a-z]([-a-z0-9]*[a-z0-9])?$',
    maxLength: 63,
  }),
};
