// Turns a NodeDef (op name, attributes, weights) into a ready-to-run Op with its weights
// packed for the chosen ISA. This is the one place that knows the attribute names of
// FORMAT.md; ops themselves take plain C++ parameters.
#pragma once

#include <memory>
#include <string>
#include <tuple>
#include <vector>

#include "mien/model/graph.hpp"
#include "mien/ops/activation.hpp"
#include "mien/ops/concat.hpp"
#include "mien/ops/conv2d.hpp"
#include "mien/ops/dense.hpp"
#include "mien/ops/depthwise.hpp"
#include "mien/ops/eltwise.hpp"
#include "mien/ops/pad.hpp"
#include "mien/ops/pool.hpp"
#include "mien/ops/reshape.hpp"
#include "mien/ops/resize.hpp"
#include "mien/ops/softmax.hpp"
#include "mien/ops/squeeze_excite.hpp"

namespace mien {

namespace detail {

inline std::pair<int, int> int_pair(const Metadata& a, const std::string& key, int fallback) {
  const auto v = a.get_ints(key, {fallback, fallback});
  MIEN_CHECK(v.size() == 2, "attribute '", key, "' must have 2 values");
  MIEN_CHECK(v[0] >= 1 && v[0] <= 4096 && v[1] >= 1 && v[1] <= 4096, "attribute '", key,
             "' out of range");
  return {int(v[0]), int(v[1])};
}

inline Padding padding_attr(const Metadata& a) {
  const std::string mode = a.get_string("padding", "valid");
  if (mode == "valid") return Padding::valid();
  if (mode == "same") return Padding::same();
  MIEN_CHECK(mode == "explicit", "padding must be valid, same or explicit, not '", mode, "'");
  const auto p = a.get_ints("pads");
  MIEN_CHECK(p.size() == 4, "attribute 'pads' must have 4 values (top, left, bottom, right)");
  for (int64_t v : p) MIEN_CHECK(v >= 0 && v <= 4096, "pad ", v, " out of range");
  return Padding::explicit_pads(int(p[0]), int(p[1]), int(p[2]), int(p[3]));
}

// Activation from attributes: conv-like ops use key "activation", the activation op "type".
inline Activation activation_attr(const GraphDef& g, const NodeDef& n, const char* key) {
  Activation act;
  act.kind = Activation::kind_from_name(n.attrs.get_string(key, "none"));
  if (act.kind == ActKind::LeakyRelu) act.alpha = float(n.attrs.get_float("alpha", 0.2));
  if (act.kind == ActKind::Clip) {
    const auto c = n.attrs.get_floats("clip");
    MIEN_CHECK(c.size() == 2, "attribute 'clip' must be [lo, hi]");
    act.lo = float(c[0]);
    act.hi = float(c[1]);
  }
  if (act.kind == ActKind::PRelu) act.slopes = g.weight(n.name, "slopes").data;
  return act;
}

inline ConvParams conv_params(const GraphDef& g, const NodeDef& n) {
  ConvParams p;
  std::tie(p.stride_h, p.stride_w) = int_pair(n.attrs, "strides", 1);
  std::tie(p.dilation_h, p.dilation_w) = int_pair(n.attrs, "dilations", 1);
  p.padding = padding_attr(n.attrs);
  p.activation = activation_attr(g, n, "activation");
  return p;
}

inline const float* optional_bias(const GraphDef& g, const NodeDef& n, int64_t channels) {
  const FileTensor* b = g.find_weight(n.name, "bias");
  if (!b) return nullptr;
  MIEN_CHECK(b->count() == channels, "bias has ", b->count(), " values for ", channels,
             " channels");
  return b->data.data();
}

inline void check_rank(const FileTensor& t, std::size_t rank, const char* what) {
  MIEN_CHECK(t.dims.size() == rank, what, " must have rank ", rank, ", got ", t.shape_str());
  for (int64_t d : t.dims) MIEN_CHECK(d <= (1 << 24), what, " dimension ", d, " too large");
}

inline std::unique_ptr<Op> make_op_unchecked(const GraphDef& g, const NodeDef& n, Isa isa) {
  const std::string& op = n.op;
  const int arity = int(n.inputs.size());
  auto need_inputs = [&](int count) {
    MIEN_CHECK(arity == count, op, " takes ", count, " input(s), got ", arity);
  };
  if (op == "conv2d") {
    // A second input is a residual fused at load (model/optimize.hpp).
    MIEN_CHECK(arity == 1 || arity == 2, op, " takes 1 input (2 with a fused residual), got ",
               arity);
    const FileTensor& w = g.weight(n.name, "weight");
    check_rank(w, 4, "conv2d weight [KH,KW,Cin,Cout]");
    return std::make_unique<Conv2d>(int(w.dims[0]), int(w.dims[1]), int(w.dims[2]), int(w.dims[3]),
                                    w.data.data(), optional_bias(g, n, w.dims[3]),
                                    conv_params(g, n), isa, arity == 2);
  }
  if (op == "depthwise_conv2d") {
    need_inputs(1);
    const FileTensor& w = g.weight(n.name, "weight");
    check_rank(w, 3, "depthwise weight [KH,KW,C]");
    return std::make_unique<DepthwiseConv2d>(int(w.dims[0]), int(w.dims[1]), int(w.dims[2]),
                                             w.data.data(), optional_bias(g, n, w.dims[2]),
                                             conv_params(g, n), isa);
  }
  if (op == "dense") {
    need_inputs(1);
    const FileTensor& w = g.weight(n.name, "weight");
    check_rank(w, 2, "dense weight [Cin,Cout]");
    return std::make_unique<Dense>(int(w.dims[0]), int(w.dims[1]), w.data.data(),
                                   optional_bias(g, n, w.dims[1]),
                                   activation_attr(g, n, "activation"), isa);
  }
  if (op == "max_pool" || op == "avg_pool") {
    need_inputs(1);
    const auto k = int_pair(n.attrs, "kernel", 2);
    const auto s = int_pair(n.attrs, "strides", 1);
    return std::make_unique<Pool2d>(op == "max_pool" ? PoolKind::Max : PoolKind::Average, k.first,
                                    k.second, s.first, s.second, padding_attr(n.attrs), isa);
  }
  if (op == "global_avg_pool") {
    need_inputs(1);
    return std::make_unique<GlobalAvgPool>(isa);
  }
  if (op == "add") {
    need_inputs(2);
    return std::make_unique<Add>(activation_attr(g, n, "activation"), isa);
  }
  if (op == "mul") {
    if (arity == 2) return std::make_unique<Mul>(isa);
    need_inputs(1);
    return std::make_unique<ChannelAffine>(g.weight(n.name, "scale").data, std::vector<float>{},
                                           isa, "mul");
  }
  if (op == "batch_norm") {
    need_inputs(1);
    const FileTensor& scale = g.weight(n.name, "scale");
    const FileTensor& shift = g.weight(n.name, "shift");
    MIEN_CHECK(scale.count() == shift.count(), "batch_norm scale and shift differ in size");
    return std::make_unique<ChannelAffine>(scale.data, shift.data, isa, "batch_norm");
  }
  if (op == "concat") {
    MIEN_CHECK(arity >= 1, "concat needs inputs");
    return std::make_unique<Concat>(arity, isa);
  }
  if (op == "pad") {
    need_inputs(1);
    const auto p = n.attrs.get_ints("pads");
    MIEN_CHECK(p.size() == 6, "pad 'pads' must be [top, left, bottom, right, before, after]");
    for (int64_t v : p) MIEN_CHECK(v >= 0 && v <= 65536, "pad ", v, " out of range");
    return std::make_unique<Pad>(int(p[0]), int(p[1]), int(p[2]), int(p[3]), int(p[4]), int(p[5]),
                                 float(n.attrs.get_float("value", 0.0)), isa);
  }
  if (op == "upsample_nearest") {
    need_inputs(1);
    const int64_t scale = n.attrs.get_int("scale", 2);
    MIEN_CHECK(scale >= 1 && scale <= 64, "upsample scale ", scale, " out of range");
    return std::make_unique<UpsampleNearest>(int(scale), isa);
  }
  if (op == "resize_bilinear") {
    need_inputs(1);
    const auto size = int_pair(n.attrs, "size", 1);
    return std::make_unique<ResizeBilinear>(size.first, size.second,
                                            n.attrs.get_int("align_corners", 0) != 0,
                                            n.attrs.get_int("half_pixel_centers", 0) != 0, isa);
  }
  if (op == "reshape") {
    need_inputs(1);
    const auto s = n.attrs.get_ints("shape");
    MIEN_CHECK(s.size() == 3, "reshape 'shape' must be [H, W, C]");
    for (int64_t v : s) MIEN_CHECK(v == -1 || (v >= 1 && v <= (1 << 30)), "reshape dim ", v);
    return std::make_unique<Reshape>(int(s[0]), int(s[1]), int(s[2]), isa);
  }
  if (op == "flatten") {
    need_inputs(1);
    return std::make_unique<Flatten>(isa);
  }
  if (op == "activation") {
    need_inputs(1);
    return std::make_unique<ActivationOp>(activation_attr(g, n, "type"), isa);
  }
  if (op == "softmax") {
    need_inputs(1);
    return std::make_unique<Softmax>(isa);
  }
  if (op == "squeeze_excite") {
    need_inputs(1);
    const FileTensor& w1 = g.weight(n.name, "w1");
    const FileTensor& w2 = g.weight(n.name, "w2");
    check_rank(w1, 2, "squeeze_excite w1 [C,R]");
    check_rank(w2, 2, "squeeze_excite w2 [R,C]");
    const int64_t c = w1.dims[0], r = w1.dims[1];
    MIEN_CHECK(w2.dims[0] == r && w2.dims[1] == c, "squeeze_excite w2 must be [", r, ",", c,
               "], got ", w2.shape_str());
    const FileTensor& b1 = g.weight(n.name, "b1");
    const FileTensor& b2 = g.weight(n.name, "b2");
    MIEN_CHECK(b1.count() == r && b2.count() == c, "squeeze_excite bias sizes do not match");
    return std::make_unique<SqueezeExcite>(int(c), int(r), w1.data.data(), b1.data.data(),
                                           w2.data.data(), b2.data.data(), isa);
  }
  throw_error("unsupported op '", op, "'");
}

}  // namespace detail

inline std::unique_ptr<Op> make_op(const GraphDef& g, const NodeDef& n, Isa isa) {
  try {
    return detail::make_op_unchecked(g, n, isa);
  } catch (Error& e) {
    e.set_node(n.name);
    throw;
  }
}

}  // namespace mien
