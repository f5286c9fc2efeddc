// Max and average pooling and their gradients on oneDNN, in NHWC.
//
// tfjs's semantics, which these follow: max pooling ignores padding; average pooling divides by
// the number of in-bounds pixels going forward (oneDNN's exclude-padding) but its gradient
// spreads dy over the full window size (include-padding), as tfjs's cpu AvgPoolGrad does.
// The max-pooling gradient needs the arg-max positions, which oneDNN keeps in a workspace of a
// training-mode forward pass: it is recomputed here from the input, in the arena.
#include <memory>

#include "kernels.h"
#include "runtime.h"

namespace rt {

using dnnl::memory;
using tag = memory::format_tag;
using dt = memory::data_type;

namespace {

constexpr int kPoolMax = 0;
constexpr int kPoolAvg = 1;

struct PoolGeometry {
  int64_t n, h, w, c, kh, kw, oh, ow, sh, sw, pt, pl, pb, pr;

  static PoolGeometry parse(const std::vector<int64_t>& p) {
    if (p.size() != 14) throw ArgumentError("pooling geometry must have 14 integers");
    for (size_t i = 0; i < 10; i++) {
      if (p[i] < 1) throw ArgumentError("pooling sizes and strides must be positive");
    }
    for (size_t i = 10; i < 14; i++) {
      if (p[i] < 0) throw ArgumentError("pooling paddings must not be negative");
    }
    PoolGeometry g{p[0], p[1], p[2], p[3], p[4], p[5], p[6], p[7], p[8], p[9], p[10], p[11], p[12], p[13]};
    fitTrailingPad(g.h, g.kh, 1, g.sh, g.oh, g.pt, &g.pb);
    fitTrailingPad(g.w, g.kw, 1, g.sw, g.ow, g.pl, &g.pr);
    // A window wholly in the padding has no pixel: tfjs's max is -Infinity and its mean NaN,
    // oneDNN's are -FLT_MAX and 0. Such geometries are left to the cpu kernels.
    if (g.pt >= g.kh || g.pl >= g.kw || (g.oh - 1) * g.sh - g.pt >= g.h || (g.ow - 1) * g.sw - g.pl >= g.w) {
      throw Unsupported("a pooling window lies wholly in the padding");
    }
    return g;
  }

  std::vector<int64_t> keyValues(int kind) const { return {kind, n, h, w, c, kh, kw, oh, ow, sh, sw, pt, pl, pb, pr}; }
  memory::desc src() const { return memory::desc({n, c, h, w}, dt::f32, tag::nhwc); }
  memory::desc dst() const { return memory::desc({n, c, oh, ow}, dt::f32, tag::nhwc); }
  memory::dims strides() const { return {sh, sw}; }
  memory::dims kernel() const { return {kh, kw}; }
  memory::dims dilation() const { return {0, 0}; }
  memory::dims padL() const { return {pt, pl}; }
  memory::dims padR() const { return {pb, pr}; }

  dnnl::pooling_v2_forward::primitive_desc forward(dnnl::prop_kind prop, dnnl::algorithm algorithm) const {
    dnnl::pooling_v2_forward::desc d(prop, algorithm, src(), dst(), strides(), kernel(), dilation(), padL(), padR());
    return dnnl::pooling_v2_forward::primitive_desc(d, userScratchpadAttr(), engine());
  }
};

struct ForwardEntry {
  dnnl::pooling_v2_forward primitive;
  size_t scratchpadBytes;
  size_t workspaceBytes;
  memory::desc workspace;

  explicit ForwardEntry(const dnnl::pooling_v2_forward::primitive_desc& pd)
      : primitive(pd), scratchpadBytes(pd.scratchpad_desc().get_size()), workspaceBytes(pd.workspace_desc().get_size()), workspace(pd.workspace_desc()) {}
};

struct BackwardEntry {
  dnnl::pooling_v2_backward primitive;
  size_t scratchpadBytes;

