// Public API of @ringtrain/backend-native: the tfjs backend 'native' (oneDNN through a Node-API
// addon), its availability check, registration, thread count and counters.

export {
  NATIVE_BACKEND_NAME,
  NativeBackend,
  nativeBackendAvailability,
  nativeBackendStats,
  registerNativeBackend,
  setNativeThreads,
} from './native-backend.ts';
export type { NativeAvailability, NativeBackendInfo, NativeBackendOptions, NativeBackendStats } from './native-backend.ts';
export type { KernelCounts } from './kernels/kernel-context.ts';

export { INSTALL_FIX } from './addon.ts';

export { BATCH_NORM_TRAIN, BATCH_NORM_TRAIN_GRAD } from './kernels/batch-norm-train.ts';
export type { BatchNormTrainAttrs } from './kernels/batch-norm-train.ts';

export { encodeSgdSegments, nativeSgdStep } from './sgd-step.ts';
export type { NativeCallProfile, NativeCallTotals } from './call-profile.ts';
export { startNativeCallProfile } from './call-profile.ts';
export type { NativeSgdStep, SgdHyperParameters, SgdSegment, SgdVariant } from './sgd-step.ts';

export { CONVOLUTION_PRECISIONS, bf16ConvolutionSupport, convolutionPrecision, setConvolutionPrecision } from './convolution-precision.ts';
export type { Bf16Support, ConvolutionPrecision } from './convolution-precision.ts';

export { defaultNativeThreads } from './threads.ts';
export type { ThreadDefaultsOptions } from './threads.ts';

export {
  InvalidNativeOptionsError,
  MissingCpuKernelError,
  NativeBackendError,
  NativeBackendUnavailableError,
  NativeProfileRunningError,
  UnsupportedKernelInputError,
} from './errors.ts';
export type { NativeBackendErrorCode } from './errors.ts';
