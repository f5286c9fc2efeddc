/**
 * Failures of backend selection and of the wasm kernels, one class per failure mode, each with a
 * stable string `code`.
 */
export type BackendErrorCode =
  | 'RINGTRAIN_BACKEND_UNKNOWN'
  | 'RINGTRAIN_BACKEND_UNAVAILABLE'
  | 'RINGTRAIN_BACKEND_INVALID_OPTIONS'
  | 'RINGTRAIN_BACKEND_MISSING_KERNEL'
  | 'RINGTRAIN_BACKEND_UNSUPPORTED_ATTRIBUTES'
  | 'RINGTRAIN_BACKEND_UNSUPPORTED_PRECISION';

export abstract class BackendError extends Error {
  abstract readonly code: BackendErrorCode;

  constructor(message: string) {
    super(message);
    this.name = new.target.name;
  }
}

/** A backend choice that is none of the known names. */
export class UnknownBackendError extends BackendError {
  readonly code = 'RINGTRAIN_BACKEND_UNKNOWN';

  constructor(readonly choice: string, known: readonly string[]) {
    super(`unknown backend '${choice}'; choose one of ${known.map((name) => `'${name}'`).join(', ')}`);
  }
}

/** An explicitly chosen backend that cannot run here; `reason` says why. */
export class BackendUnavailableError extends BackendError {
  readonly code = 'RINGTRAIN_BACKEND_UNAVAILABLE';

  constructor(readonly backend: string, readonly reason: string) {
    super(`backend '${backend}' is unavailable: ${reason}`);
  }
}

/** Backend options out of range, or in conflict with how the backend was already initialised. */
export class InvalidBackendOptionsError extends BackendError {
  readonly code = 'RINGTRAIN_BACKEND_INVALID_OPTIONS';
}

/** A kernel that a wasm kernel builds on is not registered. */
export class MissingKernelError extends BackendError {
  readonly code = 'RINGTRAIN_BACKEND_MISSING_KERNEL';

  constructor(kernelName: string, backendName: string, detail = 'it is not registered') {
    super(`kernel '${kernelName}' for backend '${backendName}' cannot be used: ${detail}`);
  }
}

/** Attributes a kernel does not implement (for instance dilations > 1 in a gradient). */
export class UnsupportedKernelAttributesError extends BackendError {
  readonly code = 'RINGTRAIN_BACKEND_UNSUPPORTED_ATTRIBUTES';
}

/** A convolution precision the chosen backend does not compute in. */
export class UnsupportedPrecisionError extends BackendError {
  readonly code = 'RINGTRAIN_BACKEND_UNSUPPORTED_PRECISION';
}
