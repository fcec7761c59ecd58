// Depthwise conv, pooling and activations: every ISA against the naive references, on
// awkward shapes (odd sizes, channels not a multiple of 8, windows wider than the input,
// pads bigger than the kernel), with 1 and 2 threads.
#include <algorithm>
#include <cmath>
#include <cstring>
#include <limits>
#include <random>
#include <string>
#include <vector>

#include "mien/ops/activation.hpp"
#include "mien/ops/depthwise.hpp"
#include "mien/ops/pool.hpp"
#include "test_util.hpp"

namespace mien {
namespace {

constexpr double kTol = 1e-5;

// Runs an op on one input; the output starts as NaN so that a value never written shows.
Tensor run_op(const Op& op, const Tensor& in, int threads) {
  Tensor out(op.output_shape({in.shape()}));
  std::fill(out.begin(), out.end(), std::numeric_limits<float>::quiet_NaN());
  const ConstTensorView v = in.view();
  RunContext ctx;
  ctx.threads = threads;
  op.run(&v, out.view(), ctx);
  return out;
}

bool same_bits(const Tensor& a, const Tensor& b) {
  return a.shape() == b.shape() &&
         std::memcmp(a.data(), b.data(), sizeof(float) * std::size_t(a.size())) == 0;
}

Activation make_activation(ActKind k, int channels, std::mt19937& rng) {
  switch (k) {
    case ActKind::LeakyRelu:
      return Activation::leaky_relu(0.1f);
    case ActKind::Clip:
      return Activation::clip(-0.25f, 0.5f);
    case ActKind::PRelu:
      return Activation::prelu(test::random_vector(channels, rng, 0.f, 0.5f));
    default:
      return Activation::of(k);
  }
}

// True when the window does not fit (valid padding on a too-small input): the op must throw.
bool window_fits(int in, int k, int stride, int dil, const Padding& p, bool rows) {
  try {
    if (rows)
      resolve_rows(p, in, k, stride, dil);
    else
      resolve_cols(p, in, k, stride, dil);
    return true;
  } catch (const Error&) {
    return false;
  }
}

struct DwCase {
  Shape in;
  int kh, kw, stride, dilation;
  Padding pad;
  ActKind act;
  bool bias;
};

std::string dw_case_str(const DwCase& t, Isa isa) {
  return std::string(isa_name(isa)) + " in " + t.in.str() + " k " + std::to_string(t.kh) + "x" +
         std::to_string(t.kw) + " s" + std::to_string(t.stride) + " d" +
         std::to_string(t.dilation) + " " + t.pad.str() + " " + Activation::of(t.act).name() +
         (t.bias ? " bias" : "");
}

void check_depthwise(const DwCase& t, std::mt19937& rng) {
  ConvParams p;
  p.stride_h = p.stride_w = t.stride;
  p.dilation_h = p.dilation_w = t.dilation;
  p.padding = t.pad;
  p.activation = make_activation(t.act, t.in.c, rng);
  const Tensor in = test::random_tensor(t.in, rng);
  const std::vector<float> w = test::random_vector(std::size_t(t.kh) * t.kw * t.in.c, rng);
  const std::vector<float> b = test::random_vector(std::size_t(t.in.c), rng);
  const float* bias = t.bias ? b.data() : nullptr;
  const bool fits = window_fits(t.in.h, t.kh, t.stride, t.dilation, t.pad, true) &&
                    window_fits(t.in.w, t.kw, t.stride, t.dilation, t.pad, false);
  for (Isa isa : test::isas()) {
    INFO(dw_case_str(t, isa));
    DepthwiseConv2d op(t.kh, t.kw, t.in.c, w.data(), bias, p, isa);
    if (!fits) {
      CHECK_THROWS_AS(op.output_shape({t.in}), Error);
      continue;
    }
    const Shape os = op.output_shape({t.in});
    Tensor ref(os);
    depthwise_conv2d_naive(in, w.data(), bias, t.kh, t.kw, p, ref.view());
    const Tensor one = run_op(op, in, 1);
    const Tensor two = run_op(op, in, 2);
    CHECK(test::max_rel_error(one, ref) <= kTol);
    CHECK(same_bits(one, two));
    CHECK(op.macs({t.in}) == os.size() * t.kh * t.kw);
  }
}

const std::vector<Padding>& paddings() {
  static const std::vector<Padding> p{Padding::valid(), Padding::same(),
                                      Padding::explicit_pads(1, 0, 2, 1),
                                      Padding::explicit_pads(0, 3, 1, 2)};
  return p;
}

TEST_CASE("depthwise: fast kernels vs naive, every channel count") {
  std::mt19937 rng(7);
  // 12 and 29 end in a partial AVX-512 block, 24 in a half one (which runs the AVX2 kernels).
  const int channels[] = {1, 3, 5, 8, 12, 17, 24, 29, 33, 64};
  const Shape spatial[] = {Shape(1, 15, 7, 1), Shape(2, 32, 32, 1), Shape(1, 9, 13, 1)};
  const ActKind acts[] = {ActKind::None,      ActKind::Relu,  ActKind::Relu6,
                          ActKind::LeakyRelu, ActKind::PRelu, ActKind::Sigmoid};
  int i = 0;
  for (int k : {3, 5})
    for (int stride : {1, 2})
      for (const Padding& pad : paddings())
        for (int c : channels) {
          Shape s = spatial[i % 3];
          s.c = c;
          check_depthwise({s, k, k, stride, 1, pad, acts[i % 6], i % 2 == 0}, rng);
          ++i;
        }
}

TEST_CASE("depthwise: generic kernels, dilation, tiny inputs") {
  std::mt19937 rng(11);
  const int channels[] = {1, 3, 5, 8, 17, 33, 64};
  const Shape spatial[] = {Shape(1, 15, 7, 1), Shape(1, 1, 1, 1), Shape(2, 9, 13, 1),
                           Shape(1, 32, 32, 1)};
  const ActKind acts[] = {ActKind::None,  ActKind::Relu,     ActKind::Relu6, ActKind::LeakyRelu,
                          ActKind::PRelu, ActKind::Sigmoid,  ActKind::Clip,  ActKind::Tanh,
                          ActKind::Swish, ActKind::HardSwish};
  const int kernels[][2] = {{3, 3}, {5, 5}, {1, 1}, {3, 5}, {7, 7}};
  int i = 0;
  for (const auto& k : kernels)
    for (int stride : {1, 2})
      for (const Padding& pad : paddings())
        for (const Shape& sp : spatial) {
          Shape s = sp;
          s.c = channels[i % 7];
          const int dilation = (i % 3 == 0) ? 2 : 1;
          check_depthwise({s, k[0], k[1], stride, dilation, pad, acts[i % 10], i % 2 == 1}, rng);
          ++i;
        }
}

TEST_CASE("depthwise: interior narrower than a tile, and pads beyond the kernel") {
  std::mt19937 rng(13);
  // Widths around the 8-pixel tile of the fast path, so that full tiles, half tiles, tiles
  // shifted back over computed pixels and the one-pixel fallback are all exercised.
  for (int w : {2, 3, 5, 6, 8, 9, 10, 11, 12, 13, 17, 18, 20, 21, 29})
    for (int k : {3, 5})
      for (int stride : {1, 2})
        check_depthwise(
            {Shape(1, 4, w, 12), k, k, stride, 1, Padding::same(), ActKind::Relu6, true}, rng);
  // Every output of the first and last rows and columns lies wholly in the padding.
  check_depthwise(
      {Shape(1, 5, 6, 9), 1, 1, 1, 1, Padding::explicit_pads(2, 2, 2, 2), ActKind::None, true},
      rng);
  check_depthwise(
      {Shape(2, 5, 6, 9), 3, 3, 1, 1, Padding::explicit_pads(4, 3, 5, 4), ActKind::Relu, true},
      rng);
  check_depthwise(
      {Shape(1, 6, 7, 20), 5, 5, 2, 1, Padding::explicit_pads(5, 6, 4, 5), ActKind::None, false},
      rng);
}

TEST_CASE("depthwise: bad shapes and parameters give mien::Error") {
  std::vector<float> w(9 * 4, 0.5f);
  ConvParams p;
  for (Isa isa : test::isas()) {
    DepthwiseConv2d op(3, 3, 4, w.data(), nullptr, p, isa);
    CHECK_THROWS_AS(op.output_shape({Shape(1, 8, 8, 5)}), Error);  // wrong channels
    CHECK_THROWS_AS(op.output_shape({Shape(1, 2, 8, 4)}), Error);  // smaller than the window
    CHECK_THROWS_AS(op.output_shape({Shape(1, 8, 8, 4), Shape(1, 8, 8, 4)}), Error);
    CHECK(op.output_shape({Shape(2, 8, 9, 4)}) == Shape(2, 6, 7, 4));
    CHECK(op.parameters() == 36);
    CHECK(std::string(op.type()) == "depthwise_conv2d");
    CHECK(op.describe() == "3x3 valid");
    // run() checks the output shape it is given.
    Tensor in(Shape(1, 8, 8, 4)), out(Shape(1, 8, 8, 4));
    const ConstTensorView v = in.view();
    CHECK_THROWS_AS(op.run(&v, out.view(), RunContext{}), Error);

    CHECK_THROWS_AS(DepthwiseConv2d(0, 3, 4, w.data(), nullptr, p, isa), Error);
    CHECK_THROWS_AS(DepthwiseConv2d(3, 3, 0, w.data(), nullptr, p, isa), Error);
    ConvParams bad = p;
    bad.stride_h = 0;
    CHECK_THROWS_AS(DepthwiseConv2d(3, 3, 4, w.data(), nullptr, bad, isa), Error);
    bad = p;
    bad.activation = Activation::prelu({0.1f, 0.2f, 0.3f});
    CHECK_THROWS_AS(DepthwiseConv2d(3, 3, 4, w.data(), nullptr, bad, isa), Error);
    bad = p;
    bad.padding = Padding::explicit_pads(-1, 0, 0, 0);
    DepthwiseConv2d neg(3, 3, 4, w.data(), nullptr, bad, isa);
    CHECK_THROWS_AS(neg.output_shape({Shape(1, 8, 8, 4)}), Error);
  }
}

// ---- pooling ----

struct PoolCase {
  int kh, kw, sh, sw;
  Padding pad;
};

TEST_CASE("pool: max and average vs naive") {
  std::mt19937 rng(17);
  const PoolCase cases[] = {
      {2, 2, 2, 2, Padding::valid()},
      {3, 3, 2, 2, Padding::same()},
      {3, 3, 1, 1, Padding::same()},
      {2, 2, 2, 2, Padding::same()},
      {3, 3, 2, 2, Padding::valid()},
      {3, 2, 1, 2, Padding::explicit_pads(1, 0, 2, 1)},
      {5, 5, 1, 1, Padding::explicit_pads(2, 2, 2, 2)},
      {4, 4, 3, 3, Padding::same()},
  };
  const int channels[] = {1, 3, 5, 8, 17, 33, 64};
  const Shape spatial[] = {Shape(1, 15, 7, 1), Shape(1, 1, 1, 1), Shape(2, 9, 13, 1),
                           Shape(1, 32, 32, 1)};
  int i = 0;
  for (PoolKind kind : {PoolKind::Max, PoolKind::Average})
    for (const PoolCase& pc : cases)
      for (const Shape& sp : spatial)
        for (int rep = 0; rep < 2; ++rep) {
          Shape s = sp;
          s.c = channels[i++ % 7];
          const Tensor in = test::random_tensor(s, rng);
          const bool fits = window_fits(s.h, pc.kh, pc.sh, 1, pc.pad, true) &&
                            window_fits(s.w, pc.kw, pc.sw, 1, pc.pad, false);
          for (Isa isa : test::isas()) {
            Pool2d op(kind, pc.kh, pc.kw, pc.sh, pc.sw, pc.pad, isa);
            INFO(isa_name(isa), " ", op.type(), " ", op.describe(), " on ", s.str());
            if (!fits) {
              CHECK_THROWS_AS(op.output_shape({s}), Error);
              continue;
            }
            Tensor ref(op.output_shape({s}));
            pool2d_naive(in, kind, pc.kh, pc.kw, pc.sh, pc.sw, pc.pad, ref.view());
            const Tensor one = run_op(op, in, 1);
            CHECK(test::max_rel_error(one, ref) <= kTol);
            CHECK(same_bits(one, run_op(op, in, 2)));
          }
        }
}

TEST_CASE("pool: global average vs naive") {
  std::mt19937 rng(19);
  const int channels[] = {1, 3, 5, 8, 17, 33, 64, 100};
  const Shape spatial[] = {Shape(1, 15, 7, 1),  Shape(1, 1, 1, 1), Shape(2, 9, 13, 1),
                           Shape(1, 32, 32, 1), Shape(3, 3, 3, 1), Shape(4, 32, 32, 1)};
  for (const Shape& sp : spatial)
    for (int c : channels) {
      Shape s = sp;
      s.c = c;
      const Tensor in = test::random_tensor(s, rng);
      Tensor ref(Shape(s.n, 1, 1, c));
      global_avg_pool_naive(in, ref.view());
      for (Isa isa : test::isas()) {
        INFO(isa_name(isa), " gap on ", s.str());
        GlobalAvgPool op(isa);
        CHECK(op.output_shape({s}) == Shape(s.n, 1, 1, c));
        const Tensor one = run_op(op, in, 1);
        CHECK(test::max_rel_error(one, ref) <= kTol);
        CHECK(same_bits(one, run_op(op, in, 2)));
      }
    }
}

TEST_CASE("pool: names and bad shapes") {
  for (Isa isa : test::isas()) {
    Pool2d mx(PoolKind::Max, 3, 3, 2, 2, Padding::same(), isa);
    Pool2d avg(PoolKind::Average, 2, 2, 2, 2, Padding::valid(), isa);
    CHECK(std::string(mx.type()) == "max_pool");
    CHECK(std::string(avg.type()) == "avg_pool");
    CHECK(mx.describe() == "3x3/2 same");
    CHECK(mx.output_shape({Shape(1, 32, 32, 8)}) == Shape(1, 16, 16, 8));
    CHECK(avg.output_shape({Shape(1, 7, 9, 8)}) == Shape(1, 3, 4, 8));
    CHECK_THROWS_AS(avg.output_shape({Shape(1, 1, 9, 8)}), Error);
    CHECK_THROWS_AS(avg.output_shape({Shape(1, 0, 9, 8)}), Error);
    CHECK_THROWS_AS(avg.output_shape({Shape(1, 4, 4, 8), Shape(1, 4, 4, 8)}), Error);
    Pool2d pads(PoolKind::Max, 2, 2, 1, 1, Padding::explicit_pads(2, 0, 0, 0), isa);
    CHECK_THROWS_AS(pads.output_shape({Shape(1, 4, 4, 8)}), Error);  // pad >= kernel
    CHECK_THROWS_AS(Pool2d(PoolKind::Max, 0, 2, 1, 1, Padding::valid(), isa), Error);
    CHECK_THROWS_AS(Pool2d(PoolKind::Max, 2, 2, 0, 1, Padding::valid(), isa), Error);
    GlobalAvgPool gap(isa);
    CHECK(std::string(gap.type()) == "global_avg_pool");
    CHECK_THROWS_AS(gap.output_shape({Shape(1, 4, 0, 8)}), Error);
    Tensor in(Shape(1, 4, 4, 8)), out(Shape(1, 1, 1, 4));
    const ConstTensorView v = in.view();
    CHECK_THROWS_AS(gap.run(&v, out.view(), RunContext{}), Error);
  }
}

// ---- activations ----

std::vector<float> activation_inputs(std::mt19937& rng) {
  std::vector<float> x;
  for (float v : {0.f,     1e-30f, 1e-20f, 1e-8f, 1e-4f, 0.1f, 0.5f,  0.6249f, 0.625f,
                  0.6251f, 1.f,    2.f,    3.f,   6.f,   9.f,  10.f,  20.f,    44.f,
                  50.f,    80.f,   87.f,   88.f,  88.5f, 89.f, 100.f, 1e30f}) {
    x.push_back(v);
    x.push_back(-v);
  }
  for (float v : test::random_vector(4000, rng, -12.f, 12.f)) x.push_back(v);
  for (float v : test::random_vector(1000, rng, -1.f, 1.f)) x.push_back(v * v * v);
  while (x.size() % 17 != 0) x.push_back(0.25f);  // whole pixels of 17 channels
  return x;
}

TEST_CASE("activation: every kind and ISA vs activate_naive") {
  std::mt19937 rng(23);
  const std::vector<float> x = activation_inputs(rng);
  const int channels = 17;  // 2 full vectors + a tail per pixel
  const int64_t pixels = int64_t(x.size()) / channels;
  const ActKind kinds[] = {ActKind::None,      ActKind::Relu,     ActKind::Relu6,   ActKind::Clip,
                           ActKind::LeakyRelu, ActKind::PRelu,    ActKind::Sigmoid, ActKind::Tanh,
                           ActKind::Swish,     ActKind::HardSwish};
  for (ActKind k : kinds)
    for (int single_slope = 0; single_slope < (k == ActKind::PRelu ? 2 : 1); ++single_slope) {
      const Activation a =
          single_slope ? Activation::prelu({0.3f}) : make_activation(k, channels, rng);
      std::vector<float> ref(x.size());
      for (std::size_t i = 0; i < x.size(); ++i)
        ref[i] = activate_naive(x[i], a, int(i % channels));
      for (Isa isa : test::isas()) {
        INFO(isa_name(isa), " ", a.name(), single_slope ? " (one slope)" : "");
        std::vector<float> out(x.size(), -7.f);
        activate(x.data(), out.data(), pixels, channels, a, isa);
        CHECK(test::max_rel_error(out.data(), ref.data(), int64_t(x.size())) <= kTol);
        std::vector<float> inplace = x;
        apply_activation(inplace.data(), pixels, channels, a, isa);
        CHECK(inplace == out);
        // Odd lengths, one channel: the vector tail of a flat array.
        const Activation flat = k == ActKind::PRelu ? Activation::prelu({0.3f}) : a;
        for (int n : {1, 3, 7, 9, 15}) {
          std::vector<float> part(x.begin(), x.begin() + n), part_ref(std::size_t(n), 0.f);
          for (int i = 0; i < n; ++i)
            part_ref[std::size_t(i)] = activate_naive(x[std::size_t(i)], flat, 0);
          apply_activation(part.data(), n, 1, flat, isa);
          CHECK(test::max_rel_error(part.data(), part_ref.data(), n) <= kTol);
        }
      }
    }
}

TEST_CASE("activation: tanh and sigmoid keep relative accuracy near zero") {
  std::vector<float> x;
  for (float v = 1e-30f; v < 1.f; v *= 1.7f) {
    x.push_back(v);
    x.push_back(-v);
  }
  for (Isa isa : test::isas())
    for (ActKind k : {ActKind::Tanh, ActKind::Swish, ActKind::Sigmoid}) {
      INFO(isa_name(isa), " ", Activation::of(k).name());
      std::vector<float> y(x.size());
      activate(x.data(), y.data(), int64_t(x.size()), 1, Activation::of(k), isa);
      double worst = 0;
      for (std::size_t i = 0; i < x.size(); ++i) {
        const double ref = activate_naive(x[i], Activation::of(k), 0);
        worst = std::max(worst, std::fabs(y[i] - ref) / std::fabs(ref));
      }
      CHECK(worst <= 1e-6);  // pure relative error, not relative to max(1, |ref|)
    }
}

TEST_CASE("activation: NaN stays NaN through the exp-based kinds") {
  const float nan = std::numeric_limits<float>::quiet_NaN();
  for (Isa isa : test::isas())
    for (ActKind k : {ActKind::Sigmoid, ActKind::Tanh, ActKind::Swish, ActKind::HardSwish}) {
      INFO(isa_name(isa), " ", Activation::of(k).name());
      std::vector<float> x(11, 0.5f);
      x[3] = nan;
      x[9] = nan;  // in the vector tail
      apply_activation(x.data(), 11, 1, Activation::of(k), isa);
      CHECK(std::isnan(x[3]));
      CHECK(std::isnan(x[9]));
      CHECK(!std::isnan(x[0]));
    }
}

TEST_CASE("activation: ActivationOp") {
  std::mt19937 rng(29);
  for (Isa isa : test::isas())
    for (ActKind k : {ActKind::None, ActKind::Relu6, ActKind::PRelu, ActKind::Sigmoid,
                      ActKind::Tanh, ActKind::HardSwish}) {
      const Shape s(2, 5, 7, 19);
      const Activation a = make_activation(k, s.c, rng);
      ActivationOp op(a, isa);
      INFO(isa_name(isa), " ", op.describe());
      CHECK(std::string(op.type()) == "activation");
      CHECK(op.output_shape({s}) == s);
      const Tensor in = test::random_tensor(s, rng, -8.f, 8.f);
      Tensor ref(s);
      for (int64_t i = 0; i < in.size(); ++i)
        ref.data()[i] = activate_naive(in.data()[i], a, int(i % s.c));
      const Tensor one = run_op(op, in, 1);
      CHECK(test::max_rel_error(one, ref) <= kTol);
      CHECK(same_bits(one, run_op(op, in, 2)));
      // A big tensor takes the threaded path.
      const Shape big(1, 64, 64, 19);
      const Tensor bin = test::random_tensor(big, rng, -8.f, 8.f);
      CHECK(same_bits(run_op(op, bin, 1), run_op(op, bin, 2)));
      CHECK_THROWS_AS(op.output_shape({s, s}), Error);
      if (k == ActKind::PRelu) {
        CHECK(op.parameters() == s.c);
        CHECK_THROWS_AS(op.output_shape({Shape(1, 2, 2, 5)}), Error);  // 19 slopes, 5 channels
      }
    }
  CHECK_THROWS_AS(ActivationOp(Activation::clip(1.f, -1.f), Isa::Scalar), Error);
  CHECK_THROWS_AS(ActivationOp(Activation::prelu({}), Isa::Scalar), Error);
}

}  // namespace
}  // namespace mien
