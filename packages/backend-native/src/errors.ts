/**
 * Failures of the native backend, one class per failure mode, each with a stable string `code`.
 * (Errors raised inside the addon carry Node-style codes of their own: `ERR_NATIVE_ARGUMENT` for
 * arguments the addon rejects; `ERR_NATIVE_UNSUPPORTED` and `ERR_NATIVE_DNNL` for problems it
 * declines or oneDNN cannot run, which the kernels hand to tfjs's cpu kernel instead.)
 */
export type NativeBackendErrorCode =
  | 'RINGTRAIN_NATIVE_UNAVAILABLE'
  | 'RINGTRAIN_NATIVE_INVALID_OPTIONS'
  | 'RINGTRAIN_NATIVE_MISSING_CPU_KERNEL'
  | 'RINGTRAIN_NATIVE_UNSUPPORTED_INPUT'
  | 'RINGTRAIN_NATIVE_PROFILE_RUNNING';

export abstract class NativeBackendError extends Error {
  abstract readonly code: NativeBackendErrorCode;

  constructor(message: string) {
    super(message);
    this.name = new.target.name;
  }
}

/** The addon is not built or does not load; `reason` says why and how to fix it. */
export class NativeBackendUnavailableError extends NativeBackendError {
  readonly code = 'RINGTRAIN_NATIVE_UNAVAILABLE';

  constructor(readonly reason: string) {
    super(`the native backend is unavailable: ${reason}`);
  }
}

/** Options out of range (a thread count that is not a positive integer, say). */
export class InvalidNativeOptionsError extends NativeBackendError {
  readonly code = 'RINGTRAIN_NATIVE_INVALID_OPTIONS';
}

/** A tfjs cpu kernel that a native kernel falls back to is not registered. */
export class MissingCpuKernelError extends NativeBackendError {
  readonly code = 'RINGTRAIN_NATIVE_MISSING_CPU_KERNEL';

  constructor(kernelName: string) {
    super(`tfjs's cpu kernel '${kernelName}' is not registered; import '@tensorflow/tfjs-backend-cpu' before registering the native backend`);
  }
}

/** A kernel of this backend's own (one tfjs has no cpu kernel for) got inputs it cannot take. */
export class UnsupportedKernelInputError extends NativeBackendError {
  readonly code = 'RINGTRAIN_NATIVE_UNSUPPORTED_INPUT';

  constructor(kernelName: string, problem: string) {
    super(`${kernelName}: ${problem}`);
  }
}

/** `startNativeCallProfile` while another profile is running. */
export class NativeProfileRunningError extends NativeBackendError {
  readonly code = 'RINGTRAIN_NATIVE_PROFILE_RUNNING';

  constructor() {
    super('a native call profile is already running; stop it first');
  }
}
