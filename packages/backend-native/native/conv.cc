// 2-D convolution forward, backward-data and backward-weights on oneDNN, directly on tfjs's
// NHWC activations and HWIO filters.
//
// Activations are described to oneDNN as `nhwc`, so they are read and written in place. Filters
// are described as `hwio` but the primitive is free to choose its own (blocked) weight layout:
// oneDNN's fast NHWC kernels want blocked weights, and reordering a filter costs far less than
// a convolution on the slow path that plain `hwio` weights would select. The reorder goes through
// the arena, never through memory that outlives the call.
//
// Filter taps that can never touch the image are cropped away before oneDNN sees the problem:
// a 3×3 'same' convolution on a 1×1 feature map (the last ResNet stage at 28×28 input) only ever
// uses its centre tap, and runs as a 1×1 convolution, nine times less work. Their gradient is zero.
// Feature maps no larger than the cropped filter go to a dense matrix product (see useDense).
//
// Under bf16 precision (setConvPrecision) the primitives read their activations, filters and
// output gradients in bf16 and write float32: each float32 input is converted through the arena
// on the way in, the filter within the reorder it already takes. The dense products stay float32.
#include <oneapi/dnnl/dnnl.h>

#include <cstring>
#include <initializer_list>
#include <memory>
#include <string>
#include <tuple>
#include <vector>

#include "kernels.h"
#include "runtime.h"

namespace rt {

using dnnl::memory;
using tag = memory::format_tag;
using dt = memory::data_type;

// tfjs rounds output sizes up under dimRoundingMode 'ceil' or 'round' and then reads past the
// image as zeros; oneDNN wants that as explicit trailing padding.
void fitTrailingPad(int64_t in, int64_t k, int64_t d, int64_t s, int64_t out, int64_t before, int64_t* after) {
  int64_t span = (k - 1) * d + 1;
  int64_t needed = (out - 1) * s + span - in - before;
  if (needed > *after) *after = needed;
  int64_t padded = in + before + *after - span;
  if (padded < 0 || padded / s + 1 != out) {
    throw ArgumentError("output size " + std::to_string(out) + " does not follow from input " + std::to_string(in) + ", window " +
                        std::to_string(span) + ", stride " + std::to_string(s) + " and paddings");
  }
}

namespace {

struct ConvGeometry {
  int64_t n, h, w, c;      // input NHWC
  int64_t kh, kw, o;       // filter HWIO is kh·kw·c·o
  int64_t oh, ow;          // output spatial size
  int64_t sh, sw, dh, dw;  // strides, dilations (1 = none)
  int64_t pt, pl, pb, pr;  // paddings

  static ConvGeometry parse(const std::vector<int64_t>& p) {
    if (p.size() != 17) throw ArgumentError("convolution geometry must have 17 integers");
    ConvGeometry g{p[0], p[1], p[2], p[3], p[4], p[5], p[6], p[7], p[8], p[9], p[10], p[11], p[12], p[13], p[14], p[15], p[16]};
    for (size_t i = 0; i < 13; i++) {
      if (p[i] < 1) throw ArgumentError("convolution sizes, strides and dilations must be positive");
    }
    for (size_t i = 13; i < 17; i++) {
      if (p[i] < 0) throw ArgumentError("convolution paddings must not be negative");
    }
    fitTrailingPad(g.h, g.kh, g.dh, g.sh, g.oh, g.pt, &g.pb);
    fitTrailingPad(g.w, g.kw, g.dw, g.sw, g.ow, g.pl, &g.pr);
    return g;
  }

