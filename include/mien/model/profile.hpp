// Per-layer profile of a Model: runs the graph through Session::run_observed (the same
// liveness-planned arena, same scratch, same thread budget), and times every op with
// std::chrono over many repetitions of the whole graph, so that each layer sees the cache
// state it has in a real run. Reports per layer: time (median over repetitions), share of
// the total, MACs, GFLOP/s (2 flops per MAC) and GB/s (bytes of inputs + output / time,
// a lower bound on the traffic), plus a summary per op type and the median time of an
// uninstrumented Session::run for comparison.
//
//   mien::ProfileOptions opt;  opt.threads = 2;
//   mien::Profile p = mien::profile_model(model, {input.view()}, opt);
//   std::fputs(p.table(20).c_str(), stdout);   // 20 slowest layers, then per type
//
// Intended for tools and benchmarks (it allocates); never used on the inference path.
#pragma once

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <map>
#include <string>
#include <vector>

#include "mien/model/session.hpp"

namespace mien {

struct LayerTiming {
  int index = 0;  // step index in the model
  std::string name, type, describe;
  Shape output;
  int64_t macs = 0;
  int64_t bytes = 0;  // inputs + output, float32
  double ms = 0;      // median over repetitions
  double min_ms = 0;  // fastest repetition
  double gflops() const { return ms > 0 ? 2.0 * double(macs) / (ms * 1e6) : 0.0; }
  double gbytes() const { return ms > 0 ? double(bytes) / (ms * 1e6) : 0.0; }
};

struct TypeTiming {
  std::string type;  // op type, conv2d/depthwise split by kernel ("conv2d 1x1")
  int count = 0;
  double ms = 0;
  int64_t macs = 0;
  double gflops() const { return ms > 0 ? 2.0 * double(macs) / (ms * 1e6) : 0.0; }
};

struct ProfileOptions {
  int threads = 1;
  int warmup = 3;            // untimed runs of the whole graph first
  int min_repetitions = 20;  // timed runs of the whole graph
  double min_seconds = 1.0;  // ... and at least this long in total
  int max_repetitions = 100000;
};

struct Profile {
  std::vector<LayerTiming> layers;
  std::string model;  // origin
  Isa isa = Isa::Scalar;
  int threads = 1;
  int repetitions = 0;
  std::vector<Shape> input_shapes;
  double session_ms = 0;      // median of uninstrumented Session::run over the same repetitions
  double session_min_ms = 0;  // ... and the fastest of them

  double total_ms() const {
    double t = 0;
    for (const auto& l : layers) t += l.ms;
    return t;
  }
  int64_t total_macs() const {
    int64_t m = 0;
    for (const auto& l : layers) m += l.macs;
    return m;
  }

  // Layers sorted by time, slowest first.
  std::vector<LayerTiming> by_time() const {
    std::vector<LayerTiming> v = layers;
    std::stable_sort(v.begin(), v.end(),
                     [](const LayerTiming& a, const LayerTiming& b) { return a.ms > b.ms; });
    return v;
  }

  // Time per op type (conv2d, depthwise_conv2d and depthwise_pointwise split by kernel
  // size), slowest first.
  std::vector<TypeTiming> by_type() const {
    std::map<std::string, TypeTiming> m;
    for (const auto& l : layers) {
      std::string key = l.type;
      if (l.type == "conv2d" || l.type == "depthwise_conv2d" || l.type == "depthwise_pointwise") {
        const std::string k = l.describe.substr(0, l.describe.find_first_of(" /"));
        key += " " + k;
      }
      TypeTiming& t = m[key];
      t.type = key;
      ++t.count;
      t.ms += l.ms;
      t.macs += l.macs;
    }
    std::vector<TypeTiming> v;
    for (auto& kv : m) v.push_back(kv.second);
    std::stable_sort(v.begin(), v.end(),
                     [](const TypeTiming& a, const TypeTiming& b) { return a.ms > b.ms; });
    return v;
  }

