// Runs a model's embedded test vectors (outputs of its original runtime) and reports the
// largest error, as `mien check` and the fidelity tests do.
#pragma once

#include <algorithm>
#include <cmath>
#include <string>
#include <vector>

#include "mien/model/session.hpp"

namespace mien {

struct OutputCheck {
  int test = 0;
  std::string output;
  double max_abs = 0, max_rel = 0;  // rel: |a-b| / max(1, |b|)
  bool shape_ok = true;
};

struct CheckReport {
  std::vector<OutputCheck> outputs;
  double tolerance = 0;
  bool passed() const {
    return std::all_of(outputs.begin(), outputs.end(),
                       [&](const OutputCheck& o) { return o.shape_ok && o.max_rel <= tolerance; });
  }
  double worst_rel() const {
    double w = 0;
    for (const auto& o : outputs) w = std::max(w, o.shape_ok ? o.max_rel : INFINITY);
    return w;
  }
};

// The model must hold its test vectors: built from a GraphDef with them, or loaded with
// ModelOptions::test_vectors (plain loads skip them: they can outweigh the weights).
inline CheckReport check_test_vectors(const Model& model, int threads = 1) {
  const GraphDef& g = model.graph();
  if (g.tests.size() < model.test_vector_count()) {
    Error e("the model's " + std::to_string(model.test_vector_count()) +
            " test vector(s) were not loaded: load it with ModelOptions::test_vectors = true");
    e.set_file(model.origin());
    throw e;
  }
  CheckReport report;
  report.tolerance = g.test_tolerance;
  Session session(model, threads);
  for (std::size_t k = 0; k < g.tests.size(); ++k) {
    const TestVector& tv = g.tests[k];
    // A broken vector must name the file and the vector, not surface as "map::at".
    const std::string where =
        "test vector " + std::to_string(k) + " (tensors test." + std::to_string(k) + ".*)";
    auto fail = [&](const std::string& what) {
      Error e(where + ": " + what);
      e.set_file(model.origin());
      throw e;
    };
    std::vector<ConstTensorView> inputs;
    for (const InputDef& in : g.inputs) {
      const auto it = tv.inputs.find(in.name);
      if (it == tv.inputs.end()) fail("has no input '" + in.name + "'");
      inputs.push_back(it->second.view());
    }
    for (const std::string& name : g.outputs)
      if (!tv.outputs.count(name)) fail("has no output '" + name + "'");
    const std::vector<ConstTensorView>* run = nullptr;
    try {
      run = &session.run(inputs);
    } catch (Error& e) {
      Error wrapped(where + ": " + e.what());
      wrapped.set_file(model.origin());
      throw wrapped;
    }
    const auto& outs = *run;
    for (std::size_t o = 0; o < g.outputs.size(); ++o) {
      OutputCheck c;
      c.test = int(k);
      c.output = g.outputs[o];
      const Tensor& ref = tv.outputs.at(g.outputs[o]);
      c.shape_ok = ref.shape() == outs[o].shape;
      if (c.shape_ok) {
        for (int64_t i = 0; i < ref.size(); ++i) {
          const double d = std::fabs(double(outs[o].data[i]) - double(ref.data()[i]));
          c.max_abs = std::max(c.max_abs, d);
          c.max_rel = std::max(c.max_rel, d / std::max(1.0, std::fabs(double(ref.data()[i]))));
          if (std::isnan(outs[o].data[i]) != std::isnan(ref.data()[i])) c.max_rel = INFINITY;
        }
      }
      report.outputs.push_back(c);
    }
  }
  return report;
}

}  // namespace mien