  explicit BackwardEntry(const dnnl::pooling_v2_backward::primitive_desc& pd) : primitive(pd), scratchpadBytes(pd.scratchpad_desc().get_size()) {}
};

memory bytesMemory(size_t bytes, void* pointer) {
  return memory(memory::desc({static_cast<int64_t>(bytes)}, dt::u8, tag::a), engine(), pointer);
}

dnnl::pooling_v2_backward::primitive_desc backwardDesc(const PoolGeometry& g, dnnl::algorithm algorithm,
                                                       const dnnl::pooling_v2_forward::primitive_desc& hint) {
  dnnl::pooling_v2_backward::desc d(algorithm, g.src(), g.dst(), g.strides(), g.kernel(), g.dilation(), g.padL(), g.padR());
  return dnnl::pooling_v2_backward::primitive_desc(d, userScratchpadAttr(), engine(), hint);
}

}  // namespace

// pool2d(kind: 0 max | 1 avg, x, out, geometry: Int32Array(14))
void pool2dForward(Args& args) {
  int kind = static_cast<int>(args.integer(0, "kind"));
  if (kind != kPoolMax && kind != kPoolAvg) throw ArgumentError("pooling kind must be 0 (max) or 1 (avg)");
  F32View x = args.f32(1, "x");
  F32View out = args.f32(2, "out");
  PoolGeometry g = PoolGeometry::parse(args.ints(3, "geometry"));
  requireLength(x, g.n * g.h * g.w * g.c, "x");
  requireLength(out, g.n * g.oh * g.ow * g.c, "out");

  std::shared_ptr<ForwardEntry> entry = cache().get<ForwardEntry>(key("pool_fwd", g.keyValues(kind)), [&] {
    dnnl::algorithm algorithm = kind == kPoolMax ? dnnl::algorithm::pooling_max : dnnl::algorithm::pooling_avg_exclude_padding;
    return std::make_shared<ForwardEntry>(g.forward(dnnl::prop_kind::forward_inference, algorithm));
  });
  ForwardEntry& e = *entry;
  ArenaLease lease({e.scratchpadBytes});
  std::unordered_map<int, memory> execArgs{{DNNL_ARG_SRC, memory(g.src(), engine(), x.data)}, {DNNL_ARG_DST, memory(g.dst(), engine(), out.data)}};
  if (e.scratchpadBytes > 0) execArgs.emplace(DNNL_ARG_SCRATCHPAD, bytesMemory(e.scratchpadBytes, lease[0]));
  e.primitive.execute(stream(), execArgs);
  stream().wait();
}

// maxPool2dBackward(dy, x, dx, geometry: Int32Array(14))
void maxPool2dBackward(Args& args) {
  F32View dy = args.f32(0, "dy");
  F32View x = args.f32(1, "x");
  F32View dx = args.f32(2, "dx");
  PoolGeometry g = PoolGeometry::parse(args.ints(3, "geometry"));
  requireLength(dy, g.n * g.oh * g.ow * g.c, "dy");
  requireLength(x, g.n * g.h * g.w * g.c, "x");
  requireLength(dx, g.n * g.h * g.w * g.c, "dx");

  std::vector<int64_t> k = g.keyValues(kPoolMax);
  std::shared_ptr<dnnl::pooling_v2_forward::primitive_desc> hint;
  auto makeHint = [&] {
    if (!hint) {
      hint = std::make_shared<dnnl::pooling_v2_forward::primitive_desc>(g.forward(dnnl::prop_kind::forward_training, dnnl::algorithm::pooling_max));
    }
    return *hint;
  };
  std::shared_ptr<ForwardEntry> forward =
      cache().get<ForwardEntry>(key("pool_fwd_training", k), [&] { return std::make_shared<ForwardEntry>(makeHint()); });
  std::shared_ptr<BackwardEntry> backward = cache().get<BackwardEntry>(key("pool_bwd", k), [&] {
    return std::make_shared<BackwardEntry>(backwardDesc(g, dnnl::algorithm::pooling_max, makeHint()));
  });
  ForwardEntry& f = *forward;
  BackwardEntry& b = *backward;

  size_t dstBytes = static_cast<size_t>(g.n * g.oh * g.ow * g.c) * sizeof(float);
  ArenaLease lease({std::max(f.scratchpadBytes, b.scratchpadBytes), f.workspaceBytes, dstBytes});
  memory workspace(f.workspace, engine(), lease[1]);
  std::unordered_map<int, memory> forwardArgs{{DNNL_ARG_SRC, memory(g.src(), engine(), x.data)},
                                              {DNNL_ARG_DST, memory(g.dst(), engine(), lease[2])},
                                              {DNNL_ARG_WORKSPACE, workspace}};
  if (f.scratchpadBytes > 0) forwardArgs.emplace(DNNL_ARG_SCRATCHPAD, bytesMemory(f.scratchpadBytes, lease[0]));
  f.primitive.execute(stream(), forwardArgs);
  std::unordered_map<int, memory> backwardArgs{{DNNL_ARG_DIFF_DST, memory(g.dst(), engine(), dy.data)},
                                               {DNNL_ARG_DIFF_SRC, memory(g.src(), engine(), dx.data)},
                                               {DNNL_ARG_WORKSPACE, workspace}};
  if (b.scratchpadBytes > 0) backwardArgs.emplace(DNNL_ARG_SCRATCHPAD, bytesMemory(b.scratchpadBytes, lease[0]));
  b.primitive.execute(stream(), backwardArgs);
  stream().wait();
}

// avgPool2dBackward(dy, dx, geometry: Int32Array(14))
void avgPool2dBackward(Args& args) {
  F32View dy = args.f32(0, "dy");
  F32View dx = args.f32(1, "dx");
  PoolGeometry g = PoolGeometry::parse(args.ints(2, "geometry"));
  requireLength(dy, g.n * g.oh * g.ow * g.c, "dy");
  requireLength(dx, g.n * g.h * g.w * g.c, "dx");

  std::shared_ptr<BackwardEntry> entry = cache().get<BackwardEntry>(key("pool_bwd", g.keyValues(kPoolAvg)), [&] {
    dnnl::algorithm algorithm = dnnl::algorithm::pooling_avg_include_padding;
    return std::make_shared<BackwardEntry>(backwardDesc(g, algorithm, g.forward(dnnl::prop_kind::forward_training, algorithm)));
  });
  BackwardEntry& b = *entry;
  ArenaLease lease({b.scratchpadBytes});
  std::unordered_map<int, memory> execArgs{{DNNL_ARG_DIFF_DST, memory(g.dst(), engine(), dy.data)},
                                           {DNNL_ARG_DIFF_SRC, memory(g.src(), engine(), dx.data)}};
  if (b.scratchpadBytes > 0) execArgs.emplace(DNNL_ARG_SCRATCHPAD, bytesMemory(b.scratchpadBytes, lease[0]));
  b.primitive.execute(stream(), execArgs);
  stream().wait();
}

}  // namespace rt
