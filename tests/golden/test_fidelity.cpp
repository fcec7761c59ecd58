// Fidelity of the C++ engine against the original runtimes (Issue 3). The references are
// committed: test vectors inside weights/*.mien (TF.js 4.22 cpu, face-api 1.7.15), the
// fixtures in tests/data (tests/data/README.md) and tests/data/torch/*.mien (ONNX Runtime
// 1.24.3 on PyTorch exports, made by tools/reference/make_torch_mien.sh). Nothing here needs
// node, torch or Python. ctest runs this with the best ISA and with MIEN_ISA=scalar; every
// MESSAGE names the ISA, so both runs report their own worst errors.
//
// Requirements (the issue's, not the files' own test.tolerance, which may be looser):
// - classifiers (emotion, gender, face_expression): probabilities max |mien - ref| <= 1e-5,
//   and the same argmax for every face;
// - the age model (face-api AgeGenderNet): its gender probabilities as above; its age, a
//   regression in years (~15..60), |mien - ref| / max(1, |ref|) <= 1e-5 (at 30 years,
//   3e-4 years: an absolute 1e-5 would ask float32 for 9 significant digits);
// - BlazeFace raw outputs (score logits, box and keypoint regressions): relative error
//   <= 1e-4, relative to each output tensor's magnitude: max_i |mien_i - ref_i| /
//   max(1, max_i |ref_i|), per output (scores_16, boxes_16, scores_32, boxes_32) and test
//   input. Why not per element: the raw outputs reach |x| ~ 100..8000 and many small
//   elements come out of cancellation of such values, so their float32 rounding error
//   scales with the output's magnitude, not their own. TF.js itself is 5.8e-5 per element
//   (|d| / max(1, |ref|)) away from the float64 result (numpy_runner) on weights/blazeface.mien,
//   so a per-element 1e-4 against TF.js would mostly measure TF.js's rounding. The
//   per-element error |d| / max(1, |ref|) is still checked, at 2e-4: two float32 runtimes
//   that are each within 1e-4 of the float64 result (TF.js 5.8e-5, mien 7.9e-5 measured) are
//   within 2e-4 of each other. Both measures are reported in every MESSAGE;
//   scores (sigmoid of the logits): the same best anchor, the same anchors at or above
//   the model's threshold, and the same ranking of those anchors;
// - PyTorch architectures: |mien - ref| / max(1, |ref|) <= 1e-4 per element (the outputs
//   are O(1..10)) and the same argmax.
// The model files' own check (check_test_vectors, as `mien check`) must pass as well.
#include <doctest/doctest.h>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <map>
#include <numeric>
#include <string>
#include <vector>

#include "mien/mien.hpp"
#include "mien/vision/image.hpp"
#include "test_util.hpp"

