// Small-N direct conv (ops/conv2d.hpp Path::SmallN, kernels/body/conv_small_n.inl) against the
// naive conv: Cout around the 8 / 16 channel blocks, the unrolled shapes and the generic row,
// strides, dilation, every padding, tiny and odd images, batch, threads, activations and bias,
// under every ISA; the load-time rule; gender's layers that take it.
#include <algorithm>
#include <cmath>
#include <random>
#include <string>
#include <utility>
#include <vector>

#include "mien/mien.hpp"
#include "test_util.hpp"

namespace mien {
namespace {

// The conv tests' bound on max |d| / max(1, |ref|).
constexpr double kTolerance = 1e-5;

Tensor run_conv(const Conv2d& op, const Tensor& in, int threads) {
  Tensor out(op.conv_shape(in.shape()));
  AlignedBuffer scratch(std::max<std::size_t>(op.scratch_floats({in.shape()}, threads), 1));
  RunContext ctx;
  ctx.threads = threads;
  ctx.scratch = scratch.data();
  ctx.scratch_size = scratch.size();
  const ConstTensorView view = in.view();
  op.run(&view, out.view(), ctx);
  return out;
}

std::vector<Activation> activations(int channels, std::mt19937& rng) {
  return {Activation::none(),
          Activation::relu(),
          Activation::relu6(),
          Activation::leaky_relu(0.1f),
          Activation::prelu(test::random_vector(std::size_t(channels), rng, 0.f, 0.5f)),
          Activation::of(ActKind::Sigmoid)};
}

struct Case {
  int n, h, w, cin, kh, kw, stride, dilation;
  Padding pad;
};

std::string case_str(const Case& c, int cout) {
  return std::to_string(c.n) + "x" + std::to_string(c.h) + "x" + std::to_string(c.w) + "x" +
         std::to_string(c.cin) + " k" + std::to_string(c.kh) + "x" + std::to_string(c.kw) + " s" +
         std::to_string(c.stride) + " d" + std::to_string(c.dilation) + " " + c.pad.str() + " -> " +
         std::to_string(cout);
}

TEST_CASE("small-N direct conv matches the naive conv on awkward shapes") {
  std::mt19937 rng(13);
  const std::vector<Case> cases = {
      // the unrolled rows: 3x3 Cin 1 and 8, 1x1 Cin 8 and 16 (stride 1, dilation 1)
      {1, 9, 17, 1, 3, 3, 1, 1, Padding::valid()},
      {3, 7, 30, 1, 3, 3, 1, 1, Padding::same()},
      {1, 13, 11, 8, 3, 3, 1, 1, Padding::explicit_pads(2, 0, 1, 3)},
      // 3x3 Cin 1 (pixel pairs on AVX-512): gender's 64x64, one exact tile, odd widths
      {2, 6, 64, 1, 3, 3, 1, 1, Padding::valid()},
      {1, 4, 26, 1, 3, 3, 1, 1, Padding::valid()},
      {1, 5, 25, 1, 3, 3, 1, 1, Padding::same()},
      {1, 3, 2, 1, 3, 3, 1, 1, Padding::same()},
      {1, 8, 28, 1, 3, 3, 1, 1, Padding::explicit_pads(1, 2, 0, 1)},
      {1, 9, 33, 1, 3, 3, 1, 2, Padding::same()},
      {1, 5, 29, 8, 1, 1, 1, 1, Padding::valid()},
      {3, 4, 13, 16, 1, 1, 1, 1, Padding::same()},
      {1, 3, 7, 16, 1, 1, 1, 1, Padding::explicit_pads(1, 2, 0, 1)},
      // the same shapes strided or dilated (the generic row)
      {1, 12, 19, 8, 1, 1, 2, 1, Padding::same()},
      {3, 7, 9, 8, 1, 1, 2, 1, Padding::valid()},
      {1, 5, 4, 16, 1, 1, 2, 1, Padding::same()},
      {1, 15, 16, 1, 3, 3, 2, 1, Padding::same()},
      {1, 11, 14, 8, 3, 3, 1, 2, Padding::same()},
      // other channels and kernels
      {1, 7, 9, 2, 3, 3, 1, 1, Padding::same()},
      {3, 10, 23, 3, 5, 5, 1, 1, Padding::same()},
      {1, 9, 8, 5, 1, 3, 1, 1, Padding::valid()},
      {1, 17, 13, 13, 3, 3, 2, 1, Padding::valid()},
      {1, 6, 26, 13, 1, 3, 1, 2, Padding::explicit_pads(0, 3, 0, 2)},
      {1, 9, 9, 5, 5, 5, 2, 2, Padding::same()},
      // tiny images: outputs smaller than any tile, windows mostly in the padding
      {1, 1, 1, 3, 3, 3, 1, 1, Padding::same()},
      {3, 2, 3, 8, 3, 3, 1, 1, Padding::same()},
      {1, 2, 3, 16, 1, 1, 1, 1, Padding::valid()},
      {1, 1, 1, 1, 1, 1, 1, 1, Padding::valid()},
      {1, 3, 3, 2, 5, 5, 1, 1, Padding::explicit_pads(3, 3, 3, 3)},
      {1, 4, 5, 1, 3, 3, 1, 1, Padding::valid()},
  };
  const std::vector<int> couts = {1, 2, 3, 5, 7, 8, 9, 12, 15, 16, 17};
  double worst = 0;
  std::string worst_case;
  int cases_run = 0;
  for (Isa isa : test::isas())
    for (const Case& c : cases)
      for (int cout : couts) {
        // Every case under both thread counts, one activation and bias choice per case
        // (they rotate over the cases), so each is covered without a cross product.
        const int pick = cases_run++;
        auto acts = activations(cout, rng);
        ConvParams p;
        p.padding = c.pad;
        p.stride_h = p.stride_w = c.stride;
        p.dilation_h = p.dilation_w = c.dilation;
        p.activation = std::move(acts[std::size_t(pick) % acts.size()]);
        const int fan_in = c.kh * c.kw * c.cin;
        const float s = 1.f / std::sqrt(float(fan_in));
        const auto weight = test::random_vector(std::size_t(fan_in * cout), rng, -s, s);
        const auto bias = test::random_vector(std::size_t(cout), rng);
        const float* b = pick % 3 ? bias.data() : nullptr;
        const Conv2d op(c.kh, c.kw, c.cin, cout, weight.data(), b, p, isa, false, ConvAlgo::SmallN);
        CAPTURE(case_str(c, cout));
        CAPTURE(std::string(isa_name(isa)));
        CAPTURE(p.activation.name());
        CHECK(op.small_n() == (cout <= tuning::kSmallNMaxCout));
        const Tensor in = test::random_tensor(Shape(c.n, c.h, c.w, c.cin), rng);
        Tensor ref(op.conv_shape(in.shape()));
        conv2d_naive(in, weight.data(), b, c.kh, c.kw, cout, p, ref.view());
        for (int threads : {1, 2}) {
          CAPTURE(threads);
          const double e = test::max_rel_error(run_conv(op, in, threads), ref);
          CHECK(e <= kTolerance);
          if (e > worst) worst_case = case_str(c, cout) + " " + isa_name(isa);
          worst = std::max(worst, e);
        }
      }
  MESSAGE("small-N direct conv vs naive, max |d|/max(1,|ref|): ", worst, " (", worst_case, ")");
}

TEST_CASE("small-N direct conv: every activation, with and without bias, on the unrolled rows") {
  std::mt19937 rng(17);
  struct K {
    int kh, kw, cin;
  };
  for (Isa isa : test::isas())
    for (const K& k : {K{3, 3, 1}, K{3, 3, 8}, K{1, 1, 8}, K{1, 1, 16}})
      for (int cout : {8, 16, 13})
        for (bool with_bias : {false, true})
          for (const Activation& act : activations(cout, rng)) {
            ConvParams p;
            p.activation = act;
            const int fan_in = k.kh * k.kw * k.cin;
            const auto weight = test::random_vector(std::size_t(fan_in * cout), rng);
            const auto bias = test::random_vector(std::size_t(cout), rng);
            const float* b = with_bias ? bias.data() : nullptr;
            const Conv2d op(k.kh, k.kw, k.cin, cout, weight.data(), b, p, isa, false,
                            ConvAlgo::SmallN);
            REQUIRE(op.small_n());
            const Tensor in = test::random_tensor(Shape(2, 9, 31, k.cin), rng);
            Tensor ref(op.conv_shape(in.shape()));
            conv2d_naive(in, weight.data(), b, k.kh, k.kw, cout, p, ref.view());
            CAPTURE(std::string(isa_name(isa)));
            CAPTURE(op.describe());
            CAPTURE(act.name());
            CHECK(test::max_rel_error(run_conv(op, in, 2), ref) <= kTolerance);
          }
}

TEST_CASE("small-N direct conv: the load-time rule") {
  std::vector<float> w(5 * 5 * 32 * 32, 0.01f);
  ConvParams s1, s2, dil;
  s2.stride_h = s2.stride_w = 2;
  dil.dilation_h = dil.dilation_w = 2;
  auto direct = [&](int k, int cin, int cout, const ConvParams& p) {
    return Conv2d(k, k, cin, cout, w.data(), nullptr, p, Isa::Scalar).small_n();
  };
  CHECK(conv_small_n(ConvAlgo::Auto, 3, 3, 1, 8, s1, false) == direct(3, 1, 8, s1));
  // gender's layers
  CHECK(direct(3, 1, 8, s1));    // 3x3 1->8
  CHECK(!direct(3, 8, 8, s1));   // 3x3 8->8: Winograd F(4x4) is faster
  CHECK(direct(1, 8, 16, s1));   // 1x1 8->16
  CHECK(direct(1, 16, 16, s1));  // 1x1 16->16
  CHECK(direct(1, 8, 16, s2));   // 1x1/2 8->16
  CHECK(direct(1, 8, 8, s1));
  CHECK(!direct(1, 16, 16, s2));
  CHECK(!direct(3, 3, 8, s1));    // the generic row lost to the GEMM
  CHECK(!direct(1, 16, 32, s1));  // too many output channels
  CHECK(!direct(1, 8, 17, s1));
  CHECK(!direct(5, 1, 8, s1));  // no unrolled row
  CHECK(!direct(3, 1, 8, dil));
  // A fused residual stays on the GEMM, even when forced.
  CHECK(!Conv2d(1, 1, 8, 8, w.data(), nullptr, s1, Isa::Scalar, true, ConvAlgo::SmallN).small_n());
  CHECK(!Conv2d(3, 3, 1, 8, w.data(), nullptr, s1, Isa::Scalar, false, ConvAlgo::Direct).small_n());
  CHECK(Conv2d(3, 3, 1, 8, w.data(), nullptr, s1, Isa::Scalar).describe().find(" direct") !=
        std::string::npos);
  CHECK(Conv2d(3, 3, 1, 8, w.data(), nullptr, s1, Isa::Scalar)
            .scratch_floats({Shape(1, 9, 9, 1)}, 2) == 0);
}

}  // namespace
}  // namespace mien
