// Graphs end to end: the four reference architectures, load-time fusion, the liveness
// arena, thread sharing, and the promise that a steady-state run allocates nothing.
#include <atomic>
#include <cstdlib>
#include <new>
#include <thread>

#include "architectures.hpp"
#include "mien/mien.hpp"
#include "mien/model/profile.hpp"
#include "test_util.hpp"

using namespace mien;

// ---- allocation counting: every operator new in this program goes through here ----
// The replacements pair malloc/free by design; GCC cannot see that and warns at inlined
// call sites, so the warning is off for this file.
#pragma GCC diagnostic ignored "-Wmismatched-new-delete"
namespace {
std::atomic<long> g_allocations{0};
}
namespace mien::test {
// For the other test files (test_parallel.cpp): operator new calls so far.
long allocations() {
  return g_allocations.load();
}
}  // namespace mien::test
void* operator new(std::size_t n) {
  ++g_allocations;
  if (void* p = std::malloc(n ? n : 1)) return p;
  throw std::bad_alloc();
}
void* operator new[](std::size_t n) {
  return operator new(n);
}
void* operator new(std::size_t n, std::align_val_t a) {
  ++g_allocations;
  const std::size_t al = std::size_t(a);
  if (void* p = std::aligned_alloc(al, (n + al - 1) / al * al)) return p;
  throw std::bad_alloc();
}
void* operator new(std::size_t n, std::align_val_t a, const std::nothrow_t&) noexcept {
  try {
    return operator new(n, a);
  } catch (...) {
    return nullptr;
  }
}
void operator delete(void* p) noexcept {
  std::free(p);
}
void operator delete[](void* p) noexcept {
  std::free(p);
}
void operator delete(void* p, std::size_t) noexcept {
  std::free(p);
}
void operator delete[](void* p, std::size_t) noexcept {
  std::free(p);
}
void operator delete(void* p, std::align_val_t) noexcept {
  std::free(p);
}
void operator delete(void* p, std::size_t, std::align_val_t) noexcept {
  std::free(p);
}

namespace {

struct Arch {
  const char* name;
  GraphDef (*make)();
  Shape input;
};

GraphDef make_xception() {
  return test::mini_xception();
}
GraphDef make_se() {
  return test::se_resnet_block();
}
GraphDef make_mobilenet() {
  return test::mobilenet_v1_block();
}
GraphDef make_vgg() {
  return test::vgg_block();
}

const Arch kArchs[] = {{"mini-xception", make_xception, Shape(2, 48, 48, 1)},
                       {"se-resnet-block", make_se, Shape(2, 16, 16, 32)},
                       {"mobilenet-v1-block", make_mobilenet, Shape(2, 32, 32, 3)},
                       {"vgg-block", make_vgg, Shape(2, 24, 24, 3)}};

}  // namespace

TEST_CASE("architectures run end to end: fused and AVX2 equal unfused scalar") {
  std::mt19937 rng(11);
  for (const Arch& a : kArchs) {
    CAPTURE(a.name);
    const Tensor input = test::random_tensor(a.input, rng);
    const Model reference(a.make(), test::model_options(Isa::Scalar, false));
    const Tensor expected = test::run_model(reference, input);
    for (Isa isa : test::isas()) {
      CAPTURE(isa_name(isa));
      const Model fast(a.make(), test::model_options(isa, true));
      CHECK(fast.steps().size() <= reference.steps().size());
      for (int threads : {1, 2}) {
        const Tensor got = test::run_model(fast, input, threads);
        REQUIRE(got.shape() == expected.shape());
        CHECK(test::max_rel_error(got, expected) <= 1e-5);
      }
    }
    // Softmax heads give probabilities.
    if (expected.shape().h == 1 && expected.shape().w == 1 && expected.shape().c == 7) {
      for (int n = 0; n < expected.shape().n; ++n) {
        double sum = 0;
        for (int c = 0; c < 7; ++c) sum += expected.at(n, 0, 0, c);
        CHECK(sum == doctest::Approx(1.0).epsilon(1e-5));
      }
    }
  }
}