  int64_t inputSize() const { return n * h * w * c; }
  int64_t outputSize() const { return n * oh * ow * o; }
  int64_t filterSize() const { return kh * kw * c * o; }
};

// The filter rows [r0, r1] and columns [c0, c1] that touch the image for some output position,
// with the paddings that keep the output size once the others are dropped.
struct Crop {
  int64_t r0, r1, c0, c1;
  int64_t pt, pl, pb, pr;
  bool cropped;
};

// Whether tap `r` (of dilation d) reaches [0, size) for some output i in [0, out): i·s + r·d − pad.
bool tapUsed(int64_t r, int64_t d, int64_t s, int64_t pad, int64_t size, int64_t out) {
  int64_t offset = r * d - pad;
  int64_t first = offset >= 0 ? 0 : (-offset + s - 1) / s;
  return first < out && first * s + offset < size;
}

void usedRange(int64_t k, int64_t d, int64_t s, int64_t pad, int64_t size, int64_t out, int64_t* lo, int64_t* hi) {
  *lo = -1;
  *hi = -1;
  for (int64_t r = 0; r < k; r++) {
    if (!tapUsed(r, d, s, pad, size, out)) continue;
    if (*lo < 0) *lo = r;
    *hi = r;
  }
}

Crop cropFor(const ConvGeometry& g) {
  Crop c{0, g.kh - 1, 0, g.kw - 1, g.pt, g.pl, g.pb, g.pr, false};
  int64_t r0, r1, c0, c1;
  usedRange(g.kh, g.dh, g.sh, g.pt, g.h, g.oh, &r0, &r1);
  usedRange(g.kw, g.dw, g.sw, g.pl, g.w, g.ow, &c0, &c1);
  if (r0 < 0 || c0 < 0) return c;  // no tap reaches the image: leave the problem as it is
  Crop candidate{r0, r1, c0, c1, g.pt - r0 * g.dh, g.pl - c0 * g.dw, g.pb - (g.kh - 1 - r1) * g.dh, g.pr - (g.kw - 1 - c1) * g.dw, true};
  if (candidate.pt < 0 || candidate.pl < 0 || candidate.pb < 0 || candidate.pr < 0) return c;
  if (r0 == 0 && r1 == g.kh - 1 && c0 == 0 && c1 == g.kw - 1) return c;
  return candidate;
}

struct Problem {
  ConvGeometry g;
  Crop crop;
  ConvPrecision precision;
  // src and dst are the user's float32 tensors; srcIn and dstIn the same tensors as a primitive
  // reads them (src in the forward and weight passes, the output gradient in both backward ones).
  memory::desc src, dst, srcIn, dstIn, weightsUser, weightsAny, weightsGradientAny;
  memory::dims strides, dilates, padL, padR;
  int64_t weightsOffset;  // in floats, of the cropped block inside the HWIO filter

  explicit Problem(const ConvGeometry& geometry) : g(geometry), crop(cropFor(geometry)), precision(convPrecision()) {
    int64_t kh = crop.r1 - crop.r0 + 1;
    int64_t kw = crop.c1 - crop.c0 + 1;
    dt in = precision == ConvPrecision::bf16 ? dt::bf16 : dt::f32;
    src = memory::desc({g.n, g.c, g.h, g.w}, dt::f32, tag::nhwc);
    dst = memory::desc({g.n, g.o, g.oh, g.ow}, dt::f32, tag::nhwc);
    srcIn = memory::desc({g.n, g.c, g.h, g.w}, in, tag::nhwc);
    dstIn = memory::desc({g.n, g.o, g.oh, g.ow}, in, tag::nhwc);
    // HWIO as oneDNN's OIHW dims with explicit strides: this also describes a cropped block.
    weightsUser = memory::desc({g.o, g.c, kh, kw}, dt::f32, memory::dims{1, g.o, g.kw * g.c * g.o, g.c * g.o});
    weightsAny = memory::desc({g.o, g.c, kh, kw}, in, tag::any);
    weightsGradientAny = memory::desc({g.o, g.c, kh, kw}, dt::f32, tag::any);
    strides = {g.sh, g.sw};
    dilates = {g.dh - 1, g.dw - 1};
    padL = {crop.pt, crop.pl};
    padR = {crop.pb, crop.pr};
    weightsOffset = (crop.r0 * g.kw + crop.c0) * g.c * g.o;
  }

