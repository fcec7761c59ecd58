// The AVX-512 pair tile for 32-column panels with 17..24 columns (kernels/body/gemm_pairs.inl):
// the GEMM and the convs that run it against the naive references on every ISA, and, on
// AVX-512, bit for bit against the 12x32 tile it replaces (same sums in the same order), on
// awkward shapes: N 17..31 and wider matrices whose last panel has 17..24 columns, odd and
// small K, M not a multiple of the tile, windowed A (several runs), residual and activation
// epilogues, strided C with gaps that must stay untouched, batch > 1, 1 and 2 threads.
#include <cmath>
#include <cstring>
#include <random>
#include <string>
#include <vector>

#include "mien/kernels/gemm.hpp"
#include "mien/ops/conv2d.hpp"
#include "test_util.hpp"

namespace mien {
namespace {

constexpr double kTolerance = 1e-5;

std::vector<Activation> epilogues(int channels, std::mt19937& rng) {
  return {Activation::none(), Activation::relu(), Activation::relu6(),
          Activation::clip(-0.25f, 0.5f),
          Activation::prelu(test::random_vector(std::size_t(channels), rng, 0.f, 0.5f))};
}

std::vector<float> scaled_weights(std::size_t count, int fan_in, std::mt19937& rng) {
  const float s = 1.f / std::sqrt(float(fan_in));
  return test::random_vector(count, rng, -s, s);
}

bool same_bits(const std::vector<float>& a, const std::vector<float>& b) {
  return a.size() == b.size() && std::memcmp(a.data(), b.data(), sizeof(float) * a.size()) == 0;
}

}  // namespace

TEST_CASE("gemm with 17..24-column panels matches the naive product on every ISA") {
  std::mt19937 rng(2417);
  const int ns[] = {17, 18, 20, 23, 24, 25, 28, 31, 56, 88};
  const int ks[] = {1, 2, 3, 5, 24, 75};
  const int ms[] = {1, 2, 3, 11, 12, 13, 25, 37};
  int index = 0;
  for (int n : ns)
    for (int k : ks)
      for (int m : ms) {
        ++index;
        const int64_t lda = k + 1, ldb = n, ldc = n + 3, ldr = n + 5;
        const auto a = test::random_vector(std::size_t(m * lda), rng);
        const auto b = scaled_weights(std::size_t(k * ldb), k, rng);
        const auto bias = test::random_vector(std::size_t(n), rng);
        const auto res = test::random_vector(std::size_t(m * ldr), rng);
        const float* r = index % 2 ? res.data() : nullptr;
        const auto acts = epilogues(n, rng);
        const Activation& act = acts[std::size_t(index) % acts.size()];
        std::vector<float> ref(std::size_t(m * ldc), 1234.f);
        gemm_naive(m, n, k, a.data(), lda, b.data(), ldb, bias.data(), ref.data(), ldc, act, r,
                   ldr);
        for (Isa isa : test::isas())
          for (int threads : {1, 2}) {
            CAPTURE(n);
            CAPTURE(k);
            CAPTURE(m);
            CAPTURE(act.name());
            CAPTURE(r != nullptr);
            CAPTURE(isa_name(isa));
            CAPTURE(threads);
            const GemmWeights w(k, n, b.data(), ldb, bias.data(), isa);
            std::vector<float> c(ref.size(), 1234.f);
            gemm(w, m, a.data(), lda, c.data(), ldc, act, isa, threads, r, ldr);
            // Also checks that the gaps between C rows (1234) were left alone.
            REQUIRE(test::max_rel_error(c.data(), ref.data(), int64_t(c.size())) <= kTolerance);
          }
      }
}

#if MIEN_X86
TEST_CASE("gemm pair tile equals the 12x32 tile bit for bit (AVX-512)") {
  if (!cpu_has_avx512()) return;
  // The table runs the pair tile for 32-column panels.
  const bool wired = kernels::kernel_table(Isa::Avx512).gemm32.block ==
                     &kernels::avx512::gemm_block_2v_pairs<12, 12>;
  CHECK(wired);
  const kernels::GemmBlockFn pairs = &kernels::avx512::gemm_block_2v_pairs<12, 12>;
  const kernels::GemmBlockFn plain = &kernels::avx512::gemm_block_2v<12, 12>;
  std::mt19937 rng(2418);
  int index = 0, cases = 0;
  for (int n = 17; n <= 31; ++n)
    for (int k : {1, 3, 9, 24, 75})
      for (int m : {1, 2, 3, 5, 12, 13, 23, 24, 31})
        for (int runs : {1, 3}) {
          if (k % runs != 0) continue;
          ++index;
          const int run = k / runs;
          // A as a conv window: `runs` runs of `run` values, run_step apart, rows lda apart.
          const int64_t run_step = run + 2, lda = runs * run_step + 1, ldc = n + 2, ldr = n + 7;
          const auto a = test::random_vector(std::size_t(m * lda + runs * run_step), rng);
          const auto b = scaled_weights(std::size_t(k * n), k, rng);
          const auto bias = test::random_vector(std::size_t(n), rng);
          const auto res = test::random_vector(std::size_t(m * ldr), rng);
          const GemmWeights w(k, n, b.data(), n, bias.data(), Isa::Avx512);
          REQUIRE(w.nr() == 32);
          const GemmA ga{a.data(), lda, runs, run_step};
          const Activation act = index % 3 == 0   ? Activation::none()
                                 : index % 3 == 1 ? Activation::relu()
                                                  : Activation::clip(-0.3f, 0.4f);
          const detail::GemmEpilogue ep =
              detail::gemm_epilogue(act, index % 2 ? res.data() : nullptr, ldr);
          std::vector<float> got(std::size_t(m * ldc), -9.f), want(got.size(), -9.f);
          pairs(w, m, ga, got.data(), ldc, ep, 12);
          plain(w, m, ga, want.data(), ldc, ep, 12);
          CAPTURE(n);
          CAPTURE(k);
          CAPTURE(m);
          CAPTURE(runs);
          CAPTURE(act.name());
          CAPTURE(ep.res != nullptr);
          CHECK(same_bits(got, want));
          // And the naive product (after the block, as gemm_serial does, for none).
          std::vector<float> ref(got.size(), -9.f);
          std::vector<float> dense(std::size_t(m * k));
          for (int i = 0; i < m; ++i)
            for (int s = 0; s < runs; ++s)
              for (int j = 0; j < run; ++j)
                dense[std::size_t(i * k + s * run + j)] =
                    a[std::size_t(i * lda + s * run_step + j)];
          gemm_naive(m, n, k, dense.data(), k, b.data(), n, bias.data(), ref.data(), ldc, act,
                     ep.res, ldr);
          CHECK(test::max_rel_error(got.data(), ref.data(), int64_t(got.size())) <= kTolerance);
          ++cases;
        }
  CHECK(cases > 1000);
}
#endif

TEST_CASE("convs with 17..24 output channels match the naive conv (1x1 + residual, 5x5/2)") {
  std::mt19937 rng(2419);
  for (int cout : {17, 21, 24, 56})
    for (int kind : {0, 1}) {
      // kind 0: BlazeFace's 5x5/2 same 3 -> N (im2col GEMM); 1: 1x1 N -> N + residual.
      const int k = kind == 0 ? 5 : 1, cin = kind == 0 ? 3 : 24;
      ConvParams p;
      p.stride_h = p.stride_w = kind == 0 ? 2 : 1;
      p.padding = kind == 0 ? Padding::same() : Padding::valid();
      p.activation = kind == 0 ? Activation::relu() : Activation::relu6();
      const auto w = scaled_weights(std::size_t(k * k * cin * cout), k * k * cin, rng);
      const auto bias = test::random_vector(std::size_t(cout), rng);
      const Tensor x = test::random_tensor(Shape(2, 13, 11, cin), rng);
      const AxisPadding rows = p.rows(13, k), cols = p.cols(11, k);
      const Shape os(2, rows.out, cols.out, cout);
      const Tensor r = test::random_tensor(os, rng);
      // Reference: the linear conv, + residual, then the activation.
      ConvParams lin = p;
      lin.activation = Activation::none();
      Tensor want(os);
      conv2d_naive(x.view(), w.data(), bias.data(), k, k, cout, lin, want.view());
      for (int64_t i = 0; i < want.size(); ++i) {
        const float v = want.data()[i] + (kind == 1 ? r.data()[i] : 0.f);
        want.data()[i] = activate_naive(v, p.activation, int(i % cout));
      }
      for (Isa isa : test::isas())
        for (int threads : {1, 2}) {
          CAPTURE(cout);
          CAPTURE(kind);
          CAPTURE(isa_name(isa));
          CAPTURE(threads);
          const Conv2d conv(k, k, cin, cout, w.data(), bias.data(), p, isa, kind == 1);
          std::vector<Shape> shapes = {x.shape()};
          std::vector<ConstTensorView> in = {x.view()};
          if (kind == 1) {
            shapes.push_back(r.shape());
            in.push_back(r.view());
          }
          Tensor got(conv.output_shape(shapes));
          AlignedBuffer scratch(std::max<std::size_t>(1, conv.scratch_floats(shapes, threads)));
          RunContext ctx;
          ctx.threads = threads;
          ctx.scratch = scratch.data();
          ctx.scratch_size = scratch.size();
          conv.run(in.data(), got.view(), ctx);
          REQUIRE(got.shape() == os);
          CHECK(test::max_rel_error(got, want) <= kTolerance);
        }
    }
}

}  // namespace mien
