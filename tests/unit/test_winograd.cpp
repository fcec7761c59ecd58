// Winograd 3x3 conv (ops/conv2d_winograd.hpp, kernels/body/winograd.inl) against the naive
// conv: awkward shapes under every ISA, the load-time rule, scratch planned for another
// thread count, and the error on the real 3x3 stride-1 layers of the shipped and PyTorch
// models (reported per layer; the models' own fidelity is tests/golden).
#include <algorithm>
#include <cmath>
#include <random>
#include <string>
#include <vector>

#include "mien/mien.hpp"
#include "test_util.hpp"

namespace mien {
namespace {

std::string source_path(const std::string& rel) {
  return std::string(MIEN_SOURCE_DIR) + "/" + rel;
}

Tensor run_conv(const Op& op, const Tensor& in, int plan_threads, int run_threads) {
  Tensor out(op.output_shape({in.shape()}));
  AlignedBuffer scratch(std::max<std::size_t>(op.scratch_floats({in.shape()}, plan_threads), 1));
  RunContext ctx;
  ctx.threads = run_threads;
  ctx.scratch = scratch.data();
  ctx.scratch_size = scratch.size();
  const ConstTensorView view = in.view();
  op.run(&view, out.view(), ctx);
  return out;
}

// |d| / max(1, |ref|), the conv tests' measure (outputs here are O(1)). F(2x2, 3x3) measured
// below 8e-7 up to Cin 256.
constexpr double kWino2Tolerance = 2e-6;
// F(4x4, 3x3) multiplies by B^T / A^T entries up to 5 and 8, so its rounding error is an order
// of magnitude above the direct sum's: 4-6e-6 measured for Cin <= 33 (the cases below; the
// load-time rule gives F(4x4) only to Cin <= 32, tuning::kWinograd4MaxCin). The bound is the
// conv tests' own.
constexpr double kWino4Tolerance = 1e-5;

struct WinoCase {
  int n, h, w, cin, cout;
  Padding pad;
  int act;  // index into activations()
};

std::vector<Activation> activations(int channels, std::mt19937& rng) {
  return {Activation::none(),
          Activation::relu(),
          Activation::relu6(),
          Activation::clip(-0.25f, 0.5f),
          Activation::leaky_relu(0.1f),
          Activation::prelu(test::random_vector(std::size_t(channels), rng, 0.f, 0.5f)),
          Activation::of(ActKind::Sigmoid)};
}

// Returns the max |d| / max(1, |ref|) of one case, or -1 when it has no output.
double wino_error(const WinoCase& c, ConvAlgo algo, Isa isa, int threads, std::mt19937& rng) {
  ConvParams p;
  p.padding = c.pad;
  p.activation = activations(c.cout, rng)[std::size_t(c.act)];
  const int fan_in = 9 * c.cin;
  const float s = 1.f / std::sqrt(float(fan_in));
  const auto weight = test::random_vector(std::size_t(fan_in * c.cout), rng, -s, s);
  const auto bias = test::random_vector(std::size_t(c.cout), rng);
  const float* b = c.act % 2 ? bias.data() : nullptr;
  const Conv2d op(3, 3, c.cin, c.cout, weight.data(), b, p, isa, false, algo);
  REQUIRE(op.winograd_tile() == (algo == ConvAlgo::Winograd4 ? 4 : 2));
  const Tensor in = test::random_tensor(Shape(c.n, c.h, c.w, c.cin), rng);
  Shape out_shape;
  try {
    out_shape = op.output_shape({in.shape()});
  } catch (const Error&) {
    return -1;
  }
  const Tensor out = run_conv(op, in, threads, threads);
  Tensor ref(out_shape);
  conv2d_naive(in, weight.data(), b, 3, 3, c.cout, p, ref.view());
  return test::max_rel_error(out, ref);
}

std::string case_str(const WinoCase& c) {
  return std::to_string(c.n) + "x" + std::to_string(c.h) + "x" + std::to_string(c.w) + "x" +
         std::to_string(c.cin) + " -> " + std::to_string(c.cout) + " " + c.pad.str() + " act" +
         std::to_string(c.act);
}

TEST_CASE("winograd conv matches the naive conv on awkward shapes") {
  std::mt19937 rng(11);
  const std::vector<WinoCase> cases = {
      // smaller than one tile, with and without padding
      {1, 3, 3, 5, 7, Padding::valid(), 0},
      {1, 1, 1, 3, 9, Padding::same(), 1},
      {2, 2, 3, 17, 5, Padding::same(), 2},
      {1, 4, 5, 8, 8, Padding::valid(), 3},
      // odd sizes, ragged last tiles, channels off the vector width
      {1, 7, 9, 1, 1, Padding::same(), 4},
      {2, 9, 13, 17, 33, Padding::same(), 5},
      {1, 15, 7, 33, 64, Padding::valid(), 6},
      {3, 11, 10, 16, 17, Padding::explicit_pads(2, 0, 1, 3), 1},
      {1, 13, 13, 24, 40, Padding::explicit_pads(0, 1, 1, 0), 3},
      {2, 10, 6, 7, 15, Padding::explicit_pads(0, 0, 0, 0), 0},
      // the shipped models' layers: gender 8->8 valid, emotion 32->64 valid
      {1, 62, 62, 8, 8, Padding::valid(), 1},
      {2, 31, 31, 32, 64, Padding::valid(), 1},
      {1, 12, 12, 32, 48, Padding::same(), 2},
      {1, 8, 8, 96, 7, Padding::same(), 0},  // emotion's head, smaller
  };
  double worst[2] = {0, 0};
  std::string worst_case[2];
  for (Isa isa : test::isas())
    for (int threads : {1, 2})
      for (ConvAlgo algo : {ConvAlgo::Winograd2, ConvAlgo::Winograd4})
        for (const WinoCase& c : cases) {
          CAPTURE(case_str(c));
          CAPTURE(std::string(isa_name(isa)));
          CAPTURE(threads);
          const bool f4 = algo == ConvAlgo::Winograd4;
          CAPTURE(f4);
          const double e = wino_error(c, algo, isa, threads, rng);
          REQUIRE(e >= 0);
          if (f4 && c.cin > tuning::kWinograd4MaxCin) continue;  // F(2x2) only, by the rule
          CHECK(e <= (f4 ? kWino4Tolerance : kWino2Tolerance));
          if (e > worst[f4]) worst_case[f4] = case_str(c) + " " + isa_name(isa);
          worst[f4] = std::max(worst[f4], e);
        }
  MESSAGE("winograd vs naive, random O(1) data, max |d|/max(1,|ref|): F(2x2,3x3) ", worst[0], " (",
          worst_case[0], "), F(4x4,3x3) ", worst[1], " (", worst_case[1], ")");
}

TEST_CASE("winograd conv runs with a scratch area planned for another thread count") {
  std::mt19937 rng(5);
  for (Isa isa : test::isas())
    for (ConvAlgo algo : {ConvAlgo::Winograd2, ConvAlgo::Winograd4}) {
      ConvParams p;
      p.padding = Padding::same();
      const float s = 1.f / std::sqrt(45.f);
      const auto weight = test::random_vector(3 * 3 * 5 * 7, rng, -s, s);
      const Conv2d op(3, 3, 5, 7, weight.data(), nullptr, p, isa, false, algo);
      const Tensor in = test::random_tensor(Shape(2, 31, 29, 5), rng);
      Tensor ref(op.output_shape({in.shape()}));
      conv2d_naive(in, weight.data(), nullptr, 3, 3, 7, p, ref.view());
      CHECK(test::max_rel_error(run_conv(op, in, 1, 2), ref) <= kWino4Tolerance);
      CHECK(test::max_rel_error(run_conv(op, in, 2, 1), ref) <= kWino4Tolerance);
      CHECK(test::max_rel_error(run_conv(op, in, 1, 8), ref) <= kWino4Tolerance);
      CHECK(test::max_rel_error(run_conv(op, in, 8, 3), ref) <= kWino4Tolerance);
      // Too little scratch is an error, not an overrun.
      AlignedBuffer small(8);
      RunContext ctx;
      ctx.scratch = small.data();
      ctx.scratch_size = small.size();
      Tensor out(ref.shape());
      const ConstTensorView view = in.view();
      CHECK_THROWS_AS(op.run(&view, out.view(), ctx), Error);
    }
}

TEST_CASE("winograd conv: the load-time rule picks the variant by kernel, stride and channels") {
  std::vector<float> w(3 * 3 * 512 * 64, 0.01f);
  ConvParams s1, s2, dil;
  s2.stride_h = s2.stride_w = 2;
  dil.dilation_h = dil.dilation_w = 2;
  auto tile = [&](int cin, int cout, const ConvParams& p) {
    return Conv2d(3, 3, cin, cout, w.data(), nullptr, p, Isa::Scalar).winograd_tile();
  };
  CHECK(tile(32, 64, s1) == winograd_tile(ConvAlgo::Auto, 3, 3, 1, 1, 1, 1, 32, 64, false));
  CHECK(tile(32, 64, s1) == 4);  // emotion's block1_conv2
  CHECK(tile(8, 8, s1) == 4);    // gender's second conv
  CHECK(tile(256, 7, s1) == 2);  // emotion's 7-class head: F(2x2) for accuracy
  CHECK(tile(128, 2, s1) == 2);  // gender's head
  CHECK(tile(33, 16, s1) == 2);
  CHECK(tile(1, 32, s1) == 0);  // emotion's first conv (stride 2 too), too few channels
  CHECK(tile(7, 32, s1) == 0);
  CHECK(tile(32, 64, s2) == 0);
  CHECK(tile(32, 64, dil) == 0);
  CHECK(Conv2d(5, 5, 32, 64, w.data(), nullptr, s1, Isa::Scalar).winograd_tile() == 0);
  CHECK(Conv2d(3, 3, 32, 64, w.data(), nullptr, s1, Isa::Scalar, false, ConvAlgo::Direct)
            .winograd_tile() == 0);
  // Forced variants apply only where Winograd can run at all.
  CHECK(Conv2d(3, 3, 4, 4, w.data(), nullptr, s1, Isa::Scalar, false, ConvAlgo::Winograd4)
            .winograd_tile() == 4);
  CHECK(Conv2d(3, 3, 4, 4, w.data(), nullptr, s2, Isa::Scalar, false, ConvAlgo::Winograd4)
            .winograd_tile() == 0);
  CHECK(Conv2d(3, 3, 32, 64, w.data(), nullptr, s1, Isa::Scalar).describe().find(" wino") !=
        std::string::npos);
}

// HWIO weights [K = 9 Cin][Cout] and bias of a conv, unpacked from its GEMM panels
// (kernels/gemm_weights.hpp: each panel is its bias row, then K rows).
void unpack(const GemmWeights& w, std::vector<float>& weight, std::vector<float>& bias) {
  weight.assign(std::size_t(w.k()) * std::size_t(w.n()), 0.f);
  bias.assign(std::size_t(w.n()), 0.f);
  for (int j = 0; j < w.panels(); ++j) {
    const int width = w.panel_width(j), n0 = j * w.nr(), nc = std::min(width, w.n() - n0);
    const float* p = w.panel(j);
    for (int c = 0; c < nc; ++c) {
      bias[std::size_t(n0 + c)] = p[c];
      for (int kk = 0; kk < w.k(); ++kk)
        weight[std::size_t(kk) * std::size_t(w.n()) + std::size_t(n0 + c)] =
            p[int64_t(kk + 1) * width + c];
    }
  }
}

// Runs a model step by step and compares each Winograd conv's output with the naive conv of
// the same input and weights (batch norms folded, as the model runs them); returns the worst
// max|d| / max(1, max|ref|) over those layers.
// The input is the file's first test vector.
double real_layer_errors(const std::string& file, int* layers) {
  ModelOptions o;
  o.test_vectors = true;
  const Model model = Model::load(file, o);
  REQUIRE(!model.graph().tests.empty());
  const Tensor& input = model.graph().tests[0].inputs.at(model.graph().inputs.at(0).name);
  std::vector<Tensor> values(std::size_t(model.value_count()));
  values[std::size_t(model.input_values().at(0))] = Tensor(input.shape(), input.data());
  double worst = 0;
  for (const Step& s : model.steps()) {
    std::vector<Shape> shapes;
    std::vector<ConstTensorView> views;
    for (int v : s.inputs) {
      shapes.push_back(values[std::size_t(v)].shape());
      views.push_back(values[std::size_t(v)].view());
    }
    Tensor out(s.op->output_shape(shapes));
    AlignedBuffer scratch(std::max<std::size_t>(s.op->scratch_floats(shapes, 1), 1));
    RunContext ctx;
    ctx.scratch = scratch.data();
    ctx.scratch_size = scratch.size();
    s.op->run(views.data(), out.view(), ctx);
    const auto* conv = dynamic_cast<const Conv2d*>(s.op.get());
    if (conv && conv->winograd_tile() > 0) {
      std::vector<float> weight, bias;
      unpack(conv->gemm_weights(), weight, bias);
      Tensor ref(out.shape());
      conv2d_naive(views[0], weight.data(), bias.data(), 3, 3, conv->out_channels(), conv->params(),
                   ref.view());
      double scale = 1, d = 0;
      for (int64_t i = 0; i < ref.size(); ++i) {
        scale = std::max(scale, double(std::fabs(ref.data()[i])));
        d = std::max(d, std::fabs(double(out.data()[i]) - double(ref.data()[i])));
      }
      MESSAGE(file.substr(file.rfind('/') + 1), " [", std::string(isa_name(model.isa())), "] ",
              s.name, " (", conv->describe(), ", in ", shapes[0].str(), "): max abs ", d,
              ", max |ref| ", scale, ", max abs / max(1, max |ref|) ", d / scale);
      worst = std::max(worst, d / scale);
      ++*layers;
    }
    values[std::size_t(s.output)] = std::move(out);
  }
  return worst;
}

TEST_CASE("winograd conv: error on the real 3x3 layers of the shipped and PyTorch models") {
  int layers = 0;
  double worst = 0;
  for (const char* file : {"weights/emotion.mien", "weights/gender.mien",
                           "weights/face_expression.mien", "weights/blazeface.mien",
                           "tests/data/torch/resnet18.mien", "tests/data/torch/se_resnet18.mien",
                           "tests/data/torch/vgg16.mien", "tests/data/torch/mobilenet_v1.mien"})
    worst = std::max(worst, real_layer_errors(source_path(file), &layers));
  MESSAGE("winograd layers checked: ", layers, ", worst max|d| / max(1, max|ref|) ", worst);
  // Per-layer, tensor-wise: the models' end-to-end limits are 1e-4 (tests/golden).
  CHECK(worst <= 1e-5);
}

}  // namespace
}  // namespace mien
