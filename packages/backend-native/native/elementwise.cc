// Element-wise kernels in plain loops: binary operations with numpy broadcasting, unary
// functions, and tfjs's FusedBatchNorm (inference-style normalisation with given moments).
//
// Once convolutions run in oneDNN these are what a training step spends its time on: batch
// normalisation and its gradient are a dozen full passes over every activation. The loops are
// compiled for several instruction sets and picked at load time (target_clones), and split
// across the same OpenMP threads as oneDNN.
//
// Broadcasting: both operands arrive padded to the output's rank; dimensions where neither
// operand broadcasts differently are merged, so that the usual cases (same shape, a scalar, a
// per-channel vector against NHWC) reach one contiguous inner loop.
#include <algorithm>
#include <cmath>
#include <cstring>
#include <string>

#include "kernels.h"
#include "runtime.h"

#define RT_CLONES __attribute__((target_clones("avx512f", "avx2", "default")))

namespace rt {

namespace {

enum BinaryKind { kAdd = 0, kSub = 1, kMul = 2, kDiv = 3, kSquaredDifference = 4, kMaximum = 5, kMinimum = 6 };

template <int Op>
inline float binary(float a, float b) {
  if constexpr (Op == kAdd) return a + b;
  if constexpr (Op == kSub) return a - b;
  if constexpr (Op == kMul) return a * b;
  if constexpr (Op == kDiv) return a / b;
  if constexpr (Op == kSquaredDifference) return (a - b) * (a - b);
  // Math.max / Math.min: NaN wins.
  if constexpr (Op == kMaximum) return (a != a || b != b) ? NAN : (a > b ? a : b);
  if constexpr (Op == kMinimum) return (a != a || b != b) ? NAN : (a < b ? a : b);
}

template <int Op>
RT_CLONES void binaryVV(const float* a, const float* b, float* out, int64_t n) {
  for (int64_t i = 0; i < n; i++) out[i] = binary<Op>(a[i], b[i]);
}

template <int Op>
RT_CLONES void binaryVS(const float* a, float b, float* out, int64_t n) {
  for (int64_t i = 0; i < n; i++) out[i] = binary<Op>(a[i], b);
}

template <int Op>
RT_CLONES void binarySV(float a, const float* b, float* out, int64_t n) {
  for (int64_t i = 0; i < n; i++) out[i] = binary<Op>(a, b[i]);
}

constexpr int kMaxRank = 8;

struct Layout {
  int rank = 0;  // merged dimensions, outermost first
  int64_t size[kMaxRank];
  int64_t strideA[kMaxRank];
  int64_t strideB[kMaxRank];
};

Layout mergeBroadcast(const std::vector<int64_t>& out, const std::vector<int64_t>& a, const std::vector<int64_t>& b) {
  // Keep the dimensions of the output larger than one, tagged with whether a and b span them.
  int64_t size[kMaxRank];
  bool fullA[kMaxRank], fullB[kMaxRank];
  int count = 0;
  for (size_t i = 0; i < out.size(); i++) {
    if (out[i] == 1) continue;
    bool spansA = a[i] == out[i], spansB = b[i] == out[i];
    if (count > 0 && fullA[count - 1] == spansA && fullB[count - 1] == spansB) {
      size[count - 1] *= out[i];
      continue;
    }
    size[count] = out[i];
    fullA[count] = spansA;
    fullB[count] = spansB;
    count++;
  }
  Layout layout;
  layout.rank = count;
  int64_t nextA = 1, nextB = 1;
  for (int i = count - 1; i >= 0; i--) {
    layout.size[i] = size[i];
    layout.strideA[i] = fullA[i] ? nextA : 0;
    layout.strideB[i] = fullB[i] ? nextB : 0;
    if (fullA[i]) nextA *= size[i];
    if (fullB[i]) nextB *= size[i];
  }
  return layout;
}

template <int Op>
void runBinary(const float* a, const float* b, float* out, const Layout& l) {
  if (l.rank == 0) {
    out[0] = binary<Op>(a[0], b[0]);
    return;
  }
  const int inner = l.rank - 1;
  const int64_t innerSize = l.size[inner];
  const int64_t innerA = l.strideA[inner], innerB = l.strideB[inner];
  int64_t outer = 1;
  for (int i = 0; i < inner; i++) outer *= l.size[i];

  // One contiguous run of the inner dimension starting at (offsetA, offsetB, offsetOut).
  auto run = [&](int64_t offA, int64_t offB, float* o, int64_t begin, int64_t end) {
    int64_t n = end - begin;
    if (innerA != 0 && innerB != 0) {
      binaryVV<Op>(a + offA + begin, b + offB + begin, o + begin, n);
    } else if (innerA != 0) {
      binaryVS<Op>(a + offA + begin, b[offB], o + begin, n);
    } else {
      binarySV<Op>(a[offA], b + offB + begin, o + begin, n);
    }
  };

  if (outer == 1) {
    parallelFor(innerSize, kMinWorkPerThread, [&](int64_t begin, int64_t end) { run(0, 0, out, begin, end); });
    return;
  }
  int64_t minRows = std::max<int64_t>(1, kMinWorkPerThread / std::max<int64_t>(1, innerSize));
  parallelFor(outer, minRows, [&](int64_t begin, int64_t end) {
    // Multi-index of row `begin` over the outer dimensions, then step it row by row.
    int64_t index[kMaxRank] = {0};
    int64_t rest = begin;
    for (int i = inner - 1; i >= 0; i--) {
      index[i] = rest % l.size[i];
      rest /= l.size[i];
    }
    int64_t offA = 0, offB = 0;
    for (int i = 0; i < inner; i++) {
      offA += index[i] * l.strideA[i];
      offB += index[i] * l.strideB[i];
    }
    for (int64_t row = begin; row < end; row++) {
      run(offA, offB, out + row * innerSize, 0, innerSize);
      for (int i = inner - 1; i >= 0; i--) {
        offA += l.strideA[i];
        offB += l.strideB[i];
        if (++index[i] < l.size[i]) break;
        offA -= l.strideA[i] * l.size[i];
        offB -= l.strideB[i] * l.size[i];
        index[i] = 0;
      }
    }
  });
}

enum UnaryKind {
  kRelu = 0,
  kRelu6 = 1,
  kStep = 2,
  kNeg = 3,
  kSquare = 4,
  kSqrt = 5,
  kRsqrt = 6,
  kExp = 7,
  kLog = 8,
  kAbs = 9,
  kSigmoid = 10,
  kElu = 11,
  kLeakyRelu = 12,
  kTanh = 13,
};

template <int Op>
inline float unary(float x, float alpha) {
  // Each as tfjs's cpu kernel computes it, NaN behaviour included.
  if constexpr (Op == kRelu) return x < 0.f ? 0.f : x;
  if constexpr (Op == kRelu6) return x < 0.f ? 0.f : (x > 6.f ? 6.f : x);
  if constexpr (Op == kStep) return x != x ? x : (x > 0.f ? 1.f : alpha);
  if constexpr (Op == kNeg) return -x;
  if constexpr (Op == kSquare) return x * x;
  if constexpr (Op == kSqrt) return std::sqrt(x);
  if constexpr (Op == kRsqrt) return 1.f / std::sqrt(x);
  if constexpr (Op == kExp) return std::exp(x);
  if constexpr (Op == kLog) return std::log(x);
  if constexpr (Op == kAbs) return std::fabs(x);
  if constexpr (Op == kSigmoid) return 1.f / (1.f + std::exp(-x));
  if constexpr (Op == kElu) return x >= 0.f ? x : std::expm1(x);
  if constexpr (Op == kLeakyRelu) return x < 0.f ? alpha * x : x;
  if constexpr (Op == kTanh) return std::tanh(x);
}

template <int Op>
RT_CLONES void unaryLoop(const float* x, float* out, int64_t n, float alpha) {
  for (int64_t i = 0; i < n; i++) out[i] = unary<Op>(x[i], alpha);
}

template <int Op>
void runUnary(const float* x, float* out, int64_t n, float alpha) {
  parallelFor(n, kMinWorkPerThread, [&](int64_t begin, int64_t end) { unaryLoop<Op>(x + begin, out + begin, end - begin, alpha); });
}

RT_CLONES void normalizeRows(const float* x, float* out, int64_t rows, int64_t channels, const float* mean, const float* factor,
                             const float* offset) {
  for (int64_t r = 0; r < rows; r++) {
    const float* xr = x + r * channels;
    float* yr = out + r * channels;
    for (int64_t c = 0; c < channels; c++) yr[c] = (xr[c] - mean[c]) * factor[c] + offset[c];
  }
}

RT_CLONES void addBiasRows(float* data, int64_t rows, int64_t channels, const float* bias) {
  for (int64_t r = 0; r < rows; r++) {
    float* row = data + r * channels;
    for (int64_t c = 0; c < channels; c++) row[c] += bias[c];
  }
}

}  // namespace

void applyBiasActivation(float* data, int64_t rows, int64_t channels, const float* bias, int activation, float alpha) {
  if (bias != nullptr) {
    int64_t minRows = std::max<int64_t>(1, kMinWorkPerThread / channels);
    parallelFor(rows, minRows, [&](int64_t begin, int64_t end) { addBiasRows(data + begin * channels, end - begin, channels, bias); });
  }
  int64_t n = rows * channels;
  switch (activation) {
    case kActivationLinear: return;
    case kActivationRelu: return runUnary<kRelu>(data, data, n, 0.f);
    case kActivationRelu6: return runUnary<kRelu6>(data, data, n, 0.f);
    case kActivationElu: return runUnary<kElu>(data, data, n, 0.f);
    case kActivationLeakyRelu: return runUnary<kLeakyRelu>(data, data, n, alpha);
    case kActivationSigmoid: return runUnary<kSigmoid>(data, data, n, 0.f);
    default: throw ArgumentError("unknown activation code " + std::to_string(activation));
  }
}

// binary(op, a, b, out, shapes: Int32Array [rank, out…, a…, b…]); a and b padded to rank with 1s.
void binaryOp(Args& args) {
  int op = static_cast<int>(args.integer(0, "op"));
  F32View a = args.f32(1, "a");
  F32View b = args.f32(2, "b");
  F32View out = args.f32(3, "out");
  std::vector<int64_t> shapes = args.ints(4, "shapes");
  if (shapes.empty() || shapes[0] < 0 || shapes[0] > kMaxRank || static_cast<int64_t>(shapes.size()) != 1 + 3 * shapes[0]) {
    throw ArgumentError("binary shapes must be [rank, out…, a…, b…] with rank at most 8");
  }
  size_t rank = static_cast<size_t>(shapes[0]);
  std::vector<int64_t> outShape(shapes.begin() + 1, shapes.begin() + 1 + rank);
  std::vector<int64_t> aShape(shapes.begin() + 1 + rank, shapes.begin() + 1 + 2 * rank);
  std::vector<int64_t> bShape(shapes.begin() + 1 + 2 * rank, shapes.end());
  int64_t outSize = 1, aSize = 1, bSize = 1;
  for (size_t i = 0; i < rank; i++) {
    bool ok = (aShape[i] == outShape[i] || aShape[i] == 1) && (bShape[i] == outShape[i] || bShape[i] == 1);
    if (!ok) throw ArgumentError("binary operand shapes do not broadcast to the output shape");
    outSize *= outShape[i];
    aSize *= aShape[i];
    bSize *= bShape[i];
  }
  requireLength(a, aSize, "a");
  requireLength(b, bSize, "b");
  requireLength(out, outSize, "out");
  if (outSize == 0) return;
  Layout layout = mergeBroadcast(outShape, aShape, bShape);
  switch (op) {
    case kAdd: return runBinary<kAdd>(a.data, b.data, out.data, layout);
    case kSub: return runBinary<kSub>(a.data, b.data, out.data, layout);
    case kMul: return runBinary<kMul>(a.data, b.data, out.data, layout);
    case kDiv: return runBinary<kDiv>(a.data, b.data, out.data, layout);
    case kSquaredDifference: return runBinary<kSquaredDifference>(a.data, b.data, out.data, layout);
    case kMaximum: return runBinary<kMaximum>(a.data, b.data, out.data, layout);
    case kMinimum: return runBinary<kMinimum>(a.data, b.data, out.data, layout);
    default: throw ArgumentError("unknown binary op " + std::to_string(op));
  }
}

// unary(op, x, out, alpha)
void unaryOp(Args& args) {
  int op = static_cast<int>(args.integer(0, "op"));
  F32View x = args.f32(1, "x");
  F32View out = args.f32(2, "out");
  float alpha = static_cast<float>(args.number(3, "alpha"));
  requireLength(out, x.length, "out");
  int64_t n = static_cast<int64_t>(x.length);
  switch (op) {
    case kRelu: return runUnary<kRelu>(x.data, out.data, n, alpha);
    case kRelu6: return runUnary<kRelu6>(x.data, out.data, n, alpha);
    case kStep: return runUnary<kStep>(x.data, out.data, n, alpha);
    case kNeg: return runUnary<kNeg>(x.data, out.data, n, alpha);
    case kSquare: return runUnary<kSquare>(x.data, out.data, n, alpha);
    case kSqrt: return runUnary<kSqrt>(x.data, out.data, n, alpha);
    case kRsqrt: return runUnary<kRsqrt>(x.data, out.data, n, alpha);
    case kExp: return runUnary<kExp>(x.data, out.data, n, alpha);
    case kLog: return runUnary<kLog>(x.data, out.data, n, alpha);
    case kAbs: return runUnary<kAbs>(x.data, out.data, n, alpha);
    case kSigmoid: return runUnary<kSigmoid>(x.data, out.data, n, alpha);
    case kElu: return runUnary<kElu>(x.data, out.data, n, alpha);
    case kLeakyRelu: return runUnary<kLeakyRelu>(x.data, out.data, n, alpha);
    case kTanh: return runUnary<kTanh>(x.data, out.data, n, alpha);
    default: throw ArgumentError("unknown unary op " + std::to_string(op));
  }
}

// batchNorm(x, mean, variance, offset | null, scale | null, out, varianceEpsilon)
// tfjs indexes every parameter cyclically (element i uses mean[i % mean.length], …); when all
// parameters have one length that divides x, that is a per-channel normalisation.
void batchNormForward(Args& args) {
  F32View x = args.f32(0, "x");
  F32View mean = args.f32(1, "mean");
  F32View variance = args.f32(2, "variance");
  F32View offset = args.optionalF32(3, "offset");
  F32View scale = args.optionalF32(4, "scale");
  F32View out = args.f32(5, "out");
  double epsilon = args.number(6, "varianceEpsilon");
  requireLength(out, x.length, "out");
  float zero = 0.f, one = 1.f;
  if (offset.data == nullptr) offset = F32View{&zero, 1};
  if (scale.data == nullptr) scale = F32View{&one, 1};
  if (mean.length == 0 || variance.length == 0 || offset.length == 0 || scale.length == 0) {
    throw ArgumentError("batchNorm parameters must not be empty");
  }
  int64_t n = static_cast<int64_t>(x.length);
  size_t channels = mean.length;
  bool perChannel = variance.length == channels && (offset.length == channels || offset.length == 1) &&
                    (scale.length == channels || scale.length == 1) && x.length % channels == 0;
  if (!perChannel) {
    for (int64_t i = 0; i < n; i++) {
      double s = scale.data[i % scale.length], v = variance.data[i % variance.length];
      out.data[i] = static_cast<float>(offset.data[i % offset.length] + (x.data[i] - mean.data[i % mean.length]) * s / std::sqrt(v + epsilon));
    }
    return;
  }
  std::vector<float> factor(channels), shift(channels);
  for (size_t c = 0; c < channels; c++) {
    double s = scale.data[scale.length == 1 ? 0 : c];
    factor[c] = static_cast<float>(s / std::sqrt(static_cast<double>(variance.data[c]) + epsilon));
    shift[c] = offset.data[offset.length == 1 ? 0 : c];
  }
  int64_t rows = n / static_cast<int64_t>(channels);
  int64_t minRows = std::max<int64_t>(1, kMinWorkPerThread / static_cast<int64_t>(channels));
  parallelFor(rows, minRows, [&](int64_t begin, int64_t end) {
    normalizeRows(x.data + begin * channels, out.data + begin * channels, end - begin, channels, mean.data, factor.data(), shift.data());
  });
}

}  // namespace rt
