export { AUTO_BACKEND_ORDER, BACKEND_NAMES, describeBackendSelection, isBackendName, selectBackend } from './select-backend.ts';
export type { BackendChoice, BackendName, BackendSelection, SelectBackendOptions, SkippedBackend } from './select-backend.ts';
export { MAX_WASM_THREADS, initWasmBackend } from './wasm-init.ts';
export type { WasmBackendInfo, WasmBuild, WasmInitOptions } from './wasm-init.ts';
export { registerWasmConv2DBackpropFilter, registerWasmTrainingKernels, unregisterWasmTrainingKernels } from './register-wasm-kernels.ts';
export type { WasmTrainingKernelOptions } from './register-wasm-kernels.ts';
export type { FilterGradStrategy } from './wasm-conv2d-backprop-filter.ts';
export {
  BackendError,
  BackendUnavailableError,
  InvalidBackendOptionsError,
  MissingKernelError,
  UnknownBackendError,
  UnsupportedKernelAttributesError,
  UnsupportedPrecisionError,
} from './errors.ts';
export { bf16ConvolutionSupport, convolutionPrecisionsOn, useConvolutionPrecision } from './convolution-precision.ts';
export type { Bf16Support, ConvolutionPrecision } from './convolution-precision.ts';
export type { BackendErrorCode } from './errors.ts';
