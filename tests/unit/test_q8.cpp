// int8 inference (issue 13): the int8 GEMM of every kernel set against its naive reference
// on awkward shapes, the activation quantizer bit for bit across sets, qconv2d against a
// float conv of the dequantized operands, the i8 tensors of the file format, and
// quantize_graph end to end (calibrated model close to the float one, its test vectors
// passing under every kernel set).
#include <algorithm>
#include <cmath>
#include <limits>
#include <random>
#include <string>
#include <vector>

#include "mien/kernels/q8.hpp"
#include "mien/model/builder.hpp"
#include "mien/model/check.hpp"
#include "mien/model/quantize.hpp"
#include "mien/ops/qconv2d.hpp"
#include "test_util.hpp"

namespace mien {
namespace {

std::vector<Q8Set> q8_sets() {
  std::vector<Q8Set> v;
  for (Q8Set s : {Q8Set::Scalar, Q8Set::Avx2, Q8Set::AvxVnni, Q8Set::Avx512Vnni})
    if (cpu_has_q8_set(s)) v.push_back(s);
  return v;
}

std::vector<int8_t> random_int8(std::size_t n, std::mt19937& rng) {
  std::uniform_int_distribution<int> d(-127, 127);
  std::vector<int8_t> v(n);
  for (auto& x : v) x = int8_t(d(rng));
  return v;
}

std::vector<uint8_t> random_uint8(std::size_t n, std::mt19937& rng) {
  std::uniform_int_distribution<int> d(0, 255);
  std::vector<uint8_t> v(n);
  for (auto& x : v) x = uint8_t(d(rng));
  return v;
}

// |a - b| within a few float roundings of the terms that made b.
void check_close(const std::vector<float>& got, const std::vector<float>& want, double scale,
                 const std::string& what) {
  REQUIRE(got.size() == want.size());
  double worst = 0;
  for (std::size_t i = 0; i < got.size(); ++i)
    worst = std::max(worst, std::fabs(double(got[i]) - want[i]) / (scale + std::fabs(want[i])));
  INFO(what);
  CHECK(worst < 2e-6);
}

TEST_CASE("int8 gemm: every kernel set matches the naive product on awkward sizes") {
  std::mt19937 rng(11);
  int cases = 0;
  for (Q8Set set : q8_sets())
    for (int m : {1, 5, 13, 31})
      for (int n : {1, 7, 8, 16, 17, 33, 70})
        for (int k : {1, 3, 4, 9, 63, 130}) {
          const int kp = q8_padded_k(k);
          const auto a = random_uint8(std::size_t(m) * kp + 3, rng);  // + 3: lda > kp below
          const auto b = random_int8(std::size_t(k) * n, rng);
          const auto ws = test::random_vector(std::size_t(n), rng, 1e-3f, 2e-2f);
          const auto bias = test::random_vector(std::size_t(n), rng, -1.f, 1.f);
          const auto res = test::random_vector(std::size_t(m) * n, rng, -1.f, 1.f);
          const Q8Input in{0.02f, int(rng() % 256)};
          const int64_t lda = (m % 2) ? kp : kp + 0;  // rows kp apart
          for (const Activation& act :
               {Activation::none(), Activation::relu6(), Activation::of(ActKind::Sigmoid)}) {
            const bool with_res = (m + n) % 2 == 0;
            std::vector<float> want(std::size_t(m) * n), got(want.size(), -7.f);
            q8_gemm_naive(m, n, k, a.data(), lda, b.data(), n, in, ws.data(), bias.data(),
                          want.data(), n, act, with_res ? res.data() : nullptr, n);
            const Q8Weights w(k, n, b.data(), n, ws.data(), bias.data(), in, set);
            q8_gemm_serial(w, m, a.data(), lda, got.data(), n, act, Isa::Scalar,
                           with_res ? res.data() : nullptr, n);
            // Terms up to 255 * 127 * k * scale: a float rounding of that is the tolerance.
            check_close(got, want, 1.0,
                        std::string(q8_set_name(set)) + " m" + std::to_string(m) + " n" +
                            std::to_string(n) + " k" + std::to_string(k) + " " + act.name());
            ++cases;
          }
        }
  CHECK(cases > 0);
}

TEST_CASE("int8 gemm: a wrong accumulator is caught (the test can fail)") {
  std::mt19937 rng(3);
  const int m = 4, n = 16, k = 12;
  const auto a = random_uint8(std::size_t(m) * k, rng);
  auto b = random_int8(std::size_t(k) * n, rng);
  const std::vector<float> ws(n, 0.01f);
  const Q8Input in{0.05f, 3};
  std::vector<float> want(std::size_t(m) * n), got(want.size());
  q8_gemm_naive(m, n, k, a.data(), k, b.data(), n, in, ws.data(), nullptr, want.data(), n,
                Activation::none());
  b[5] = int8_t(b[5] == 100 ? 101 : 100);  // one weight off by some units
  const Q8Weights w(k, n, b.data(), n, ws.data(), nullptr, in, Q8Set::Scalar);
  q8_gemm_serial(w, m, a.data(), k, got.data(), n, Activation::none(), Isa::Scalar);
  double worst = 0;
  for (std::size_t i = 0; i < got.size(); ++i)
    worst = std::max(worst, std::fabs(double(got[i]) - want[i]));
  CHECK(worst > 1e-3);
}

TEST_CASE("int8 quantizer: every set gives the same bytes, half to even, NaN and infinities") {
  std::mt19937 rng(5);
  std::vector<float> x = test::random_vector(1037, rng, -30.f, 30.f);
  const float inv = 4.f;  // scale 0.25: x = k / 8 lands exactly on halves
  for (int i = 0; i < 64; ++i) x[std::size_t(i)] = float(i - 32) / 8.f;
  x[100] = std::numeric_limits<float>::quiet_NaN();
  x[101] = std::numeric_limits<float>::infinity();
  x[102] = -std::numeric_limits<float>::infinity();
  const int zp = 100;
  std::vector<uint8_t> ref(x.size());
  for (std::size_t i = 0; i < x.size(); ++i) {
    double v = std::nearbyint(double(x[i]) * inv);  // double is exact here
    if (std::isnan(x[i])) v = -zp;
    v = std::max(double(-zp), std::min(double(255 - zp), v));
    ref[i] = uint8_t(int(v) + zp);
  }
  CHECK(ref[32 + 4] == zp + 2);  // 0.5 * 4 = 2
  CHECK(ref[32 + 1] == zp + 0);  // 0.125 * 4 = 0.5 -> 0 (half to even)
  CHECK(ref[32 + 3] == zp + 2);  // 1.5 -> 2
  CHECK(ref[100] == 0);
  CHECK(ref[101] == 255);
  CHECK(ref[102] == 0);
  for (Q8Set set : q8_sets()) {
    std::vector<uint8_t> q(x.size(), 7);
    kernels::q8_kernels(set).quantize(x.data(), int64_t(x.size()), inv, zp, q.data());
    INFO(q8_set_name(set));
    CHECK(q == ref);
  }
}

// The float conv of the dequantized operands: what qconv2d must compute.
Tensor qconv_reference(const Tensor& x, const std::vector<int8_t>& w, const std::vector<float>& ws,
                       const std::vector<float>& bias, int kh, int kw, int cout,
                       const ConvParams& p, const Q8Input& in) {
  Tensor xq(x.shape());
  for (int64_t i = 0; i < x.shape().size(); ++i) {
    const uint8_t q =
        kernels::scalar::Q::quantize_one(x.data()[i], in.inverse(), float(-in.zero_point),
                                         float(255 - in.zero_point), in.zero_point);
    xq.data()[i] = float((int(q) - in.zero_point) * double(in.scale));
  }
  std::vector<float> wf(w.size());
  for (std::size_t i = 0; i < w.size(); ++i) wf[i] = float(w[i]) * ws[i % std::size_t(cout)];
  const int cin = x.shape().c;
  const AxisPadding rows = p.rows(x.shape().h, kh), cols = p.cols(x.shape().w, kw);
  Tensor out(Shape(x.shape().n, rows.out, cols.out, cout));
  (void)cin;
  conv2d_naive(xq.view(), wf.data(), bias.data(), kh, kw, cout, p, out.view());
  return out;
}

Tensor run_qconv(const QConv2d& op, const std::vector<const Tensor*>& ins, int threads) {
  std::vector<Shape> shapes;
  std::vector<ConstTensorView> views;
  for (const Tensor* t : ins) {
    shapes.push_back(t->shape());
    views.push_back(t->view());
  }
  Tensor out(op.output_shape(shapes));
  AlignedBuffer scratch(std::max<std::size_t>(op.scratch_floats(shapes, threads), 1));
  RunContext ctx;
  ctx.threads = threads;
  ctx.scratch = scratch.data();
  ctx.scratch_size = scratch.size();
  op.run(views.data(), out.view(), ctx);
  return out;
}

TEST_CASE("qconv2d matches the float conv of its dequantized operands") {
  std::mt19937 rng(17);
  struct Case {
    int n, h, w, cin, cout, kh, kw, stride, dilation;
    Padding pad;
    Activation act;
  };
  const std::vector<Case> cases = {
      {1, 7, 9, 8, 16, 1, 1, 1, 1, Padding::valid(), Activation::none()},  // direct, Cin % 4 == 0
      {2, 5, 6, 6, 19, 1, 1, 1, 1, Padding::valid(), Activation::relu()},  // direct, padded rows
      {1, 9, 8, 5, 7, 3, 3, 1, 1, Padding::same(), Activation::relu6()},   // im2col, zp border
      {2, 11, 10, 12, 33, 3, 3, 2, 1, Padding::valid(), Activation::none()},         // stride 2
      {1, 12, 13, 4, 8, 3, 3, 1, 2, Padding::same(), Activation::leaky_relu(0.1f)},  // dilation
      {1, 6, 7, 16, 40, 1, 1, 2, 1, Padding::same(), Activation::none()},            // 1x1 stride 2
      {1, 5, 5, 3, 9, 5, 5, 1, 1, Padding::explicit_pads(1, 2, 0, 3),
       Activation::of(ActKind::Sigmoid)},
  };
  for (const Case& c : cases) {
    ConvParams p;
    p.stride_h = p.stride_w = c.stride;
    p.dilation_h = p.dilation_w = c.dilation;
    p.padding = c.pad;
    p.activation = c.act;
    const Tensor x = test::random_tensor(Shape(c.n, c.h, c.w, c.cin), rng, -1.f, 3.f);
    const auto w = random_int8(std::size_t(c.kh) * c.kw * c.cin * c.cout, rng);
    const auto ws = test::random_vector(std::size_t(c.cout), rng, 1e-3f, 1e-2f);
    const auto bias = test::random_vector(std::size_t(c.cout), rng, -0.5f, 0.5f);
    const Q8Input in{4.f / 255.f, 64};  // [-1, 3]
    const Tensor want = qconv_reference(x, w, ws, bias, c.kh, c.kw, c.cout, p, in);
    for (Q8Set set : q8_sets())
      for (int threads : {1, 3}) {
        const QConv2d op(c.kh, c.kw, c.cin, c.cout, w.data(), ws.data(), bias.data(), p, in,
                         Isa::Scalar, set);
        const Tensor got = run_qconv(op, {&x}, threads);
        INFO(q8_set_name(set), " threads ", threads, " ", op.describe(), " in ", x.shape().str());
        REQUIRE(got.shape() == want.shape());
        CHECK(test::max_rel_error(got, want) < 1e-5);
      }
  }
}

TEST_CASE("qconv2d adds a fused residual, full or broadcast") {
  std::mt19937 rng(19);
  const Tensor x = test::random_tensor(Shape(2, 5, 7, 12), rng, 0.f, 2.f);
  const auto w = random_int8(std::size_t(12) * 20, rng);
  const auto ws = test::random_vector(20, rng, 1e-3f, 1e-2f);
  const auto bias = test::random_vector(20, rng, -0.5f, 0.5f);
  const Q8Input in{2.f / 255.f, 0};
  ConvParams p;
  p.activation = Activation::relu();
  ConvParams plain;
  const Tensor conv = qconv_reference(x, w, ws, bias, 1, 1, 20, plain, in);
  for (const Shape rs : {Shape(2, 5, 7, 20), Shape(2, 1, 1, 20)}) {
    const Tensor r = test::random_tensor(rs, rng, -1.f, 1.f);
    Tensor want(conv.shape());
    for (int n = 0; n < 2; ++n)
      for (int y = 0; y < 5; ++y)
        for (int xx = 0; xx < 7; ++xx)
          for (int c = 0; c < 20; ++c) {
            const float rv = rs.h == 1 ? r.view().pixel(n, 0, 0)[c] : r.view().pixel(n, y, xx)[c];
            want.view().pixel(n, y, xx)[c] = std::max(0.f, conv.view().pixel(n, y, xx)[c] + rv);
          }
    for (Q8Set set : q8_sets()) {
      const QConv2d op(1, 1, 12, 20, w.data(), ws.data(), bias.data(), p, in, Isa::Scalar, set,
                       true);
      const Tensor got = run_qconv(op, {&x, &r}, 2);
      INFO(q8_set_name(set), " residual ", rs.str());
      CHECK(test::max_rel_error(got, want) < 1e-5);
    }
  }
}

TEST_CASE("qconv2d refuses what it cannot compute") {
  const std::vector<int8_t> w(9 * 4 * 4, 1);
  const std::vector<float> ws(4, 0.1f);
  ConvParams p;
  CHECK_THROWS_AS(QConv2d(3, 3, 4, 4, w.data(), ws.data(), nullptr, p, Q8Input{0.f, 0}, Isa::Scalar,
                          Q8Set::Scalar),
                  Error);
  CHECK_THROWS_AS(QConv2d(3, 3, 4, 4, w.data(), ws.data(), nullptr, p, Q8Input{0.1f, 256},
                          Isa::Scalar, Q8Set::Scalar),
                  Error);
  CHECK_THROWS_AS(QConv2d(3, 3, 4, 4, w.data(), ws.data(), nullptr, p, Q8Input{0.1f, 0},
                          Isa::Scalar, Q8Set::Scalar, true),  // residual needs 1x1
                  Error);
  std::vector<int8_t> bad = w;
  bad[3] = -128;
  CHECK_THROWS_AS(QConv2d(3, 3, 4, 4, bad.data(), ws.data(), nullptr, p, Q8Input{0.1f, 0},
                          Isa::Scalar, Q8Set::Scalar),
                  Error);
}

TEST_CASE("i8 tensors: written as bytes, read back as the same values, non-integers refused") {
  MienFile f;
  FileTensor t;
  t.dims = {2, 3};
  t.data = {-127, -1, 0, 1, 5, 127};
  t.dtype = DType::I8;
  f.tensors["q"] = t;
  FileTensor g;
  g.dims = {2};
  g.data = {0.5f, -2.f};
  f.tensors["f"] = g;
  const std::vector<uint8_t> bytes = serialize_mien(f);
  const MienFile back = parse_mien(bytes.data(), bytes.size(), "mem");
  CHECK(back.tensors.at("q").data == t.data);
  CHECK(back.tensors.at("q").dtype == DType::I8);
  CHECK(back.tensors.at("f").data == g.data);
  CHECK(back.tensors.at("f").dtype == DType::F32);
  MienFile bad;
  t.data[2] = 0.5f;
  bad.tensors["q"] = t;
  CHECK_THROWS_AS(serialize_mien(bad), Error);
  t.data[2] = 200.f;
  bad.tensors["q"] = t;
  CHECK_THROWS_AS(serialize_mien(bad), Error);
}

// input -> conv 3x3 (relu) -> conv 1x1 -> add(residual) -> conv 3x3 -> global pool -> softmax
GraphDef small_float_graph(std::mt19937& rng) {
  GraphBuilder b;
  const std::string x = b.input("x", 12, 12, 8);
  ConvParams relu;
  relu.activation = Activation::relu();
  relu.padding = Padding::same();
  const std::string c1 =
      b.conv2d(x, 3, 3, 8, 16, test::random_vector(3 * 3 * 8 * 16, rng, -0.2f, 0.2f),
               test::random_vector(16, rng, -0.1f, 0.1f), relu);
  const std::string c2 = b.conv2d(c1, 1, 1, 16, 16, test::random_vector(16 * 16, rng, -0.3f, 0.3f),
                                  test::random_vector(16, rng, -0.1f, 0.1f), ConvParams{});
  const std::string s = b.add(c2, c1);
  ConvParams same;
  same.padding = Padding::same();
  const std::string c3 =
      b.conv2d(s, 3, 3, 16, 5, test::random_vector(3 * 3 * 16 * 5, rng, -0.2f, 0.2f), {}, same);
  const std::string gp = b.global_avg_pool(c3);
  return b.build({b.softmax(gp)});
}

TEST_CASE("quantize_graph: int8 convs, close to the float model, test vectors pass everywhere") {
  std::mt19937 rng(23);
  const GraphDef g = small_float_graph(rng);
  std::vector<Tensor> calibration;
  for (int i = 0; i < 3; ++i)
    calibration.push_back(test::random_tensor(Shape(4, 12, 12, 8), rng, 0.f, 1.f));
  QuantizeOptions opt;
  opt.min_k = 16;
  opt.min_cout = 1;
  const QuantizeResult r = quantize_graph(g, calibration, opt);
  int q = 0;
  for (const NodeDef& n : r.graph.nodes) q += n.op == "qconv2d";
  CHECK(q == 3);
  CHECK(r.images == 12);
  CHECK(r.graph.tests.size() == 2);

  // Through the file format, as `mien quantize` writes it.
  const std::vector<uint8_t> bytes = serialize_mien(graph_to_file(r.graph));
  for (Isa isa : test::isas()) {
    ModelOptions mo = test::model_options(isa, true);
    mo.test_vectors = true;
    const Model qm = Model::from_memory(bytes.data(), bytes.size(), "q.mien", mo);
    const CheckReport rep = check_test_vectors(qm, 2);
    INFO(isa_name(isa));
    CHECK(rep.passed());
    // Close to the float model on a new input (8-bit activations: about 1% of the range).
    const Model fm(g, test::model_options(isa, true));
    const Tensor x = test::random_tensor(Shape(2, 12, 12, 8), rng, 0.f, 1.f);
    const Tensor a = test::run_model(fm, x), bq = test::run_model(qm, x);
    CHECK(test::max_abs_error(a.data(), bq.data(), a.shape().size()) < 0.02);
    CHECK(test::max_abs_error(a.data(), bq.data(), a.shape().size()) > 0.0);  // really int8
  }

  // A conv below min_k stays float and says why.
  opt.min_k = 100;
  const QuantizeResult r2 = quantize_graph(g, calibration, opt);
  int floats = 0;
  for (const QuantizedLayer& l : r2.layers)
    if (!l.quantized) {
      ++floats;
      CHECK(!l.why.empty());
    }
  CHECK(floats == 2);  // K = 72 and 16; the 3x3 16->5 conv has K = 144
}

// input -> depthwise 3x3 whose channels' ranges differ up to 64x -> pointwise 1x1 32->24 ->
// global pool. The pointwise weights that read a narrow channel are as much larger, so every
// channel matters as much to the output: what folding batch norms into a separable conv
// (big-XCEPTION, FaceExpressionNet) gives, and where one uint8 scale for the pointwise
// conv's input leaves the narrow channels a few levels.
GraphDef skewed_separable_graph(std::mt19937& rng) {
  GraphBuilder b;
  const std::string x = b.input("x", 10, 10, 32);
  auto channel_gain = [](std::size_t k) { return std::ldexp(1.f, int(k % 7) - 3); };
  std::vector<float> dw = test::random_vector(3 * 3 * 32, rng, -0.3f, 0.3f);
  for (std::size_t i = 0; i < dw.size(); ++i) dw[i] *= channel_gain(i % 32);
  std::vector<float> pw = test::random_vector(32 * 24, rng, -0.3f, 0.3f);
  for (std::size_t i = 0; i < pw.size(); ++i) pw[i] /= channel_gain(i / 24);  // [cin][cout]
  ConvParams same;
  same.padding = Padding::same();
  const std::string d =
      b.depthwise_conv2d(x, 3, 3, 32, dw, test::random_vector(32, rng, -0.1f, 0.1f), same);
  const std::string p =
      b.conv2d(d, 1, 1, 32, 24, pw, test::random_vector(24, rng, -0.1f, 0.1f), ConvParams{});
  return b.build({b.global_avg_pool(p)});
}

TEST_CASE(
    "quantize_graph: channel equalization keeps the float function, evens the ranges, "
    "and lowers the int8 error") {
  std::mt19937 rng(31);
  const GraphDef g = skewed_separable_graph(rng);
  std::vector<Tensor> calibration;
  for (int i = 0; i < 2; ++i)
    calibration.push_back(test::random_tensor(Shape(4, 10, 10, 32), rng, -1.f, 1.f));
  const Tensor probe = test::random_tensor(Shape(3, 10, 10, 32), rng, -1.f, 1.f);

  // The float graph after equalization computes the same function.
  GraphDef eq = g;
  std::string pw_name;
  for (const NodeDef& n : eq.nodes)
    if (n.op == "conv2d") pw_name = n.name;
  const std::vector<std::string> done = detail::equalize_inputs(eq, {pw_name}, calibration, 1.0);
  REQUIRE(done == std::vector<std::string>{pw_name});
  const Model fm(g, test::model_options(Isa::Scalar, true));
  const Model em(eq, test::model_options(Isa::Scalar, true));
  const Tensor a = test::run_model(fm, probe), e = test::run_model(em, probe);
  CHECK(test::max_abs_error(a.data(), e.data(), a.shape().size()) < 1e-5);

  // ... and its pointwise input's channels now span the same range (alpha 1).
  std::string dw_name;
  for (const NodeDef& n : eq.nodes)
    if (n.op == "depthwise_conv2d") dw_name = n.name;
  GraphDef dw_only = eq;
  dw_only.outputs = {dw_only.nodes[0].output};
  dw_only.nodes.resize(1);
  REQUIRE(dw_only.nodes[0].name == dw_name);
  const Model dm(dw_only, test::model_options(Isa::Scalar, true));
  std::vector<double> r(32, 0.0);
  for (const Tensor& c : calibration) {
    const Tensor y = test::run_model(dm, c);
    for (int64_t i = 0; i < y.shape().size(); ++i)
      r[std::size_t(i % 32)] = std::max(r[std::size_t(i % 32)], double(std::fabs(y.data()[i])));
  }
  const double r_max = *std::max_element(r.begin(), r.end());
  for (double v : r) CHECK(v == doctest::Approx(r_max).epsilon(1e-4));

  // int8 with equalization is closer to the float model than without.
  QuantizeOptions opt;
  opt.min_k = 1;
  opt.min_cout = 1;
  opt.equalize = 0.0;
  const QuantizeResult plain = quantize_graph(g, calibration, opt);
  opt.equalize = 1.0;
  const QuantizeResult equalized = quantize_graph(g, calibration, opt);
  CHECK(plain.equalized.empty());
  CHECK(equalized.equalized == std::vector<std::string>{pw_name});
  const Model pq(plain.graph, test::model_options(Isa::Scalar, true));
  const Model eqm(equalized.graph, test::model_options(Isa::Scalar, true));
  const Tensor yp = test::run_model(pq, probe), ye = test::run_model(eqm, probe);
  const double err_plain = test::max_abs_error(a.data(), yp.data(), a.shape().size());
  const double err_eq = test::max_abs_error(a.data(), ye.data(), a.shape().size());
  INFO("int8 max error vs float: plain ", err_plain, ", equalized ", err_eq);
  CHECK(err_eq < 0.5 * err_plain);
}

}  // namespace
}  // namespace mien
