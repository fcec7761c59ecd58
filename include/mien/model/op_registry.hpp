// The op registry: one table entry per op of FORMAT.md with everything the rest of mien
// derives from it — name, input count, attributes (name, type, default), weight roles,
// fusion traits for the optimiser (model/optimize.hpp), and the factory that turns a
// NodeDef into a packed Op (model/op_factory.hpp). Adding an op = one entry here (plus its
// Op class in ops/ and the Python side, whose op list tests/unit/test_op_registry.cpp
// checks against this table).
//
// Factories read attributes and weights only through OpContext, which refuses names the
// entry does not declare, so the table cannot drift from what the factories read.
#pragma once

#include <memory>
#include <optional>
#include <string>
#include <tuple>
#include <utility>
#include <vector>

#include "mien/model/graph.hpp"
#include "mien/ops/activation.hpp"
#include "mien/ops/concat.hpp"
#include "mien/ops/conv2d.hpp"
#include "mien/ops/dense.hpp"
#include "mien/ops/depthwise.hpp"
#include "mien/ops/depthwise_pointwise.hpp"
#include "mien/ops/eltwise.hpp"
#include "mien/ops/pad.hpp"
#include "mien/ops/pool.hpp"
#include "mien/ops/qconv2d.hpp"
#include "mien/ops/reshape.hpp"
#include "mien/ops/resize.hpp"
#include "mien/ops/softmax.hpp"
#include "mien/ops/squeeze_excite.hpp"

namespace mien {

// One attribute: its name, type, and default (none: required, or only needed in some
// configurations, e.g. `pads` with padding=explicit, `clip` with activation=clip).
struct AttrSpec {
  std::string name;
  ValueType type;
  std::optional<MetaValue> fallback;
};

// One weight tensor role ("<node>/<role>").
struct WeightSpec {
  std::string role;
  bool required;
};

// What the optimiser may do with an op.
enum class FusionRole {
  None,
  BatchNorm,    // per-channel x*scale+shift: folds into a preceding op with folds_batch_norm
  Activation,   // an activation op: fuses into a preceding op with fuses_activation
  ResidualAdd,  // a 2-input add: fuses into a preceding op with fuses_residual
};

struct OpTraits {
  bool folds_batch_norm = false;  // weighted: `weight` (last dim = out channels) + `bias`
  bool fuses_activation = false;  // applies its `activation` attribute to its result
  bool fuses_residual = false;    // a 1x1 stride-1 instance can add a second input in its store
  FusionRole role = FusionRole::None;
};

struct OpSpec;
class OpContext;
using OpFactory = std::unique_ptr<Op> (*)(const OpContext&);

struct OpSpec {
  std::string name;
  int min_inputs = 1, max_inputs = 1;  // max -1: any number
  std::vector<AttrSpec> attrs;
  std::vector<WeightSpec> weights;
  OpTraits traits;
  OpFactory make = nullptr;

  const AttrSpec* find_attr(const std::string& attr) const {
    for (const AttrSpec& a : attrs)
      if (a.name == attr) return &a;
    return nullptr;
  }
  const WeightSpec* find_weight(const std::string& role) const {
    for (const WeightSpec& w : weights)
      if (w.role == role) return &w;
    return nullptr;
  }
};

// The entry for an op name of FORMAT.md, or nullptr (defined after the table).
inline const OpSpec* find_op_spec(const std::string& op);

// A node being built: typed attribute access with the table's defaults, weights by role.
class OpContext {
 public:
  OpContext(const OpSpec& spec, const GraphDef& g, const NodeDef& n, Isa isa)
      : spec_(spec), graph_(g), node_(n), isa_(isa) {}
  const OpSpec& spec() const { return spec_; }
  const NodeDef& node() const { return node_; }
  Isa isa() const { return isa_; }
  const GraphDef& graph() const { return graph_; }
  int arity() const { return int(node_.inputs.size()); }
  bool has(const std::string& key) const { return node_.attrs.has(declared(key).name); }