  std::vector<int64_t> keyValues() const {
    return {g.n, g.h, g.w, g.c, g.kh, g.kw, g.o, g.oh, g.ow, g.sh, g.sw, g.dh, g.dw, g.pt, g.pl, g.pb, g.pr, static_cast<int64_t>(precision)};
  }

  dnnl::convolution_forward::primitive_desc forwardHint() const {
    dnnl::convolution_forward::desc d(dnnl::prop_kind::forward_training, dnnl::algorithm::convolution_direct, srcIn, weightsAny, dst,
                                      strides, dilates, padL, padR);
    return dnnl::convolution_forward::primitive_desc(d, engine());
  }

  dnnl::convolution_backward_data::primitive_desc backwardData(const dnnl::primitive_attr& attr) const {
    dnnl::convolution_backward_data::desc d(dnnl::algorithm::convolution_direct, src, weightsAny, dstIn, strides, dilates, padL, padR);
    return dnnl::convolution_backward_data::primitive_desc(d, attr, engine(), forwardHint());
  }

  dnnl::convolution_backward_weights::primitive_desc backwardWeights(const dnnl::primitive_attr& attr) const {
    dnnl::convolution_backward_weights::desc d(dnnl::algorithm::convolution_direct, srcIn, weightsGradientAny, dstIn, strides, dilates,
                                               padL, padR);
    return dnnl::convolution_backward_weights::primitive_desc(d, attr, engine(), forwardHint());
  }
};

// A float32 activation (argument `arg`) that a primitive reads in another type: converted into
// the arena before each call.
struct InputConversion {
  int arg;
  memory::desc to;
  dnnl::reorder reorder;

  InputConversion(int argument, const memory::desc& from, const memory::desc& converted)
      : arg(argument), to(converted), reorder(dnnl::reorder::primitive_desc(engine(), from, engine(), converted)) {}
};

// The conversions of `inputs` (argument, user desc, primitive desc) whose types differ.
std::vector<InputConversion> conversionsFor(std::initializer_list<std::tuple<int, memory::desc, memory::desc>> inputs) {
  std::vector<InputConversion> out;
  for (const auto& [arg, from, to] : inputs) {
    if (!(from == to)) out.emplace_back(arg, from, to);
  }
  return out;
}

// A weight reorder between the user's HWIO block and the primitive's layout, when they differ.
// toUser: the primitive writes the filter (a weight gradient), so the reorder runs after it.
struct WeightsReorder {
  bool needed = false;
  bool toUser = false;
  memory::desc primitiveDesc;
  dnnl::reorder primitive;

