// Training-mode batch normalisation over NHWC (statistics of the batch, per channel), with an
// optional fused ReLU, and its gradient: two passes over the activations each way.
//
// Composed from tfjs ops the same layer costs about a dozen full passes forward and backward
// (moments, normalisation, the ReLU mask, each term of the gradient), and on a ResNet step with
// native convolutions those passes were a third of the time.
//
//   forward:  μ, σ² over the N·H·W rows (biased variance);  y = [relu](γ·(x − μ)/√(σ²+ε) + β)
//   backward: dz = dy masked where y = 0 (with ReLU);  dβ = Σdz;  dγ = Σdz·x̂
//             dx = γ/σ · (dz − dβ/M − x̂·dγ/M)
//
// Sums are taken in double over a fixed number of row chunks and combined in chunk order, so
// results do not depend on the thread count.
#include <algorithm>
#include <cmath>
#include <string>
#include <vector>

#include "kernels.h"
#include "runtime.h"

#define RT_CLONES __attribute__((target_clones("avx512f", "avx2", "default")))

namespace rt {

namespace {

constexpr int64_t kChunks = 16;

// s1[c] += Σ x, s2[c] += Σ x² over `rows` rows of `channels` values.
RT_CLONES void sumAndSquares(const float* x, int64_t rows, int64_t channels, double* s1, double* s2) {
  for (int64_t r = 0; r < rows; r++) {
    const float* row = x + r * channels;
    for (int64_t c = 0; c < channels; c++) {
      double v = row[c];
      s1[c] += v;
      s2[c] += v * v;
    }
  }
}

// y = [relu]((x − μ)·factor + shift); centred first, so that a large mean does not cancel.
RT_CLONES void normalize(const float* x, float* y, int64_t rows, int64_t channels, const float* mean, const float* factor, const float* shift,
                         bool relu) {
  for (int64_t r = 0; r < rows; r++) {
    const float* in = x + r * channels;
    float* out = y + r * channels;
    if (relu) {
      // max(z, 0) keeps a NaN z, as tfjs's Relu does.
      for (int64_t c = 0; c < channels; c++) out[c] = std::max((in[c] - mean[c]) * factor[c] + shift[c], 0.f);
    } else {
      for (int64_t c = 0; c < channels; c++) out[c] = (in[c] - mean[c]) * factor[c] + shift[c];
    }
  }
}

// tfjs's step(y): 1 where the ReLU passed its input on, 0 where it did not, NaN for NaN. It is
// multiplied in, as tfjs's dy·step(y) is, so NaNs propagate and the loops stay free of branches.
inline float reluMask(float y) { return y > 0.f ? 1.f : (y == y ? 0.f : y); }

// sDz[c] += Σ dz, sDzX[c] += Σ dz·(x − μ), with dz = dy, or 0 where y ≤ 0 when `y` is given.
RT_CLONES void gradientSums(const float* dy, const float* x, const float* y, int64_t rows, int64_t channels, const float* mean,
                            double* sDz, double* sDzX) {
  for (int64_t r = 0; r < rows; r++) {
    const float* g = dy + r * channels;
    const float* in = x + r * channels;
    if (y != nullptr) {
      const float* out = y + r * channels;
      for (int64_t c = 0; c < channels; c++) {
        double dz = g[c] * reluMask(out[c]);
        sDz[c] += dz;
        sDzX[c] += dz * static_cast<double>(in[c] - mean[c]);
      }
    } else {
      for (int64_t c = 0; c < channels; c++) {
        double dz = g[c];
        sDz[c] += dz;
        sDzX[c] += dz * static_cast<double>(in[c] - mean[c]);
      }
    }
  }
}

// dx = a·dz + b·(x − μ) + k per channel.
RT_CLONES void inputGradient(const float* dy, const float* x, const float* y, float* dx, int64_t rows, int64_t channels, const float* mean,
                             const float* a, const float* b, const float* k) {
  for (int64_t r = 0; r < rows; r++) {
    const float* g = dy + r * channels;
    const float* in = x + r * channels;
    float* out = dx + r * channels;
    if (y != nullptr) {
      const float* fwd = y + r * channels;
      for (int64_t c = 0; c < channels; c++) {
        float dz = g[c] * reluMask(fwd[c]);
        out[c] = a[c] * dz + b[c] * (in[c] - mean[c]) + k[c];
      }
    } else {
      for (int64_t c = 0; c < channels; c++) out[c] = a[c] * g[c] + b[c] * (in[c] - mean[c]) + k[c];
    }
  }
}

struct RowChunks {
  int64_t rows, channels, chunks;

  RowChunks(size_t length, int64_t channelCount) : channels(channelCount) {
    if (channels < 1) throw ArgumentError("batch norm needs at least one channel");
    if (length % static_cast<size_t>(channels) != 0) {
      throw ArgumentError("x has " + std::to_string(length) + " values, not a whole number of rows of " + std::to_string(channels) +
                          " channels");
    }
    rows = static_cast<int64_t>(length) / channels;
    if (rows < 1) throw ArgumentError("batch norm needs at least one row");
    chunks = std::min(kChunks, rows);
  }

  int64_t begin(int64_t chunk) const { return rows * chunk / chunks; }
  int64_t end(int64_t chunk) const { return rows * (chunk + 1) / chunks; }

  // Chunks per thread below which another thread is not worth waking.
  int64_t minChunksPerThread() const { return std::max<int64_t>(1, kMinWorkPerThread * chunks / (rows * channels)); }