  int64_t get_int(const std::string& key) const {
    return value<int64_t>(key, ValueType::Int, [&] { return node_.attrs.get_int(key); });
  }
  double get_float(const std::string& key) const {
    return value<double>(key, ValueType::Float, [&] { return node_.attrs.get_float(key); });
  }
  std::string get_string(const std::string& key) const {
    return value<std::string>(key, ValueType::String, [&] { return node_.attrs.get_string(key); });
  }
  std::vector<int64_t> get_ints(const std::string& key) const {
    return value<std::vector<int64_t>>(key, ValueType::IntArray,
                                       [&] { return node_.attrs.get_ints(key); });
  }
  std::vector<double> get_floats(const std::string& key) const {
    return value<std::vector<double>>(key, ValueType::FloatArray,
                                      [&] { return node_.attrs.get_floats(key); });
  }

  const WeightTensor* find_weight(const std::string& role) const {
    MIEN_CHECK(spec_.find_weight(role), "internal: op '", spec_.name,
               "' does not declare weight role '", role, "' in the op registry");
    return graph_.find_weight(node_.name, role);
  }
  const WeightTensor& weight(const std::string& role) const {
    find_weight(role);  // declared?
    return graph_.weight(node_.name, role);
  }

 private:
  const AttrSpec& declared(const std::string& key) const {
    const AttrSpec* a = spec_.find_attr(key);
    MIEN_CHECK(a, "internal: op '", spec_.name, "' does not declare attribute '", key,
               "' in the op registry");
    return *a;
  }
  template <typename T, typename Get>
  T value(const std::string& key, ValueType type, Get get) const {
    const AttrSpec& a = declared(key);
    MIEN_CHECK(a.type == type, "internal: op registry declares '", spec_.name, ".", key, "' as ",
               value_type_name(a.type), ", read as ", value_type_name(type));
    if (node_.attrs.has(key) || !a.fallback) return get();  // missing and required: names the key
    return std::get<T>(*a.fallback);
  }