  WeightsReorder(const memory::desc& user, const memory::desc& chosen, bool writesFilter) : toUser(writesFilter), primitiveDesc(chosen) {
    needed = !(user == chosen);
    if (!needed) return;
    dnnl::reorder::primitive_desc pd = toUser ? dnnl::reorder::primitive_desc(engine(), chosen, engine(), user)
                                              : dnnl::reorder::primitive_desc(engine(), user, engine(), chosen);
    primitive = dnnl::reorder(pd);
  }
};

memory scratchpadMemory(size_t bytes, void* pointer) {
  return memory(memory::desc({static_cast<int64_t>(bytes)}, dt::u8, tag::a), engine(), pointer);
}

// Runs a convolution primitive with `execArgs` plus its filter (argument `filterArg`) and its
// scratchpad, first converting the activations listed in `conversions` into the arena. The filter is the user's HWIO block at `userFilter`, read or written in place when
// the primitive takes that layout, else reordered through the arena: into the primitive's layout
// before a call that reads it, back to HWIO after a call that writes it.
void executeWithFilter(const dnnl::primitive& primitive, const WeightsReorder& weights, const std::vector<InputConversion>& conversions,
                       size_t scratchpadBytes, const memory::desc& userDesc, float* userFilter, int filterArg,
                       std::unordered_map<int, memory> execArgs) {
  std::vector<size_t> sizes{scratchpadBytes, weights.needed ? weights.primitiveDesc.get_size() : 0};
  for (const InputConversion& c : conversions) sizes.push_back(c.to.get_size());
  ArenaLease lease(sizes);
  for (size_t i = 0; i < conversions.size(); i++) {
    const InputConversion& c = conversions[i];
    memory converted(c.to, engine(), lease[2 + i]);
    c.reorder.execute(stream(), execArgs.at(c.arg), converted);
    execArgs[c.arg] = converted;
  }
  memory user(userDesc, engine(), userFilter);
  memory filter = weights.needed ? memory(weights.primitiveDesc, engine(), lease[1]) : user;
  if (weights.needed && !weights.toUser) weights.primitive.execute(stream(), user, filter);
  execArgs.emplace(filterArg, filter);
  if (scratchpadBytes > 0) execArgs.emplace(DNNL_ARG_SCRATCHPAD, scratchpadMemory(scratchpadBytes, lease[0]));
  primitive.execute(stream(), execArgs);
  if (weights.needed && weights.toUser) weights.primitive.execute(stream(), filter, user);
  stream().wait();
}

dnnl::algorithm activationAlgorithm(int activation, float* alpha, float* beta) {
  switch (activation) {
    case kActivationRelu:
      *alpha = 0.f;
      return dnnl::algorithm::eltwise_relu;
    case kActivationRelu6:
      *alpha = 0.f;
      *beta = 6.f;
      return dnnl::algorithm::eltwise_clip;
    case kActivationElu:
      *alpha = 1.f;
      return dnnl::algorithm::eltwise_elu;
    case kActivationLeakyRelu:
      return dnnl::algorithm::eltwise_relu;  // alpha is the negative slope
    case kActivationSigmoid:
      return dnnl::algorithm::eltwise_logistic;
    default:
      throw ArgumentError("unknown activation code " + std::to_string(activation));
  }
}

struct ForwardEntry {
  dnnl::convolution_forward primitive;
  WeightsReorder weights;
  std::vector<InputConversion> conversions;
  memory::desc bias;
  size_t scratchpadBytes;

  std::string implementation;

  ForwardEntry(const Problem& p, bool hasBias, const dnnl::convolution_forward::primitive_desc& pd)
      : primitive(pd),
        weights(p.weightsUser, pd.weights_desc(), false),
        conversions(conversionsFor({{DNNL_ARG_SRC, p.src, p.srcIn}})),
        scratchpadBytes(pd.scratchpad_desc().get_size()),
        implementation(pd.impl_info_str()) {
    if (hasBias) bias = pd.bias_desc();
  }
};

std::shared_ptr<ForwardEntry> createForward(const Problem& p, bool hasBias, int activation, float leakyAlpha) {
  dnnl::primitive_attr attr = userScratchpadAttr();
  if (activation != kActivationLinear) {
    float alpha = leakyAlpha, beta = 0.f;
    dnnl::algorithm algorithm = activationAlgorithm(activation, &alpha, &beta);
    dnnl::post_ops ops;
    ops.append_eltwise(1.f, algorithm, alpha, beta);
    attr.set_post_ops(ops);
  }
  memory::desc bias = hasBias ? memory::desc({p.g.o}, dt::f32, tag::a) : memory::desc();
  dnnl::convolution_forward::desc d(dnnl::prop_kind::forward_inference, dnnl::algorithm::convolution_direct, p.srcIn, p.weightsAny, bias,
                                    p.dst, p.strides, p.dilates, p.padL, p.padR);
  dnnl::convolution_forward::primitive_desc pd(d, attr, engine());
  return std::make_shared<ForwardEntry>(p, hasBias, pd);
}

// A cached backward primitive (data or weights) with the reorder of the filter it reads or writes.
template <class Primitive>
struct BackwardEntry {
  Primitive primitive;
  WeightsReorder weights;
  std::vector<InputConversion> conversions;
  size_t scratchpadBytes;

