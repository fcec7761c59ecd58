// Load-time graph rewrites, so converters may emit plain graphs and still run fast. Which
// ops take part comes from their traits in the op registry (op_registry.hpp):
//  - batch_norm (role BatchNorm) after an op that folds_batch_norm (conv2d,
//    depthwise_conv2d, dense) is folded into its weights (the folded weights are copied;
//    the others stay views of the file);
//  - an activation op (role Activation) after an op that fuses_activation (conv2d,
//    depthwise_conv2d, dense, add) is fused as its epilogue;
//  - a residual `add` (role ResidualAdd) after a 1x1 stride-1 op that fuses_residual
//    (conv2d) is fused into the conv, which takes the
//    add's other input as a second input and adds it in the GEMM's store (BlazeFace's 31
//    residual adds were 9.5% of its time as separate passes over memory). The fused node
//    takes the add's place in the node order, where both of its inputs exist.
//  - a depthwise_conv2d whose only reader is a 1x1 stride-1 unpadded conv2d (a separable
//    conv) becomes one depthwise_pointwise node (ops/depthwise_pointwise.hpp) that runs
//    the two over bands of rows kept in L2; where that pays is the op's run-time rule.
// A rewrite applies only when the intermediate value has exactly one reader and is not a
// graph output, so the results are unchanged (up to float rounding of the add's order).
#pragma once

#include <map>
#include <string>
#include <vector>

#include "mien/model/graph.hpp"
#include "mien/model/op_registry.hpp"

