// Shared by the op benchmarks: seeded random data, the ISA/thread arguments
// (range(0) = ISA: 0 scalar, 1 avx2, 2 avx512; range(1) = threads), and a timing loop that
// runs one op as a Session would (scratch from the op's own request) and reports GB/s moved.
#pragma once

#include <benchmark/benchmark.h>

#include <random>
#include <string>
#include <vector>

#include "mien/ops/op.hpp"

namespace mien::bench {

inline std::vector<float> random_vector(std::size_t n, unsigned seed, float scale = 1.f) {
  std::vector<float> v(n);
  std::mt19937 rng(seed);
  std::uniform_real_distribution<float> d(-scale, scale);
  for (float& x : v) x = d(rng);
  return v;
}

inline Tensor random_tensor(Shape s, unsigned seed) {
  const std::vector<float> v = random_vector(std::size_t(s.size()), seed);
  return Tensor(s, v.data());
}

// The ISA argument values: 0 scalar, 1 avx2, 2 avx512.
inline Isa isa_of(int64_t arg) {
  return arg >= 2 ? Isa::Avx512 : arg == 1 ? Isa::Avx2 : Isa::Scalar;
}
inline const std::vector<int64_t>& isa_args() {
  static const std::vector<int64_t> args{0, 1, 2};
  return args;
}

// Reads the ISA argument (range(arg)); skips the benchmark when the CPU lacks the ISA.
inline bool pick_isa(benchmark::State& state, Isa& isa, int arg = 0) {
  isa = isa_of(state.range(arg));
  if (!cpu_supports(isa)) {
    state.SkipWithError((std::string("no ") + isa_name(isa) + " on this CPU").c_str());
    return false;
  }
  state.SetLabel(std::string(isa_name(isa)) + " t" + std::to_string(state.range(1)));
  return true;
}

// {isa, threads} for every ISA at 1 and 2 threads.
inline void isa_threads(benchmark::internal::Benchmark* b) {
  b->ArgNames({"isa", "threads"});
  b->ArgsProduct({isa_args(), {1, 2}});
  b->UseRealTime();
}

inline void run_op_loop(benchmark::State& state, const Op& op,
                        const std::vector<const Tensor*>& ins) {
  std::vector<Shape> shapes;
  std::vector<ConstTensorView> views;
  double bytes = 0;
  for (const Tensor* t : ins) {
    shapes.push_back(t->shape());
    views.push_back(t->view());
    bytes += 4.0 * double(t->size());
  }
  Tensor out(op.output_shape(shapes));
  bytes += 4.0 * double(out.size());
  RunContext ctx;
  ctx.threads = int(state.range(1));
  AlignedBuffer scratch(op.scratch_floats(shapes, ctx.threads) + 1);
  ctx.scratch = scratch.data();
  ctx.scratch_size = scratch.size();
  for (auto _ : state) {
    op.run(views.data(), out.view(), ctx);
    benchmark::DoNotOptimize(out.data());
    benchmark::ClobberMemory();
  }
  state.counters["GB/s"] = benchmark::Counter(bytes, benchmark::Counter::kIsIterationInvariantRate,
                                              benchmark::Counter::kIs1000);
}

// FLOP rate counter from a multiply-accumulate count per iteration.
inline void report_gflops(benchmark::State& state, int64_t macs) {
  state.counters["GFLOP/s"] =
      benchmark::Counter(2.0 * double(macs), benchmark::Counter::kIsIterationInvariantRate,
                         benchmark::Counter::kIs1000);
}

}  // namespace mien::bench
