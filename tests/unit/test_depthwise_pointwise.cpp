// depthwise_conv2d + 1x1 conv2d fused over bands of rows (ops/depthwise_pointwise.hpp, the
// rewrite in model/optimize.hpp): the fused op equals the two ops run one after the other
// on the same ISA bit for bit, whatever its bands and threads, and the naive references
// within 1e-5, on awkward
// shapes, bands that split images unevenly, every ISA, 1 and 2 threads; the rewrite fires
// where it should (and on the shipped models) and nowhere else.
#include <cmath>
#include <cstring>
#include <memory>
#include <random>
#include <string>
#include <vector>

#include "mien/mien.hpp"
#include "test_util.hpp"

namespace mien {
namespace {

Activation make_act(int kind, int channels, std::mt19937& rng) {
  switch (kind % 4) {
    case 1:
      return Activation::relu();
    case 2:
      return Activation::relu6();
    case 3:
      return Activation::prelu(test::random_vector(std::size_t(channels), rng, 0.f, 0.5f));
    default:
      return Activation::none();
  }
}

// A depthwise conv's and a pointwise conv's weights and parameters.
struct Separable {
  int k = 3, c = 1, cout = 1;
  ConvParams dwp, pwp;
  std::vector<float> dw_w, dw_b, pw_w, pw_b;  // empty bias: none
  bool residual = false;