  BackwardEntry(const typename Primitive::primitive_desc& pd, const memory::desc& user, const memory::desc& chosen, bool writesFilter,
                std::vector<InputConversion> inputs)
      : primitive(pd), weights(user, chosen, writesFilter), conversions(std::move(inputs)), scratchpadBytes(pd.scratchpad_desc().get_size()) {}
};

using BackwardDataEntry = BackwardEntry<dnnl::convolution_backward_data>;
using BackwardWeightsEntry = BackwardEntry<dnnl::convolution_backward_weights>;

// Convolutions on feature maps no larger than the (cropped) filter, such as the 2×2 maps of
// ResNet's third stage, run as one dense matrix product instead: the convolution is a linear map
// from the h·w·c values of an image to its oh·ow·o outputs, whose matrix (built from the filter,
// zero where a tap would read padding) is no bigger than the work the direct convolution does
// on its padded taps, and GEMM runs it several times faster than oneDNN's direct kernels do at
// these sizes. Backward data and weights are the transposed products.
constexpr int64_t kMaxDenseWeights = int64_t{1} << 22;  // floats of the expanded matrix (16 MiB)

bool useDense(const Problem& p) {
  const ConvGeometry& g = p.g;
  int64_t taps = (p.crop.r1 - p.crop.r0 + 1) * (p.crop.c1 - p.crop.c0 + 1);
  return g.h * g.w <= taps && g.h * g.w * g.c * g.oh * g.ow * g.o <= kMaxDenseWeights;
}

// Calls body(tapOffset, rowOffset, colOffset) for each (output position, filter tap) pair that
// reads the image: the filter block of the tap starts at tapOffset (HWIO), and the block of the
// expanded [h·w·c, oh·ow·o] matrix it fills starts at row rowOffset, column colOffset.
template <class Body>
void forEachDenseBlock(const ConvGeometry& g, Body body) {
  for (int64_t oi = 0; oi < g.oh; oi++) {
    for (int64_t oj = 0; oj < g.ow; oj++) {
      for (int64_t r = 0; r < g.kh; r++) {
        int64_t y = oi * g.sh - g.pt + r * g.dh;
        if (y < 0 || y >= g.h) continue;
        for (int64_t t = 0; t < g.kw; t++) {
          int64_t x = oj * g.sw - g.pl + t * g.dw;
          if (x < 0 || x >= g.w) continue;
          body((r * g.kw + t) * g.c * g.o, (y * g.w + x) * g.c, (oi * g.ow + oj) * g.o);
        }
      }
    }
  }
}

void expandFilter(const ConvGeometry& g, const float* filter, float* expanded) {
  const int64_t cols = g.oh * g.ow * g.o;
  std::memset(expanded, 0, static_cast<size_t>(g.h * g.w * g.c * cols) * sizeof(float));
  forEachDenseBlock(g, [&](int64_t tap, int64_t row, int64_t col) {
    for (int64_t c = 0; c < g.c; c++) std::memcpy(expanded + (row + c) * cols + col, filter + tap + c * g.o, g.o * sizeof(float));
  });
}

void foldFilterGradient(const ConvGeometry& g, const float* expanded, float* filter) {
  const int64_t cols = g.oh * g.ow * g.o;
  std::memset(filter, 0, static_cast<size_t>(g.filterSize()) * sizeof(float));
  forEachDenseBlock(g, [&](int64_t tap, int64_t row, int64_t col) {
    for (int64_t c = 0; c < g.c; c++) {
      const float* from = expanded + (row + c) * cols + col;
      float* to = filter + tap + c * g.o;
      for (int64_t o = 0; o < g.o; o++) to[o] += from[o];
    }
  });
}

// The expanded [h·w·c, oh·ow·o] matrix of a dense convolution, in the arena for one call.
struct DenseMatrix {
  int64_t rows, cols;
  ArenaLease lease;
  float* data;

