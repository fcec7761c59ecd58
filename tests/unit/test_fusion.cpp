// Load-time fusions (model/optimize.hpp), above all the residual add fused into a 1x1
// conv's GEMM store: optimised graphs must equal unoptimised ones within 1e-5, on synthetic
// graphs that cover every way the add can be written and on the shipped models.
#include <cmath>
#include <random>
#include <string>
#include <vector>

#include "mien/mien.hpp"
#include "test_util.hpp"

namespace mien {
namespace {

// 1x1 convs with a fused residual, alone or as the pointwise half of a depthwise_pointwise.
int count_residual_convs(const Model& m) {
  int n = 0;
  for (const Step& st : m.steps()) {
    const std::string type = st.op->type();
    if ((type == "conv2d" || type == "depthwise_pointwise") && st.inputs.size() == 2) ++n;
  }
  return n;
}

std::vector<float> weights(std::size_t n, int fan_in, std::mt19937& rng) {
  const float s = 1.f / std::sqrt(float(fan_in));
  return test::random_vector(n, rng, -s, s);
}

// x -> dw3x3 -> conv1x1 (c -> c) -> add(conv, x) [+ act], the BlazeFace block; `swap` writes
// add(x, conv); `tail` adds a second block whose residual is the first block's output.
GraphDef residual_graph(int c, const Activation& act, bool swap, bool tail, std::mt19937& rng) {
  GraphBuilder b;
  std::string x = b.input("x", -1, -1, c);
  for (int block = 0; block < (tail ? 2 : 1); ++block) {
    const std::string d =
        b.depthwise_conv2d(x, 3, 3, c, weights(std::size_t(9 * c), 9, rng),
                           test::random_vector(std::size_t(c), rng), conv(1, Padding::same()));
    const std::string p = b.conv2d(d, 1, 1, c, c, weights(std::size_t(c * c), c, rng),
                                   test::random_vector(std::size_t(c), rng), conv());
    x = swap ? b.add(x, p, act) : b.add(p, x, act);
  }
  return b.build({x});
}

TEST_CASE("residual add fuses into the 1x1 conv and matches the unfused graph") {
  std::mt19937 rng(21);
  const std::vector<Activation> acts = {Activation::none(), Activation::relu(), Activation::relu6(),
                                        Activation::leaky_relu(0.1f),
                                        Activation::prelu(test::random_vector(1, rng, 0.f, 0.5f))};
  for (int c : {5, 16, 24, 33, 48})
    for (std::size_t ai = 0; ai < acts.size(); ++ai)
      for (bool swap : {false, true}) {
        const bool tail = (c + int(ai)) % 2 == 0;
        Activation act = acts[ai];
        if (act.kind == ActKind::PRelu)
          act = Activation::prelu(test::random_vector(std::size_t(c), rng, 0.f, 0.5f));
        const GraphDef g = residual_graph(c, act, swap, tail, rng);
        const Tensor in = test::random_tensor(Shape(2, 9, 13, c), rng);
        const Tensor expected =
            test::run_model(Model(g, test::model_options(Isa::Scalar, false)), in);
        for (Isa isa : test::isas()) {
          CAPTURE(c);
          CAPTURE(act.name());
          CAPTURE(swap);
          CAPTURE(isa_name(isa));
          const Model fused(g, test::model_options(isa, true));
          CHECK(count_residual_convs(fused) == (tail ? 2 : 1));
          for (const Step& st : fused.steps()) CHECK(std::string(st.op->type()) != "add");
          for (int threads : {1, 2}) {
            const Tensor got = test::run_model(fused, in, threads);
            REQUIRE(got.shape() == expected.shape());
            CHECK(test::max_rel_error(got, expected) <= 1e-5);
          }
        }
      }
}

TEST_CASE("residual fusion handles broadcast residuals and leaves other adds alone") {
  std::mt19937 rng(22);
  const int c = 12;
  GraphBuilder b;
  const std::string x = b.input("x", 8, 8, c);
  // conv + a per-channel vector (N x 1 x 1 x C) computed before: fused, broadcast path.
  const std::string g = b.global_avg_pool(x);
  const std::string p1 = b.conv2d(x, 1, 1, c, c, weights(std::size_t(c * c), c, rng),
                                  test::random_vector(std::size_t(c), rng), conv());
  const std::string a1 = b.add(p1, g, Activation::relu());
  // A conv on the 1x1 pooled value added to a full map: the conv side broadcasts.
  const std::string p2 = b.conv2d(g, 1, 1, c, c, weights(std::size_t(c * c), c, rng), {}, conv());
  const std::string a2 = b.add(a1, p2);
  // 3x3 conv: not fused. Conv with its own activation: not fused.
  const std::string p3 = b.conv2d(a2, 3, 3, c, c, weights(std::size_t(9 * c * c), 9 * c, rng), {},
                                  conv(1, Padding::same()));
  const std::string a3 = b.add(p3, a2);
  const std::string p4 = b.conv2d(a3, 1, 1, c, c, weights(std::size_t(c * c), c, rng), {},
                                  conv(1, Padding::valid(), Activation::relu()));
  const std::string a4 = b.add(p4, a3);
  // A conv output read twice (by the add and by a graph output) stays.
  const std::string p5 = b.conv2d(a4, 1, 1, c, c, weights(std::size_t(c * c), c, rng), {}, conv());
  const std::string a5 = b.add(p5, a4);
  const GraphDef graph = b.build({a5, p5});
  const Tensor in = test::random_tensor(Shape(3, 8, 8, c), rng);
  Model ref(graph, test::model_options(Isa::Scalar, false));
  Session rs(ref, 1);
  const std::vector<ConstTensorView> expected = rs.run(std::vector<ConstTensorView>{in.view()});
  std::vector<Tensor> want;
  for (const ConstTensorView& v : expected) want.emplace_back(v.shape, v.data);
  for (Isa isa : test::isas()) {
    CAPTURE(isa_name(isa));
    const Model fused(graph, test::model_options(isa, true));
    CHECK(count_residual_convs(fused) == 2);  // p1 (broadcast residual) and p2 (conv smaller)
    int adds = 0;
    for (const Step& st : fused.steps()) adds += std::string(st.op->type()) == "add";
    CHECK(adds == 3);
    for (int threads : {1, 2}) {
      Session s(fused, threads);
      const std::vector<ConstTensorView> got = s.run(std::vector<ConstTensorView>{in.view()});
      REQUIRE(got.size() == want.size());
      for (std::size_t k = 0; k < got.size(); ++k) {
        REQUIRE(got[k].shape == want[k].shape());
        CHECK(test::max_rel_error(got[k].data, want[k].data(), want[k].size()) <= 1e-5);
      }
    }
  }
}

TEST_CASE("a batch norm after a fused residual conv is not folded into its weights") {
  std::mt19937 rng(23);
  const int c = 8;
  GraphBuilder b;
  const std::string x = b.input("x", 6, 6, c);
  const std::string p = b.conv2d(x, 1, 1, c, c, weights(std::size_t(c * c), c, rng), {}, conv());
  const std::string a = b.add(p, x);
  const std::string n = b.batch_norm(a, test::random_vector(std::size_t(c), rng, 0.5f, 2.f),
                                     test::random_vector(std::size_t(c), rng));
  const std::string r = b.activation(n, Activation::relu());
  const GraphDef g = b.build({r});
  const Tensor in = test::random_tensor(Shape(1, 6, 6, c), rng);
  const Tensor expected = test::run_model(Model(g, test::model_options(Isa::Scalar, false)), in);
  for (Isa isa : test::isas()) {
    CAPTURE(isa_name(isa));
    const Model fused(g, test::model_options(isa, true));
    CHECK(count_residual_convs(fused) == 1);
    CHECK(test::max_rel_error(test::run_model(fused, in), expected) <= 1e-5);
  }
}

TEST_CASE("shipped models: optimised graphs equal unoptimised ones on their test vectors") {
  // Same ISA on both sides, so the difference is the rewrites alone (BlazeFace's box
  // outputs are pixels: float summation order across ISAs alone moves them by ~1e-4).
  for (const std::string name : {"blazeface", "emotion", "gender", "face_expression"}) {
    const std::string path = std::string(MIEN_SOURCE_DIR) + "/weights/" + name + ".mien";
    for (Isa isa : test::isas()) {
      CAPTURE(name);
      CAPTURE(isa_name(isa));
      ModelOptions with_tests = test::model_options(isa, false);
      with_tests.test_vectors = true;
      const Model plain = Model::load(path, with_tests);
      const Model fast = Model::load(path, test::model_options(isa, true));
      REQUIRE(!plain.graph().tests.empty());
      const TestVector& tv = plain.graph().tests.front();
      REQUIRE(tv.inputs.size() == 1);
      const Tensor& in = tv.inputs.begin()->second;
      if (name == "blazeface") CHECK(count_residual_convs(fast) >= 16);
      Session ps(plain, 1), fs(fast, 1);
      const std::vector<ConstTensorView> want = ps.run(std::vector<ConstTensorView>{in.view()});
      const std::vector<ConstTensorView> got = fs.run(std::vector<ConstTensorView>{in.view()});
      REQUIRE(got.size() == want.size());
      for (std::size_t k = 0; k < got.size(); ++k) {
        REQUIRE(got[k].shape == want[k].shape);
        CHECK(test::max_rel_error(got[k].data, want[k].data, want[k].shape.size()) <= 1e-5);
      }
    }
  }
}

}  // namespace
}  // namespace mien
