// Model: an immutable, compiled graph. Weights are packed once at load for one ISA; a
// Model is shared read-only by any number of threads, each running its own Session.
// Copying a Model is cheap (shared ownership of the compiled graph).
//
// Loading copies no weights before packing: the file is read once into one aligned
// buffer (embedded models and from_memory() bytes are used in place), the graph's
// weights are views of those bytes (BN folding copies the weights it rewrites), and once
// packed into the steps' ops the raw weights and the node list are dropped. Test vectors
// are read only with ModelOptions::test_vectors (mien check).
#pragma once

#include <map>
#include <memory>
#include <string>
#include <vector>

#include "mien/core/cpu.hpp"
#include "mien/model/format.hpp"
#include "mien/model/graph.hpp"
#include "mien/model/op_factory.hpp"
#include "mien/model/optimize.hpp"

namespace mien {

struct ModelOptions {
  bool force_isa = false;  // use `isa` instead of default_isa() (cpuid + MIEN_ISA)
  Isa isa = Isa::Scalar;
  bool optimize = true;  // fold batch norms and fuse activations at load
  // With optimize: run each depthwise conv and its 1x1 conv reader as one op
  // (ops/depthwise_pointwise.hpp); off where conv steps are observed (`mien quantize`).
  bool fuse_separable = true;
  // Read the file's test vectors into graph().tests (for check_test_vectors); otherwise
  // only their presence and shapes are checked.
  bool test_vectors = false;
};

// One compiled node: its op and the value slots it reads and writes.
struct Step {
  std::unique_ptr<Op> op;
  std::vector<int> inputs;
  int output = -1;
  std::string name;
};

class Model {
 public:
  Model() = default;
  // From a graph built in code (GraphBuilder) or read by graph_from_file/graph_from_view;
  // its weights need to live only until this constructor returns. Its test vectors are kept.
  explicit Model(GraphDef graph, const ModelOptions& options = {}, const std::string& origin = "")
      : Model(std::move(graph), options, origin, std::size_t(-1)) {}

  static Model load(const std::string& path, const ModelOptions& options = {}) {
    const AlignedBytes bytes = read_file_aligned(path);
    return from_memory(bytes.data(), bytes.size(), path, options);
  }
  // The bytes need to live only during the call (weights are packed, not referenced).
  static Model from_memory(const void* data, std::size_t size, const std::string& origin,
                           const ModelOptions& options = {}) {
    const MienView file = parse_mien_view(static_cast<const uint8_t*>(data), size, origin);
    GraphDef graph = graph_from_view(file, origin, options.test_vectors);
    const int64_t tests = file.meta.get_int("test.count", 0);  // type and range checked above
    return Model(std::move(graph), options, origin, std::size_t(tests));
  }

  bool loaded() const { return impl_ != nullptr; }
  // The model's interface: inputs, outputs, metadata (model.*, input.*, ...), test
  // tolerance, and test vectors if loaded with ModelOptions::test_vectors or given in the
  // GraphDef. Nodes and weights are not kept: steps() holds the packed ops.
  const GraphDef& graph() const { return impl().graph; }
  // Test vectors the model file declares (test.count), whether loaded or not.
  std::size_t test_vector_count() const { return impl().test_count; }
  const Metadata& metadata() const { return impl().graph.meta; }
  const std::string& origin() const { return impl().origin; }
  Isa isa() const { return impl().isa; }
  const std::vector<Step>& steps() const { return impl().steps; }
  int value_count() const { return int(impl().value_names.size()); }
  const std::string& value_name(int v) const { return impl().value_names.at(std::size_t(v)); }
  const std::vector<int>& input_values() const { return impl().input_values; }
  const std::vector<int>& output_values() const { return impl().output_values; }

  // Shape of every value for the given input shapes (throws naming the node that fails).
  std::vector<Shape> infer_shapes(const std::vector<Shape>& input_shapes) const {
    try {
      return infer_shapes_of(input_shapes);
    } catch (Error& e) {
      e.set_file(origin());  // a shape error must say which model it is about
      throw;
    }
  }

