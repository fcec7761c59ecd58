// Post-training static quantization of a float graph (`mien quantize`): every conv2d worth
// it becomes a qconv2d (ops/qconv2d.hpp) with int8 weights, per output channel scales, and
// an input scale / zero point calibrated on images run through the float model.
//
//   1. Batch norms and activations are folded first (optimize_graph without residual
//      fusion: a file's conv has one input), so the weights quantized are the ones run.
//   2. Channel equalization (detail::equalize_inputs, on by default): where a float conv's
//      output feeds only a conv to be quantized, its channels' ranges are evened out by
//      scales moved into the consumer's weights.
//   3. Calibration: the float model runs every calibration batch; each conv's input is
//      observed (Session::run_observed). Its range is the min/max (method minmax) or, by
//      default, the percentile range of a 4096-bin histogram of the values (method
//      percentile): a few outliers then do not stretch the scale over the many small
//      values; method mse picks the range with the least expected squared error (clipping
//      plus rounding) over that histogram. The range always contains 0 (so padding is
//      exact) and gives a uint8 scale and zero point.
//   4. Weights: symmetric per output channel, scale = max|w| / 127.
//   5. Test vectors: outputs of the quantized graph under the scalar kernels on the first
//      calibration inputs, so `mien check` verifies the fast int8 kernels against them
//      (tolerance 0.02: see the end of quantize_graph).
#pragma once

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include "mien/core/error.hpp"
#include "mien/core/tensor.hpp"
#include "mien/kernels/q8.hpp"
#include "mien/model/graph.hpp"
#include "mien/model/model.hpp"
#include "mien/model/optimize.hpp"
#include "mien/model/session.hpp"

namespace mien {

struct QuantizeOptions {
  std::string method = "percentile";  // or "minmax", "mse"
  double percentile = 99.999;         // percentile: share of each tail kept, in percent
  // Convs with fewer products per output (KH*KW*Cin) or fewer output channels stay float:
  // quantizing the input and converting the result back cost about what int8 saves on them
  // (measured: 1x1 32->32 and 3x3 8->8 ran no faster or slower in int8), and such first
  // layers read raw pixels, where the error is largest.
  int min_k = 64;
  int min_cout = 16;
  std::vector<std::string> skip;  // conv node names to keep in float
  int test_vectors = 2;           // calibration inputs stored as test vectors
  // Channel equalization strength (0 = off, 1 = every input channel to the widest range):
  // see detail::equalize_inputs.
  double equalize = 1.0;
};

struct QuantizedLayer {
  std::string name;
  int64_t k = 0;             // products per output
  float lo = 0.f, hi = 0.f;  // the calibrated input range
  Q8Input input;
  bool quantized = false;
  std::string why;  // why a conv stayed float
};

struct QuantizeResult {
  GraphDef graph;
  std::vector<QuantizedLayer> layers;
  int64_t images = 0;
  std::vector<std::string> equalized;  // int8 convs whose input channels were equalized
};

namespace detail {

// Range statistics of one conv input over the calibration set.
struct RangeStats {
  double lo = 0.0, hi = 0.0;  // running min / max (0 included)
  std::vector<int64_t> bins;  // second pass: histogram over [lo, hi]
  static constexpr int kBins = 4096;

