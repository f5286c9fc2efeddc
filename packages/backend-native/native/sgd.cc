// The SGD update of @ringtrain/model's `Sgd` (packages/model/src/sgd.ts), bit for bit.
//
// Every replica must apply the same averaged gradient with the same result, whichever backend
// it trains on, so this loop repeats the JavaScript arithmetic exactly: each expression in
// double, in the same order, rounded to float where JavaScript stores into a Float32Array or
// calls Math.fround. The addon is compiled with -ffp-contract=off, so no multiply-add is fused
// behind the rounding's back. It is the same update, split across threads and vectorised;
// over ResNet-18's 11.2 M parameters it is memory-bound. One exception to "bit for bit": a NaN
// result is a NaN here too, but its sign bit may differ, since x86 takes the sign of a NaN from
// whichever operand comes first and compilers order commutative operands as they please.
#include <algorithm>
#include <string>
#include <vector>

#include "kernels.h"
#include "runtime.h"

#define RT_CLONES __attribute__((target_clones("avx512f", "avx2", "default")))

namespace rt {

namespace {

enum SgdKind { kPlain = 0, kFirstMomentum = 1, kMomentum = 2, kNesterov = 3 };

struct SgdHyperParameters {
  double decay, momentum, keep, lr;
};

RT_CLONES void plainStep(float* p, const float* g, int64_t n, SgdHyperParameters h) {
  for (int64_t i = 0; i < n; i++) p[i] = static_cast<float>(p[i] - h.lr * (g[i] + h.decay * p[i]));
}

// `momentum` is μ for Nesterov and 0 otherwise.
RT_CLONES void firstMomentumStep(float* p, const float* g, float* b, int64_t n, SgdHyperParameters h) {
  for (int64_t i = 0; i < n; i++) {
    double d = static_cast<float>(g[i] + h.decay * p[i]);
    b[i] = static_cast<float>(d);
    p[i] = static_cast<float>(p[i] - h.lr * (d + h.momentum * d));
  }
}

RT_CLONES void momentumStep(float* p, const float* g, float* b, int64_t n, SgdHyperParameters h) {
  for (int64_t i = 0; i < n; i++) {
    double v = static_cast<float>(h.momentum * b[i] + h.keep * (g[i] + h.decay * p[i]));
    b[i] = static_cast<float>(v);
    p[i] = static_cast<float>(p[i] - h.lr * v);
  }
}

RT_CLONES void nesterovStep(float* p, const float* g, float* b, int64_t n, SgdHyperParameters h) {
  for (int64_t i = 0; i < n; i++) {
    double d = static_cast<float>(g[i] + h.decay * p[i]);
    double v = static_cast<float>(h.momentum * b[i] + d);
    b[i] = static_cast<float>(v);
    p[i] = static_cast<float>(p[i] - h.lr * (d + h.momentum * v));
  }
}

struct Segment {
  int64_t start, end;
  bool decays;
};

}  // namespace

// sgdStep(kind, parameters, gradient, buffer | null, segments, weightDecay, momentum, keep, lr, maxThreads)
// segments: Int32Array of [start, end, decays (0 | 1)] triples, ascending and disjoint; values
// outside every segment are left alone. At most `maxThreads` of the pool's threads take part.
void sgdStep(Args& args) {
  int kind = static_cast<int>(args.integer(0, "kind"));
  if (kind < kPlain || kind > kNesterov) throw ArgumentError("SGD kind must be 0 (plain), 1 (first momentum), 2 (momentum) or 3 (Nesterov)");
  F32View p = args.f32(1, "parameters");
  F32View g = args.f32(2, "gradient");
  F32View b = args.optionalF32(3, "buffer");
  std::vector<int64_t> raw = args.ints(4, "segments");
  double weightDecay = args.number(5, "weightDecay");
  SgdHyperParameters h{0, args.number(6, "momentum"), args.number(7, "keep"), args.number(8, "learningRate")};
  int64_t maxThreads = args.integer(9, "maxThreads");
  if (maxThreads < 1) throw ArgumentError("maxThreads must be a positive integer");
  requireLength(g, p.length, "gradient");
  if (kind == kPlain) {
    if (b.data != nullptr) throw ArgumentError("plain SGD takes no momentum buffer");
  } else {
    if (b.data == nullptr) throw ArgumentError("SGD with momentum needs a momentum buffer");
    requireLength(b, p.length, "buffer");
  }
  if (raw.size() % 3 != 0) throw ArgumentError("segments must be [start, end, decays] triples");
  std::vector<Segment> segments;
  int64_t previousEnd = 0;
  for (size_t i = 0; i < raw.size(); i += 3) {
    Segment s{raw[i], raw[i + 1], raw[i + 2] != 0};
    if (s.start < previousEnd || s.end < s.start || s.end > static_cast<int64_t>(p.length)) {
      throw ArgumentError("segment " + std::to_string(i / 3) + " [" + std::to_string(s.start) + ", " + std::to_string(s.end) +
                          ") is out of order or outside the " + std::to_string(p.length) + " parameters");
    }
    segments.push_back(s);
    previousEnd = s.end;
  }

  parallelFor(static_cast<int64_t>(p.length), kMinWorkPerThread, [&](int64_t begin, int64_t end) {
    for (const Segment& s : segments) {
      int64_t from = std::max(begin, s.start), to = std::min(end, s.end);
      if (from >= to) continue;
      SgdHyperParameters local = h;
      local.decay = s.decays ? weightDecay : 0.0;
      float* bp = b.data == nullptr ? nullptr : b.data + from;
      switch (kind) {
        case kPlain:
          plainStep(p.data + from, g.data + from, to - from, local);
          break;
        case kFirstMomentum:
          firstMomentumStep(p.data + from, g.data + from, bp, to - from, local);
          break;
        case kMomentum:
          momentumStep(p.data + from, g.data + from, bp, to - from, local);
          break;
        default:
          nesterovStep(p.data + from, g.data + from, bp, to - from, local);
      }
    }
  }, static_cast<int>(std::min<int64_t>(maxThreads, 1 << 30)));
}

}  // namespace rt