  explicit DenseMatrix(const ConvGeometry& g)
      : rows(g.h * g.w * g.c), cols(g.oh * g.ow * g.o), lease({static_cast<size_t>(rows * cols) * sizeof(float)}), data(static_cast<float*>(lease[0])) {}
};

void sgemm(char transA, char transB, int64_t m, int64_t n, int64_t k, const float* a, int64_t lda, const float* b, int64_t ldb, float* c,
           int64_t ldc) {
  dnnl_status_t status = dnnl_sgemm(transA, transB, m, n, k, 1.f, a, lda, b, ldb, 0.f, c, ldc);
  if (status != dnnl_success) throw dnnl::error(status, "dnnl_sgemm failed");
}

}  // namespace

// conv2d(x, filter, bias | null, out, geometry: Int32Array(17), activation, leakyreluAlpha)
void conv2dForward(Args& args) {
  F32View x = args.f32(0, "x");
  F32View filter = args.f32(1, "filter");
  F32View bias = args.optionalF32(2, "bias");
  F32View out = args.f32(3, "out");
  ConvGeometry g = ConvGeometry::parse(args.ints(4, "geometry"));
  int activation = static_cast<int>(args.integer(5, "activation"));
  float leakyAlpha = static_cast<float>(args.number(6, "leakyreluAlpha"));
  requireLength(x, g.inputSize(), "x");
  requireLength(filter, g.filterSize(), "filter");
  requireLength(out, g.outputSize(), "out");
  bool hasBias = bias.data != nullptr;
  if (hasBias) requireLength(bias, g.o, "bias");

  Problem problem(g);
  if (useDense(problem)) {
    DenseMatrix m(g);
    expandFilter(g, filter.data, m.data);
    sgemm('N', 'N', g.n, m.cols, m.rows, x.data, m.rows, m.data, m.cols, out.data, m.cols);
    if (hasBias || activation != kActivationLinear) {
      applyBiasActivation(out.data, g.n * g.oh * g.ow, g.o, hasBias ? bias.data : nullptr, activation, leakyAlpha);
    }
    return;
  }
  std::vector<int64_t> k = problem.keyValues();
  k.push_back(hasBias);
  k.push_back(activation);
  k.push_back(floatBits(leakyAlpha));
  std::shared_ptr<ForwardEntry> entry = cache().get<ForwardEntry>(key("conv_fwd", k), [&] { return createForward(problem, hasBias, activation, leakyAlpha); });
  ForwardEntry& e = *entry;

  std::unordered_map<int, memory> execArgs{{DNNL_ARG_SRC, memory(problem.src, engine(), x.data)},
                                           {DNNL_ARG_DST, memory(problem.dst, engine(), out.data)}};
  if (hasBias) execArgs.emplace(DNNL_ARG_BIAS, memory(e.bias, engine(), bias.data));
  executeWithFilter(e.primitive, e.weights, e.conversions, e.scratchpadBytes, problem.weightsUser, filter.data + problem.weightsOffset,
                    DNNL_ARG_WEIGHTS, std::move(execArgs));
}

// conv2dBackpropInput(dy, filter, dx, geometry: Int32Array(17)); geometry describes the forward pass.
void conv2dBackpropInput(Args& args) {
  F32View dy = args.f32(0, "dy");
  F32View filter = args.f32(1, "filter");
  F32View dx = args.f32(2, "dx");
  ConvGeometry g = ConvGeometry::parse(args.ints(3, "geometry"));
  requireLength(dy, g.outputSize(), "dy");
  requireLength(filter, g.filterSize(), "filter");
  requireLength(dx, g.inputSize(), "dx");

  Problem problem(g);
  if (useDense(problem)) {
    DenseMatrix m(g);
    expandFilter(g, filter.data, m.data);
    sgemm('N', 'T', g.n, m.rows, m.cols, dy.data, m.cols, m.data, m.cols, dx.data, m.rows);
    return;
  }
  std::shared_ptr<BackwardDataEntry> entry = cache().get<BackwardDataEntry>(key("conv_bwd_data", problem.keyValues()), [&] {
    dnnl::convolution_backward_data::primitive_desc pd = problem.backwardData(userScratchpadAttr());
    return std::make_shared<BackwardDataEntry>(pd, problem.weightsUser, pd.weights_desc(), false,
                                               conversionsFor({{DNNL_ARG_DIFF_DST, problem.dst, problem.dstIn}}));
  });
  executeWithFilter(entry->primitive, entry->weights, entry->conversions, entry->scratchpadBytes, problem.weightsUser,
                    filter.data + problem.weightsOffset, DNNL_ARG_WEIGHTS,
                    {{DNNL_ARG_DIFF_DST, memory(problem.dst, engine(), dy.data)}, {DNNL_ARG_DIFF_SRC, memory(problem.src, engine(), dx.data)}});
}

// conv2dBackpropFilter(x, dy, dw, geometry: Int32Array(17)); geometry describes the forward pass.
void conv2dBackpropFilter(Args& args) {
  F32View x = args.f32(0, "x");
  F32View dy = args.f32(1, "dy");
  F32View dw = args.f32(2, "dw");
  ConvGeometry g = ConvGeometry::parse(args.ints(3, "geometry"));
  requireLength(x, g.inputSize(), "x");
  requireLength(dy, g.outputSize(), "dy");
  requireLength(dw, g.filterSize(), "dw");

  Problem problem(g);
  if (useDense(problem)) {
    DenseMatrix m(g);
    sgemm('T', 'N', m.rows, m.cols, g.n, x.data, m.rows, dy.data, m.cols, m.data, m.cols);
    foldFilterGradient(g, m.data, dw.data);
    return;
  }
  std::shared_ptr<BackwardWeightsEntry> entry = cache().get<BackwardWeightsEntry>(key("conv_bwd_weights", problem.keyValues()), [&] {
    dnnl::convolution_backward_weights::primitive_desc pd = problem.backwardWeights(userScratchpadAttr());
    return std::make_shared<BackwardWeightsEntry>(
        pd, problem.weightsUser, pd.diff_weights_desc(), true,
        conversionsFor({{DNNL_ARG_SRC, problem.src, problem.srcIn}, {DNNL_ARG_DIFF_DST, problem.dst, problem.dstIn}}));
  });

  // Taps cropped away have a zero gradient; the cropped block is written below.
  if (problem.crop.cropped) std::memset(dw.data, 0, dw.length * sizeof(float));
  executeWithFilter(entry->primitive, entry->weights, entry->conversions, entry->scratchpadBytes, problem.weightsUser,
                    dw.data + problem.weightsOffset, DNNL_ARG_DIFF_WEIGHTS,
                    {{DNNL_ARG_SRC, memory(problem.src, engine(), x.data)}, {DNNL_ARG_DIFF_DST, memory(problem.dst, engine(), dy.data)}});
}

// Describes the implementations oneDNN chose for one convolution: "fwd:…;bwd_data:…;bwd_weights:…".
void conv2dImplementation(Args& args) {
  ConvGeometry g = ConvGeometry::parse(args.ints(0, "geometry"));
  Problem problem(g);
  if (useDense(problem)) {
    args.returnString("fwd:dense_sgemm;bwd_data:dense_sgemm;bwd_weights:dense_sgemm");
    return;
  }
  auto fwd = createForward(problem, false, kActivationLinear, 0.f);
  dnnl::convolution_backward_data::primitive_desc bpd = problem.backwardData(dnnl::primitive_attr());
  dnnl::convolution_backward_weights::primitive_desc wpd = problem.backwardWeights(dnnl::primitive_attr());
  const std::string& fwdImpl = fwd->implementation;
  std::string crop = problem.crop.cropped ? ";cropped:" + std::to_string(problem.crop.r1 - problem.crop.r0 + 1) + "x" +
                                                std::to_string(problem.crop.c1 - problem.crop.c0 + 1)
                                          : "";
  args.returnString("fwd:" + fwdImpl + ";bwd_data:" + bpd.impl_info_str() + ";bwd_weights:" + wpd.impl_info_str() + crop);
}

}  // namespace rt