  // Runs body(chunk, partials of that chunk) over every chunk, then adds the partials in chunk order.
  void sum(int partialsPerChunk, std::vector<double>& totals, const std::function<void(int64_t, double*)>& body) const {
    std::vector<double> partials(static_cast<size_t>(chunks * partialsPerChunk * channels), 0.0);
    parallelFor(chunks, minChunksPerThread(), [&](int64_t first, int64_t last) {
      for (int64_t chunk = first; chunk < last; chunk++) body(chunk, partials.data() + chunk * partialsPerChunk * channels);
    });
    totals.assign(static_cast<size_t>(partialsPerChunk * channels), 0.0);
    for (int64_t chunk = 0; chunk < chunks; chunk++) {
      const double* p = partials.data() + chunk * partialsPerChunk * channels;
      for (int64_t i = 0; i < partialsPerChunk * channels; i++) totals[i] += p[i];
    }
  }

  void forEachChunk(const std::function<void(int64_t, int64_t)>& body) const {
    parallelFor(chunks, minChunksPerThread(), [&](int64_t first, int64_t last) {
      for (int64_t chunk = first; chunk < last; chunk++) body(begin(chunk), end(chunk));
    });
  }
};

void requireChannels(const F32View& view, int64_t channels, const char* name) { requireLength(view, static_cast<size_t>(channels), name); }

}  // namespace

// batchNormTrain(x, scale, offset, y, mean, variance, channels, epsilon, relu)
void batchNormTrainForward(Args& args) {
  F32View x = args.f32(0, "x");
  F32View scale = args.f32(1, "scale");
  F32View offset = args.f32(2, "offset");
  F32View y = args.f32(3, "y");
  F32View mean = args.f32(4, "mean");
  F32View variance = args.f32(5, "variance");
  RowChunks shape(x.length, args.integer(6, "channels"));
  double epsilon = args.number(7, "epsilon");
  bool relu = args.integer(8, "relu") != 0;
  if (!(epsilon >= 0)) throw ArgumentError("epsilon must be a non-negative number");
  const int64_t C = shape.channels;
  requireLength(y, x.length, "y");
  requireChannels(scale, C, "scale");
  requireChannels(offset, C, "offset");
  requireChannels(mean, C, "mean");
  requireChannels(variance, C, "variance");

  std::vector<double> totals;
  shape.sum(2, totals, [&](int64_t chunk, double* p) {
    sumAndSquares(x.data + shape.begin(chunk) * C, shape.end(chunk) - shape.begin(chunk), C, p, p + C);
  });
  std::vector<float> factor(C);
  const double m = static_cast<double>(shape.rows);
  for (int64_t c = 0; c < C; c++) {
    double mu = totals[c] / m;
    double var = std::max(totals[C + c] / m - mu * mu, 0.0);  // rounding can dip below 0; NaN stays NaN
    double invStd = 1.0 / std::sqrt(var + epsilon);
    mean.data[c] = static_cast<float>(mu);
    variance.data[c] = static_cast<float>(var);
    factor[c] = static_cast<float>(scale.data[c] * invStd);
  }
  shape.forEachChunk([&](int64_t begin, int64_t end) {
    normalize(x.data + begin * C, y.data + begin * C, end - begin, C, mean.data, factor.data(), offset.data, relu);
  });
}

// batchNormTrainGrad(dy, x, y | null, mean, variance, scale, dx, dScale, dOffset, epsilon)
// With `y` the forward pass had a fused ReLU, whose mask is y > 0.
void batchNormTrainBackward(Args& args) {
  F32View dy = args.f32(0, "dy");
  F32View x = args.f32(1, "x");
  F32View y = args.optionalF32(2, "y");
  F32View mean = args.f32(3, "mean");
  F32View variance = args.f32(4, "variance");
  F32View scale = args.f32(5, "scale");
  F32View dx = args.f32(6, "dx");
  F32View dScale = args.f32(7, "dScale");
  F32View dOffset = args.f32(8, "dOffset");
  double epsilon = args.number(9, "epsilon");
  if (!(epsilon >= 0)) throw ArgumentError("epsilon must be a non-negative number");
  RowChunks shape(x.length, static_cast<int64_t>(mean.length));
  const int64_t C = shape.channels;
  requireLength(dy, x.length, "dy");
  requireLength(dx, x.length, "dx");
  if (y.data != nullptr) requireLength(y, x.length, "y");
  requireChannels(variance, C, "variance");
  requireChannels(scale, C, "scale");
  requireChannels(dScale, C, "dScale");
  requireChannels(dOffset, C, "dOffset");

  std::vector<double> totals;
  shape.sum(2, totals, [&](int64_t chunk, double* p) {
    int64_t begin = shape.begin(chunk);
    gradientSums(dy.data + begin * C, x.data + begin * C, y.data == nullptr ? nullptr : y.data + begin * C, shape.end(chunk) - begin, C,
                 mean.data, p, p + C);
  });
  std::vector<float> a(C), b(C), k(C);
  const double m = static_cast<double>(shape.rows);
  for (int64_t c = 0; c < C; c++) {
    double invStd = 1.0 / std::sqrt(static_cast<double>(variance.data[c]) + epsilon);
    double sumDz = totals[c], sumDzX = totals[C + c];
    double ac = scale.data[c] * invStd;
    double bc = -ac * invStd * invStd * sumDzX / m;
    double kc = -ac * sumDz / m;
    a[c] = static_cast<float>(ac);
    b[c] = static_cast<float>(bc);
    k[c] = static_cast<float>(kc);
    dScale.data[c] = static_cast<float>(sumDzX * invStd);
    dOffset.data[c] = static_cast<float>(sumDz);
  }
  shape.forEachChunk([&](int64_t begin, int64_t end) {
    inputGradient(dy.data + begin * C, x.data + begin * C, y.data == nullptr ? nullptr : y.data + begin * C, dx.data + begin * C, end - begin,
                  C, mean.data, a.data(), b.data(), k.data());
  });
}

}  // namespace rt
