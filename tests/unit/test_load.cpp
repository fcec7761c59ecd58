// Loading without copies: weights are views of the file bytes until packed, dropped after,
// test vectors read only on request; results equal those of the owned (copying) path bit
// for bit, from aligned and unaligned bytes alike.
#include <cstring>
#include <random>

#include "mien/mien.hpp"
#include "mien/vision/embedded_models.hpp"
#include "test_util.hpp"

namespace mien {
namespace {

std::string weights_path(const std::string& name) {
  return std::string(MIEN_SOURCE_DIR) + "/weights/" + name + ".mien";
}

const char* const kShipped[] = {"blazeface", "emotion", "face_expression", "gender"};

// The outputs of one run on the model's nominal input (fixed random pixels).
std::vector<std::vector<float>> outputs_of(const Model& m) {
  std::mt19937 rng(11);
  std::vector<Tensor> inputs;
  std::vector<ConstTensorView> views;
  for (const Shape& s : m.nominal_input_shapes(64)) {
    inputs.push_back(test::random_tensor(s, rng));
  }
  for (const Tensor& t : inputs) views.push_back(t.view());
  Session s(m, 1);
  std::vector<std::vector<float>> out;
  for (const ConstTensorView& v : s.run(views)) out.emplace_back(v.data, v.data + v.shape.size());
  return out;
}

}  // namespace

TEST_CASE("load: weights are views of the file bytes, and are dropped after packing") {
  const AlignedBytes bytes = read_file_aligned(weights_path("emotion"));
  REQUIRE(reinterpret_cast<uintptr_t>(bytes.data()) % 64 == 0);
  const MienView view = parse_mien_view(bytes.data(), bytes.size(), "emotion.mien");
  const GraphDef g = graph_from_view(view, "emotion.mien");
  REQUIRE(!g.weights.empty());
  for (const auto& kv : g.weights) {
    CAPTURE(kv.first);
    CHECK(kv.second.is_view());
    const uint8_t* p = reinterpret_cast<const uint8_t*>(kv.second.data());
    CHECK((p >= bytes.data() && p < bytes.data() + bytes.size()));
  }
  CHECK(g.tests.empty());  // not asked for

  const Model m(g);
  CHECK(m.graph().weights.empty());
  CHECK(m.graph().nodes.empty());
  const Model loaded = Model::load(weights_path("emotion"));
  CHECK(loaded.graph().weights.empty());
  CHECK(loaded.graph().nodes.empty());
  CHECK(loaded.graph().meta.get_string("model.task") == "emotion");
}

TEST_CASE("load: embedded models are viewed in place") {
#if MIEN_HAS_EMBEDDED_MODELS
  for (const char* name : kShipped) {
    CAPTURE(name);
    const EmbeddedModel e = embedded_model(name);
    REQUIRE(e.available());
    const GraphDef g = graph_from_view(parse_mien_view(e.data, e.size, name), name);
    for (const auto& kv : g.weights) CHECK(kv.second.is_view());
  }
#else
  MESSAGE("built without embedded models");
#endif
}

TEST_CASE("load: unaligned bytes are copied with memcpy, not read in place") {
  const std::vector<uint8_t> file = read_file_bytes(weights_path("gender"));
  std::vector<uint8_t> shifted(file.size() + 3);
  // Find an offset that misaligns the data for float whatever the vector's own alignment.
  std::size_t off = 1;
  while ((reinterpret_cast<uintptr_t>(shifted.data()) + off) % alignof(float) == 0) ++off;
  std::memcpy(shifted.data() + off, file.data(), file.size());
  const MienView view = parse_mien_view(shifted.data() + off, file.size(), "shifted.mien");
  const GraphDef g = graph_from_view(view, "shifted.mien");
  for (const auto& kv : g.weights) {
    CAPTURE(kv.first);
    CHECK_FALSE(kv.second.is_view());
    CHECK(reinterpret_cast<uintptr_t>(kv.second.data()) % alignof(float) == 0);
  }
  const Model a = Model::from_memory(shifted.data() + off, file.size(), "shifted.mien");
  const Model b = Model::load(weights_path("gender"));
  CHECK(outputs_of(a) == outputs_of(b));
}

TEST_CASE("load: views give bit-identical packed models to the copying path") {
  for (const char* name : kShipped) {
    CAPTURE(name);
    for (Isa isa : test::isas()) {
      CAPTURE(isa_name(isa));
      for (bool optimize : {true, false}) {
        const ModelOptions o = test::model_options(isa, optimize);
        const MienFile owned = read_mien(weights_path(name));
        const Model copied(graph_from_file(owned, name), o);
        const Model viewed = Model::load(weights_path(name), o);
        REQUIRE(copied.steps().size() == viewed.steps().size());
        CHECK(copied.parameters() == viewed.parameters());
        CHECK(outputs_of(copied) == outputs_of(viewed));
      }
    }
  }
}

TEST_CASE("load: test vectors are read only when asked for") {
  const Model plain = Model::load(weights_path("blazeface"));
  CHECK(plain.graph().tests.empty());
  CHECK(plain.test_vector_count() >= 1);
  const std::string e = test::error_of([&] { check_test_vectors(plain); });
  CHECK(test::contains(e, "ModelOptions::test_vectors"));
  CHECK(test::contains(e, "blazeface.mien"));

  ModelOptions o;
  o.test_vectors = true;
  const Model with = Model::load(weights_path("blazeface"), o);
  CHECK(with.graph().tests.size() == with.test_vector_count());
  CHECK(check_test_vectors(with).passed());

  // A model built in code keeps the vectors it was given.
  GraphBuilder b;
  const std::string x = b.input("x", 2, 2, 1);
  GraphDef g = b.build({b.softmax(x)});
  TestVector tv;
  tv.inputs.emplace("x", Tensor(Shape(1, 2, 2, 1)));
  tv.outputs.emplace(g.outputs[0], test::run_model(Model(g), tv.inputs.at("x")));
  g.tests.push_back(std::move(tv));
  const Model built(g);
  CHECK(built.test_vector_count() == 1);
  CHECK(check_test_vectors(built).passed());
}

TEST_CASE("load: a missing or misshapen test tensor still fails every load") {
  MienFile f = read_mien(weights_path("gender"));
  MienFile missing = f;
  for (auto it = missing.tensors.begin(); it != missing.tensors.end(); ++it)
    if (it->first.rfind("test.0.output.", 0) == 0) {
      missing.tensors.erase(it);
      break;
    }
  const std::vector<uint8_t> a = serialize_mien(missing);
  CHECK(test::contains(
      test::error_of([&] { Model::from_memory(a.data(), a.size(), "missing.mien"); }),
      "missing test tensor"));
  for (auto& t : f.tensors)
    if (t.first.rfind("test.0.input.", 0) == 0) {
      t.second.dims = {t.second.count()};
    }
  const std::vector<uint8_t> b = serialize_mien(f);
  CHECK(test::contains(test::error_of([&] { Model::from_memory(b.data(), b.size(), "flat.mien"); }),
                       "4-D"));
}

TEST_CASE("load: a mistyped test.count names the file and the key") {
  MienFile f = read_mien(weights_path("gender"));
  f.meta.set("test.count", std::string("two"));
  const std::vector<uint8_t> b = serialize_mien(f);
  const std::string e =
      test::error_of([&] { Model::from_memory(b.data(), b.size(), "typo.mien"); });
  CHECK(test::contains(e, "typo.mien"));
  CHECK(test::contains(e, "test.count"));
}

TEST_CASE("load: nominal input shapes take height and width apart") {
  GraphBuilder b;
  const std::string x = b.input("x", -1, -1, 3);
  const Model m(b.build({b.softmax(x)}));
  CHECK(m.nominal_input_shapes(32, 48).at(0) == Shape(1, 32, 48, 3));
  CHECK(m.nominal_input_shapes(40).at(0) == Shape(1, 40, 40, 3));
}

}  // namespace mien
