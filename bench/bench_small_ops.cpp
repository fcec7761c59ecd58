// Small-op throughput: add, softmax, squeeze-excite, concat (and bilinear resize, channel
// affine). Args: ISA (0 scalar, 1 avx2, 2 avx512), threads. These ops are memory-bound, so the
// counter is GB/s of input + output bytes; compare it with the machine's L2/DRAM bandwidth.
#include <benchmark/benchmark.h>

#include <random>
#include <string>
#include <vector>

#include "bench_util.hpp"
#include "mien/core/cpu.hpp"
#include "mien/core/tensor.hpp"
#include "mien/ops/concat.hpp"
#include "mien/ops/eltwise.hpp"
#include "mien/ops/resize.hpp"
#include "mien/ops/softmax.hpp"
#include "mien/ops/squeeze_excite.hpp"

namespace {

using namespace mien;

void BM_Small_Add_32x32x128_relu(benchmark::State& state) {
  Isa isa;
  if (!bench::pick_isa(state, isa)) return;
  const Tensor a = bench::random_tensor(Shape(1, 32, 32, 128), 1);
  const Tensor b = bench::random_tensor(Shape(1, 32, 32, 128), 2);
  bench::run_op_loop(state, Add(Activation::relu(), isa), {&a, &b});
}

// The residual adds of the shipped models (blazeface 128x128x24 relu, face_expression
// 56x56x32): what model/optimize.hpp fuses into the preceding 1x1 conv.
void BM_Small_Add_128x128x24_relu(benchmark::State& state) {
  Isa isa;
  if (!bench::pick_isa(state, isa)) return;
  const Tensor a = bench::random_tensor(Shape(1, 128, 128, 24), 1);
  const Tensor b = bench::random_tensor(Shape(1, 128, 128, 24), 2);
  bench::run_op_loop(state, Add(Activation::relu(), isa), {&a, &b});
}
void BM_Small_Add_56x56x32(benchmark::State& state) {
  Isa isa;
  if (!bench::pick_isa(state, isa)) return;
  const Tensor a = bench::random_tensor(Shape(1, 56, 56, 32), 1);
  const Tensor b = bench::random_tensor(Shape(1, 56, 56, 32), 2);
  bench::run_op_loop(state, Add(Activation::none(), isa), {&a, &b});
}

void BM_Small_AddBroadcast_32x32x128(benchmark::State& state) {
  Isa isa;
  if (!bench::pick_isa(state, isa)) return;
  const Tensor a = bench::random_tensor(Shape(1, 32, 32, 128), 1);
  const Tensor b = bench::random_tensor(Shape(1, 1, 1, 128), 2);
  bench::run_op_loop(state, Add(Activation::none(), isa), {&a, &b});
}

void BM_Small_BatchNorm_112x112x3(benchmark::State& state) {
  Isa isa;
  if (!bench::pick_isa(state, isa)) return;
  const Tensor x = bench::random_tensor(Shape(1, 112, 112, 3), 1);
  bench::run_op_loop(
      state, ChannelAffine(bench::random_vector(3, 2), bench::random_vector(3, 3), isa), {&x});
}

// Softmax shapes that occur: a detector's 896 anchors x 2 classes (many tiny rows), one wide
// row of 896 values, and a classifier's single row of 7 emotions (call overhead dominates).
void BM_Small_Softmax_896x1x2(benchmark::State& state) {
  Isa isa;
  if (!bench::pick_isa(state, isa)) return;
  const Tensor x = bench::random_tensor(Shape(1, 896, 1, 2), 1);
  bench::run_op_loop(state, Softmax(isa), {&x});
}

void BM_Small_Softmax_1x1x896(benchmark::State& state) {
  Isa isa;
  if (!bench::pick_isa(state, isa)) return;
  const Tensor x = bench::random_tensor(Shape(1, 1, 1, 896), 1);
  bench::run_op_loop(state, Softmax(isa), {&x});
}

void BM_Small_Softmax_1x1x7(benchmark::State& state) {
  Isa isa;
  if (!bench::pick_isa(state, isa)) return;
  const Tensor x = bench::random_tensor(Shape(1, 1, 1, 7), 1);
  bench::run_op_loop(state, Softmax(isa), {&x});
}

// 128 channels, reduction ratio 8 -> 16 hidden units.
void BM_Small_SqueezeExcite_16x16x128_r8(benchmark::State& state) {
  Isa isa;
  if (!bench::pick_isa(state, isa)) return;
  const int c = 128, r = 16;
  const auto w1 = bench::random_vector(std::size_t(c * r), 1);
  const auto b1 = bench::random_vector(std::size_t(r), 2);
  const auto w2 = bench::random_vector(std::size_t(r * c), 3);
  const auto b2 = bench::random_vector(std::size_t(c), 4);
  const Tensor x = bench::random_tensor(Shape(1, 16, 16, c), 5);
  bench::run_op_loop(state, SqueezeExcite(c, r, w1.data(), b1.data(), w2.data(), b2.data(), isa),
                     {&x});
}

void BM_Small_Concat_32x32_64plus64(benchmark::State& state) {
  Isa isa;
  if (!bench::pick_isa(state, isa)) return;
  const Tensor a = bench::random_tensor(Shape(1, 32, 32, 64), 1);
  const Tensor b = bench::random_tensor(Shape(1, 32, 32, 64), 2);
  bench::run_op_loop(state, Concat(2, isa), {&a, &b});
}

void BM_Small_Concat_16x16_3x8(benchmark::State& state) {
  Isa isa;
  if (!bench::pick_isa(state, isa)) return;
  const Tensor a = bench::random_tensor(Shape(1, 16, 16, 8), 1);
  const Tensor b = bench::random_tensor(Shape(1, 16, 16, 8), 2);
  const Tensor c = bench::random_tensor(Shape(1, 16, 16, 8), 3);
  bench::run_op_loop(state, Concat(3, isa), {&a, &b, &c});
}

void BM_Small_ResizeBilinear_16x16x64_to_32x32(benchmark::State& state) {
  Isa isa;
  if (!bench::pick_isa(state, isa)) return;
  const Tensor x = bench::random_tensor(Shape(1, 16, 16, 64), 1);
  bench::run_op_loop(state, ResizeBilinear(32, 32, false, true, isa), {&x});
}

void small_args(benchmark::internal::Benchmark* b) {
  b->ArgNames({"isa", "threads"});
  for (int64_t isa : bench::isa_args()) b->Args({isa, 1});
}

}  // namespace

BENCHMARK(BM_Small_Add_32x32x128_relu)->Apply(small_args);
BENCHMARK(BM_Small_Add_128x128x24_relu)->Apply(small_args);
BENCHMARK(BM_Small_Add_56x56x32)->Apply(small_args);
BENCHMARK(BM_Small_AddBroadcast_32x32x128)->Apply(small_args);
BENCHMARK(BM_Small_BatchNorm_112x112x3)->Apply(small_args);
BENCHMARK(BM_Small_Softmax_896x1x2)->Apply(small_args);
BENCHMARK(BM_Small_Softmax_1x1x896)->Apply(small_args);
BENCHMARK(BM_Small_Softmax_1x1x7)->Apply(small_args);
BENCHMARK(BM_Small_SqueezeExcite_16x16x128_r8)->Apply(small_args);
BENCHMARK(BM_Small_Concat_32x32_64plus64)->Apply(small_args);
BENCHMARK(BM_Small_Concat_16x16_3x8)->Apply(small_args);
BENCHMARK(BM_Small_ResizeBilinear_16x16x64_to_32x32)->Apply(small_args);