  std::unique_ptr<DepthwiseConv2d> dw(Isa isa) const {
    return std::make_unique<DepthwiseConv2d>(k, k, c, dw_w.data(),
                                             dw_b.empty() ? nullptr : dw_b.data(), dwp, isa);
  }
  std::unique_ptr<Conv2d> pw(Isa isa) const {
    return std::make_unique<Conv2d>(1, 1, c, cout, pw_w.data(),
                                    pw_b.empty() ? nullptr : pw_b.data(), pwp, isa, residual);
  }
};

// The naive references, in double: act(pw(dw(x)) [+ r]), r broadcasting over H and W.
Tensor naive(const Separable& s, const Tensor& x, const Tensor* r) {
  const AxisPadding rows = s.dwp.rows(x.shape().h, s.k), cols = s.dwp.cols(x.shape().w, s.k);
  Tensor mid(Shape(x.shape().n, rows.out, cols.out, s.c));
  depthwise_conv2d_naive(x.view(), s.dw_w.data(), s.dw_b.empty() ? nullptr : s.dw_b.data(), s.k,
                         s.k, s.dwp, mid.view());
  Tensor out(Shape(mid.shape().n, mid.shape().h, mid.shape().w, s.cout));
  ConvParams lin = s.pwp;
  lin.activation = Activation::none();
  conv2d_naive(mid.view(), s.pw_w.data(), s.pw_b.empty() ? nullptr : s.pw_b.data(), 1, 1, s.cout,
               lin, out.view());
  const Shape o = out.shape();
  for (int n = 0; n < o.n; ++n)
    for (int y = 0; y < o.h; ++y)
      for (int xx = 0; xx < o.w; ++xx)
        for (int co = 0; co < o.c; ++co) {
          float v = out.view().pixel(n, y, xx)[co];
          if (r) {
            const Shape rs = r->shape();
            v += r->view().pixel(n, rs.h == 1 ? 0 : y, rs.w == 1 ? 0 : xx)[co];
          }
          out.view().pixel(n, y, xx)[co] = activate_naive(v, s.pwp.activation, co);
        }
  return out;
}

Tensor run_op(const Op& op, const std::vector<const Tensor*>& in, int threads) {
  std::vector<Shape> shapes;
  std::vector<ConstTensorView> views;
  for (const Tensor* t : in) {
    shapes.push_back(t->shape());
    views.push_back(t->view());
  }
  Tensor out(op.output_shape(shapes));
  AlignedBuffer scratch(std::max<std::size_t>(1, op.scratch_floats(shapes, threads)));
  RunContext ctx;
  ctx.threads = threads;
  ctx.scratch = scratch.data();
  ctx.scratch_size = scratch.size();
  op.run(views.data(), out.view(), ctx);
  return out;
}

bool same_bits(const Tensor& a, const Tensor& b) {
  return a.shape() == b.shape() &&
         std::memcmp(a.data(), b.data(), sizeof(float) * std::size_t(a.size())) == 0;
}

// The two ops one after the other, on the same ISA.
Tensor unfused(const Separable& s, Isa isa, const Tensor& x, const Tensor* r, int threads) {
  const auto dw = s.dw(isa);
  const auto pw = s.pw(isa);
  const Tensor mid = run_op(*dw, {&x}, threads);
  std::vector<const Tensor*> in = {&mid};
  if (r) in.push_back(r);
  return run_op(*pw, in, threads);
}

}  // namespace

TEST_CASE("depthwise_pointwise equals depthwise then pointwise, and the naive references") {
  std::mt19937 rng(131);
  const std::vector<std::pair<int, int>> sizes = {{1, 1}, {2, 3}, {7, 5}, {9, 13}, {16, 11}};
  const std::vector<Padding> pads = {Padding::same(), Padding::valid(),
                                     Padding::explicit_pads(1, 2, 0, 1)};
  const int couts[] = {1, 7, 16, 33};
  int index = 0, cases = 0;
  for (int c : {1, 5, 7, 15, 17, 24, 33})
    for (const auto& hw : sizes)
      for (int k : {3, 5})
        for (int stride : {1, 2})
          for (std::size_t pi = 0; pi < pads.size(); ++pi, ++index) {
            Separable s;
            s.k = k;
            s.c = c;
            s.cout = couts[index % 4];
            s.dwp = conv(stride, pads[pi], make_act(index / 3, c, rng));
            s.pwp = conv(1, Padding::valid(), make_act(index / 5 + 1, s.cout, rng));
            AxisPadding rows, cols;
            try {
              rows = s.dwp.rows(hw.first, k);
              cols = s.dwp.cols(hw.second, k);
            } catch (const Error&) {
              continue;  // VALID 5x5 on a 2x3 image
            }
            if (rows.out < 1 || cols.out < 1) continue;
            s.dw_w = test::random_vector(std::size_t(k * k * c), rng);
            if (index % 3 != 1) s.dw_b = test::random_vector(std::size_t(c), rng);
            s.pw_w = test::random_vector(std::size_t(c * s.cout), rng, -0.5f, 0.5f);
            if (index % 2 == 0) s.pw_b = test::random_vector(std::size_t(s.cout), rng);
            // Residual: none, of the output's shape, or broadcast per channel.
            const int res_kind = index % 3;
            s.residual = res_kind != 0;
            const int batch = index % 2 == 0 ? 3 : 1;
            const Tensor x = test::random_tensor(Shape(batch, hw.first, hw.second, c), rng);
            const Tensor r =
                test::random_tensor(res_kind == 2 ? Shape(batch, 1, 1, s.cout)
                                                  : Shape(batch, rows.out, cols.out, s.cout),
                                    rng);
            const Tensor* rp = s.residual ? &r : nullptr;
            const Tensor want = naive(s, x, rp);
            ++cases;
            for (Isa isa : test::isas())
              for (int threads : {1, 2}) {
                const Tensor ref = unfused(s, isa, x, rp, threads);
                // One row per band, a band of 3 rows' worth plus a bit (uneven), the default.
                const int64_t row = int64_t(cols.out) * c;
                for (int64_t band : {int64_t(1), 3 * row + 5, tuning::kDwPwBandFloats}) {
                  CAPTURE(c);
                  CAPTURE(hw.first);
                  CAPTURE(hw.second);
                  CAPTURE(k);
                  CAPTURE(stride);
                  CAPTURE(pads[pi].str());
                  CAPTURE(s.cout);
                  CAPTURE(s.dwp.activation.name());
                  CAPTURE(s.pwp.activation.name());
                  CAPTURE(res_kind);
                  CAPTURE(batch);
                  CAPTURE(std::string(isa_name(isa)));
                  CAPTURE(threads);
                  CAPTURE(band);
                  const DepthwisePointwise op(s.dw(isa), s.pw(isa), isa, band, 0);
                  std::vector<const Tensor*> in = {&x};
                  if (rp) in.push_back(rp);
                  const Tensor got = run_op(op, in, threads);
                  REQUIRE(got.shape() == want.shape());
                  CHECK(same_bits(got, ref));
                  CHECK(test::max_rel_error(got, want) <= 1e-5);
                }
              }
          }
  CHECK(cases > 300);
}

TEST_CASE("depthwise_pointwise: scratch planned for fewer threads still runs, description") {
  std::mt19937 rng(132);
  Separable s;
  s.k = 5;
  s.c = 24;
  s.cout = 24;
  s.residual = true;
  s.dwp = conv(1, Padding::same());
  s.pwp = conv(1, Padding::valid(), Activation::relu());
  s.dw_w = test::random_vector(std::size_t(25 * 24), rng);
  s.dw_b = test::random_vector(24, rng);
  s.pw_w = test::random_vector(24 * 24, rng, -0.3f, 0.3f);
  s.pw_b = test::random_vector(24, rng);
  const Tensor x = test::random_tensor(Shape(2, 33, 40, 24), rng);
  const Tensor r = test::random_tensor(Shape(2, 33, 40, 24), rng);
  for (Isa isa : test::isas()) {
    CAPTURE(std::string(isa_name(isa)));
    const DepthwisePointwise op(s.dw(isa), s.pw(isa), isa);
    CHECK(op.describe() == "dw5x5 same +pw relu 24->24 +residual");
    CHECK(std::string(op.type()) == "depthwise_pointwise");
    CHECK(op.num_inputs() == 2);
    const std::vector<Shape> shapes = {x.shape(), r.shape()};
    const std::size_t one = op.scratch_floats(shapes, 1), two = op.scratch_floats(shapes, 2);
    CHECK(one <= two);
    CHECK(one <= std::size_t(tuning::kDwPwBandFloats + 40 * 24 + 16));
    // Run with 2 threads on a scratch planned for 1.
    Tensor out(op.output_shape(shapes));
    AlignedBuffer scratch(one);
    RunContext ctx;
    ctx.threads = 2;
    ctx.scratch = scratch.data();
    ctx.scratch_size = one;
    const ConstTensorView in[2] = {x.view(), r.view()};
    op.run(in, out.view(), ctx);
    CHECK(same_bits(out, unfused(s, isa, x, &r, 2)));
    // Too small a scratch is an error, not an overrun.
    ctx.scratch_size = 7;
    CHECK_THROWS_AS(op.run(in, out.view(), ctx), Error);
  }
}

namespace {

int count_fused(const Model& m) {
  int n = 0;
  for (const Step& st : m.steps()) n += std::string(st.op->type()) == "depthwise_pointwise";
  return n;
}

std::vector<float> weights(std::size_t n, int fan_in, std::mt19937& rng) {
  const float s = 1.f / std::sqrt(float(fan_in));
  return test::random_vector(n, rng, -s, s);
}

}  // namespace

TEST_CASE("depthwise_pointwise rewrite: fires on separable convs only, results unchanged") {
  std::mt19937 rng(133);
  const int c = 12;
  GraphBuilder b;
  const std::string x = b.input("x", -1, -1, c);
  // 1: dw relu6 -> pw + residual x (relu): fused, with the residual.
  const std::string d1 =
      b.depthwise_conv2d(x, 5, 5, c, weights(25 * c, 25, rng), test::random_vector(c, rng),
                         conv(1, Padding::same(), Activation::relu6()));
  const std::string p1 = b.conv2d(d1, 1, 1, c, c, weights(c * c, c, rng), {}, conv());
  const std::string a1 = b.add(p1, x, Activation::relu());
  // 2: dw stride 2 -> batch norm -> pw 12->20 with a prelu: fused (the bn folds first).
  const std::string d2 = b.depthwise_conv2d(a1, 3, 3, c, weights(9 * c, 9, rng), {},
                                            conv(2, Padding::explicit_pads(0, 0, 1, 1)));
  const std::string n2 =
      b.batch_norm(d2, test::random_vector(c, rng, 0.5f, 2.f), test::random_vector(c, rng));
  const std::string p2 = b.conv2d(
      n2, 1, 1, c, 20, weights(c * 20, c, rng), test::random_vector(20, rng),
      conv(1, Padding::valid(), Activation::prelu(test::random_vector(20, rng, 0.f, 0.5f))));
  // 3: dw read twice (pw and a graph output): not fused.
  const std::string d3 =
      b.depthwise_conv2d(p2, 3, 3, 20, weights(9 * 20, 9, rng), {}, conv(1, Padding::same()));
  const std::string p3 = b.conv2d(d3, 1, 1, 20, 8, weights(20 * 8, 20, rng), {}, conv());
  // 4: dw -> 3x3 conv: not fused. 5: dw -> 1x1 stride-2 conv: not fused.
  const std::string d4 =
      b.depthwise_conv2d(p3, 3, 3, 8, weights(9 * 8, 9, rng), {}, conv(1, Padding::same()));
  const std::string p4 =
      b.conv2d(d4, 3, 3, 8, 8, weights(9 * 64, 72, rng), {}, conv(1, Padding::same()));
  const std::string d5 =
      b.depthwise_conv2d(p4, 3, 3, 8, weights(9 * 8, 9, rng), {}, conv(1, Padding::same()));
  const std::string p5 = b.conv2d(d5, 1, 1, 8, 8, weights(64, 8, rng), {}, conv(2));
  const GraphDef g = b.build({p5, d3});
  const Tensor in = test::random_tensor(Shape(2, 17, 14, c), rng);
  for (Isa isa : test::isas()) {
    CAPTURE(std::string(isa_name(isa)));
    ModelOptions split = test::model_options(isa, true);
    split.fuse_separable = false;
    const Model plain(g, split);
    const Model fused(g, test::model_options(isa, true));
    CHECK(count_fused(plain) == 0);
    CHECK(count_fused(fused) == 2);
    int with_residual = 0;
    for (const Step& st : fused.steps())
      if (std::string(st.op->type()) == "depthwise_pointwise") {
        with_residual += st.inputs.size() == 2;
        CHECK(st.op->describe().rfind("dw", 0) == 0);
      }
    CHECK(with_residual == 1);
    for (int threads : {1, 2}) {
      Session ps(plain, threads), fs(fused, threads);
      const std::vector<ConstTensorView> want = ps.run(std::vector<ConstTensorView>{in.view()});
      const std::vector<ConstTensorView> got = fs.run(std::vector<ConstTensorView>{in.view()});
      REQUIRE(got.size() == want.size());
      for (std::size_t k = 0; k < got.size(); ++k) {
        REQUIRE(got[k].shape == want[k].shape);
        CHECK(test::max_abs_error(got[k].data, want[k].data, want[k].shape.size()) == 0.0);
      }
    }
  }
}

TEST_CASE("depthwise_pointwise rewrite fires on the shipped models, results unchanged") {
  // Separable convs fused per model (every depthwise conv of these models feeds a 1x1 conv).
  const std::vector<std::pair<std::string, int>> models = {
      {"blazeface", 16}, {"face_expression", 1}, {"emotion", 1}, {"gender", 1}, {"age", 1}};
  for (const auto& [name, at_least] : models) {
    const std::string path = std::string(MIEN_SOURCE_DIR) + "/weights/" + name + ".mien";
    for (Isa isa : test::isas()) {
      CAPTURE(name);
      CAPTURE(std::string(isa_name(isa)));
      ModelOptions split = test::model_options(isa, true);
      split.fuse_separable = false;
      split.test_vectors = true;
      const Model plain = Model::load(path, split);
      const Model fused = Model::load(path, test::model_options(isa, true));
      const int n = count_fused(fused);
      MESSAGE(name, ": ", n, " depthwise_pointwise nodes");
      CHECK(n >= at_least);
      CHECK(fused.steps().size() + std::size_t(n) == plain.steps().size());
      REQUIRE(!plain.graph().tests.empty());
      const Tensor& x = plain.graph().tests.front().inputs.begin()->second;
      for (int threads : {1, 2}) {
        Session ps(plain, threads), fs(fused, threads);
        const std::vector<ConstTensorView> want = ps.run(std::vector<ConstTensorView>{x.view()});
        const std::vector<ConstTensorView> got = fs.run(std::vector<ConstTensorView>{x.view()});
        REQUIRE(got.size() == want.size());
        for (std::size_t k = 0; k < got.size(); ++k) {
          REQUIRE(got[k].shape == want[k].shape);
          CHECK(test::max_abs_error(got[k].data, want[k].data, want[k].shape.size()) == 0.0);
        }
      }
    }
  }
}

}  // namespace mien