namespace {

using namespace mien;

constexpr double kClassifierAbs = 1e-5;       // probabilities, absolute
constexpr double kDetectorRel = 1e-4;         // raw outputs, max |d| / max(1, max |ref|) per tensor
constexpr double kDetectorElementRel = 2e-4;  // raw outputs, |d| / max(1, |ref|) per element
constexpr double kTorchRel = 1e-4;            // ONNX Runtime outputs, |d| / max(1, |ref|)
constexpr double kRegressionRel = 1e-5;       // age in years, |d| / max(1, |ref|)

std::string source_path(const std::string& rel) {
  return std::string(MIEN_SOURCE_DIR) + "/" + rel;
}

std::string isa_now() {
  return isa_name(default_isa());
}

// ---- .npy fixtures (float32, little-endian, C order) ----------------------------------
struct NpyArray {
  std::vector<int64_t> shape;
  std::vector<float> data;
};

NpyArray load_npy(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  MIEN_CHECK(in.good(), path, ": cannot open");
  const std::string bytes((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  MIEN_CHECK(bytes.size() >= 10 && bytes.compare(0, 6, "\x93NUMPY") == 0, path, ": not .npy");
  std::size_t pos = 10, header_len = uint8_t(bytes[8]) | (std::size_t(uint8_t(bytes[9])) << 8);
  if (uint8_t(bytes[6]) >= 2) {
    MIEN_CHECK(bytes.size() >= 12, path, ": truncated");
    header_len = uint8_t(bytes[8]) | (std::size_t(uint8_t(bytes[9])) << 8) |
                 (std::size_t(uint8_t(bytes[10])) << 16) | (std::size_t(uint8_t(bytes[11])) << 24);
    pos = 12;
  }
  MIEN_CHECK(pos + header_len <= bytes.size(), path, ": truncated header");
  const std::string header = bytes.substr(pos, header_len);
  MIEN_CHECK(header.find("'<f4'") != std::string::npos, path, ": not float32 little-endian");
  MIEN_CHECK(header.find("'fortran_order': False") != std::string::npos, path, ": not C order");
  NpyArray a;
  const std::size_t open = header.find('(', header.find("'shape'"));
  const std::size_t close = header.find(')', open);
  MIEN_CHECK(open != std::string::npos && close != std::string::npos, path, ": no shape");
  const std::string dims = header.substr(open + 1, close - open - 1);
  int64_t count = 1;
  for (std::size_t p = 0; p < dims.size();) {
    std::size_t end = dims.find(',', p);
    if (end == std::string::npos) end = dims.size();
    const std::string d = dims.substr(p, end - p);
    if (d.find_first_of("0123456789") != std::string::npos) {
      a.shape.push_back(std::stoll(d));
      count *= a.shape.back();
    }
    p = end + 1;
  }
  pos += header_len;
  MIEN_CHECK(bytes.size() - pos == std::size_t(count) * 4, path, ": data size mismatch");
  a.data.resize(std::size_t(count));
  std::memcpy(a.data.data(), bytes.data() + pos, bytes.size() - pos);
  return a;
}

// ---- error measures -----------------------------------------------------------------
struct Diff {
  double max_abs = 0;   // max |a - b|
  double max_rel = 0;   // max |a - b| / max(1, |b|)    (the checked measure)
  double norm_rel = 0;  // max |a - b| / max(1, max |b|) (tensor-wise)
  int64_t worst = -1;   // element with the largest max_rel
  bool finite = true;   // no NaN/inf mismatch
  void merge(const Diff& o) {
    max_abs = std::max(max_abs, o.max_abs);
    max_rel = std::max(max_rel, o.max_rel);
    norm_rel = std::max(norm_rel, o.norm_rel);
    finite = finite && o.finite;
  }
};

Diff compare(const float* a, const float* b, int64_t n) {
  Diff d;
  double ref_max = 0;
  for (int64_t i = 0; i < n; ++i) {
    if (!std::isfinite(a[i]) || !std::isfinite(b[i])) {
      d.finite = d.finite && std::isfinite(a[i]) && std::isfinite(b[i]);
      continue;
    }
    const double e = std::fabs(double(a[i]) - double(b[i]));
    const double r = e / std::max(1.0, std::fabs(double(b[i])));
    d.max_abs = std::max(d.max_abs, e);
    if (r > d.max_rel || d.worst < 0) {
      d.max_rel = std::max(d.max_rel, r);
      d.worst = i;
    }
    ref_max = std::max(ref_max, std::fabs(double(b[i])));
  }
  d.norm_rel = d.max_abs / std::max(1.0, ref_max);
  if (!d.finite) d.max_abs = d.max_rel = d.norm_rel = INFINITY;
  return d;
}

int64_t argmax_of(const float* p, int64_t n) {
  return int64_t(std::max_element(p, p + n) - p);
}

std::string fmt(double v) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.3g", v);
  return buf;
}

// Per row of `classes` values (N x 1 x 1 x C outputs: one row per image): same argmax.
int argmax_mismatches(const float* a, const float* b, int64_t n, int64_t classes) {
  int bad = 0;
  for (int64_t r = 0; r + classes <= n; r += classes)
    bad += argmax_of(a + r, classes) != argmax_of(b + r, classes);
  return bad;
}

Model load_model(const std::string& path) {
  ModelOptions o;
  o.test_vectors = true;  // for check_test_vectors and the per-vector comparisons
  Model m = Model::load(path, o);
  REQUIRE(m.isa() == default_isa());
  return m;
}

std::vector<std::string> model_files(const std::string& dir) {
  std::vector<std::string> files;
  for (const auto& e : std::filesystem::directory_iterator(dir))
    if (e.is_regular_file() && e.path().extension() == ".mien") files.push_back(e.path().string());
  std::sort(files.begin(), files.end());
  return files;
}

// ---- detector checks ---------------------------------------------------------------
// Scores of all anchors, in anchor order (the detector's score outputs concatenated).
struct AnchorScores {
  std::vector<float> mien, ref;
};

float sigmoid(float x) {
  return 1.f / (1.f + std::exp(-x));
}

// The same best anchor; the same anchors at or above `threshold`, ranked the same way.
void check_score_ranking(const AnchorScores& s, float threshold, const std::string& what) {
  REQUIRE(s.mien.size() == s.ref.size());
  REQUIRE(!s.ref.empty());
  const int64_t n = int64_t(s.ref.size());
  const int64_t best_mien = argmax_of(s.mien.data(), n), best_ref = argmax_of(s.ref.data(), n);
  INFO(what);
  CHECK_MESSAGE(best_mien == best_ref, "best anchor: mien ", best_mien, ", reference ", best_ref);
  auto above = [&](const std::vector<float>& v) {
    std::vector<int64_t> idx;
    for (int64_t i = 0; i < n; ++i)
      if (sigmoid(v[std::size_t(i)]) >= threshold) idx.push_back(i);
    std::stable_sort(idx.begin(), idx.end(),
                     [&](int64_t a, int64_t b) { return v[std::size_t(a)] > v[std::size_t(b)]; });
    return idx;
  };
  const std::vector<int64_t> a = above(s.mien), b = above(s.ref);
  CHECK_MESSAGE(!b.empty(), "no anchor reaches the threshold in the reference (a face photo)");
  CHECK_MESSAGE(a == b, "anchors at or above the threshold (ranked): mien ", a.size(),
                ", reference ", b.size());
}

}  // namespace

// ---------------------------------------------------------------------------------------
TEST_CASE("fidelity: every weights/*.mien reproduces its embedded original-runtime outputs") {
  const std::vector<std::string> files = model_files(source_path("weights"));
  REQUIRE(files.size() >= 5);  // blazeface, emotion, gender, face_expression, age
  int classifiers = 0, detectors = 0;
  for (const std::string& path : files) {
    const std::string name = std::filesystem::path(path).filename().string();
    CAPTURE(name);
    const Model model = load_model(path);
    const GraphDef& g = model.graph();
    REQUIRE_MESSAGE(!g.tests.empty(), name, " has no test vectors");

    // The file's own check, as `mien check` runs it.
    const CheckReport report = check_test_vectors(model);
    double worst_abs = 0;
    for (const OutputCheck& o : report.outputs) worst_abs = std::max(worst_abs, o.max_abs);
    MESSAGE(name, " [", isa_now(), "] check_test_vectors: ", g.tests.size(), " vector(s), max abs ",
            fmt(worst_abs), ", max rel ", fmt(report.worst_rel()), " (file tolerance ",
            fmt(report.tolerance), ")");
    CHECK(report.passed());

    // The requirements, explicitly.
    const bool detector = model.metadata().get_string("model.task", "") == "face_detector";
    // No shipped file may quietly loosen its own check (weights/README.md: 5e-4 for
    // BlazeFace, 1e-4 for the classifiers).
    CHECK(report.tolerance <= (detector ? 5e-4 : 1e-4));
    Session session(model, 1);
    Diff all, years;  // years: the age model's age output, reported on its own
    int argmax_bad = 0;
    std::vector<std::string> score_outputs;
    if (detector) score_outputs = model.metadata().get_strings("detector.score_outputs");
    for (std::size_t k = 0; k < g.tests.size(); ++k) {
      std::vector<ConstTensorView> inputs;
      for (const InputDef& in : g.inputs) inputs.push_back(g.tests[k].inputs.at(in.name).view());
      const auto& outs = session.run(inputs);
      AnchorScores vector_scores;
      for (std::size_t o = 0; o < g.outputs.size(); ++o) {
        const Tensor& ref = g.tests[k].outputs.at(g.outputs[o]);
        REQUIRE(outs[o].shape == ref.shape());
        const Diff d = compare(outs[o].data, ref.data(), ref.size());
        (g.outputs[o] == "age" ? years : all).merge(d);
        if (detector) {
          CHECK_MESSAGE(d.norm_rel <= kDetectorRel, name, " test ", k, " output ", g.outputs[o],
                        ": tensor-wise rel ", fmt(d.norm_rel));
          CHECK_MESSAGE(d.max_rel <= kDetectorElementRel, name, " test ", k, " output ",
                        g.outputs[o], ": rel ", fmt(d.max_rel), " at element ", d.worst, " (ref ",
                        ref.data()[std::max<int64_t>(0, d.worst)], ")");
          if (std::find(score_outputs.begin(), score_outputs.end(), g.outputs[o]) !=
              score_outputs.end()) {
            vector_scores.mien.insert(vector_scores.mien.end(), outs[o].data,
                                      outs[o].data + ref.size());
            vector_scores.ref.insert(vector_scores.ref.end(), ref.data(), ref.data() + ref.size());
          }
        } else if (g.outputs[o] == "age") {
          CHECK_MESSAGE(d.max_rel <= kRegressionRel, name, " test ", k, " output age: rel ",
                        fmt(d.max_rel), " (abs ", fmt(d.max_abs), " years)");
        } else {
          CHECK_MESSAGE(d.max_abs <= kClassifierAbs, name, " test ", k, " output ", g.outputs[o],
                        ": abs ", fmt(d.max_abs));
          argmax_bad += argmax_mismatches(outs[o].data, ref.data(), ref.size(), ref.shape().c);
        }
      }
      if (detector) {
        REQUIRE(vector_scores.ref.size() == 896);  // BlazeFace: 512 + 384 anchors
        check_score_ranking(vector_scores, float(model.metadata().get_float("detector.threshold")),
                            name + " test " + std::to_string(k));
      }
    }
    if (detector) {
      ++detectors;
      MESSAGE(name, " [", isa_now(), "] raw outputs: tensor-wise rel ", fmt(all.norm_rel),
              " (limit ", fmt(kDetectorRel), "), per-element rel |d|/max(1,|ref|) ",
              fmt(all.max_rel), " (limit ", fmt(kDetectorElementRel), "), max abs ",
              fmt(all.max_abs));
    } else {
      ++classifiers;
      MESSAGE(name, " [", isa_now(), "] probabilities: max abs ", fmt(all.max_abs), " (limit ",
              fmt(kClassifierAbs), "), argmax mismatches ", argmax_bad,
              std::count(g.outputs.begin(), g.outputs.end(), "age")
                  ? "; age: max abs " + fmt(years.max_abs) + " years, rel " + fmt(years.max_rel) +
                        " (limit " + fmt(kRegressionRel) + ")"
                  : std::string());
      CHECK(years.finite);
      CHECK(argmax_bad == 0);
    }
    CHECK(all.finite);
  }
  CHECK(classifiers >= 3);
  CHECK(detectors >= 1);
}

// ---------------------------------------------------------------------------------------
TEST_CASE("fidelity: classifiers on the committed face crops match TF.js and face-api") {
  const std::string faces = source_path("tests/data/faces");
  std::vector<std::string> ids;
  for (const auto& e : std::filesystem::directory_iterator(faces)) {
    const std::string f = e.path().filename().string();
    const std::string suffix = ".gray64.npy";
    if (f.size() > suffix.size() && f.compare(f.size() - suffix.size(), suffix.size(), suffix) == 0)
      ids.push_back(f.substr(0, f.size() - suffix.size()));
  }
  std::sort(ids.begin(), ids.end());
  REQUIRE(ids.size() >= 8);  // tests/data/README.md lists 8 faces

  struct Case {
    const char* model;   // weights/<model>.mien
    const char* suffix;  // faces/<id>.<suffix>.npy: the reference probabilities
  };
  for (const Case c : {Case{"emotion", "emotion"}, Case{"gender", "gender"},
                       Case{"face_expression", "face_expression"}}) {
    const std::string name = c.model;
    CAPTURE(name);
    const Model model = load_model(source_path("weights/" + name + ".mien"));
    const InputDef& in = model.graph().inputs.at(0);
    const bool from_png = name == "face_expression";
    std::vector<double> scale, offset;
    if (from_png) {
      // face-api's own preprocessing of the 112x112 PNG: (RGB - mean) / 255, which the
      // metadata holds as x * input.scale + input.offset.
      scale = model.metadata().get_floats("input.scale");
      offset = model.metadata().get_floats("input.offset");
      REQUIRE((scale.size() == 1 || scale.size() == 3));
      REQUIRE((offset.size() == 1 || offset.size() == 3));
    }
    Session single(model, 1);
    Diff all;
    int argmax_bad = 0;
    std::vector<float> batch, batch_ref;
    for (const std::string& id : ids) {
      CAPTURE(id);
      Tensor x;
      if (from_png) {
        const Image img = load_image(faces + "/" + id + ".png");
        REQUIRE(img.width == in.w);
        REQUIRE(img.height == in.h);
        x = Tensor(Shape(1, img.height, img.width, 3));
        for (std::size_t i = 0; i < img.rgb.size(); ++i)
          x.data()[i] =
              float(double(img.rgb[i]) * scale[i % scale.size()] + offset[i % offset.size()]);
      } else {
        const NpyArray a = load_npy(faces + "/" + id + ".gray64.npy");
        REQUIRE(a.shape == std::vector<int64_t>{1, in.h, in.w, in.c});
        x = Tensor(Shape(1, in.h, in.w, in.c), a.data.data());
      }
      const NpyArray ref = load_npy(faces + "/" + id + "." + c.suffix + ".npy");
      const ConstTensorView y = single.run(x.view());
      REQUIRE(y.shape.size() == int64_t(ref.data.size()));
      const Diff d = compare(y.data, ref.data.data(), y.shape.size());
      CHECK_MESSAGE(d.max_abs <= kClassifierAbs, name, " on ", id, ": abs ", fmt(d.max_abs));
      const int bad = argmax_mismatches(y.data, ref.data.data(), y.shape.size(), y.shape.c);
      CHECK_MESSAGE(bad == 0, name, " on ", id, ": argmax differs");
      argmax_bad += bad;
      all.merge(d);
      batch.insert(batch.end(), x.begin(), x.end());
      batch_ref.insert(batch_ref.end(), ref.data.begin(), ref.data.end());
    }
    // All faces as one batch (the pipeline's way): the same answers.
    Session batched(model, 2);
    const Tensor xb(Shape(int(ids.size()), in.h, in.w, in.c), batch.data());
    const ConstTensorView yb = batched.run(xb.view());
    REQUIRE(yb.shape.size() == int64_t(batch_ref.size()));
    const Diff db = compare(yb.data, batch_ref.data(), yb.shape.size());
    const int batch_bad = argmax_mismatches(yb.data, batch_ref.data(), yb.shape.size(), yb.shape.c);
    MESSAGE(name, " [", isa_now(), "] ", ids.size(), " faces vs ",
            std::string(from_png ? "face-api" : "TF.js"), ": max abs ", fmt(all.max_abs),
            " (batch of ", ids.size(), ", 2 threads: ", fmt(db.max_abs), "), limit ",
            fmt(kClassifierAbs), ", argmax mismatches ", argmax_bad + batch_bad);
    CHECK(db.max_abs <= kClassifierAbs);
    CHECK(batch_bad == 0);
    CHECK(all.finite);
  }
}

// ---------------------------------------------------------------------------------------
TEST_CASE("fidelity: the age model on the committed face crops matches face-api") {
  const std::string faces = source_path("tests/data/faces");
  std::vector<std::string> ids;
  for (const auto& e : std::filesystem::directory_iterator(faces)) {
    const std::string f = e.path().filename().string(), suffix = ".age.npy";
    if (f.size() > suffix.size() && f.compare(f.size() - suffix.size(), suffix.size(), suffix) == 0)
      ids.push_back(f.substr(0, f.size() - suffix.size()));
  }
  std::sort(ids.begin(), ids.end());
  REQUIRE(ids.size() >= 8);  // tests/data/README.md: the 8 faces
  const Model model = load_model(source_path("weights/age.mien"));
  REQUIRE(model.metadata().get_string("model.task", "") == "age");
  const InputDef& in = model.graph().inputs.at(0);
  // face-api's preprocessing of the PNG, as the metadata holds it (see the test above).
  const std::vector<double> scale = model.metadata().get_floats("input.scale");
  const std::vector<double> offset = model.metadata().get_floats("input.offset");
  Session single(model, 1);
  Diff age_all, gender_all;
  int argmax_bad = 0;
  std::vector<float> batch, ref_age, ref_gender;
  for (const std::string& id : ids) {
    CAPTURE(id);
    const Image img = load_image(faces + "/" + id + ".png");
    REQUIRE(img.width == in.w);
    REQUIRE(img.height == in.h);
    Tensor x(Shape(1, img.height, img.width, 3));
    for (std::size_t i = 0; i < img.rgb.size(); ++i)
      x.data()[i] = float(double(img.rgb[i]) * scale[i % scale.size()] + offset[i % offset.size()]);
    const NpyArray age = load_npy(faces + "/" + id + ".age.npy");
    const NpyArray gender = load_npy(faces + "/" + id + ".age_gender.npy");
    REQUIRE(age.data.size() == 1);
    REQUIRE(gender.data.size() == 2);
    single.run(x.view());
    const ConstTensorView ya = single.output("age"), yg = single.output("gender");
    REQUIRE(ya.shape.size() == 1);
    REQUIRE(yg.shape.size() == 2);
    const Diff da = compare(ya.data, age.data.data(), 1);
    const Diff dg = compare(yg.data, gender.data.data(), 2);
    CHECK_MESSAGE(da.max_rel <= kRegressionRel, id, ": age ", ya.data[0], " vs face-api ",
                  age.data[0], " (rel ", fmt(da.max_rel), ")");
    CHECK_MESSAGE(dg.max_abs <= kClassifierAbs, id, ": gender abs ", fmt(dg.max_abs));
    argmax_bad += argmax_mismatches(yg.data, gender.data.data(), 2, 2);
    age_all.merge(da);
    gender_all.merge(dg);
    batch.insert(batch.end(), x.begin(), x.end());
    ref_age.push_back(age.data[0]);
    ref_gender.insert(ref_gender.end(), gender.data.begin(), gender.data.end());
  }
  // All faces as one batch on 2 threads: the same answers.
  Session batched(model, 2);
  const Tensor xb(Shape(int(ids.size()), in.h, in.w, in.c), batch.data());
  batched.run(xb.view());
  const ConstTensorView ba = batched.output("age"), bg = batched.output("gender");
  REQUIRE(ba.shape.size() == int64_t(ref_age.size()));
  REQUIRE(bg.shape.size() == int64_t(ref_gender.size()));
  const Diff dba = compare(ba.data, ref_age.data(), ba.shape.size());
  const Diff dbg = compare(bg.data, ref_gender.data(), bg.shape.size());
  argmax_bad += argmax_mismatches(bg.data, ref_gender.data(), bg.shape.size(), 2);
  MESSAGE("age.mien [", isa_now(), "] ", ids.size(), " faces vs face-api: age max abs ",
          fmt(age_all.max_abs), " years (rel ", fmt(age_all.max_rel), ", limit ",
          fmt(kRegressionRel), "), gender max abs ", fmt(gender_all.max_abs), " (limit ",
          fmt(kClassifierAbs), "); batch of ", ids.size(), ", 2 threads: age ", fmt(dba.max_abs),
          ", gender ", fmt(dbg.max_abs), "; argmax mismatches ", argmax_bad);
  CHECK(dba.max_rel <= kRegressionRel);
  CHECK(dbg.max_abs <= kClassifierAbs);
  CHECK(argmax_bad == 0);
  CHECK(age_all.finite);
  CHECK(gender_all.finite);
}

// ---------------------------------------------------------------------------------------
TEST_CASE("fidelity: BlazeFace on the committed letterboxed photos matches TF.js") {
  const Model model = load_model(source_path("weights/blazeface.mien"));
  const InputDef& in = model.graph().inputs.at(0);
  const std::vector<double> scale = model.metadata().get_floats("input.scale");
  const std::vector<double> offset = model.metadata().get_floats("input.offset");
  REQUIRE(scale.size() == 1);
  REQUIRE(offset.size() == 1);
  const float threshold = float(model.metadata().get_float("detector.threshold"));
  // TF.js output name -> mien output (weights/README.md): [1,A,K] is held as 1 x A x 1 x K.
  const std::vector<std::pair<std::string, std::string>> outputs = {{"Identity", "scores_16"},
                                                                    {"Identity_1", "scores_32"},
                                                                    {"Identity_2", "boxes_16"},
                                                                    {"Identity_3", "boxes_32"}};
  Session session(model, 1);
  Diff all;
  int photos = 0;
  for (const std::string photo : {"astronaut", "faceapi_sample6"}) {
    CAPTURE(photo);
    const std::string base = source_path("tests/data/blazeface/") + photo;
    const Image img = load_image(base + ".png");
    REQUIRE(img.width == in.w);
    REQUIRE(img.height == in.h);
    // The PNG is exactly the model input: x / 127.5 - 1 (input.scale, input.offset).
    Tensor x(Shape(1, img.height, img.width, 3));
    for (std::size_t i = 0; i < img.rgb.size(); ++i)
      x.data()[i] = float(double(img.rgb[i]) * scale[0] + offset[0]);
    session.run(x.view());
    AnchorScores scores;
    for (const auto& [tfjs, mine] : outputs) {
      const NpyArray ref = load_npy(base + "." + tfjs + ".npy");
      const ConstTensorView y = session.output(mine);
      REQUIRE(y.shape.size() == int64_t(ref.data.size()));
      REQUIRE(y.shape.h == ref.shape.at(1));
      const Diff d = compare(y.data, ref.data.data(), y.shape.size());
      CHECK_MESSAGE(d.norm_rel <= kDetectorRel, photo, " ", mine, ": tensor-wise rel ",
                    fmt(d.norm_rel));
      CHECK_MESSAGE(d.max_rel <= kDetectorElementRel, photo, " ", mine, ": rel ", fmt(d.max_rel),
                    " at element ", d.worst, " (ref ",
                    ref.data[std::size_t(std::max<int64_t>(0, d.worst))], ")");
      all.merge(d);
      if (mine.rfind("scores", 0) == 0) {
        scores.mien.insert(scores.mien.end(), y.data, y.data + y.shape.size());
        scores.ref.insert(scores.ref.end(), ref.data.begin(), ref.data.end());
      }
    }
    check_score_ranking(scores, threshold, photo);
    ++photos;
  }
  MESSAGE("blazeface.mien [", isa_now(), "] ", photos, " photos vs TF.js: tensor-wise rel ",
          fmt(all.norm_rel), " (limit ", fmt(kDetectorRel), "), per-element rel |d|/max(1,|ref|) ",
          fmt(all.max_rel), " (limit ", fmt(kDetectorElementRel), "), max abs ", fmt(all.max_abs));
  CHECK(all.finite);
}

// ---------------------------------------------------------------------------------------
TEST_CASE("fidelity: PyTorch architectures converted from ONNX match ONNX Runtime") {
  const std::string dir = source_path("tests/data/torch/");
  for (const char* arch : {"se_resnet18", "resnet18", "mobilenet_v1", "vgg16"}) {
    const std::string name = arch;
    CAPTURE(name);
    const Model model = load_model(dir + name + ".mien");
    const GraphDef& g = model.graph();
    REQUIRE(g.inputs.size() == 1);
    REQUIRE(g.outputs.size() == 1);

    // The file's own test vector, as `mien check` runs it; its tolerance is the issue's.
    const CheckReport report = check_test_vectors(model);
    CHECK(report.tolerance <= kTorchRel);
    CHECK(report.passed());

    // And straight from the committed ONNX Runtime fixtures: NCHW input -> NHWC.
    const NpyArray xin = load_npy(dir + name + ".input.npy");
    const NpyArray ref = load_npy(dir + name + ".output.npy");
    REQUIRE(xin.shape.size() == 4);
    const int C = int(xin.shape[1]), H = int(xin.shape[2]), W = int(xin.shape[3]);
    REQUIRE(g.inputs[0].c == C);
    Tensor x(Shape(1, H, W, C));
    for (int c = 0; c < C; ++c)
      for (int y = 0; y < H; ++y)
        for (int xx = 0; xx < W; ++xx)
          x.at(0, y, xx, c) = xin.data[(std::size_t(c) * H + y) * W + xx];
    // The embedded vector is this fixture (so `mien check` tests the same thing).
    REQUIRE(g.tests.size() >= 1);
    const Tensor& tin = g.tests[0].inputs.at(g.inputs[0].name);
    REQUIRE(tin.shape() == x.shape());
    CHECK(test::max_abs_error(tin.data(), x.data(), x.size()) == 0);

    Session session(model, 1);
    const ConstTensorView y = session.run(x.view());
    REQUIRE(y.shape.size() == int64_t(ref.data.size()));
    const Diff d = compare(y.data, ref.data.data(), y.shape.size());
    const bool same_argmax =
        argmax_of(y.data, y.shape.size()) == argmax_of(ref.data.data(), int64_t(ref.data.size()));
    MESSAGE(name, ".mien [", isa_now(), "] vs ONNX Runtime: max rel (|d|/max(1,|ref|)) ",
            fmt(d.max_rel), ", max abs ", fmt(d.max_abs), " (limit ", fmt(kTorchRel), "), argmax ",
            std::string(same_argmax ? "same" : "DIFFERS"));
    CHECK(d.max_rel <= kTorchRel);
    CHECK(same_argmax);
    CHECK(d.finite);
  }
}
