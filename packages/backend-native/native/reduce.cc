// Sum and mean over one contiguous block of axes, the input seen as [outer, reduced, inner]:
// out[o, i] = Σ_r x[o, r, i]. The batch-norm moments and gradients reduce NHWC over N·H·W
// (outer = 1, inner = C), global average pooling over H·W (outer = N, inner = C). tfjs's cpu
// backend transposes the reduced axes to the end first; here the strided sums run in place.
// Sums accumulate in double, as tfjs's JavaScript loops do.
#include <omp.h>

#include <algorithm>
#include <string>
#include <vector>

#include "kernels.h"
#include "runtime.h"

#define RT_CLONES __attribute__((target_clones("avx512f", "avx2", "default")))

namespace rt {

namespace {

enum ReduceKind { kSum = 0, kMean = 1 };

// acc[i] += Σ_r x[r·inner + i] for r in [0, rows).
RT_CLONES void accumulateRows(const float* x, int64_t rows, int64_t inner, double* acc) {
  for (int64_t r = 0; r < rows; r++) {
    const float* row = x + r * inner;
    for (int64_t i = 0; i < inner; i++) acc[i] += row[i];
  }
}

RT_CLONES double sumContiguous(const float* x, int64_t n) {
  double total = 0;
  for (int64_t i = 0; i < n; i++) total += x[i];
  return total;
}

}  // namespace

// reduce(op: 0 sum | 1 mean, x, out, dims: Int32Array [outer, reduced, inner])
void reduceOp(Args& args) {
  int op = static_cast<int>(args.integer(0, "op"));
  if (op != kSum && op != kMean) throw ArgumentError("reduce op must be 0 (sum) or 1 (mean)");
  F32View x = args.f32(1, "x");
  F32View out = args.f32(2, "out");
  std::vector<int64_t> dims = args.ints(3, "dims");
  if (dims.size() != 3 || dims[0] < 0 || dims[1] < 0 || dims[2] < 0) throw ArgumentError("reduce dims must be [outer, reduced, inner]");
  const int64_t outer = dims[0], reduced = dims[1], inner = dims[2];
  requireLength(x, outer * reduced * inner, "x");
  requireLength(out, outer * inner, "out");
  const double scale = op == kMean ? 1.0 / static_cast<double>(reduced) : 1.0;
  if (outer * inner == 0) return;

  if (inner == 1 && outer == 1) {
    // One total: partial sums per thread.
    std::vector<double> partial(threads(), 0.0);
    parallelFor(reduced, kMinWorkPerThread, [&](int64_t begin, int64_t end) {
      partial[omp_get_thread_num()] = sumContiguous(x.data + begin, end - begin);
    });
    double total = 0;
    for (double p : partial) total += p;
    out.data[0] = static_cast<float>(total * scale);
    return;
  }

  if (outer >= threads() || outer * reduced * inner < kMinWorkPerThread * 2) {
    // Enough independent outputs: each thread owns whole [reduced, inner] slabs.
    int64_t minSlabs = std::max<int64_t>(1, kMinWorkPerThread / std::max<int64_t>(1, reduced * inner));
    parallelFor(outer, minSlabs, [&](int64_t begin, int64_t end) {
      std::vector<double> acc(inner);
      for (int64_t o = begin; o < end; o++) {
        std::fill(acc.begin(), acc.end(), 0.0);
        if (inner == 1) {
          acc[0] = sumContiguous(x.data + o * reduced, reduced);
        } else {
          accumulateRows(x.data + o * reduced * inner, reduced, inner, acc.data());
        }
        for (int64_t i = 0; i < inner; i++) out.data[o * inner + i] = static_cast<float>(acc[i] * scale);
      }
    });
    return;
  }

  // Few outputs, long reductions (NHWC over N·H·W): threads split the reduced axis and their
  // partial sums are added at the end.
  int count = threads();
  std::vector<std::vector<double>> partial(count, std::vector<double>(outer * inner, 0.0));
  parallelFor(reduced, std::max<int64_t>(1, kMinWorkPerThread / inner), [&](int64_t begin, int64_t end) {
    std::vector<double>& acc = partial[omp_get_thread_num()];
    for (int64_t o = 0; o < outer; o++) {
      accumulateRows(x.data + (o * reduced + begin) * inner, end - begin, inner, acc.data() + o * inner);
    }
  });
  for (int64_t j = 0; j < outer * inner; j++) {
    double total = 0;
    for (int t = 0; t < count; t++) total += partial[t][j];
    out.data[j] = static_cast<float>(total * scale);
  }
}

}  // namespace rt
