// Batched matrix multiplication on oneDNN's row-major SGEMM, with tfjs's transpose flags and
// batch broadcasting (one side with a single batch against the other's many).
#include <oneapi/dnnl/dnnl.h>

#include <string>

#include "kernels.h"
#include "runtime.h"

namespace rt {

// matMul(a, b, out, params: Int32Array [batchA, batchB, m, n, k, transposeA, transposeB])
void matMul(Args& args) {
  F32View a = args.f32(0, "a");
  F32View b = args.f32(1, "b");
  F32View out = args.f32(2, "out");
  std::vector<int64_t> p = args.ints(3, "params");
  if (p.size() != 7) throw ArgumentError("matMul params must have 7 integers");
  int64_t batchA = p[0], batchB = p[1], m = p[2], n = p[3], k = p[4];
  bool transposeA = p[5] != 0, transposeB = p[6] != 0;
  if (batchA < 1 || batchB < 1 || m < 0 || n < 0 || k < 0) throw ArgumentError("matMul sizes must not be negative");
  if (batchA != batchB && batchA != 1 && batchB != 1) {
    throw ArgumentError("matMul batches " + std::to_string(batchA) + " and " + std::to_string(batchB) + " do not broadcast");
  }
  int64_t batch = batchA > batchB ? batchA : batchB;
  requireLength(a, batchA * m * k, "a");
  requireLength(b, batchB * k * n, "b");
  requireLength(out, batch * m * n, "out");
  if (m == 0 || n == 0) return;
  for (int64_t i = 0; i < batch; i++) {
    float* c = out.data + i * m * n;
    if (k == 0) {
      for (int64_t j = 0; j < m * n; j++) c[j] = 0.f;
      continue;
    }
    const float* pa = a.data + (batchA == 1 ? 0 : i) * m * k;
    const float* pb = b.data + (batchB == 1 ? 0 : i) * k * n;
    dnnl_status_t status = dnnl_sgemm(transposeA ? 'T' : 'N', transposeB ? 'T' : 'N', m, n, k, 1.f, pa, transposeA ? m : k, pb,
                                      transposeB ? k : n, 0.f, c, n);
    if (status != dnnl_success) throw dnnl::error(status, "dnnl_sgemm failed");
  }
}

}  // namespace rt
