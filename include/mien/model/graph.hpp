// GraphDef: the model as data (nodes in topological order, weights, metadata, test
// vectors), read from / written to a MienFile with the graph.* / node.<i>.* / test.* keys
// of FORMAT.md. Everything that is not graph or test data is the model's own metadata.
// Read from a MienView (graph_from_view), the weights are views of the file bytes, not
// copies, and test vectors are only checked for presence and shape unless asked for.
#pragma once

#include <map>
#include <set>
#include <string>
#include <utility>
#include <vector>

#include "mien/core/error.hpp"
#include "mien/core/tensor.hpp"
#include "mien/model/format.hpp"
#include "mien/model/metadata.hpp"

namespace mien {

struct InputDef {
  std::string name;
  int h = -1, w = -1, c = -1;  // -1: any size (c is always fixed in practice)
};

struct NodeDef {
  std::string name;
  std::string op;
  std::vector<std::string> inputs;
  std::string output;
  Metadata attrs;
};

// A weight as a graph holds it: either a view of the file bytes it was loaded from (no
// copy; valid as long as those bytes) or its own values (built in code, converted from
// f16, unaligned in the file, or rewritten by the optimiser).
class WeightTensor {
 public:
  std::vector<int64_t> dims;
  DType dtype = DType::F32;  // how the file stores it (I8: int8 weights of quantized ops)

  WeightTensor() = default;
  WeightTensor(FileTensor t)  // NOLINT: implicit, so GraphBuilder and tests pass FileTensors
      : dims(std::move(t.dims)),
        dtype(t.dtype == DType::I8 ? DType::I8 : DType::F32),
        owned_(std::move(t.data)) {}
  static WeightTensor view(std::vector<int64_t> dims, const float* data, std::size_t count) {
    WeightTensor w;
    w.dims = std::move(dims);
    w.view_ = data;
    w.view_count_ = count;
    return w;
  }

  const float* data() const { return view_ ? view_ : owned_.data(); }
  std::size_t size() const { return view_ ? view_count_ : owned_.size(); }
  bool empty() const { return size() == 0; }
  bool is_view() const { return view_ != nullptr; }
  int64_t count() const { return dims_count(dims); }
  std::vector<float> values() const { return std::vector<float>(data(), data() + size()); }
  // Writable values; a view is copied first (copy on write).
  std::vector<float>& mutable_values() {
    if (view_) {
      owned_.assign(view_, view_ + view_count_);
      view_ = nullptr;
      view_count_ = 0;
    }
    return owned_;
  }
  std::string shape_str() const { return dims_str(dims); }
  FileTensor to_file() const {
    FileTensor f;
    f.dims = dims;
    f.data = values();
    f.dtype = dtype;
    return f;
  }

 private:
  std::vector<float> owned_;
  const float* view_ = nullptr;
  std::size_t view_count_ = 0;
};

struct TestVector {
  std::map<std::string, Tensor> inputs;
  std::map<std::string, Tensor> outputs;
};

struct GraphDef {
  std::vector<InputDef> inputs;
  std::vector<std::string> outputs;
  std::vector<NodeDef> nodes;
  std::map<std::string, WeightTensor> weights;  // "<node name>/<role>"
  Metadata meta;                                // model.*, input.*, detector.*, ...
  std::vector<TestVector> tests;
  double test_tolerance = 1e-4;

