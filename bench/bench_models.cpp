// Whole models: every shipped model in weights/ (blazeface, emotion, gender,
// face_expression) at batch 1 and 8, 1 and 2 threads, scalar and AVX2 (ModelOptions
// force_isa). Inputs are the model's own test vectors (real images) repeated to the batch.
// The Session is planned before the timing loop, so a timed run allocates nothing.
// Counters: GFLOP/s (2 flops per multiply-accumulate, from Model::macs) and images/s.
//
//   mien_bench --benchmark_filter=BM_Model --benchmark_repetitions=3
//              (one line) --benchmark_report_aggregates_only=true
#include <benchmark/benchmark.h>

#include <algorithm>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "bench_util.hpp"
#include "mien/mien.hpp"

#ifndef MIEN_SOURCE_DIR
#define MIEN_SOURCE_DIR "."
#endif

namespace {

using namespace mien;

// Models are loaded once per (name, ISA) and kept for the whole program: loading is not
// what these benchmarks measure.
const Model& bench_model(const std::string& name, Isa isa) {
  static std::map<std::pair<std::string, int>, Model> cache;
  const auto key = std::make_pair(name, int(isa));
  auto it = cache.find(key);
  if (it == cache.end()) {
    ModelOptions o;
    o.force_isa = true;
    o.isa = isa;
    o.test_vectors = true;  // batch_input() runs the test-vector inputs
    it = cache
             .emplace(key,
                      Model::load(std::string(MIEN_SOURCE_DIR) + "/weights/" + name + ".mien", o))
             .first;
  }
  return it->second;
}

// The model's test-vector inputs (its first graph input), repeated to `batch` images.
Tensor batch_input(const Model& model, int batch) {
  const GraphDef& g = model.graph();
  const std::string& in_name = g.inputs.at(0).name;
  std::vector<const Tensor*> images;
  for (const TestVector& tv : g.tests) {
    auto it = tv.inputs.find(in_name);
    if (it != tv.inputs.end()) images.push_back(&it->second);
  }
  Shape s = model.nominal_input_shapes().at(0);
  s.n = batch;
  Tensor t(s);
  const int64_t per = s.size() / batch;
  int64_t filled = 0;
  for (int i = 0; i < batch && !images.empty(); ++i) {
    const Tensor& src = *images[std::size_t(i) % images.size()];
    const int k = (i / int(images.size())) % src.shape().n;  // walk batched test inputs too
    std::copy_n(src.data() + int64_t(k) * per, per, t.data() + int64_t(i) * per);
    filled += per;
  }
  if (filled == 0)  // no test vectors: a smooth deterministic pattern in [-1, 1]
    for (int64_t i = 0; i < s.size(); ++i) t.data()[i] = float((i * 7919) % 2001) / 1000.f - 1.f;
  return t;
}

// Args: {batch, threads, isa (0 scalar, 1 avx2, 2 avx512)}
void BM_Model(benchmark::State& state, const char* name) {
  const int batch = int(state.range(0)), threads = int(state.range(1));
  const Isa isa = bench::isa_of(state.range(2));
  if (!cpu_supports(isa)) {
    state.SkipWithError((std::string("no ") + isa_name(isa) + " on this CPU").c_str());
    return;
  }
  const Model& model = bench_model(name, isa);
  const Tensor input = batch_input(model, batch);
  const ConstTensorView view = input.view();
  Session session(model, threads);
  session.run(view);  // plans the arena for this shape outside the timing loop
  for (auto _ : state) {
    const ConstTensorView out = session.run(view);
    benchmark::DoNotOptimize(out.data);
    benchmark::ClobberMemory();
  }
  const double macs = double(model.macs({input.shape()}));
  state.counters["GFLOP/s"] =
      benchmark::Counter(2.0 * macs / 1e9, benchmark::Counter::kIsIterationInvariantRate);
  state.counters["img/s"] =
      benchmark::Counter(double(batch), benchmark::Counter::kIsIterationInvariantRate);
  state.SetLabel(std::string(isa_name(isa)) + " " + input.shape().str() + " " +
                 std::to_string(int64_t(macs / 1e6)) + " MMAC");
}

void model_args(benchmark::internal::Benchmark* b) {
  b->ArgNames({"batch", "threads", "isa"});
  b->ArgsProduct({{1, 8}, {1, 2}, bench::isa_args()});
  b->UseRealTime();
  b->Unit(benchmark::kMillisecond);
}

// Model::load from the file: read, checksum, parse, optimise, pack (the default ISA).
// Counter file_MB: the file's size.
void BM_ModelLoad(benchmark::State& state, const char* name) {
  const std::string path = std::string(MIEN_SOURCE_DIR) + "/weights/" + name + ".mien";
  for (auto _ : state) {
    const Model m = Model::load(path);
    benchmark::DoNotOptimize(m.steps().data());
  }
  state.counters["file_MB"] = double(read_file_bytes(path).size()) / 1e6;
}
BENCHMARK_CAPTURE(BM_ModelLoad, blazeface, "blazeface")->Unit(benchmark::kMillisecond);
BENCHMARK_CAPTURE(BM_ModelLoad, emotion, "emotion")->Unit(benchmark::kMillisecond);
BENCHMARK_CAPTURE(BM_ModelLoad, gender, "gender")->Unit(benchmark::kMillisecond);
BENCHMARK_CAPTURE(BM_ModelLoad, face_expression, "face_expression")->Unit(benchmark::kMillisecond);

BENCHMARK_CAPTURE(BM_Model, blazeface, "blazeface")->Apply(model_args);
BENCHMARK_CAPTURE(BM_Model, emotion, "emotion")->Apply(model_args);
BENCHMARK_CAPTURE(BM_Model, gender, "gender")->Apply(model_args);
BENCHMARK_CAPTURE(BM_Model, face_expression, "face_expression")->Apply(model_args);

}  // namespace