TEST_CASE("load-time fusion removes batch_norm and activation nodes") {
  const Model unfused(test::mobilenet_v1_block(), test::model_options(Isa::Scalar, false));
  ModelOptions no_separable = test::model_options(Isa::Scalar, true);
  no_separable.fuse_separable = false;
  const Model fused(test::mobilenet_v1_block(), no_separable);
  // With the default rewrites, the 2 depthwise + pointwise pairs also become one node each.
  const Model all(test::mobilenet_v1_block(), test::model_options(Isa::Scalar, true));
  CHECK(all.steps().size() + 2 == fused.steps().size());
  int bn = 0, act = 0;
  for (const Step& s : fused.steps()) {
    bn += std::string(s.op->type()) == "batch_norm";
    act += std::string(s.op->type()) == "activation";
  }
  CHECK(bn == 0);
  CHECK(act == 0);
  CHECK(fused.steps().size() + 10 == unfused.steps().size());  // 5 BN + 5 ReLU6 fused
}

TEST_CASE("a model survives a .mien write/read round trip") {
  const GraphDef g = test::mini_xception();
  const std::vector<uint8_t> bytes = serialize_mien(graph_to_file(g));
  const Model a(g), b = Model::from_memory(bytes.data(), bytes.size(), "mem");
  std::mt19937 rng(5);
  const Tensor input = test::random_tensor(Shape(1, 48, 48, 1), rng);
  const Tensor ya = test::run_model(a, input), yb = test::run_model(b, input);
  CHECK(test::max_abs_error(ya.data(), yb.data(), ya.size()) == 0.0);
}

TEST_CASE("embedded test vectors: check passes on the truth and fails on a wrong answer") {
  GraphDef g = test::vgg_block();
  std::mt19937 rng(8);
  TestVector tv;
  tv.inputs.emplace("x", test::random_tensor(Shape(1, 24, 24, 3), rng));
  tv.outputs.emplace(g.outputs[0], test::run_model(Model(g), tv.inputs.at("x")));
  g.tests.push_back(std::move(tv));
  CHECK(check_test_vectors(Model(g)).passed());
  g.tests[0].outputs.begin()->second.data()[3] += 0.01f;
  const CheckReport bad = check_test_vectors(Model(g));
  CHECK_FALSE(bad.passed());
  CHECK(bad.worst_rel() == doctest::Approx(0.01).epsilon(0.01));
}

TEST_CASE("two threads sharing one Model with their own Sessions agree bit for bit") {
  const Model model(test::mini_xception());
  std::mt19937 rng(3);
  const Tensor input = test::random_tensor(Shape(1, 48, 48, 1), rng);
  const Tensor expected = test::run_model(model, input);
  std::vector<float> out[2];
  auto worker = [&](int t) {
    Session s(model);
    for (int i = 0; i < 20; ++i) {
      ConstTensorView y = s.run(input.view());
      out[t].assign(y.data, y.data + y.shape.size());
      if (!std::equal(out[t].begin(), out[t].end(), expected.begin())) return;
    }
  };
  std::thread t0(worker, 0), t1(worker, 1);
  t0.join();
  t1.join();
  for (int t = 0; t < 2; ++t) {
    REQUIRE(out[t].size() == std::size_t(expected.size()));
    CHECK(std::equal(out[t].begin(), out[t].end(), expected.begin()));
  }
}

TEST_CASE("steady-state runs allocate nothing; the arena reuses dead values") {
  const Model model(test::mini_xception());
  std::mt19937 rng(4);
  const Tensor input = test::random_tensor(Shape(2, 48, 48, 1), rng);
  for (int threads : {1, 2}) {
    Session s(model, threads);
    s.run(input.view());  // plans and allocates
    const long before = g_allocations.load();
    for (int i = 0; i < 5; ++i) s.run(input.view());
    CHECK(g_allocations.load() == before);
  }
  // The arena is smaller than keeping every value alive (counted on the graph with its
  // depthwise results as values of their own, which depthwise_pointwise keeps in scratch).
  ModelOptions split;
  split.fuse_separable = false;
  const Model model_split(test::mini_xception(), split);
  Session s(model_split);
  s.set_split_batches(false);  // plan the whole batch at once
  s.run(input.view());
  const auto shapes = model_split.infer_shapes({input.shape()});
  std::size_t all = 0;
  for (const Shape& sh : shapes) all += std::size_t(sh.size());
  CHECK(s.arena_floats() < all / 2);
}

