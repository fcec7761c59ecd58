// GEMM, conv2d and dense against their naive references, on awkward shapes, every ISA
// this CPU has, 1 and 2 threads, every padding mode and the fused activations.
#include <cmath>
#include <random>
#include <string>
#include <vector>

#include "mien/kernels/gemm.hpp"
#include "mien/ops/conv2d.hpp"
#include "mien/ops/dense.hpp"
#include "test_util.hpp"

namespace mien {
namespace {

// The activations a conv/dense epilogue must handle (clamp kinds in registers, the rest
// on the written rows).
std::vector<Activation> epilogues(int channels, std::mt19937& rng) {
  return {Activation::none(),
          Activation::relu(),
          Activation::relu6(),
          Activation::clip(-0.25f, 0.5f),
          Activation::leaky_relu(0.1f),
          Activation::prelu(test::random_vector(std::size_t(channels), rng, 0.f, 0.5f)),
          Activation::of(ActKind::Sigmoid)};
}

// Runs an op with a scratch area planned for plan_threads and a run with run_threads.
Tensor run_op(const Op& op, const Tensor& in, int plan_threads, int run_threads) {
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

// Weights scaled like a trained layer (|sum| ~ 1), so float rounding stays far below 1e-5.
std::vector<float> scaled_weights(std::size_t count, int fan_in, std::mt19937& rng) {
  const float s = 1.f / std::sqrt(float(fan_in));
  return test::random_vector(count, rng, -s, s);
}

constexpr double kTolerance = 1e-5;

TEST_CASE("gemm matches the naive product on awkward sizes") {
  std::mt19937 rng(7);
  const int ms[] = {1, 3, 5, 6, 7, 15, 17, 33, 64, 100};
  const int ns[] = {1, 3, 5, 7, 8, 9, 15, 16, 17, 24, 33, 64, 100};
  const int ks[] = {1, 3, 7, 17, 64, 100};
  for (Isa isa : test::isas()) {
    for (int m : ms)
      for (int n : ns)
        for (int k : ks) {
          CAPTURE(isa_name(isa));
          CAPTURE(m);
          CAPTURE(n);
          CAPTURE(k);
          // Strides larger than the row lengths: A and C are sub-matrices of wider ones.
          const int64_t lda = k + 3, ldb = n + 1, ldc = n + 2;
          const auto a = test::random_vector(std::size_t(m * lda), rng);
          const auto b = scaled_weights(std::size_t(k * ldb), k, rng);
          const auto bias = test::random_vector(std::size_t(n), rng);
          const bool with_bias = (m + n + k) % 2 == 0;
          const Activation act = (m + k) % 3 == 0 ? Activation::relu() : Activation::none();
          const GemmWeights w(k, n, b.data(), ldb, with_bias ? bias.data() : nullptr, isa);
          std::vector<float> c(std::size_t(m * ldc), 1234.f), ref(c.size(), 1234.f);
          // Every other case adds a residual (a fused `add`) with its own row stride.
          const int64_t ldr = n + 5;
          const auto res = test::random_vector(std::size_t(m * ldr), rng);
          const float* r = (m + k) % 2 ? res.data() : nullptr;
          gemm(w, m, a.data(), lda, c.data(), ldc, act, isa, 1 + (m + n) % 2, r, ldr);
          gemm_naive(m, n, k, a.data(), lda, b.data(), ldb, with_bias ? bias.data() : nullptr,
                     ref.data(), ldc, act, r, ldr);
          // Also checks that the gaps between C rows were left alone.
          REQUIRE(test::max_rel_error(c.data(), ref.data(), int64_t(c.size())) <= kTolerance);
        }
  }
}

TEST_CASE("gemm fuses every activation") {
  std::mt19937 rng(11);
  for (Isa isa : test::isas())
    for (int threads : {1, 2}) {
      const int m = 23, n = 21, k = 19;
      const auto a = test::random_vector(std::size_t(m * k), rng, -2.f, 2.f);
      const auto b = scaled_weights(std::size_t(k * n), k, rng);
      const auto bias = test::random_vector(std::size_t(n), rng);
      const GemmWeights w(k, n, b.data(), n, bias.data(), isa);
      const auto res = test::random_vector(std::size_t(m * n), rng);
      for (const Activation& act : epilogues(n, rng))
        for (const float* r : {static_cast<const float*>(nullptr), res.data()}) {
          CAPTURE(isa_name(isa));
          CAPTURE(act.name());
          CAPTURE(r != nullptr);
          std::vector<float> c(std::size_t(m * n)), ref(c.size());
          gemm(w, m, a.data(), k, c.data(), n, act, isa, threads, r, n);
          gemm_naive(m, n, k, a.data(), k, b.data(), n, bias.data(), ref.data(), n, act, r, n);
          REQUIRE(test::max_rel_error(c.data(), ref.data(), int64_t(c.size())) <= kTolerance);
        }
    }
}

TEST_CASE("gemm weights are packed in 16-column panels with a narrow last panel") {
  std::vector<float> b(3 * 23, 1.f);
  const GemmWeights w(3, 23, b.data(), 23, nullptr);
  CHECK(w.panels() == 2);
  CHECK(w.panel_width(0) == 16);
  CHECK(w.panel_width(1) == 8);
  CHECK(w.panel(1)[0] == 0.f);      // bias row first (none given: zero)
  CHECK(w.panel(1)[8 + 6] == 1.f);  // column 22 of row 0
  CHECK(w.panel(1)[8 + 7] == 0.f);  // padding column
  CHECK_THROWS_AS(GemmWeights(0, 4, b.data(), 4, nullptr), Error);
  // AVX-512 panels are 32 wide, the last one narrowed to 16.
  const std::vector<float> b40(3 * 40, 1.f);
  const GemmWeights w512(3, 40, b40.data(), 40, nullptr, Isa::Avx512);
  CHECK(w512.nr() == 32);
  CHECK(w512.panels() == 2);
  CHECK(w512.panel_width(0) == 32);
  CHECK(w512.panel_width(1) == 16);
}

TEST_CASE("gemm runs weights packed for another ISA") {
  // Weights packed for one panel width still multiply correctly under every kernel set.
  std::mt19937 rng(5);
  const int m = 19, n = 37, k = 13;
  const auto a = test::random_vector(std::size_t(m * k), rng);
  const auto b = scaled_weights(std::size_t(k * n), k, rng);
  std::vector<float> ref(std::size_t(m * n));
  gemm_naive(m, n, k, a.data(), k, b.data(), n, nullptr, ref.data(), n, Activation::none());
  for (Isa pack : test::isas())
    for (Isa run : test::isas()) {
      CAPTURE(isa_name(pack));
      CAPTURE(isa_name(run));
      const GemmWeights w(k, n, b.data(), n, nullptr, pack);
      std::vector<float> c(ref.size());
      gemm(w, m, a.data(), k, c.data(), n, Activation::none(), run, 1);
      REQUIRE(test::max_rel_error(c.data(), ref.data(), int64_t(c.size())) <= kTolerance);
    }
}

TEST_CASE("gemm: every packing x kernel set, with residual, clamp and ragged panels") {
  // Each kernel table (kernels/kernels.hpp) against the naive GEMM, for every panel width it
  // may be handed: 16-column panels, 32-column panels (the portable kernel runs those in two
  // halves), narrow last panels, rows that are not a multiple of any tile height.
  std::mt19937 rng(11);
  for (const int n : {5, 8, 12, 20, 24, 40, 47})
    for (const int m : {1, 7, 13}) {
      const int k = 9;
      const auto a = test::random_vector(std::size_t(m * k), rng);
      const auto b = scaled_weights(std::size_t(k * n), k, rng);
      const auto bias = test::random_vector(std::size_t(n), rng);
      const auto res = test::random_vector(std::size_t(m * n), rng);
      std::vector<float> ref(std::size_t(m * n));
      gemm_naive(m, n, k, a.data(), k, b.data(), n, bias.data(), ref.data(), n, Activation::relu6(),
                 res.data(), n);
      for (Isa pack : test::isas())
        for (Isa run : test::isas()) {
          CAPTURE(n);
          CAPTURE(m);
          CAPTURE(isa_name(pack));
          CAPTURE(isa_name(run));
          const GemmWeights w(k, n, b.data(), n, bias.data(), pack);
          std::vector<float> c(ref.size(), -7.f);
          gemm_serial(w, m, a.data(), k, c.data(), n, Activation::relu6(), run, res.data(), n);
          REQUIRE(test::max_rel_error(c.data(), ref.data(), int64_t(c.size())) <= kTolerance);
        }
    }
}

TEST_CASE("kernel tables: every entry point is set for every ISA this CPU runs") {
  for (Isa isa : test::isas()) {
    CAPTURE(isa_name(isa));
    const kernels::KernelTable& t = kernels::kernel_table(isa);
    CHECK(t.isa == isa);
    CHECK(static_cast<bool>(t.activate));
    CHECK(static_cast<bool>(t.gemm16.block));
    CHECK(static_cast<bool>(t.gemm32.block));
    CHECK(t.dw.lanes == 8);
    CHECK(static_cast<bool>(t.dw.generic));
    for (int k5 = 0; k5 < 2; ++k5)
      for (int s2 = 0; s2 < 2; ++s2) CHECK(static_cast<bool>(t.dw.fast[k5][s2]));
    CHECK((t.dw_wide.lanes == 16) == (isa == Isa::Avx512));
    CHECK(static_cast<bool>(t.max_pool_row));
    CHECK(static_cast<bool>(t.avg_pool_row));
    CHECK(static_cast<bool>(t.global_avg_pool));
    for (int op = 0; op < 2; ++op)
      for (int clamp = 0; clamp < 2; ++clamp) CHECK(static_cast<bool>(t.ew[op][clamp]));
    CHECK(static_cast<bool>(t.affine[0]));
    CHECK(static_cast<bool>(t.affine[1]));
    CHECK(static_cast<bool>(t.bilinear_row));
    CHECK(static_cast<bool>(t.softmax_rows));
    CHECK(static_cast<bool>(t.softmax_short_rows));
    CHECK(static_cast<bool>(t.se_sum));
    CHECK(static_cast<bool>(t.se_dense));
    for (int f4 = 0; f4 < 2; ++f4) {
      CHECK(static_cast<bool>(t.wino.input[f4]));
      CHECK(static_cast<bool>(t.wino.output[f4]));
    }
  }
}

struct ConvCase {
  int n, h, w, cin, cout, kh, kw, sh, sw, dh, dw;
  Padding pad;
  int act;  // index into epilogues()
};

std::string conv_case_str(const ConvCase& c) {
  return std::to_string(c.n) + "x" + std::to_string(c.h) + "x" + std::to_string(c.w) + "x" +
         std::to_string(c.cin) + " -> " + std::to_string(c.cout) + " k" + std::to_string(c.kh) +
         "x" + std::to_string(c.kw) + " s" + std::to_string(c.sh) + "x" + std::to_string(c.sw) +
         " d" + std::to_string(c.dh) + "x" + std::to_string(c.dw) + " " + c.pad.str() + " act" +
         std::to_string(c.act);
}

// Returns false when the case has no valid output (window larger than the input).
bool check_conv(const ConvCase& c, Isa isa, int threads, std::mt19937& rng) {
  ConvParams p;
  p.stride_h = c.sh;
  p.stride_w = c.sw;
  p.dilation_h = c.dh;
  p.dilation_w = c.dw;
  p.padding = c.pad;
  p.activation = epilogues(c.cout, rng)[std::size_t(c.act)];
  const int fan_in = c.kh * c.kw * c.cin;
  const auto weight = scaled_weights(std::size_t(fan_in * c.cout), fan_in, rng);
  const auto bias = test::random_vector(std::size_t(c.cout), rng);
  const float* b = c.act % 2 ? bias.data() : nullptr;
  const Conv2d op(c.kh, c.kw, c.cin, c.cout, weight.data(), b, p, isa);
  const Tensor in = test::random_tensor(Shape(c.n, c.h, c.w, c.cin), rng);
  Shape out_shape;
  try {
    out_shape = op.output_shape({in.shape()});
  } catch (const Error&) {
    return false;
  }
  const Tensor out = run_op(op, in, threads, threads);
  Tensor ref(out_shape);
  conv2d_naive(in, weight.data(), b, c.kh, c.kw, c.cout, p, ref.view());
  CAPTURE(conv_case_str(c));
  CAPTURE(isa_name(isa));
  CAPTURE(threads);
  REQUIRE(out.shape() == ref.shape());
  REQUIRE(test::max_rel_error(out, ref) <= kTolerance);
  return true;
}

TEST_CASE("conv2d matches the naive conv on chosen cases") {
  std::mt19937 rng(3);
  const std::vector<ConvCase> cases = {
      // 1x1 as a direct GEMM, strided, padded
      {1, 15, 7, 17, 33, 1, 1, 1, 1, 1, 1, Padding::valid(), 1},
      {2, 9, 13, 64, 17, 1, 1, 1, 1, 1, 1, Padding::same(), 4},
      {2, 9, 13, 33, 5, 1, 1, 2, 2, 1, 1, Padding::valid(), 2},
      {1, 15, 7, 5, 64, 1, 1, 2, 1, 1, 1, Padding::same(), 5},
      {1, 4, 5, 3, 7, 1, 1, 1, 1, 1, 1, Padding::explicit_pads(1, 0, 2, 1), 1},
      {1, 5, 5, 3, 7, 1, 1, 2, 2, 1, 1, Padding::explicit_pads(0, 0, 3, 2), 3},
      {1, 1, 1, 64, 3, 1, 1, 1, 1, 1, 1, Padding::valid(), 6},
      // 3x3 and 5x5, the first layers of the emotion model and of BlazeFace
      {1, 16, 16, 1, 8, 3, 3, 1, 1, 1, 1, Padding::same(), 1},
      {2, 15, 7, 3, 24, 5, 5, 2, 2, 1, 1, Padding::same(), 1},
      {1, 15, 7, 33, 64, 3, 3, 1, 1, 1, 1, Padding::valid(), 0},
      {2, 9, 13, 17, 17, 3, 3, 2, 2, 1, 1, Padding::same(), 2},
      {1, 9, 13, 5, 3, 3, 3, 1, 1, 2, 2, Padding::same(), 4},
      {1, 15, 7, 3, 5, 3, 3, 1, 2, 2, 1, Padding::explicit_pads(2, 1, 0, 3), 5},
      {1, 9, 13, 17, 33, 1, 3, 1, 1, 1, 1, Padding::same(), 6},
      {1, 9, 13, 17, 33, 3, 1, 1, 1, 1, 1, Padding::explicit_pads(1, 0, 1, 0), 3},
      {2, 1, 1, 5, 3, 3, 3, 1, 1, 1, 1, Padding::same(), 1},
      {1, 3, 3, 64, 64, 5, 5, 2, 2, 1, 1, Padding::same(), 0},
  };
  for (Isa isa : test::isas())
    for (int threads : {1, 2})
      for (const ConvCase& c : cases) CHECK(check_conv(c, isa, threads, rng));
}

TEST_CASE("conv2d matches the naive conv on random awkward shapes") {
  std::mt19937 rng(2024);
  const int sizes[][2] = {{15, 7}, {1, 1}, {9, 13}, {4, 4}, {8, 8}, {2, 11}};
  const int channels[] = {1, 3, 5, 17, 33, 64};
  const int kernels[][2] = {{1, 1}, {3, 3}, {5, 5}, {1, 3}, {3, 1}};
  const Padding pads[] = {Padding::valid(), Padding::same(), Padding::explicit_pads(1, 2, 0, 1),
                          Padding::explicit_pads(0, 0, 0, 0)};
  auto pick = [&](int count) { return std::uniform_int_distribution<int>(0, count - 1)(rng); };
  int checked = 0;
  for (int i = 0; i < 160; ++i) {
    const auto& s = sizes[pick(6)];
    const auto& k = kernels[pick(5)];
    ConvCase c{1 + pick(2),
               s[0],
               s[1],
               channels[pick(6)],
               channels[pick(6)],
               k[0],
               k[1],
               1 + pick(2),
               1 + pick(2),
               pick(4) == 0 ? 2 : 1,
               pick(4) == 0 ? 2 : 1,
               pads[pick(4)],
               pick(7)};
    for (Isa isa : test::isas()) checked += check_conv(c, isa, 1 + i % 2, rng);
  }
  CHECK(checked > 200);  // most random cases have a valid output
}

TEST_CASE("conv2d runs with a scratch area planned for another thread count") {
  std::mt19937 rng(5);
  for (Isa isa : test::isas())
    for (int dilation : {1, 2}) {  // padded windows, and im2col
      ConvParams p;
      p.padding = Padding::same();
      p.dilation_h = p.dilation_w = dilation;
      const auto weight = scaled_weights(3 * 3 * 5 * 7, 45, rng);
      const Conv2d op(3, 3, 5, 7, weight.data(), nullptr, p, isa);
      const Tensor in = test::random_tensor(Shape(2, 31, 29, 5), rng);
      Tensor ref(op.output_shape({in.shape()}));
      conv2d_naive(in, weight.data(), nullptr, 3, 3, 7, p, ref.view());
      CAPTURE(dilation);
      CHECK(test::max_rel_error(run_op(op, in, 1, 2), ref) <= kTolerance);
      CHECK(test::max_rel_error(run_op(op, in, 2, 1), ref) <= kTolerance);
      CHECK(test::max_rel_error(run_op(op, in, 1, 8), ref) <= kTolerance);
      CHECK(test::max_rel_error(run_op(op, in, 8, 3), ref) <= kTolerance);
    }
}

TEST_CASE("conv2d needs scratch only for padded windows and im2col") {
  std::vector<float> w(3 * 3 * 4 * 8, 0.1f);
  ConvParams valid, same, dilated;
  same.padding = Padding::same();
  dilated.dilation_w = 2;
  const std::vector<Shape> in = {Shape(1, 15, 8, 4)};
  CHECK(Conv2d(1, 1, 4, 8, w.data(), nullptr, valid, Isa::Scalar).scratch_floats(in, 2) == 0);
  CHECK(Conv2d(3, 3, 4, 8, w.data(), nullptr, valid, Isa::Scalar).scratch_floats(in, 2) == 0);
  CHECK(Conv2d(1, 1, 4, 8, w.data(), nullptr, same, Isa::Scalar).scratch_floats(in, 2) == 0);
  CHECK(Conv2d(3, 3, 4, 8, w.data(), nullptr, same, Isa::Scalar).scratch_floats(in, 2) > 0);
  CHECK(Conv2d(3, 3, 4, 8, w.data(), nullptr, dilated, Isa::Scalar).scratch_floats(in, 2) > 0);
  // Modest: a block per thread, not the whole im2col matrix.
  const std::vector<Shape> big = {Shape(1, 128, 128, 4)};
  CHECK(Conv2d(3, 3, 4, 8, w.data(), nullptr, same, Isa::Scalar).scratch_floats(big, 2) <
        128 * 128 * 36 / 8);
  CHECK(Conv2d(3, 3, 4, 8, w.data(), nullptr, dilated, Isa::Scalar).scratch_floats(big, 2) <
        128 * 128 * 36 / 8);
}

TEST_CASE("conv2d reports shapes, cost and errors") {
  std::vector<float> w(3 * 3 * 4 * 8, 0.1f), bias(8, 0.f);
  ConvParams p;
  p.stride_h = p.stride_w = 2;
  p.padding = Padding::same();
  p.activation = Activation::relu6();
  const Conv2d op(3, 3, 4, 8, w.data(), bias.data(), p, Isa::Scalar);
  CHECK(std::string(op.type()) == "conv2d");
  CHECK(op.output_shape({Shape(2, 15, 8, 4)}) == Shape(2, 8, 4, 8));
  CHECK(op.macs({Shape(2, 15, 8, 4)}) == int64_t(2) * 8 * 4 * 8 * 9 * 4);
  CHECK(op.parameters() == 3 * 3 * 4 * 8 + 8);
  CHECK(op.describe() == "3x3/2 same relu6 4->8");
  CHECK_THROWS_AS(op.output_shape({Shape(1, 15, 8, 3)}), Error);  // wrong Cin
  CHECK_THROWS_AS(op.output_shape({}), Error);
  ConvParams valid;
  const Conv2d big(5, 5, 4, 8, std::vector<float>(5 * 5 * 4 * 8).data(), nullptr, valid,
                   Isa::Scalar);
  CHECK_THROWS_AS(big.output_shape({Shape(1, 4, 9, 4)}), Error);  // window larger than input
  CHECK(big.parameters() == 5 * 5 * 4 * 8);
  CHECK_THROWS_AS(Conv2d(3, 3, 0, 8, w.data(), nullptr, p, Isa::Scalar), Error);
  ConvParams bad_prelu;
  bad_prelu.activation = Activation::prelu({1.f, 2.f});
  CHECK_THROWS_AS(Conv2d(1, 1, 4, 8, w.data(), nullptr, bad_prelu, Isa::Scalar), Error);
}

TEST_CASE("conv2d_naive is an independent reference") {
  // A hand-computed 3x3 SAME conv of a 3x3 ramp with an all-ones kernel.
  std::vector<float> x = {1, 2, 3, 4, 5, 6, 7, 8, 9}, w(9, 1.f);
  Tensor in(Shape(1, 3, 3, 1), x.data()), out(Shape(1, 3, 3, 1));
  ConvParams p;
  p.padding = Padding::same();
  conv2d_naive(in, w.data(), nullptr, 3, 3, 1, p, out.view());
  CHECK(out.at(0, 0, 0, 0) == doctest::Approx(1 + 2 + 4 + 5));
  CHECK(out.at(0, 1, 1, 0) == doctest::Approx(45));
  CHECK(out.at(0, 2, 1, 0) == doctest::Approx(4 + 5 + 6 + 7 + 8 + 9));
}

TEST_CASE("dense matches the naive layer") {
  std::mt19937 rng(9);
  const Shape inputs[] = {Shape(1, 1, 1, 1),  Shape(2, 1, 1, 7),   Shape(5, 1, 1, 33),
                          Shape(13, 3, 5, 7), Shape(1, 2, 4, 256), Shape(7, 1, 1, 100)};
  const int couts[] = {1, 2, 7, 16, 17, 64};
  for (Isa isa : test::isas())
    for (const Shape& s : inputs)
      for (int cout : couts) {
        const int cin = s.h * s.w * s.c;
        const auto weight = scaled_weights(std::size_t(cin * cout), cin, rng);
        const auto bias = test::random_vector(std::size_t(cout), rng);
        const Tensor in = test::random_tensor(s, rng);
        const auto acts = epilogues(cout, rng);
        const Activation& act = acts[std::size_t(cout + s.n) % acts.size()];
        const float* b = cout % 2 ? bias.data() : nullptr;
        const Dense op(cin, cout, weight.data(), b, act, isa);
        Tensor ref(Shape(s.n, 1, 1, cout));
        dense_naive(in, weight.data(), b, cout, act, ref.view());
        for (int threads : {1, 2}) {
          CAPTURE(isa_name(isa));
          CAPTURE(s.str());
          CAPTURE(cout);
          CAPTURE(act.name());
          CHECK(test::max_rel_error(run_op(op, in, threads, threads), ref) <= kTolerance);
        }
      }
}

TEST_CASE("dense reports shapes, cost and errors") {
  std::vector<float> w(24 * 7, 0.5f);
  const Dense op(24, 7, w.data(), nullptr, Activation::relu(), Isa::Scalar);
  CHECK(std::string(op.type()) == "dense");
  CHECK(op.output_shape({Shape(3, 2, 3, 4)}) == Shape(3, 1, 1, 7));
  CHECK(op.macs({Shape(3, 1, 1, 24)}) == 3 * 24 * 7);
  CHECK(op.parameters() == 24 * 7);
  CHECK(op.describe() == "24->7 relu");
  CHECK_THROWS_AS(op.output_shape({Shape(1, 1, 1, 25)}), Error);
  CHECK_THROWS_AS(op.output_shape({Shape(1, 1, 1, 24), Shape(1, 1, 1, 24)}), Error);
  CHECK_THROWS_AS(Dense(24, 7, w.data(), nullptr, Activation::prelu({1.f, 2.f}), Isa::Scalar),
                  Error);
  // Known values: all weights 0.5, input all 1 -> 12 per output before relu.
  Tensor in(Shape(1, 1, 1, 24));
  for (float& v : in) v = 1.f;
  const Tensor out = run_op(op, in, 1, 1);
  CHECK(out.at(0, 0, 0, 6) == doctest::Approx(12.f));
}

}  // namespace
}  // namespace mien