 private:
  std::vector<Shape> infer_shapes_of(const std::vector<Shape>& input_shapes) const {
    const Impl& m = impl();
    MIEN_CHECK(input_shapes.size() == m.input_values.size(), "model takes ", m.input_values.size(),
               " input(s), got ", input_shapes.size());
    std::vector<Shape> shapes(m.value_names.size());
    for (std::size_t i = 0; i < input_shapes.size(); ++i) {
      const InputDef& def = m.graph.inputs[i];
      const Shape& s = input_shapes[i];
      MIEN_CHECK(s.valid() && s.c == def.c && (def.h == -1 || s.h == def.h) &&
                     (def.w == -1 || s.w == def.w),
                 "input '", def.name, "' has shape ", s.str(), ", the model expects Nx",
                 def.h == -1 ? std::string("?") : std::to_string(def.h), "x",
                 def.w == -1 ? std::string("?") : std::to_string(def.w), "x", def.c);
      shapes[std::size_t(m.input_values[i])] = s;
    }
    std::vector<Shape> in;
    for (const Step& st : m.steps) {
      in.clear();
      for (int v : st.inputs) in.push_back(shapes[std::size_t(v)]);
      try {
        shapes[std::size_t(st.output)] = st.op->output_shape(in);
      } catch (Error& e) {
        std::string desc;
        for (const Shape& s : in) desc += (desc.empty() ? "inputs " : ", ") + s.str();
        e.set_node(st.name);
        e.set_shapes(desc);
        throw;
      }
    }
    return shapes;
  }

 public:
  // Shapes for a batch of one at the declared input size (dynamic sizes use `fallback`).
  std::vector<Shape> nominal_input_shapes(int fallback = 256) const {
    return nominal_input_shapes(fallback, fallback);
  }
  std::vector<Shape> nominal_input_shapes(int fallback_h, int fallback_w) const {
    std::vector<Shape> s;
    for (const InputDef& d : impl().graph.inputs)
      s.emplace_back(1, d.h > 0 ? d.h : fallback_h, d.w > 0 ? d.w : fallback_w, d.c);
    return s;
  }

  int64_t macs(const std::vector<Shape>& input_shapes) const {
    const std::vector<Shape> shapes = infer_shapes(input_shapes);
    int64_t total = 0;
    std::vector<Shape> in;
    for (const Step& st : impl().steps) {
      in.clear();
      for (int v : st.inputs) in.push_back(shapes[std::size_t(v)]);
      total += st.op->macs(in);
    }
    return total;
  }

  int64_t parameters() const {
    int64_t total = 0;
    for (const Step& st : impl().steps) total += st.op->parameters();
    return total;
  }

 private:
  // test_count: declared test vectors, or -1 for "as many as the graph holds".
  Model(GraphDef graph, const ModelOptions& options, const std::string& origin,
        std::size_t test_count)
      : impl_(std::make_shared<Impl>(std::move(graph), options, origin, test_count)) {}

  struct Impl {
    GraphDef graph;
    std::string origin;
    Isa isa = Isa::Scalar;
    std::vector<Step> steps;
    std::vector<std::string> value_names;
    std::vector<int> input_values, output_values;
    std::size_t test_count = 0;

    Impl(GraphDef g, const ModelOptions& options, const std::string& from, std::size_t tests)
        : graph(std::move(g)), origin(from) {
      test_count = tests == std::size_t(-1) ? graph.tests.size() : tests;
      try {
        isa = options.force_isa ? options.isa : default_isa();
        MIEN_CHECK(cpu_supports(isa), "ISA ", isa_name(isa), " requested on a CPU without it");
        validate_graph(graph);
        if (options.optimize) {
          OptimizeOptions opt;
          opt.fuse_separable = options.fuse_separable;
          optimize_graph(graph, opt);
        }
        std::map<std::string, int> ids;
        auto id_of = [&](const std::string& name) {
          auto it = ids.find(name);
          if (it != ids.end()) return it->second;
          const int id = int(value_names.size());
          value_names.push_back(name);
          ids.emplace(name, id);
          return id;
        };
        for (const InputDef& in : graph.inputs) input_values.push_back(id_of(in.name));
        for (const NodeDef& n : graph.nodes) {
          Step st;
          st.op = make_op(graph, n, isa);
          for (const std::string& i : n.inputs) st.inputs.push_back(id_of(i));
          st.output = id_of(n.output);
          st.name = n.name;
          MIEN_CHECK(st.op->num_inputs() < 0 || st.op->num_inputs() == int(st.inputs.size()),
                     "node '", n.name, "' (", n.op, ") takes ", st.op->num_inputs(),
                     " input(s), got ", st.inputs.size());
          steps.push_back(std::move(st));
        }
        for (const std::string& o : graph.outputs) output_values.push_back(id_of(o));
        // Packed: the raw weights (views of the file, or copies BN folding made) and the
        // node list are no longer needed.
        graph.weights.clear();
        graph.nodes.clear();
      } catch (Error& e) {
        e.set_file(from);
        throw;
      }
    }
  };
  const Impl& impl() const {
    MIEN_CHECK(impl_ != nullptr, "model is not loaded");
    return *impl_;
  }
  std::shared_ptr<const Impl> impl_;
};

}  // namespace mien