TEST_CASE("sessions re-plan when the batch changes and reject wrong input shapes") {
  const Model model(test::mini_xception());
  Session s(model);
  std::mt19937 rng(6);
  const Tensor one = test::random_tensor(Shape(1, 48, 48, 1), rng);
  Tensor three(Shape(3, 48, 48, 1));
  for (int n = 0; n < 3; ++n) std::copy(one.begin(), one.end(), three.begin() + n * one.size());
  const Tensor y1 = test::run_model(model, one);
  ConstTensorView y3 = s.run(three.view());
  REQUIRE(y3.shape.n == 3);
  for (int n = 0; n < 3; ++n) CHECK(test::max_abs_error(y3.data + n * 7, y1.data(), 7) <= 1e-6);
  const Tensor wrong(Shape(1, 48, 48, 3));
  CHECK_THROWS_WITH_AS(s.run(wrong.view()), doctest::Contains("expects"), Error);
}

TEST_CASE("a batch run image by image equals the whole batch at once") {
  std::mt19937 rng(8);
  const Model xception(test::mini_xception());
  const Model gender = Model::load(std::string(MIEN_SOURCE_DIR) + "/weights/gender.mien");
  for (const Model* model : {&xception, &gender}) {
    Shape shape = model->nominal_input_shapes(48).front();
    shape.n = 5;
    const Tensor input = test::random_tensor(shape, rng, 0.f, 1.f);
    Session split(*model), whole(*model);
    whole.set_split_batches(false);
    const ConstTensorView a = split.run(input.view());
    const std::vector<float> first(a.data, a.data + a.shape.size());
    const ConstTensorView b = whole.run(input.view());
    REQUIRE(a.shape == b.shape);
    CHECK(split.arena_floats() == 0);  // it never planned the whole batch
    CHECK(whole.arena_floats() > 0);
    CHECK(test::max_abs_error(first.data(), b.data, std::size_t(b.shape.size())) <= 1e-6);
    // Steady state allocates nothing on the per-image path either.
    const long before = g_allocations.load();
    for (int i = 0; i < 3; ++i) split.run(input.view());
    CHECK(g_allocations.load() == before);
  }
}

TEST_CASE("the per-layer profile covers every step, at batch 1 and for a batch") {
  // A batch used to be profiled through the per-image path, which plans no layer shapes:
  // the table then read shapes of an unplanned session and failed.
  const Model model(test::mini_xception());
  std::mt19937 rng(9);
  ProfileOptions opt;
  opt.warmup = 1;
  opt.min_repetitions = 2;
  opt.min_seconds = 0;
  for (int n : {1, 4}) {
    const Tensor input = test::random_tensor(Shape(n, 48, 48, 1), rng, 0.f, 1.f);
    const Profile p = profile_model(model, {input.view()}, opt);
    REQUIRE(p.layers.size() == model.steps().size());
    CHECK(p.total_macs() == model.macs({input.shape()}));
    CHECK(p.layers.back().output.n == n);
    CHECK(p.repetitions == 2);
    CHECK(p.table().find(n > 1 ? "(batch run whole)" : "repetitions 2\n") != std::string::npos);
  }
}

TEST_CASE("graph errors name the node") {
  GraphBuilder b;
  std::string x = b.input("x", 8, 8, 3);
  // Weight declares 4 input channels but the input has 3.
  x = b.conv2d(x, 3, 3, 4, 2, std::vector<float>(3 * 3 * 4 * 2, 0.f), {}, conv(1));
  const Model m(b.build({x}));
  const Tensor in(Shape(1, 8, 8, 3));
  Session s(m);
  CHECK_THROWS_WITH_AS(s.run(in.view()), doctest::Contains("conv2d_0"), Error);

  GraphBuilder b2;
  std::string y = b2.input("x", 8, 8, 3);
  y = b2.node("no_such_op", {y});
  CHECK_THROWS_WITH_AS(Model(b2.build({y})), doctest::Contains("no_such_op"), Error);
}
