// `mien info` and `mien check`: what a model file holds, and whether mien reproduces the
// outputs of the model's original runtime stored in it.
#pragma once

#include <algorithm>
#include <array>
#include <cstdio>
#include <string>
#include <vector>

#include "mien/mien.hpp"
#include "tools/cli/args.hpp"

namespace mien::cli {

inline ModelOptions isa_options(const ArgParser& args) {
  ModelOptions o;
  const std::string isa = args.get("--isa");
  if (isa == "scalar" || isa == "avx2" || isa == "avx512") {
    o.force_isa = true;
    o.isa = isa == "avx512" ? Isa::Avx512 : isa == "avx2" ? Isa::Avx2 : Isa::Scalar;
    if (!cpu_supports(o.isa)) throw Error("--isa " + isa + ": this CPU lacks it");
  } else if (isa != "auto") {
    throw UsageError("--isa must be auto, scalar, avx2 or avx512");
  }
  return o;
}

inline std::string human_count(double v) {
  char buf[32];
  if (v >= 1e9)
    std::snprintf(buf, sizeof buf, "%.2fG", v / 1e9);
  else if (v >= 1e6)
    std::snprintf(buf, sizeof buf, "%.2fM", v / 1e6);
  else if (v >= 1e3)
    std::snprintf(buf, sizeof buf, "%.1fK", v / 1e3);
  else
    std::snprintf(buf, sizeof buf, "%.0f", v);
  return buf;
}

inline int cmd_info(const std::vector<std::string>& argv) {
  ArgParser args("mien info [options] MODEL.mien...",
                 "Show a model's inputs, outputs, layers, parameter count, multiply-accumulates\n"
                 "per inference (batch 1) and metadata.");
  args.flag("--no-layers", "do not list the layers")
      .option("--size", "HxW", "input size used for shapes and MACs when the model accepts any",
              "256x256")
      .option("--isa", "ISA", "kernels to load: auto, scalar, avx2 or avx512", "auto");
  if (!args.parse(argv)) return 0;
  if (args.positional().empty()) throw UsageError("mien info needs a MODEL.mien");
  int fallback_h = 256, fallback_w = 256;
  {
    const std::string size = args.get("--size");
    int h = 0, w = 0;
    if (std::sscanf(size.c_str(), "%dx%d", &h, &w) != 2 || h < 1 || w < 1 || h > 8192 || w > 8192)
      throw UsageError("--size must look like 256x256");
    fallback_h = h;
    fallback_w = w;  // was ignored: HxW used H for both
  }
  for (const std::string& path : args.positional()) {
    const Model model = Model::load(path, isa_options(args));
    const GraphDef& g = model.graph();
    std::printf("%s\n", path.c_str());
    std::printf("  kernels      %s\n", isa_name(model.isa()));
    for (const auto& kv : g.meta.values())
      std::printf("  %-28s %s\n", kv.first.c_str(), format_value(kv.second).c_str());
    const std::vector<Shape> in_shapes = model.nominal_input_shapes(fallback_h, fallback_w);
    const std::vector<Shape> shapes = model.infer_shapes(in_shapes);
    for (std::size_t i = 0; i < g.inputs.size(); ++i) {
      const InputDef& d = g.inputs[i];
      std::printf("  input  %-20s N x %s x %s x %d\n", d.name.c_str(),
                  d.h < 0 ? "?" : std::to_string(d.h).c_str(),
                  d.w < 0 ? "?" : std::to_string(d.w).c_str(), d.c);
    }
    for (int v : model.output_values())
      std::printf("  output %-20s %s\n", model.value_name(v).c_str(),
                  shapes[std::size_t(v)].str().c_str());
    if (!args.has("--no-layers")) {
      // Columns as wide as their longest cell: layer names run from "fc" to 46 characters
      // ("model_1/batch_normalization_1/FusedBatchNormV3") and op types to 19
      // ("depthwise_pointwise"), so fixed widths broke the alignment.
      using Row = std::array<std::string, 7>;
      std::vector<Row> rows = {{"#", "layer", "op", "parameters", "output", "weights", "MACs"}};
      int idx = 0;
      std::vector<Shape> in;
      for (const Step& st : model.steps()) {
        in.clear();
        for (int v : st.inputs) in.push_back(shapes[std::size_t(v)]);
        rows.push_back({std::to_string(idx++), st.name, st.op->type(), st.op->describe(),
                        shapes[std::size_t(st.output)].str(),
                        human_count(double(st.op->parameters())),
                        human_count(double(st.op->macs(in)))});
      }
      std::array<int, 7> width{};
      for (const Row& r : rows)
        for (std::size_t c = 0; c < r.size(); ++c) width[c] = std::max(width[c], int(r[c].size()));
      for (const Row& r : rows)
        std::printf("  %-*s %-*s %-*s %-*s %-*s %*s %*s\n", width[0], r[0].c_str(), width[1],
                    r[1].c_str(), width[2], r[2].c_str(), width[3], r[3].c_str(), width[4],
                    r[4].c_str(), width[5], r[5].c_str(), width[6], r[6].c_str());
    }
    std::printf("  layers %zu, parameters %s, MACs %s per inference, test vectors %zu\n",
                model.steps().size(), human_count(double(model.parameters())).c_str(),
                human_count(double(model.macs(in_shapes))).c_str(), model.test_vector_count());
  }
  return 0;
}

inline int cmd_check(const std::vector<std::string>& argv) {
  ArgParser args("mien check [options] MODEL.mien...",
                 "Run the test vectors embedded in each model (inputs and outputs recorded from\n"
                 "the model's original runtime) and compare. Exit status 1 if any output differs\n"
                 "by more than the model's tolerance, or a model has no test vectors.");
  args.option("--threads", "N", "threads per inference", "1")
      .option("--isa", "ISA", "kernels: auto, scalar, avx2 or avx512", "auto");
  if (!args.parse(argv)) return 0;
  if (args.positional().empty()) throw UsageError("mien check needs a MODEL.mien");
  const int threads = args.get_int("--threads", 1, 256);
  bool all_ok = true;
  for (const std::string& path : args.positional()) {
    ModelOptions options = isa_options(args);
    options.test_vectors = true;
    const Model model = Model::load(path, options);
    if (model.graph().tests.empty()) {
      std::printf("%s: FAIL no test vectors to check\n", path.c_str());
      all_ok = false;
      continue;
    }
    const CheckReport r = check_test_vectors(model, threads);
    for (const OutputCheck& o : r.outputs) {
      if (!o.shape_ok)
        std::printf("%s: test %d output %s: shape differs from the reference\n", path.c_str(),
                    o.test, o.output.c_str());
    }
    double worst_abs = 0;
    for (const OutputCheck& o : r.outputs) worst_abs = std::max(worst_abs, o.max_abs);
    std::printf(
        "%s: %s %zu test vector(s), %s kernels, max abs error %.3g, max rel error %.3g "
        "(tolerance %.3g)\n",
        path.c_str(), r.passed() ? "ok" : "FAIL", model.graph().tests.size(), isa_name(model.isa()),
        worst_abs, r.worst_rel(), r.tolerance);
    all_ok = all_ok && r.passed();
  }
  return all_ok ? 0 : 1;
}

}  // namespace mien::cli
