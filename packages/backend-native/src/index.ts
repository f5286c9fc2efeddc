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

export { defaultNativeThreads } from './threads.ts';
export type { ThreadDefaultsOptions } from './threads.ts';

export { InvalidNativeOptionsError, MissingCpuKernelError, NativeBackendError, NativeBackendUnavailableError } from './errors.ts';
export type { NativeBackendErrorCode } from './errors.ts';
