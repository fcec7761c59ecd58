// Depthwise conv, pooling and activation throughput. Args: ISA (0 scalar, 1 avx2, 2 avx512),
// threads. Counters: GFLOP/s = 2 * MACs per second (depthwise), GB/s of input + output
// (pool, activation). BM_DwPool_FmaPeak/isa:I measures one core's AVX2 (I = 1) or AVX-512
// (I = 2) FMA peak for comparison.
#include <benchmark/benchmark.h>

#include <random>
#include <string>
#include <vector>

#if defined(__x86_64__) || defined(__i386__)
#include <immintrin.h>
#endif

#include "bench_util.hpp"
#include "mien/core/cpu.hpp"
#include "mien/core/tensor.hpp"
#include "mien/ops/activation.hpp"
#include "mien/ops/depthwise.hpp"
#include "mien/ops/pool.hpp"

namespace {

using namespace mien;

void depthwise(benchmark::State& state, int h, int w, int c, int k, int stride) {
  Isa isa;
  if (!bench::pick_isa(state, isa)) return;
  std::vector<float> weight(std::size_t(k) * k * c), bias(static_cast<std::size_t>(c));
  std::mt19937 rng(1);
  std::uniform_real_distribution<float> d(-1.f, 1.f);
  for (float& x : weight) x = d(rng);
  for (float& x : bias) x = d(rng);
  ConvParams p;
  p.stride_h = p.stride_w = stride;
  p.padding = Padding::same();
  p.activation = Activation::relu();
  const DepthwiseConv2d op(k, k, c, weight.data(), bias.data(), p, isa);
  const Tensor in = bench::random_tensor(Shape(1, h, w, c), 2);
  bench::run_op_loop(state, op, {&in});
  bench::report_gflops(state, op.macs({in.shape()}));
}

// Every depthwise shape of the shipped models, plus 5x5 kernels (BlazeFace's full-range
// variant and MediaPipe models use them). Names: BM_Depthwise/<model>:<K>x<K>s<S>_HxWxC.
struct DwShape {
  const char* model;
  int h, w, c, k, stride;
};
const DwShape kDwShapes[] = {
    {"blazeface", 128, 128, 24, 3, 1},
    {"blazeface", 128, 128, 24, 3, 2},
    {"blazeface", 64, 64, 24, 3, 1},
    {"blazeface", 64, 64, 24, 3, 2},
    {"blazeface", 32, 32, 48, 3, 1},
    {"blazeface", 32, 32, 48, 3, 2},
    {"blazeface", 16, 16, 96, 3, 1},
    {"blazeface", 16, 16, 96, 3, 2},
    {"emotion", 29, 29, 64, 3, 1},
    {"emotion", 29, 29, 128, 3, 1},
    {"emotion", 15, 15, 128, 3, 1},
    {"emotion", 15, 15, 256, 3, 1},
    {"gender", 60, 60, 8, 3, 1},
    {"gender", 60, 60, 16, 3, 1},
    {"gender", 30, 30, 16, 3, 1},
    {"gender", 30, 30, 32, 3, 1},
    {"gender", 15, 15, 32, 3, 1},
    {"gender", 15, 15, 64, 3, 1},
    {"gender", 8, 8, 64, 3, 1},
    {"gender", 8, 8, 128, 3, 1},
    {"face_expression", 56, 56, 32, 3, 1},
    {"face_expression", 28, 28, 64, 3, 1},
    {"face_expression", 14, 14, 128, 3, 1},
    {"face_expression", 7, 7, 256, 3, 1},
    {"5x5", 64, 64, 24, 5, 1},
    {"5x5", 32, 32, 48, 5, 1},
    {"5x5", 64, 64, 24, 5, 2},
    {"5x5", 32, 32, 128, 5, 1},
};

void BM_Depthwise(benchmark::State& state, DwShape d) {
  depthwise(state, d.h, d.w, d.c, d.k, d.stride);
}

void pool(benchmark::State& state, PoolKind kind, int h, int w, int c, int k, int stride) {
  Isa isa;
  if (!bench::pick_isa(state, isa)) return;
  const Pool2d op(kind, k, k, stride, stride, Padding::same(), isa);
  const Tensor in = bench::random_tensor(Shape(1, h, w, c), 3);
  bench::run_op_loop(state, op, {&in});
}

// The max pools of the shipped models (blazeface 2x2/2, the XCEPTION models 3x3/2).
void BM_MaxPool2x2s2_128x128x24(benchmark::State& s) {
  pool(s, PoolKind::Max, 128, 128, 24, 2, 2);
}
void BM_MaxPool2x2s2_32x32x48(benchmark::State& s) {
  pool(s, PoolKind::Max, 32, 32, 48, 2, 2);
}
void BM_MaxPool3x3s2_29x29x128(benchmark::State& s) {
  pool(s, PoolKind::Max, 29, 29, 128, 3, 2);
}
void BM_MaxPool3x3s2_32x32x128(benchmark::State& s) {
  pool(s, PoolKind::Max, 32, 32, 128, 3, 2);
}
void BM_AvgPool7x7s2_7x7x256(benchmark::State& state) {
  Isa isa;
  if (!bench::pick_isa(state, isa)) return;
  const Pool2d op(PoolKind::Average, 7, 7, 2, 2, Padding::valid(), isa);
  const Tensor in = bench::random_tensor(Shape(1, 7, 7, 256), 3);
  bench::run_op_loop(state, op, {&in});
}

void BM_GlobalAvgPool_16x16x256(benchmark::State& state) {
  Isa isa;
  if (!bench::pick_isa(state, isa)) return;
  const GlobalAvgPool op(isa);
  {
    const Tensor in = bench::random_tensor(Shape(1, 16, 16, 256), 4);
    bench::run_op_loop(state, op, {&in});
  }
}
void BM_GlobalAvgPool_8x8x7(benchmark::State& state) {
  Isa isa;
  if (!bench::pick_isa(state, isa)) return;
  const GlobalAvgPool op(isa);
  const Tensor in = bench::random_tensor(Shape(1, 8, 8, 7), 4);
  bench::run_op_loop(state, op, {&in});
}

void BM_Relu_15x15x128(benchmark::State& state) {
  Isa isa;
  if (!bench::pick_isa(state, isa)) return;
  const ActivationOp op(Activation::relu(), isa);
  const Tensor in = bench::random_tensor(Shape(1, 15, 15, 128), 5);
  bench::run_op_loop(state, op, {&in});
}

void BM_Sigmoid_64k(benchmark::State& state) {
  Isa isa;
  if (!bench::pick_isa(state, isa)) return;
  const ActivationOp op(Activation::of(ActKind::Sigmoid), isa);
  {
    const Tensor in = bench::random_tensor(Shape(1, 64, 64, 16), 5);
    bench::run_op_loop(state, op, {&in});
  }
  state.counters["Gelem/s"] = benchmark::Counter(
      64.0 * 64 * 16, benchmark::Counter::kIsIterationInvariantRate, benchmark::Counter::kIs1000);
}

#define MIEN_DW_BENCH(fn)                        \
  BENCHMARK(fn)                                  \
      ->ArgNames({"isa", "threads"})             \
      ->ArgsProduct({bench::isa_args(), {1, 2}}) \
      ->UseRealTime()
MIEN_DW_BENCH(BM_MaxPool2x2s2_128x128x24);
MIEN_DW_BENCH(BM_MaxPool2x2s2_32x32x48);
MIEN_DW_BENCH(BM_MaxPool3x3s2_29x29x128);
MIEN_DW_BENCH(BM_MaxPool3x3s2_32x32x128);
MIEN_DW_BENCH(BM_AvgPool7x7s2_7x7x256);
MIEN_DW_BENCH(BM_GlobalAvgPool_16x16x256);
MIEN_DW_BENCH(BM_GlobalAvgPool_8x8x7);
MIEN_DW_BENCH(BM_Relu_15x15x128);
MIEN_DW_BENCH(BM_Sigmoid_64k);

const bool kDwRegistered = [] {
  for (const DwShape& d : kDwShapes) {
    const std::string name = std::string("BM_Depthwise/") + d.model + ":" + std::to_string(d.k) +
                             "x" + std::to_string(d.k) + "s" + std::to_string(d.stride) + "_" +
                             std::to_string(d.h) + "x" + std::to_string(d.w) + "x" +
                             std::to_string(d.c);
    benchmark::RegisterBenchmark(name.c_str(), BM_Depthwise, d)->Apply(bench::isa_threads);
  }
  return true;
}();

#if MIEN_X86
// One core's FMA peak: 12 independent accumulators cover FMA latency x ports on any recent
// x86 core (4 cycles x 2 pipes on Zen 3/4/5 and Intel since Skylake).
MIEN_TARGET_AVX2 __attribute__((noipa)) float fma_peak_loop(int64_t iters) {
  __m256 a[12];
  for (int i = 0; i < 12; ++i) a[i] = _mm256_set1_ps(float(i));
  const __m256 m = _mm256_set1_ps(0.999999f), b = _mm256_set1_ps(1e-7f);
  for (int64_t it = 0; it < iters; ++it) {
#pragma GCC unroll 12
    for (int i = 0; i < 12; ++i) a[i] = _mm256_fmadd_ps(a[i], m, b);
  }
  __m256 s = a[0];
  for (int i = 1; i < 12; ++i) s = _mm256_add_ps(s, a[i]);
  float out[8];
  _mm256_storeu_ps(out, s);
  return out[0];
}

// The same with 24 zmm accumulators (2 FMA pipes x 4 cycles x 3 for margin).
MIEN_TARGET_AVX512 __attribute__((noipa)) float fma_peak_loop_avx512(int64_t iters) {
  __m512 a[24];
  for (int i = 0; i < 24; ++i) a[i] = _mm512_set1_ps(float(i));
  const __m512 m = _mm512_set1_ps(0.999999f), b = _mm512_set1_ps(1e-7f);
  for (int64_t it = 0; it < iters; ++it) {
#pragma GCC unroll 24
    for (int i = 0; i < 24; ++i) a[i] = _mm512_fmadd_ps(a[i], m, b);
  }
  __m512 s = a[0];
  for (int i = 1; i < 24; ++i) s = _mm512_add_ps(s, a[i]);
  float out[16];  // not _mm512_reduce_add_ps: GCC 12 warns inside it (-Wuninitialized)
  _mm512_storeu_ps(out, s);
  return out[0];
}

// Arg: 1 = AVX2 (12 ymm chains), 2 = AVX-512 (24 zmm chains).
void BM_DwPool_FmaPeak(benchmark::State& state) {
  const Isa isa = bench::isa_of(state.range(0));
  if (!cpu_supports(isa)) {
    state.SkipWithError((std::string("no ") + isa_name(isa) + " on this CPU").c_str());
    return;
  }
  const int64_t iters = 1 << 20;
  const bool wide = isa == Isa::Avx512;
  for (auto _ : state)
    benchmark::DoNotOptimize(wide ? fma_peak_loop_avx512(iters) : fma_peak_loop(iters));
  state.counters["GFLOP/s"] = benchmark::Counter(double(iters) * (wide ? 24 * 32 : 12 * 16),
                                                 benchmark::Counter::kIsIterationInvariantRate,
                                                 benchmark::Counter::kIs1000);
  state.SetLabel(isa_name(isa));
}
BENCHMARK(BM_DwPool_FmaPeak)->ArgName("isa")->Arg(1)->Arg(2);
#endif

}  // namespace
