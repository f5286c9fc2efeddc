// Public API of @ringtrain/model: the ResNet family, the data-parallel training step and its
// flat layout, SGD, learning-rate schedules, checkpoints, the Layers export, and backends.

export {
  BATCH_NORM_EPSILON,
  BATCH_NORM_MOMENTUM,
  BLOCK_EXPANSION,
  RESNET_DEPTHS,
  RESNET_TABLE,
  STAGE_STRIDES,
  STAGE_WIDTHS,
  STEM_WIDTH,
  STEMS,
} from './resnet-table.ts';
export type { BlockKind, ResNetDepth, ResNetTableRow, StemKind, StemRow } from './resnet-table.ts';

export {
  ResNet,
  buildResNet,
  convBnUnits,
  describeResNet,
  initialParameterValue,
  initialStatisticValue,
  listParameters,
  listStatistics,
  resolveResNetSpec,
  scaleWidth,
} from './resnet.ts';
export type {
  BatchNormLayerSpec,
  ConvBnSpec,
  ConvLayerSpec,
  DenseLayerSpec,
  ForwardMode,
  ForwardResult,
  NamedVariable,
  ParameterReader,
  ParameterRole,
  ParameterSpec,
  ResNetArchitecture,
  ResNetSpec,
  ResNetSpecInput,
  ResidualBlockSpec,
  StatisticRole,
  StatisticSpec,
} from './resnet.ts';
export type { BatchMoments } from './batch-norm.ts';

export { describeFlatLayout, flatLayoutFor, sectionEntries } from './flat-layout.ts';
export type { FlatEntry, FlatLayout, FlatSection } from './flat-layout.ts';

export { backwardSegments } from './segmented-backward.ts';
export type { FlatRange, SegmentReadyListener } from './segmented-backward.ts';

export { Trainer } from './trainer.ts';
export type {
  ComputeGradientsOptions,
  EvaluationResult,
  GradientResult,
  ImageBatch,
  LabelBatch,
  TrainerOptions,
} from './trainer.ts';

export { DEFAULT_SGD_OPTIONS, Sgd, decays, resolveSgdOptions } from './sgd.ts';
export type { SgdOptions, SgdState } from './sgd.ts';

export { createLearningRateSchedule, linearScaledLearningRate } from './lr-schedule.ts';
export type { LearningRateSchedule, LearningRateScheduleSpec, WarmupOptions } from './lr-schedule.ts';

export { decodeTrainingState, encodeTrainingState } from './checkpoint-state.ts';
export type { TrainingState } from './checkpoint-state.ts';

export {
  MODEL_JSON_FILE,
  WEIGHTS_FILE,
  buildLayersModel,
  exportLayersModel,
  fileSystemIOHandler,
  toLayersModel,
} from './layers-export.ts';

export {
  CheckpointStateCorruptError,
  CheckpointStateMismatchError,
  DisposedError,
  FlatLengthMismatchError,
  InvalidBatchError,
  InvalidOptionsError,
  InvalidResNetSpecError,
  ModelError,
  UnknownVariableError,
} from './errors.ts';
export type { ModelErrorCode } from './errors.ts';

export {
  AUTO_BACKEND_ORDER,
  BACKEND_NAMES,
  BackendError,
  BackendUnavailableError,
  InvalidBackendOptionsError,
  MAX_WASM_THREADS,
  MissingKernelError,
  UnknownBackendError,
  UnsupportedKernelAttributesError,
  UnsupportedPrecisionError,
  describeBackendSelection,
  initWasmBackend,
  isBackendName,
  registerWasmConv2DBackpropFilter,
  registerWasmTrainingKernels,
  selectBackend,
  unregisterWasmTrainingKernels,
  convolutionPrecisionsOn,
  useConvolutionPrecision,
  bf16ConvolutionSupport,
} from './backends/index.ts';
export type {
  BackendChoice,
  BackendErrorCode,
  BackendName,
  BackendSelection,
  Bf16Support,
  ConvolutionPrecision,
  FilterGradStrategy,
  SelectBackendOptions,
  SkippedBackend,
  WasmBackendInfo,
  WasmBuild,
  WasmInitOptions,
  WasmTrainingKernelOptions,
} from './backends/index.ts';
export { estimateTrainingMemory, formatBytes } from './memory-estimate.ts';
export { createRandom, fillUniform } from './seeded-random.ts';
export type { TrainingMemoryEstimate, TrainingMemoryOptions } from './memory-estimate.ts';