namespace mien {

namespace detail {

inline std::map<std::string, int> count_readers(const GraphDef& g) {
  std::map<std::string, int> readers;
  for (const NodeDef& n : g.nodes)
    for (const std::string& i : n.inputs) ++readers[i];
  for (const std::string& o : g.outputs) readers[o] += 1000;  // never fuse away an output
  return readers;
}

inline OpTraits traits_of(const NodeDef& n) {
  const OpSpec* s = find_op_spec(n.op);
  return s ? s->traits : OpTraits{};  // unknown ops: make_op names them later
}

inline bool has_no_activation(const NodeDef& n) {
  return n.attrs.get_string("activation", "none") == "none";
}

// Gives node `to` the activation `type` with the parameters (alpha, clip, PReLU slopes)
// that node `from` carries, for the rewrites that fold an activation into its producer.
inline void take_activation(GraphDef& g, NodeDef& to, const NodeDef& from,
                            const std::string& type) {
  to.attrs.set("activation", type);
  if (from.attrs.has("alpha")) to.attrs.set("alpha", from.attrs.at("alpha"));
  if (from.attrs.has("clip")) to.attrs.set("clip", from.attrs.at("clip"));
  auto slopes = g.weights.find(from.name + "/slopes");
  if (slopes != g.weights.end()) {
    g.weights[to.name + "/slopes"] = slopes->second;
    g.weights.erase(slopes);
  }
}

inline bool fold_batch_norm(GraphDef& g, std::size_t producer, std::size_t bn) {
  NodeDef& p = g.nodes[producer];
  const NodeDef& b = g.nodes[bn];
  const WeightTensor* scale_t = g.find_weight(b.name, "scale");
  const WeightTensor* shift_t = g.find_weight(b.name, "shift");
  WeightTensor* weight = nullptr;
  auto wit = g.weights.find(p.name + "/weight");
  if (wit != g.weights.end()) weight = &wit->second;
  if (!scale_t || !shift_t || !weight || weight->dims.empty()) return false;
  const int64_t channels = weight->dims.back();
  if (int64_t(scale_t->size()) != channels || int64_t(shift_t->size()) != channels) return false;
  auto bit = g.weights.find(p.name + "/bias");
  if (bit != g.weights.end() && int64_t(bit->second.size()) != channels) return false;
  const float* scale = scale_t->data();
  const float* shift = shift_t->data();
  std::vector<float>& w = weight->mutable_values();  // copies the file's weights
  for (std::size_t i = 0; i < w.size(); ++i) w[i] *= scale[i % std::size_t(channels)];
  WeightTensor& bias_t = g.weights[p.name + "/bias"];
  std::vector<float>& bias = bias_t.mutable_values();
  if (bias.empty()) {
    bias_t.dims = {channels};
    bias.assign(std::size_t(channels), 0.f);
  }
  for (int64_t c = 0; c < channels; ++c)
    bias[std::size_t(c)] = bias[std::size_t(c)] * scale[std::size_t(c)] + shift[std::size_t(c)];
  p.output = b.output;
  g.weights.erase(b.name + "/scale");
  g.weights.erase(b.name + "/shift");
  return true;
}

inline bool fuse_activation(GraphDef& g, std::size_t producer, std::size_t act) {
  NodeDef& p = g.nodes[producer];
  const NodeDef& a = g.nodes[act];
  take_activation(g, p, a, a.attrs.get_string("type"));
  p.output = a.output;
  return true;
}

// The weight of a conv node that is a plain pointwise conv (1x1 kernel, stride and
// dilation 1, no padding), or nullptr.
inline const WeightTensor* pointwise_weight(const GraphDef& g, const NodeDef& n) {
  const WeightTensor* w = g.find_weight(n.name, "weight");
  if (!w || w->dims.size() != 4 || w->dims[0] != 1 || w->dims[1] != 1) return nullptr;
  const auto ones = std::vector<int64_t>{1, 1};
  if (n.attrs.get_ints("strides", ones) != ones || n.attrs.get_ints("dilations", ones) != ones)
    return nullptr;
  if (n.attrs.get_string("padding", "valid") == "explicit") {
    for (int64_t v : n.attrs.get_ints("pads", {1})) {
      if (v != 0) return nullptr;
    }
  }
  return w;
}

// A conv2d whose output can take a fused residual: a plain pointwise conv with one input
// and no activation of its own (the add's comes after the sum).
inline bool residual_fusable(const GraphDef& g, const NodeDef& n) {
  if (!traits_of(n).fuses_residual || n.inputs.size() != 1 || !has_no_activation(n)) return false;
  return pointwise_weight(g, n) != nullptr;
}

// conv (node i) -> add (node j, its only reader): the conv takes the add's other input and
// activation, moves to j, and the add goes.
inline bool fuse_residual(GraphDef& g, std::size_t conv, std::size_t add) {
  const NodeDef& a = g.nodes[add];
  NodeDef fused = g.nodes[conv];
  const std::string& other = a.inputs[0] == fused.output ? a.inputs[1] : a.inputs[0];
  if (other == fused.output) return false;  // add(x, x)
  fused.inputs.push_back(other);
  fused.output = a.output;
  take_activation(g, fused, a, a.attrs.get_string("activation", "none"));
  g.nodes[add] = std::move(fused);
  g.nodes.erase(g.nodes.begin() + std::ptrdiff_t(conv));
  return true;
}

// A conv2d that can read a depthwise result band by band (ops/depthwise_pointwise.hpp):
// 1x1 kernel, stride and dilation 1, no padding, the depthwise result as its first input
// (its activation and a second, residual input are kept).
inline bool pointwise_fusable(const GraphDef& g, const NodeDef& n, const std::string& x) {
  if (n.op != "conv2d" || n.inputs.empty() || n.inputs[0] != x) return false;
  if (n.inputs.size() == 2 && n.inputs[1] == x) return false;
  const WeightTensor* w = pointwise_weight(g, n);
  if (!w) return false;
  // A pointwise conv that runs the small-N direct conv alone stays alone: the fused op's
  // GEMM would lose that (gender's 1x1 8->16 and 16->16 at 60x60: 7.3 and 11.4 us direct
  // against 11.0 and 15.1 in the GEMM; fusing gained 0-1% on gender).
  if (conv_small_n(ConvAlgo::Auto, 1, 1, int(w->dims[2]), int(w->dims[3]), ConvParams{},
                   n.inputs.size() == 2))
    return false;
  return true;
}

// depthwise (node i) -> conv (node j, its only reader): the fused node takes the conv's
// place (where all its inputs exist) with the depthwise's attributes under "dw." and its
// weights left under its own name; the depthwise node goes.
inline void fuse_separable(GraphDef& g, std::size_t dw, std::size_t pw) {
  const NodeDef d = g.nodes[dw];
  NodeDef& f = g.nodes[pw];
  f.op = "depthwise_pointwise";
  f.inputs[0] = d.inputs.at(0);
  const std::string prefix = kDwAttrPrefix;
  f.attrs.set(prefix + "node", d.name);
  for (const auto& [key, value] : d.attrs.values()) f.attrs.set(prefix + key, value);
  g.nodes.erase(g.nodes.begin() + std::ptrdiff_t(dw));
}

}  // namespace detail

struct OptimizeOptions {
  // Off for graphs that are written back to a file (`mien quantize`): a file's convs take
  // one input, and the residual is fused again when the file is loaded.
  bool fuse_residual = true;
  // depthwise_conv2d + its 1x1 conv2d reader -> depthwise_pointwise (an op files never
  // hold): off for graphs written back to a file or whose conv steps are observed.
  bool fuse_separable = true;
};

inline void optimize_graph(GraphDef& g, const OptimizeOptions& opt = {}) {
  bool changed = true;
  while (changed) {
    changed = false;
    const auto readers = detail::count_readers(g);
    std::map<std::string, std::size_t> reader_of;  // value -> index of its (single) reader
    for (std::size_t i = 0; i < g.nodes.size(); ++i)
      for (const std::string& in : g.nodes[i].inputs) reader_of[in] = i;
    for (std::size_t i = 0; i < g.nodes.size() && !changed; ++i) {
      const NodeDef& p = g.nodes[i];
      auto r = readers.find(p.output);
      if (r == readers.end() || r->second != 1 || !detail::has_no_activation(p)) continue;
      const std::size_t j = reader_of[p.output];
      const NodeDef& next = g.nodes[j];
      const OpTraits pt = detail::traits_of(p), nt = detail::traits_of(next);
      if (opt.fuse_residual && nt.role == FusionRole::ResidualAdd && next.inputs.size() == 2 &&
          detail::residual_fusable(g, p)) {
        if (detail::fuse_residual(g, i, j)) {
          changed = true;
          break;  // fuse_residual already rewrote the node list
        }
        continue;
      }
      if (next.inputs.size() != 1) continue;
      // A conv with a fused residual computes conv + R: a batch norm after it cannot be
      // folded into its weights (R would escape the scale).
      if (pt.folds_batch_norm && p.inputs.size() == 1 && nt.role == FusionRole::BatchNorm) {
        changed = detail::fold_batch_norm(g, i, j);
      } else if (pt.fuses_activation && nt.role == FusionRole::Activation) {
        changed = detail::fuse_activation(g, i, j);
      }
      if (changed) g.nodes.erase(g.nodes.begin() + std::ptrdiff_t(j));
    }
  }
  // Last, so that the conv has taken its batch norm, activation and residual first.
  for (changed = opt.fuse_separable; changed;) {
    changed = false;
    const auto readers = detail::count_readers(g);
    std::map<std::string, std::size_t> reader_of;
    for (std::size_t i = 0; i < g.nodes.size(); ++i)
      for (const std::string& in : g.nodes[i].inputs) reader_of[in] = i;
    for (std::size_t i = 0; i < g.nodes.size() && !changed; ++i) {
      const NodeDef& p = g.nodes[i];
      auto r = readers.find(p.output);
      if (p.op != "depthwise_conv2d" || p.inputs.size() != 1 || r == readers.end() ||
          r->second != 1)
        continue;
      const std::size_t j = reader_of[p.output];
      if (j <= i || !detail::pointwise_fusable(g, g.nodes[j], p.output)) continue;
      detail::fuse_separable(g, i, j);
      changed = true;
    }
  }
}

}  // namespace mien
