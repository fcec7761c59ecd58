// The whole image pipeline (Pipeline::analyze: detect, crop, emotion + gender per face,
// faces and models spread across threads) on a 640x480 photo with 5 faces, 1 and 2
// threads, both ISAs, the default ensemble and the single model of --fast; then detection
// only and the classifiers only (given the same faces). The photo is
// tests/data/scenes/faceapi_sample5.jpg (640x466) scaled to cover 640x480 and
// centre-cropped (bench/peers/scene.hpp); the `faces` counter reports what was found.
// Models: the default ones compiled into the program (MIEN_EMBED_WEIGHTS_DIR), else
// weights/ of the source tree.
//
//   mien_bench --benchmark_filter=BM_Pipeline --benchmark_repetitions=3
//              (one line) --benchmark_report_aggregates_only=true
#include <benchmark/benchmark.h>

#include <map>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "mien/mien.hpp"
#include "mien/vision/pipeline.hpp"
#include "peers/scene.hpp"

#ifndef MIEN_SOURCE_DIR
#define MIEN_SOURCE_DIR "."
#endif

namespace {

using namespace mien;

Model default_model(const char* name, Isa isa) {
  ModelOptions o;
  o.force_isa = true;
  o.isa = isa;
  const EmbeddedModel e = embedded_model(name);
  if (e.available())
    return Model::from_memory(e.data, e.size, std::string("<built-in ") + name + ">", o);
  return Model::load(std::string(MIEN_SOURCE_DIR) + "/weights/" + name + ".mien", o);
}

struct Fixture {
  std::unique_ptr<Pipeline> pipeline;
  Image scene;
  std::vector<Detection> faces;  // what analyze() finds (1 thread)
};

// One pipeline per ISA and model set, built on first use and kept: construction is not
// measured. `fast`: the single big-XCEPTION (--fast); else the default ensemble.
const Fixture& fixture(Isa isa, bool fast) {
  static std::map<std::pair<int, bool>, Fixture> cache;
  auto it = cache.find({int(isa), fast});
  if (it == cache.end()) {
    Fixture f;
    PipelineModels m;
    m.detector = default_model("blazeface", isa);
    m.emotion.push_back(default_model("emotion", isa));
    if (!fast) {
      m.emotion.push_back(default_model("face_expression", isa));
      m.emotion_weights = {DefaultEnsemble::xception_weight, DefaultEnsemble::expression_weight};
      m.emotion_flip = {false, true};
      m.mirror_margin = DefaultEnsemble::mirror_margin;
    }
    m.gender = default_model("gender", isa);
    f.pipeline = std::make_unique<Pipeline>(m);
    f.scene = mien_bench::scene_640x480(MIEN_SOURCE_DIR);
    for (const FaceResult& r : f.pipeline->analyze(f.scene)) f.faces.push_back(r.face);
    it = cache.emplace(std::make_pair(int(isa), fast), std::move(f)).first;
  }
  return it->second;
}

// Args: {threads, avx2, ensemble}. Returns nullptr (and skips) when the ISA is unavailable.
const Fixture* setup(benchmark::State& state, PipelineOptions& opt) {
  const Isa isa = state.range(1) ? Isa::Avx2 : Isa::Scalar;
  if (isa == Isa::Avx2 && !cpu_has_avx2()) {
    state.SkipWithError("no AVX2/FMA on this CPU");
    return nullptr;
  }
  opt.detect.threads = int(state.range(0));
  const bool fast = state.range(2) == 0;
  const Fixture& f = fixture(isa, fast);
  state.SetLabel(std::string(isa_name(isa)) + (fast ? " fast" : " ensemble") + " faceapi_sample5 " +
                 std::to_string(f.scene.width) + "x" + std::to_string(f.scene.height) + ", " +
                 std::to_string(f.faces.size()) + " faces");
  return &f;
}

void report(benchmark::State& state, std::size_t faces) {
  state.counters["faces"] = double(faces);
  state.counters["img/s"] = benchmark::Counter(1.0, benchmark::Counter::kIsIterationInvariantRate);
}

void BM_Pipeline_Analyze(benchmark::State& state) {
  PipelineOptions opt;
  const Fixture* f = setup(state, opt);
  if (!f) return;
  std::size_t faces = 0;
  for (auto _ : state) {
    const std::vector<FaceResult> r = f->pipeline->analyze(f->scene, opt);
    faces = r.size();
    benchmark::DoNotOptimize(r.data());
  }
  report(state, faces);
}

void BM_Pipeline_DetectOnly(benchmark::State& state) {
  PipelineOptions opt;
  const Fixture* f = setup(state, opt);
  if (!f) return;
  std::size_t faces = 0;
  for (auto _ : state) {
    const std::vector<Detection> d = f->pipeline->detector().detect(f->scene, opt.detect);
    faces = d.size();
    benchmark::DoNotOptimize(d.data());
  }
  report(state, faces);
}

// Emotion + gender on the faces analyze() found: crops, one model run per face and model,
// labels.
void BM_Pipeline_ClassifyOnly(benchmark::State& state) {
  PipelineOptions opt;
  const Fixture* f = setup(state, opt);
  if (!f) return;
  for (auto _ : state) {
    const std::vector<FaceResult> r = f->pipeline->classify(f->scene, f->faces, opt);
    benchmark::DoNotOptimize(r.data());
  }
  report(state, f->faces.size());
}

void pipeline_args(benchmark::internal::Benchmark* b) {
  b->ArgNames({"threads", "avx2", "ensemble"});
  b->ArgsProduct({{1, 2}, {0, 1}, {0, 1}});
  b->UseRealTime();
  b->Unit(benchmark::kMillisecond);
}

BENCHMARK(BM_Pipeline_Analyze)->Apply(pipeline_args);
BENCHMARK(BM_Pipeline_DetectOnly)->Apply(pipeline_args);
BENCHMARK(BM_Pipeline_ClassifyOnly)->Apply(pipeline_args);

}  // namespace
