// The entry points of the addon, one per exported function. Each reads its arguments from
// `Args`, works on the caller's typed arrays in place, and throws on bad input.
#pragma once

#include "napi_args.h"

namespace rt {

// Fused activations, as codes shared with src/addon.ts.
constexpr int kActivationLinear = 0;
constexpr int kActivationRelu = 1;
constexpr int kActivationRelu6 = 2;
constexpr int kActivationElu = 3;
constexpr int kActivationLeakyRelu = 4;
constexpr int kActivationSigmoid = 5;

// Raises the trailing padding to what `out` outputs of a window `k` (dilation d, stride s) over
// `in` values need; throws when the sizes cannot agree.
void fitTrailingPad(int64_t in, int64_t k, int64_t d, int64_t s, int64_t out, int64_t before, int64_t* after);

// Adds bias[channel] (when not null) to rows×channels values and applies a fused activation.
void applyBiasActivation(float* data, int64_t rows, int64_t channels, const float* bias, int activation, float alpha);

void conv2dForward(Args& args);
void conv2dBackpropInput(Args& args);
void conv2dBackpropFilter(Args& args);
void conv2dImplementation(Args& args);

void pool2dForward(Args& args);
void maxPool2dBackward(Args& args);
void avgPool2dBackward(Args& args);

void matMul(Args& args);

void binaryOp(Args& args);
void unaryOp(Args& args);
void reduceOp(Args& args);
void batchNormForward(Args& args);
void batchNormTrainForward(Args& args);
void batchNormTrainBackward(Args& args);

void sgdStep(Args& args);

}  // namespace rt