  const OpSpec& spec_;
  const GraphDef& graph_;
  const NodeDef& node_;
  Isa isa_;
};

namespace detail {

inline std::pair<int, int> int_pair(const OpContext& c, const std::string& key) {
  const auto v = c.get_ints(key);
  MIEN_CHECK(v.size() == 2, "attribute '", key, "' must have 2 values");
  MIEN_CHECK(v[0] >= 1 && v[0] <= 4096 && v[1] >= 1 && v[1] <= 4096, "attribute '", key,
             "' out of range");
  return {int(v[0]), int(v[1])};
}

inline Padding padding_attr(const OpContext& c) {
  const std::string mode = c.get_string("padding");
  if (mode == "valid") return Padding::valid();
  if (mode == "same") return Padding::same();
  MIEN_CHECK(mode == "explicit", "padding must be valid, same or explicit, not '", mode, "'");
  const auto p = c.get_ints("pads");
  MIEN_CHECK(p.size() == 4, "attribute 'pads' must have 4 values (top, left, bottom, right)");
  for (int64_t v : p) MIEN_CHECK(v >= 0 && v <= 4096, "pad ", v, " out of range");
  return Padding::explicit_pads(int(p[0]), int(p[1]), int(p[2]), int(p[3]));
}

// Activation from attributes: conv-like ops use key "activation", the activation op "type".
inline Activation activation_attr(const OpContext& c, const char* key) {
  Activation act;
  act.kind = Activation::kind_from_name(c.get_string(key));
  if (act.kind == ActKind::LeakyRelu) act.alpha = float(c.get_float("alpha"));
  if (act.kind == ActKind::Clip) {
    const auto v = c.get_floats("clip");
    MIEN_CHECK(v.size() == 2, "attribute 'clip' must be [lo, hi]");
    act.lo = float(v[0]);
    act.hi = float(v[1]);
  }
  if (act.kind == ActKind::PRelu) act.slopes = c.weight("slopes").values();
  return act;
}

inline ConvParams conv_params(const OpContext& c) {
  ConvParams p;
  std::tie(p.stride_h, p.stride_w) = int_pair(c, "strides");
  std::tie(p.dilation_h, p.dilation_w) = int_pair(c, "dilations");
  p.padding = padding_attr(c);
  p.activation = activation_attr(c, "activation");
  return p;
}

inline const float* optional_bias(const OpContext& c, int64_t channels) {
  const WeightTensor* b = c.find_weight("bias");
  if (!b) return nullptr;
  MIEN_CHECK(b->count() == channels, "bias has ", b->count(), " values for ", channels,
             " channels");
  return b->data();
}

inline void check_rank(const WeightTensor& t, std::size_t rank, const char* what) {
  MIEN_CHECK(t.dims.size() == rank, what, " must have rank ", rank, ", got ", t.shape_str());
  for (int64_t d : t.dims) MIEN_CHECK(d <= (1 << 24), what, " dimension ", d, " too large");
}

// Attribute groups shared by several ops.
inline std::vector<AttrSpec> activation_attrs(const char* key) {
  return {{key, ValueType::String, MetaValue(std::string("none"))},
          {"alpha", ValueType::Float, MetaValue(0.2)},     // leaky_relu slope
          {"clip", ValueType::FloatArray, std::nullopt}};  // [lo, hi] with clip
}
inline std::vector<AttrSpec> padding_attrs() {
  return {{"padding", ValueType::String, MetaValue(std::string("valid"))},
          {"pads", ValueType::IntArray, std::nullopt}};  // top, left, bottom, right with explicit
}
inline std::vector<AttrSpec> ints2(const char* key, int64_t v) {
  return {{key, ValueType::IntArray, MetaValue(std::vector<int64_t>{v, v})}};
}
template <typename... Lists>
std::vector<AttrSpec> attrs(Lists... lists) {
  std::vector<AttrSpec> all;
  (all.insert(all.end(), lists.begin(), lists.end()), ...);
  return all;
}

inline std::unique_ptr<Op> make_qconv2d(const OpContext& c) {
  const WeightTensor& w = c.weight("weight");
  check_rank(w, 4, "qconv2d weight [KH,KW,Cin,Cout]");
  const int64_t cout = w.dims[3];
  std::vector<int8_t> q(std::size_t(w.count()));
  const float* v = w.data();
  for (std::size_t i = 0; i < q.size(); ++i) {
    MIEN_CHECK(v[i] >= -127.f && v[i] <= 127.f && v[i] == float(int(v[i])), "qconv2d weight holds ",
               v[i], ": expected int8 values in [-127, 127]");
    q[i] = int8_t(v[i]);
  }
  const WeightTensor& ws = c.weight("weight_scale");
  MIEN_CHECK(ws.count() == cout, "qconv2d weight_scale has ", ws.count(), " values for ", cout,
             " channels");
  const double scale = c.get_float("input_scale");
  const int64_t zp = c.get_int("input_zero_point");
  MIEN_CHECK(std::isfinite(scale) && scale > 1e-30 && scale < 1e30, "qconv2d input_scale ", scale,
             " is not a positive finite number");
  MIEN_CHECK(zp >= 0 && zp <= 255, "qconv2d input_zero_point ", zp, " is outside 0..255");
  return std::make_unique<QConv2d>(int(w.dims[0]), int(w.dims[1]), int(w.dims[2]), int(cout),
                                   q.data(), ws.data(), optional_bias(c, cout), conv_params(c),
                                   Q8Input{float(scale), int(zp)}, c.isa(), default_q8_set(c.isa()),
                                   c.arity() == 2);
}

inline std::vector<OpSpec> make_op_registry() {
  const std::vector<AttrSpec> conv_like = attrs(ints2("strides", 1), ints2("dilations", 1),
                                                padding_attrs(), activation_attrs("activation"));
  const std::vector<WeightSpec> weighted = {{"weight", true}, {"bias", false}, {"slopes", false}};
  OpTraits weighted_traits;
  weighted_traits.folds_batch_norm = true;
  weighted_traits.fuses_activation = true;
  OpTraits conv_traits = weighted_traits;
  conv_traits.fuses_residual = true;
  OpTraits add_traits;
  add_traits.fuses_activation = true;
  add_traits.role = FusionRole::ResidualAdd;
  OpTraits bn_traits;
  bn_traits.role = FusionRole::BatchNorm;
  OpTraits act_traits;
  act_traits.role = FusionRole::Activation;

  std::vector<OpSpec> r;
  // A second conv2d input is a residual fused at load (model/optimize.hpp).
  r.push_back({"conv2d", 1, 2, conv_like, weighted, conv_traits, [](const OpContext& c) {
                 const WeightTensor& w = c.weight("weight");
                 check_rank(w, 4, "conv2d weight [KH,KW,Cin,Cout]");
                 return std::unique_ptr<Op>(std::make_unique<Conv2d>(
                     int(w.dims[0]), int(w.dims[1]), int(w.dims[2]), int(w.dims[3]), w.data(),
                     optional_bias(c, w.dims[3]), conv_params(c), c.isa(), c.arity() == 2));
               }});
  // int8 conv2d (`mien quantize`): weights are int8 values (dtype i8 in the file), per output
  // channel scales, and the calibrated quantization of its input. It folds no batch norm
  // (the quantizer writes graphs with those already folded).
  OpTraits qconv_traits;
  qconv_traits.fuses_activation = true;
  qconv_traits.fuses_residual = true;
  r.push_back(
      {"qconv2d",
       1,
       2,
       attrs(conv_like, std::vector<AttrSpec>{{"input_scale", ValueType::Float, std::nullopt},
                                              {"input_zero_point", ValueType::Int, std::nullopt}}),
       {{"weight", true}, {"weight_scale", true}, {"bias", false}, {"slopes", false}},
       qconv_traits,
       make_qconv2d});
  r.push_back(
      {"depthwise_conv2d", 1, 1, conv_like, weighted, weighted_traits, [](const OpContext& c) {
         const WeightTensor& w = c.weight("weight");
         check_rank(w, 3, "depthwise weight [KH,KW,C]");
         return std::unique_ptr<Op>(std::make_unique<DepthwiseConv2d>(
             int(w.dims[0]), int(w.dims[1]), int(w.dims[2]), w.data(), optional_bias(c, w.dims[2]),
             conv_params(c), c.isa()));
       }});
  r.push_back({"dense", 1, 1, activation_attrs("activation"), weighted, weighted_traits,
               [](const OpContext& c) {
                 const WeightTensor& w = c.weight("weight");
                 check_rank(w, 2, "dense weight [Cin,Cout]");
                 return std::unique_ptr<Op>(std::make_unique<Dense>(
                     int(w.dims[0]), int(w.dims[1]), w.data(), optional_bias(c, w.dims[1]),
                     activation_attr(c, "activation"), c.isa()));
               }});
  const std::vector<AttrSpec> pool_attrs =
      attrs(ints2("kernel", 2), ints2("strides", 1), padding_attrs());
  auto pool = [](const OpContext& c) {
    const auto k = int_pair(c, "kernel");
    const auto s = int_pair(c, "strides");
    return std::unique_ptr<Op>(
        std::make_unique<Pool2d>(c.spec().name == "max_pool" ? PoolKind::Max : PoolKind::Average,
                                 k.first, k.second, s.first, s.second, padding_attr(c), c.isa()));
  };
  r.push_back({"max_pool", 1, 1, pool_attrs, {}, {}, pool});
  r.push_back({"avg_pool", 1, 1, pool_attrs, {}, {}, pool});
  r.push_back({"global_avg_pool", 1, 1, {}, {}, {}, [](const OpContext& c) {
                 return std::unique_ptr<Op>(std::make_unique<GlobalAvgPool>(c.isa()));
               }});
  r.push_back({"add",
               2,
               2,
               activation_attrs("activation"),
               {{"slopes", false}},
               add_traits,
               [](const OpContext& c) {
                 return std::unique_ptr<Op>(
                     std::make_unique<Add>(activation_attr(c, "activation"), c.isa()));
               }});
  r.push_back({"mul", 1, 2, {}, {{"scale", false}}, {}, [](const OpContext& c) {
                 if (c.arity() == 2) return std::unique_ptr<Op>(std::make_unique<Mul>(c.isa()));
                 return std::unique_ptr<Op>(std::make_unique<ChannelAffine>(
                     c.weight("scale").values(), std::vector<float>{}, c.isa(), "mul"));
               }});
  r.push_back({"concat", 1, -1, {}, {}, {}, [](const OpContext& c) {
                 return std::unique_ptr<Op>(std::make_unique<Concat>(c.arity(), c.isa()));
               }});
  r.push_back(
      {"pad",
       1,
       1,
       {{"pads", ValueType::IntArray, std::nullopt}, {"value", ValueType::Float, MetaValue(0.0)}},
       {},
       {},
       [](const OpContext& c) {
         const auto p = c.get_ints("pads");
         MIEN_CHECK(p.size() == 6, "pad 'pads' must be [top, left, bottom, right, before, after]");
         for (int64_t v : p) MIEN_CHECK(v >= 0 && v <= 65536, "pad ", v, " out of range");
         return std::unique_ptr<Op>(std::make_unique<Pad>(int(p[0]), int(p[1]), int(p[2]),
                                                          int(p[3]), int(p[4]), int(p[5]),
                                                          float(c.get_float("value")), c.isa()));
       }});
  r.push_back({"upsample_nearest",
               1,
               1,
               {{"scale", ValueType::Int, MetaValue(int64_t(2))}},
               {},
               {},
               [](const OpContext& c) {
                 const int64_t scale = c.get_int("scale");
                 MIEN_CHECK(scale >= 1 && scale <= 64, "upsample scale ", scale, " out of range");
                 return std::unique_ptr<Op>(std::make_unique<UpsampleNearest>(int(scale), c.isa()));
               }});
  r.push_back(
      {"resize_bilinear",
       1,
       1,
       attrs(ints2("size", 1),
             std::vector<AttrSpec>{{"align_corners", ValueType::Int, MetaValue(int64_t(0))},
                                   {"half_pixel_centers", ValueType::Int, MetaValue(int64_t(0))}}),
       {},
       {},
       [](const OpContext& c) {
         const auto size = int_pair(c, "size");
         return std::unique_ptr<Op>(std::make_unique<ResizeBilinear>(
             size.first, size.second, c.get_int("align_corners") != 0,
             c.get_int("half_pixel_centers") != 0, c.isa()));
       }});
  r.push_back({"reshape",
               1,
               1,
               {{"shape", ValueType::IntArray, std::nullopt}},
               {},
               {},
               [](const OpContext& c) {
                 const auto s = c.get_ints("shape");
                 MIEN_CHECK(s.size() == 3, "reshape 'shape' must be [H, W, C]");
                 for (int64_t v : s)
                   MIEN_CHECK(v == -1 || (v >= 1 && v <= (1 << 30)), "reshape dim ", v);
                 return std::unique_ptr<Op>(
                     std::make_unique<Reshape>(int(s[0]), int(s[1]), int(s[2]), c.isa()));
               }});
  r.push_back({"flatten", 1, 1, {}, {}, {}, [](const OpContext& c) {
                 return std::unique_ptr<Op>(std::make_unique<Flatten>(c.isa()));
               }});
  r.push_back({"batch_norm",
               1,
               1,
               {},
               {{"scale", true}, {"shift", true}},
               bn_traits,
               [](const OpContext& c) {
                 const WeightTensor& scale = c.weight("scale");
                 const WeightTensor& shift = c.weight("shift");
                 MIEN_CHECK(scale.count() == shift.count(),
                            "batch_norm scale and shift differ in size");
                 return std::unique_ptr<Op>(std::make_unique<ChannelAffine>(
                     scale.values(), shift.values(), c.isa(), "batch_norm"));
               }});
  r.push_back({"activation",
               1,
               1,
               activation_attrs("type"),
               {{"slopes", false}},
               act_traits,
               [](const OpContext& c) {
                 return std::unique_ptr<Op>(
                     std::make_unique<ActivationOp>(activation_attr(c, "type"), c.isa()));
               }});
  r.push_back({"softmax", 1, 1, {}, {}, {}, [](const OpContext& c) {
                 return std::unique_ptr<Op>(std::make_unique<Softmax>(c.isa()));
               }});
  r.push_back({"squeeze_excite",
               1,
               1,
               {},
               {{"w1", true}, {"b1", true}, {"w2", true}, {"b2", true}},
               {},
               [](const OpContext& c) {
                 const WeightTensor& w1 = c.weight("w1");
                 const WeightTensor& w2 = c.weight("w2");
                 check_rank(w1, 2, "squeeze_excite w1 [C,R]");
                 check_rank(w2, 2, "squeeze_excite w2 [R,C]");
                 const int64_t ch = w1.dims[0], red = w1.dims[1];
                 MIEN_CHECK(w2.dims[0] == red && w2.dims[1] == ch, "squeeze_excite w2 must be [",
                            red, ",", ch, "], got ", w2.shape_str());
                 const WeightTensor& b1 = c.weight("b1");
                 const WeightTensor& b2 = c.weight("b2");
                 MIEN_CHECK(b1.count() == red && b2.count() == ch,
                            "squeeze_excite bias sizes do not match");
                 return std::unique_ptr<Op>(std::make_unique<SqueezeExcite>(
                     int(ch), int(red), w1.data(), b1.data(), w2.data(), b2.data(), c.isa()));
               }});
  return r;
}

// depthwise_pointwise: a depthwise_conv2d and its 1x1 conv2d reader, fused at load by
// optimize_graph (never in a file). The node is the conv's (name, attributes, weights,
// inputs: x [, residual]) plus the depthwise's attributes prefixed "dw." and its node name
// in "dw.node", under which its weights stay. Each half is built by its own entry.
constexpr const char* kDwAttrPrefix = "dw.";

inline std::unique_ptr<Op> make_depthwise_pointwise(const OpContext& c) {
  const NodeDef& n = c.node();
  const std::string prefix = kDwAttrPrefix;
  NodeDef dw, pw;
  dw.name = n.attrs.get_string(prefix + "node");
  dw.op = "depthwise_conv2d";
  dw.inputs = {n.inputs.at(0)};
  dw.output = dw.name;
  pw.name = n.name;
  pw.op = "conv2d";
  pw.inputs = n.inputs;
  pw.output = n.output;
  for (const auto& [key, value] : n.attrs.values()) {
    if (key.rfind(prefix, 0) != 0)
      pw.attrs.set(key, value);
    else if (key != prefix + "node")
      dw.attrs.set(key.substr(prefix.size()), value);
  }
  auto build = [&](const NodeDef& node) {
    const OpSpec& spec = *find_op_spec(node.op);
    try {
      return spec.make(OpContext(spec, c.graph(), node, c.isa()));
    } catch (Error& e) {
      e.set_node(node.name);
      throw;
    }
  };
  std::unique_ptr<Op> d = build(dw), p = build(pw);
  auto* dp = dynamic_cast<DepthwiseConv2d*>(d.get());
  auto* pp = dynamic_cast<Conv2d*>(p.get());
  MIEN_CHECK(dp && pp, "internal: depthwise_pointwise halves are not depthwise + conv2d");
  d.release();
  p.release();
  return std::make_unique<DepthwisePointwise>(std::unique_ptr<DepthwiseConv2d>(dp),
                                              std::unique_ptr<Conv2d>(pp), c.isa());
}

inline std::vector<OpSpec> make_internal_op_registry() {
  std::vector<OpSpec> r;
  r.push_back({"depthwise_pointwise", 1, 2, {}, {}, {}, make_depthwise_pointwise});
  return r;
}

}  // namespace detail

// Ops that only load-time rewrites create (model/optimize.hpp), never read from a file:
// make_op builds them, find_op_spec and FORMAT.md do not know them.
inline const std::vector<OpSpec>& internal_op_registry() {
  static const std::vector<OpSpec> registry = detail::make_internal_op_registry();
  return registry;
}

inline const OpSpec* find_internal_op_spec(const std::string& op) {
  for (const OpSpec& s : internal_op_registry())
    if (s.name == op) return &s;
  return nullptr;
}

// Every op mien runs, in FORMAT.md's order. Built once, immutable.
inline const std::vector<OpSpec>& op_registry() {
  static const std::vector<OpSpec> registry = detail::make_op_registry();
  return registry;
}

// The entry for an op name, or nullptr for an unknown op.
inline const OpSpec* find_op_spec(const std::string& op) {
  for (const OpSpec& s : op_registry())
    if (s.name == op) return &s;
  return nullptr;
}

}  // namespace mien