  const WeightTensor* find_weight(const std::string& node, const std::string& role) const {
    auto it = weights.find(node + "/" + role);
    return it == weights.end() ? nullptr : &it->second;
  }
  const WeightTensor& weight(const std::string& node, const std::string& role) const {
    const WeightTensor* t = find_weight(node, role);
    if (!t) throw Error("missing weight tensor '" + node + "/" + role + "'");
    return *t;
  }
};

namespace detail {

inline bool starts_with(const std::string& s, const char* prefix) {
  return s.rfind(prefix, 0) == 0;
}

template <typename FileTensorT>
Shape test_tensor_shape(const FileTensorT& t, const std::string& name) {
  MIEN_CHECK(t.dims.size() == 4, "test tensor '", name, "' must be 4-D NHWC, got ", t.shape_str());
  for (int64_t d : t.dims) MIEN_CHECK(d <= (1 << 30), "test tensor '", name, "' too large");
  return Shape(int(t.dims[0]), int(t.dims[1]), int(t.dims[2]), int(t.dims[3]));
}

inline Tensor tensor_from_file(const FileTensor& t, const std::string& name) {
  return Tensor(test_tensor_shape(t, name), t.data.data());
}

inline Tensor tensor_from_file(const TensorEntry& t, const std::string& name) {
  Tensor out(test_tensor_shape(t, name));
  read_values(t, out.data());
  return out;
}

inline WeightTensor weight_from_file(const FileTensor& t) {
  return FileTensor(t);
}

// A view when the values are aligned f32, otherwise converted into owned values.
inline WeightTensor weight_from_file(const TensorEntry& t) {
  if (const float* p = t.f32_in_place())
    return WeightTensor::view(t.dims, p, std::size_t(t.count()));
  FileTensor f;
  f.dims = t.dims;
  f.data.resize(std::size_t(t.count()));
  f.dtype = t.dtype == DType::I8 ? DType::I8 : DType::F32;
  read_values(t, f.data.data());
  return f;
}

inline FileTensor tensor_to_file(const Tensor& t) {
  FileTensor f;
  f.dims = {t.shape().n, t.shape().h, t.shape().w, t.shape().c};
  f.data.assign(t.begin(), t.end());
  return f;
}

}  // namespace detail

// Checks that names are unique, every input is defined before use, every output exists.
inline void validate_graph(const GraphDef& g) {
  MIEN_CHECK(!g.inputs.empty(), "graph has no inputs");
  MIEN_CHECK(!g.outputs.empty(), "graph has no outputs");
  std::set<std::string> defined, node_names;
  for (const InputDef& in : g.inputs) {
    MIEN_CHECK(!in.name.empty(), "graph input with an empty name");
    MIEN_CHECK(defined.insert(in.name).second, "duplicate graph input '", in.name, "'");
    MIEN_CHECK(in.c >= 1 && in.c <= 65536, "graph input '", in.name, "' has ", in.c, " channels");
    MIEN_CHECK((in.h == -1 || (in.h >= 1 && in.h <= 65536)) &&
                   (in.w == -1 || (in.w >= 1 && in.w <= 65536)),
               "graph input '", in.name, "' has an invalid size");
  }
  for (const NodeDef& n : g.nodes) {
    MIEN_CHECK(!n.name.empty(), "node with an empty name");
    MIEN_CHECK(node_names.insert(n.name).second, "duplicate node name '", n.name, "'");
    for (const std::string& i : n.inputs)
      if (!defined.count(i)) {
        Error e("input '" + i + "' is not defined by an earlier node or a graph input");
        e.set_node(n.name);
        throw e;
      }
    if (!defined.insert(n.output).second) {
      Error e("output '" + n.output + "' is defined twice");
      e.set_node(n.name);
      throw e;
    }
  }
  for (const std::string& o : g.outputs)
    MIEN_CHECK(defined.count(o), "graph output '", o, "' is not produced by any node");
}

namespace detail {

// Shared by graph_from_file (owned tensors) and graph_from_view (views of the bytes).
template <typename File>
GraphDef graph_from(const File& file, const std::string& origin, bool with_tests) {
  try {
    const Metadata& m = file.meta;
    GraphDef g;
    for (const std::string& name : m.get_strings("graph.inputs")) {
      const auto& shape = m.get_ints("graph.input." + name + ".shape");
      MIEN_CHECK(shape.size() == 3, "graph.input.", name, ".shape must be [H, W, C]");
      for (int64_t d : shape)
        MIEN_CHECK(d == -1 || (d >= 1 && d <= 65536), "graph input '", name, "' has dimension ", d);
      g.inputs.push_back({name, int(shape[0]), int(shape[1]), int(shape[2])});
    }
    g.outputs = m.get_strings("graph.outputs");
    const int64_t count = m.get_int("graph.node_count");
    MIEN_CHECK(count >= 0 && count <= int64_t(m.size()), "invalid graph.node_count ", count);
    for (int64_t i = 0; i < count; ++i) {
      const std::string prefix = "node." + std::to_string(i) + ".";
      NodeDef n;
      n.name = m.get_string(prefix + "name");
      n.op = m.get_string(prefix + "op");
      n.inputs = m.get_strings(prefix + "inputs");
      n.output = m.get_string(prefix + "output");
      g.nodes.push_back(std::move(n));
    }
    // Attributes and model metadata: one pass over all keys.
    for (const auto& kv : m.values()) {
      const std::string& key = kv.first;
      if (starts_with(key, "node.")) {
        const std::size_t dot = key.find('.', 5);
        MIEN_CHECK(dot != std::string::npos, "malformed key '", key, "'");
        const std::string index = key.substr(5, dot - 5);
        MIEN_CHECK(!index.empty() && index.size() < 10 &&
                       index.find_first_not_of("0123456789") == std::string::npos,
                   "malformed key '", key, "'");
        const int64_t i = std::stoll(index);
        MIEN_CHECK(i < count, "key '", key, "' names node ", i, " of ", count);
        const std::string attr = key.substr(dot + 1);
        if (attr != "name" && attr != "op" && attr != "inputs" && attr != "output")
          g.nodes[std::size_t(i)].attrs.set(attr, kv.second);
      } else if (!starts_with(key, "graph.") && !starts_with(key, "test.")) {
        g.meta.set(key, kv.second);
      }
    }
    const int64_t tests = m.get_int("test.count", 0);
    MIEN_CHECK(tests >= 0 && tests <= 1000, "invalid test.count ", tests);
    g.test_tolerance = m.get_float("test.tolerance", 1e-4);
    // NaN would fail every check and infinity pass every one.
    MIEN_CHECK(g.test_tolerance >= 0 && g.test_tolerance <= 1, "metadata key 'test.tolerance' is ",
               g.test_tolerance, ", expected a number in [0, 1]");
    for (const auto& kv : file.tensors) {
      if (!starts_with(kv.first, "test.")) g.weights.emplace(kv.first, weight_from_file(kv.second));
    }
    // Test vectors: always checked for presence and shape (cheap), copied out only when
    // asked for (mien check), since they can outweigh the weights (0.9 of BlazeFace's 1.5 MB).
    for (int64_t k = 0; k < tests; ++k) {
      TestVector tv;
      const std::string prefix = "test." + std::to_string(k) + ".";
      auto add = [&](std::map<std::string, Tensor>& to, const std::string& value,
                     const std::string& name) {
        auto it = file.tensors.find(name);
        MIEN_CHECK(it != file.tensors.end(), "missing test tensor '", name, "'");
        if (with_tests)
          to.emplace(value, tensor_from_file(it->second, name));
        else
          test_tensor_shape(it->second, name);
      };
      for (const InputDef& in : g.inputs) add(tv.inputs, in.name, prefix + "input." + in.name);
      for (const std::string& out : g.outputs) add(tv.outputs, out, prefix + "output." + out);
      if (with_tests) g.tests.push_back(std::move(tv));
    }
    validate_graph(g);
    return g;
  } catch (Error& e) {
    e.set_file(origin);
    throw;
  }
}

}  // namespace detail

// From a file with owned tensors: the GraphDef owns copies of the weights and the test vectors.
inline GraphDef graph_from_file(const MienFile& file, const std::string& origin = "") {
  return detail::graph_from(file, origin, true);
}

// From a view of the file bytes: the weights are views of those bytes (keep them alive as
// long as the GraphDef, or build a Model, which packs them), test vectors are read only
// when with_tests is set (their presence and shapes are checked either way).
inline GraphDef graph_from_view(const MienView& file, const std::string& origin = "",
                                bool with_tests = false) {
  return detail::graph_from(file, origin, with_tests);
}

inline MienFile graph_to_file(const GraphDef& g) {
  validate_graph(g);
  MienFile f;
  f.meta = g.meta;
  std::vector<std::string> input_names;
  for (const InputDef& in : g.inputs) {
    input_names.push_back(in.name);
    f.meta.set("graph.input." + in.name + ".shape", std::vector<int64_t>{in.h, in.w, in.c});
  }
  f.meta.set("graph.inputs", input_names);
  f.meta.set("graph.outputs", g.outputs);
  f.meta.set("graph.node_count", int64_t(g.nodes.size()));
  for (std::size_t i = 0; i < g.nodes.size(); ++i) {
    const NodeDef& n = g.nodes[i];
    const std::string prefix = "node." + std::to_string(i) + ".";
    f.meta.set(prefix + "name", n.name);
    f.meta.set(prefix + "op", n.op);
    f.meta.set(prefix + "inputs", n.inputs);
    f.meta.set(prefix + "output", n.output);
    for (const auto& kv : n.attrs.values()) f.meta.set(prefix + kv.first, kv.second);
  }
  for (const auto& kv : g.weights) f.tensors.emplace(kv.first, kv.second.to_file());
  if (!g.tests.empty()) {
    f.meta.set("test.count", int64_t(g.tests.size()));
    f.meta.set("test.tolerance", g.test_tolerance);
    for (std::size_t k = 0; k < g.tests.size(); ++k) {
      const std::string prefix = "test." + std::to_string(k) + ".";
      for (const auto& kv : g.tests[k].inputs)
        f.tensors[prefix + "input." + kv.first] = detail::tensor_to_file(kv.second);
      for (const auto& kv : g.tests[k].outputs)
        f.tensors[prefix + "output." + kv.first] = detail::tensor_to_file(kv.second);
    }
  }
  return f;
}

}  // namespace mien