  // Text report: header, per-layer table in graph order (or the `top` slowest layers,
  // slowest first, when top > 0), then the per-type summary.
  std::string table(std::size_t top = 0) const {
    std::string s;
    char line[512];
    std::string in;
    for (const Shape& sh : input_shapes) in += (in.empty() ? "" : ", ") + sh.str();
    const double total = total_ms();
    std::snprintf(line, sizeof line,
                  "# %s  input %s  isa %s  threads %d  repetitions %d%s\n"
                  "# sum of layers %.3f ms (median per layer), whole Session::run %.3f ms "
                  "median, %.3f ms min; %.1f MMAC, %.2f GFLOP/s at the median run\n",
                  model.c_str(), in.c_str(), isa_name(isa), threads, repetitions,
                  !input_shapes.empty() && input_shapes[0].n > 1 ? "  (batch run whole)" : "",
                  total, session_ms, session_min_ms, double(total_macs()) / 1e6,
                  session_ms > 0 ? 2.0 * double(total_macs()) / (session_ms * 1e6) : 0.0);
    s += line;
    std::snprintf(line, sizeof line, "%4s  %-19s %-36s %-18s %9s %6s %9s %8s %7s  %s\n", "#", "op",
                  "describe", "output", "ms", "%", "MMAC", "GFLOP/s", "GB/s", "name");
    s += line;
    const std::vector<LayerTiming> rows = top > 0 ? by_time() : layers;
    const std::size_t n = top > 0 ? std::min(top, rows.size()) : rows.size();
    for (std::size_t i = 0; i < n; ++i) {
      const LayerTiming& l = rows[i];
      std::snprintf(line, sizeof line, "%4d  %-19s %-36s %-18s %9.4f %6.2f %9.3f %8.2f %7.2f  %s\n",
                    l.index, l.type.c_str(), l.describe.substr(0, 36).c_str(),
                    l.output.str().c_str(), l.ms, total > 0 ? 100.0 * l.ms / total : 0.0,
                    double(l.macs) / 1e6, l.gflops(), l.gbytes(), l.name.c_str());
      s += line;
    }
    if (top > 0 && top < rows.size()) {
      double rest = 0;
      for (std::size_t i = top; i < rows.size(); ++i) rest += rows[i].ms;
      std::snprintf(line, sizeof line, "      (%zu more layers: %.4f ms, %.2f %%)\n",
                    rows.size() - top, rest, total > 0 ? 100.0 * rest / total : 0.0);
      s += line;
    }
    s += "# per op type\n";
    std::snprintf(line, sizeof line, "  %-26s %5s %9s %6s %9s %8s\n", "type", "count", "ms", "%",
                  "MMAC", "GFLOP/s");
    s += line;
    for (const TypeTiming& t : by_type()) {
      std::snprintf(line, sizeof line, "  %-26s %5d %9.4f %6.2f %9.3f %8.2f\n", t.type.c_str(),
                    t.count, t.ms, total > 0 ? 100.0 * t.ms / total : 0.0, double(t.macs) / 1e6,
                    t.gflops());
      s += line;
    }
    return s;
  }
};

namespace detail {

inline double median_of(std::vector<double> v) {
  if (v.empty()) return 0;
  std::sort(v.begin(), v.end());
  const std::size_t n = v.size();
  return n % 2 ? v[n / 2] : 0.5 * (v[n / 2 - 1] + v[n / 2]);
}

}  // namespace detail

inline Profile profile_model(const Model& model, const std::vector<ConstTensorView>& inputs,
                             const ProfileOptions& opt = {}) {
  using clock = std::chrono::steady_clock;
  MIEN_CHECK(inputs.size() == model.input_values().size(), "model takes ",
             model.input_values().size(), " input(s), got ", inputs.size());
  MIEN_CHECK(opt.threads >= 1, "thread count must be >= 1");
  std::vector<Shape> in_shapes;
  for (const auto& v : inputs) in_shapes.push_back(v.shape);
  // The instrumented session times each step through Session::run_observed, so the
  // profile runs exactly the plan and kernels a plain Session runs.
  // A batch runs whole here: a plain Session would run it image by image
  // (Session::set_split_batches), which has no per-layer plan of the batch to time; the
  // layers of that path are those of batch 1, so profile batch 1 for it.
  Session instrumented(model, opt.threads);
  instrumented.set_split_batches(false);
  instrumented.run(inputs);  // plans
  const std::vector<Shape>& shapes = instrumented.value_shapes();
  const auto& steps = model.steps();

  Profile p;
  p.model = model.origin();
  p.isa = model.isa();
  p.threads = opt.threads;
  p.input_shapes = in_shapes;
  std::vector<Shape> step_shapes;
  for (std::size_t s = 0; s < steps.size(); ++s) {
    const Step& st = steps[s];
    LayerTiming l;
    l.index = int(s);
    l.name = st.name;
    l.type = st.op->type();
    l.describe = st.op->describe();
    l.output = shapes[std::size_t(st.output)];
    step_shapes.clear();
    for (int v : st.inputs) step_shapes.push_back(shapes[std::size_t(v)]);
    l.macs = st.op->macs(step_shapes);
    int64_t elems = l.output.size();
    for (const Shape& sh : step_shapes) elems += sh.size();
    l.bytes = elems * int64_t(sizeof(float));
    p.layers.push_back(std::move(l));
  }

  std::vector<std::vector<double>> times(steps.size());
  auto run_all = [&](bool timed) {
    instrumented.run_observed(inputs, [&](std::size_t s, auto&& step) {
      const auto t0 = clock::now();
      step();
      if (timed)
        times[s].push_back(std::chrono::duration<double, std::milli>(clock::now() - t0).count());
    });
  };

  // The same model through a plain Session, alternating with the instrumented runs so that
  // both see the same machine load.
  Session session(model, opt.threads);
  session.set_split_batches(false);
  for (int i = 0; i < opt.warmup; ++i) {
    run_all(false);
    session.run(inputs);
  }
  std::vector<double> whole;
  const auto start = clock::now();
  int reps = 0;
  while (reps < opt.max_repetitions &&
         (reps < opt.min_repetitions ||
          std::chrono::duration<double>(clock::now() - start).count() < opt.min_seconds)) {
    run_all(true);
    const auto t0 = clock::now();
    session.run(inputs);
    whole.push_back(std::chrono::duration<double, std::milli>(clock::now() - t0).count());
    ++reps;
  }
  p.repetitions = reps;
  p.session_ms = detail::median_of(whole);
  p.session_min_ms = *std::min_element(whole.begin(), whole.end());
  for (std::size_t s = 0; s < steps.size(); ++s) {
    p.layers[s].ms = detail::median_of(times[s]);
    p.layers[s].min_ms = *std::min_element(times[s].begin(), times[s].end());
  }
  return p;
}

}  // namespace mien