  void observe_range(const ConstTensorView& t) {
    const int64_t n = t.shape.size();
    for (int64_t i = 0; i < n; ++i) {
      const float v = t.data[i];
      if (!std::isfinite(v)) continue;
      lo = std::min(lo, double(v));
      hi = std::max(hi, double(v));
    }
  }
  void observe_histogram(const ConstTensorView& t) {
    if (bins.empty()) bins.assign(kBins, 0);
    const int64_t n = t.shape.size();
    const double w = (hi - lo) / kBins;
    if (w <= 0) return;
    for (int64_t i = 0; i < n; ++i) {
      const float v = t.data[i];
      if (!std::isfinite(v)) continue;
      const int b = std::min(kBins - 1, std::max(0, int((double(v) - lo) / w)));
      ++bins[std::size_t(b)];
    }
  }
  // [lo, hi] clipped to keep `keep` percent of each tail's side (by histogram bins).
  std::pair<double, double> percentile_range(double keep) const {
    if (bins.empty() || hi <= lo) return {lo, hi};
    int64_t total = 0;
    for (int64_t c : bins) total += c;
    const double w = (hi - lo) / kBins;
    const double cut = total * (100.0 - keep) / 100.0;
    double a = lo, b = hi;
    int64_t acc = 0;
    for (int i = 0; i < kBins; ++i) {
      acc += bins[std::size_t(i)];
      if (double(acc) > cut) {
        a = lo + i * w;
        break;
      }
    }
    acc = 0;
    for (int i = kBins - 1; i >= 0; --i) {
      acc += bins[std::size_t(i)];
      if (double(acc) > cut) {
        b = lo + (i + 1) * w;
        break;
      }
    }
    return {std::min(a, 0.0), std::max(b, 0.0)};
  }
  // The [a, b] within [lo, hi] (each end shrunk towards 0 on a grid) whose uint8
  // quantization has the least expected squared error over the histogram: values outside
  // are clipped, values inside are off by a uniform rounding error (step^2 / 12).
  std::pair<double, double> mse_range() const {
    if (bins.empty() || hi <= lo) return {lo, hi};
    const double w = (hi - lo) / kBins;
    constexpr int kSteps = 40;
    double best = -1, best_a = lo, best_b = hi;
    for (int i = 0; i <= kSteps; ++i) {
      const double a = lo * (0.2 + 0.8 * i / kSteps);
      for (int j = 0; j <= kSteps; ++j) {
        const double b = hi * (0.2 + 0.8 * j / kSteps);
        const double step = (b - a) / 255.0;
        double err = 0;
        for (int k = 0; k < kBins; ++k) {
          const int64_t c = bins[std::size_t(k)];
          if (!c) continue;
          const double x = lo + (k + 0.5) * w;
          const double d = x < a ? a - x : x > b ? x - b : 0.0;
          err += double(c) * (d > 0 ? d * d : step * step / 12.0);
        }
        if (best < 0 || err < best) {
          best = err;
          best_a = a;
          best_b = b;
        }
      }
    }
    return {std::min(best_a, 0.0), std::max(best_b, 0.0)};
  }
};

// uint8 scale and zero point for [lo, hi] (lo <= 0 <= hi): 0.0 maps to an integer exactly.
inline Q8Input q8_input_for_range(double lo, double hi) {
  lo = std::min(lo, 0.0);
  hi = std::max(hi, 0.0);
  Q8Input q;
  if (hi - lo < 1e-30) return q;  // all zeros: any scale
  q.scale = float((hi - lo) / 255.0);
  q.zero_point = int(std::lround(-lo / double(q.scale)));
  q.zero_point = std::max(0, std::min(255, q.zero_point));
  return q;
}

// Channel equalization (Nagel et al. 2019, "Data-free quantization", section 4.1, here with
// calibrated ranges): one uint8 scale serves all channels of a conv's input, so a channel
// whose values span a tenth of the widest one's range keeps only ~25 of the 256 levels.
// When that input is the output of a float producer (depthwise conv, conv) read by nothing
// else, and the producer's activation is none or relu (relu(x / s) = relu(x) / s for s > 0),
// channel k of it is divided by s_k (the producer's weights and bias of channel k) and the
// consumer's weights that read channel k are multiplied by s_k: the float function is the
// same, but the channels' ranges come closer, s_k = (r_k / r_max)^alpha with r_k the
// channel's largest |value| over the calibration inputs. alpha = 1 makes every range
// r_max, and shrinks the consumer's weights of narrow channels the most, which then lose
// precision in their per-output-channel int8 scale; alpha between trades the two errors.
inline std::vector<std::string> equalize_inputs(GraphDef& g, const std::vector<std::string>& convs,
                                                const std::vector<Tensor>& calibration,
                                                double alpha) {
  const std::map<std::string, int> readers = count_readers(g);
  std::map<std::string, std::size_t> producer_of;
  for (std::size_t i = 0; i < g.nodes.size(); ++i) producer_of[g.nodes[i].output] = i;
  // consumer name -> producer node index, for the pairs that can be equalized.
  std::map<std::string, std::size_t> pairs;
  for (const std::string& name : convs) {
    const NodeDef* c = nullptr;
    for (const NodeDef& n : g.nodes)
      if (n.name == name) c = &n;
    if (!c || c->inputs.size() != 1) continue;
    auto p = producer_of.find(c->inputs[0]);
    auto r = readers.find(c->inputs[0]);
    if (p == producer_of.end() || r == readers.end() || r->second != 1) continue;
    const NodeDef& prod = g.nodes[p->second];
    if (prod.op != "depthwise_conv2d" && prod.op != "conv2d") continue;
    const std::string act = prod.attrs.get_string("activation", "none");
    if (act != "none" && act != "relu") continue;
    const WeightTensor* pw = g.find_weight(prod.name, "weight");
    const WeightTensor* cw = g.find_weight(c->name, "weight");
    if (!pw || !cw || pw->dims.empty() || cw->dims.size() != 4 || pw->dims.back() != cw->dims[2])
      continue;
    pairs[name] = p->second;
  }
  std::vector<std::string> done;
  if (pairs.empty()) return done;

  // Per-channel largest |value| of each consumer's input, over the calibration inputs.
  std::map<std::string, std::vector<double>> range;
  {
    ModelOptions mo;
    mo.fuse_separable = false;
    Model model(g, mo);
    Session session(model, 1);
    const auto& steps = model.steps();
    for (const Tensor& input : calibration) {
      session.run_observed({input.view()}, [&](std::size_t s, auto&& step) {
        if (pairs.count(steps[s].name) && std::string(steps[s].op->type()) == "conv2d") {
          const ConstTensorView t = session.step_input(0);
          const int64_t channels = t.shape.c, n = t.shape.size();
          std::vector<double>& r = range[steps[s].name];
          if (r.empty()) r.assign(std::size_t(channels), 0.0);
          for (int64_t i = 0; i < n; ++i) {
            const double v = std::fabs(double(t.data[i]));
            double& m = r[std::size_t(i % channels)];
            if (std::isfinite(v) && v > m) m = v;
          }
        }
        step();
      });
    }
  }

  for (const auto& kv : pairs) {
    auto it = range.find(kv.first);
    if (it == range.end()) continue;
    const std::vector<double>& r = it->second;
    const double r_max = *std::max_element(r.begin(), r.end());
    if (!(r_max > 0)) continue;
    std::vector<float> s(r.size(), 1.f);
    for (std::size_t k = 0; k < r.size(); ++k)
      if (r[k] > 0) s[k] = float(std::max(1e-4, std::pow(r[k] / r_max, alpha)));
    NodeDef& prod = g.nodes[kv.second];
    const int64_t channels = int64_t(s.size());
    std::vector<float>& pw = g.weights[prod.name + "/weight"].mutable_values();
    for (std::size_t i = 0; i < pw.size(); ++i) pw[i] /= s[i % std::size_t(channels)];
    auto bit = g.weights.find(prod.name + "/bias");
    if (bit != g.weights.end()) {
      std::vector<float>& b = bit->second.mutable_values();
      for (std::size_t k = 0; k < b.size(); ++k) b[k] /= s[k];
    }
    WeightTensor& cwt = g.weights[kv.first + "/weight"];
    const int64_t cout = cwt.dims[3];
    std::vector<float>& cw = cwt.mutable_values();  // HWIO: [kh][kw][cin][cout]
    for (std::size_t i = 0; i < cw.size(); ++i)
      cw[i] *= s[(i / std::size_t(cout)) % std::size_t(channels)];
    done.push_back(kv.first);
  }
  return done;
}

}  // namespace detail

// `graph`: a float graph (weights alive until this returns); `calibration`: model inputs
// (one tensor per graph input, for single-input models a batch of images each).
inline QuantizeResult quantize_graph(const GraphDef& graph, const std::vector<Tensor>& calibration,
                                     const QuantizeOptions& opt = {}) {
  MIEN_CHECK(!calibration.empty(), "quantize: no calibration inputs");
  MIEN_CHECK(graph.inputs.size() == 1, "quantize: models with ", graph.inputs.size(),
             " inputs are not supported (one image input expected)");
  MIEN_CHECK(opt.method == "minmax" || opt.method == "percentile" || opt.method == "mse",
             "quantize: unknown method '", opt.method, "' (minmax, percentile or mse)");
  MIEN_CHECK(opt.percentile > 50.0 && opt.percentile <= 100.0, "quantize: percentile ",
             opt.percentile, " is outside (50, 100]");
  QuantizeResult result;
  result.graph = graph;
  GraphDef& g = result.graph;
  g.tests.clear();
  OptimizeOptions file_opt;
  file_opt.fuse_residual = false;
  file_opt.fuse_separable = false;
  optimize_graph(g, file_opt);

  // The convs to quantize, by node name.
  std::map<std::string, QuantizedLayer> layers;
  for (const NodeDef& n : g.nodes) {
    if (n.op != "conv2d") continue;
    QuantizedLayer l;
    l.name = n.name;
    const WeightTensor& w = g.weight(n.name, "weight");
    MIEN_CHECK(w.dims.size() == 4, "quantize: conv2d '", n.name, "' weight rank ", w.dims.size());
    l.k = w.dims[0] * w.dims[1] * w.dims[2];
    if (std::find(opt.skip.begin(), opt.skip.end(), n.name) != opt.skip.end())
      l.why = "--skip";
    else if (l.k < opt.min_k)
      l.why = "K = " + std::to_string(l.k) + " < " + std::to_string(opt.min_k);
    else if (w.dims[3] < opt.min_cout)
      l.why = std::to_string(w.dims[3]) + " output channels < " + std::to_string(opt.min_cout);
    layers[n.name] = l;
  }

  if (opt.equalize > 0) {
    std::vector<std::string> to_quantize;
    for (const auto& kv : layers)
      if (kv.second.why.empty()) to_quantize.push_back(kv.first);
    result.equalized = detail::equalize_inputs(g, to_quantize, calibration, opt.equalize);
  }

  // Calibration: the float model (with the default fusions, as it runs) observes the first
  // input of every conv step whose node is to be quantized.
  ModelOptions mo;
  mo.fuse_separable = false;  // the pointwise convs' own inputs are observed
  Model model(g, mo);
  Session session(model, 1);
  std::map<std::string, detail::RangeStats> stats;
  const auto& steps = model.steps();
  auto observe = [&](bool histogram) {
    for (const Tensor& input : calibration) {
      session.run_observed({input.view()}, [&](std::size_t s, auto&& step) {
        auto it = layers.find(steps[s].name);
        if (it != layers.end() && it->second.why.empty() &&
            std::string(steps[s].op->type()) == "conv2d") {
          detail::RangeStats& st = stats[steps[s].name];
          if (histogram)
            st.observe_histogram(session.step_input(0));
          else
            st.observe_range(session.step_input(0));
        }
        step();
      });
      if (!histogram) result.images += input.shape().n;
    }
  };
  observe(false);
  if (opt.method != "minmax") observe(true);

  for (NodeDef& n : g.nodes) {
    auto it = layers.find(n.name);
    if (it == layers.end()) continue;
    QuantizedLayer& l = it->second;
    if (l.why.empty() && !stats.count(n.name)) l.why = "not reached by the calibration inputs";
    if (!l.why.empty()) continue;
    const detail::RangeStats& st = stats[n.name];
    std::pair<double, double> range{st.lo, st.hi};
    if (opt.method == "percentile") range = st.percentile_range(opt.percentile);
    if (opt.method == "mse") range = st.mse_range();
    l.lo = float(range.first);
    l.hi = float(range.second);
    l.input = detail::q8_input_for_range(range.first, range.second);
    // Weights: HWIO flattened is [K][Cout].
    const WeightTensor& w = g.weight(n.name, "weight");
    const int cout = int(w.dims[3]);
    std::vector<int8_t> q(std::size_t(w.count()));
    std::vector<float> scale(static_cast<std::size_t>(cout));
    q8_quantize_weights(int(l.k), cout, w.data(), cout, q.data(), scale.data());
    FileTensor qt;
    qt.dims = w.dims;
    qt.data.assign(q.begin(), q.end());
    qt.dtype = DType::I8;
    FileTensor st_scale;
    st_scale.dims = {cout};
    st_scale.data = scale;
    g.weights[n.name + "/weight"] = WeightTensor(std::move(qt));
    g.weights[n.name + "/weight_scale"] = WeightTensor(std::move(st_scale));
    n.op = "qconv2d";
    n.attrs.set("input_scale", double(l.input.scale));
    n.attrs.set("input_zero_point", int64_t(l.input.zero_point));
    l.quantized = true;
  }
  for (auto& kv : layers) result.layers.push_back(kv.second);

  // Test vectors from the scalar kernels.
  ModelOptions scalar;
  scalar.force_isa = true;
  scalar.isa = Isa::Scalar;
  Model qmodel(g, scalar);
  Session qs(qmodel, 1);
  const std::string& in_name = g.inputs[0].name;
  for (int i = 0; i < opt.test_vectors && i < int(calibration.size()); ++i) {
    const Tensor& x = calibration[std::size_t(i)];
    const auto& outs = qs.run(std::vector<ConstTensorView>{x.view()});
    TestVector tv;
    tv.inputs.emplace(in_name, x.clone());
    for (std::size_t o = 0; o < outs.size(); ++o)
      tv.outputs.emplace(g.outputs[o], Tensor(outs[o].shape, outs[o].data));
    g.tests.push_back(std::move(tv));
  }
  // Not 1e-4 as for float models: the float layers between the int8 ones differ in their
  // last bits from one kernel set to another, and where such a value lies on a rounding
  // boundary of the next layer's quantization its byte moves by one. On the shipped
  // classifiers that moved probabilities by up to 0.0056 (32-image test batches, scalar vs
  // AVX2/AVX-512); a wrong kernel moves them by far more.
  g.test_tolerance = 0.02;
  return result;
}

}  // namespace mien
