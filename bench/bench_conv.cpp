// conv2d and dense throughput on every conv/dense shape of the shipped models (blazeface,
// emotion, gender, face_expression), every ISA, 1 and 2 threads. "GFLOP/s" counts 2 flops
// per multiply-accumulate; compare it with BM_DwPool_FmaPeak (bench_depthwise_pool.cpp).
// Names: BM_Conv/<model>:<KxK>[s<stride>]_<H>x<W>x<Cin>-><Cout>[_res]/isa:I/threads:T, where
// `_res` fuses a residual add (+relu) into the store, as model/optimize.hpp does.
#include <benchmark/benchmark.h>

#include <cmath>
#include <string>
#include <vector>

#include "bench_util.hpp"
#include "mien/ops/conv2d.hpp"
#include "mien/ops/dense.hpp"

namespace {

using namespace mien;

struct ConvShape {
  const char* model;
  int h, w, cin, cout, k, stride;
  bool same;      // padding same (else valid)
  bool residual;  // fused residual add + relu
};

// One of each distinct conv of the shipped models (input size as the layer sees it).
const ConvShape kConvShapes[] = {
    // blazeface (256x256x3 input)
    {"blazeface", 256, 256, 3, 24, 5, 2, true, false},
    {"blazeface", 128, 128, 24, 24, 1, 1, false, false},
    {"blazeface", 128, 128, 24, 24, 1, 1, false, true},
    {"blazeface", 64, 64, 24, 24, 1, 1, false, true},
    {"blazeface", 32, 32, 24, 48, 1, 1, false, false},
    {"blazeface", 32, 32, 48, 48, 1, 1, false, true},
    {"blazeface", 16, 16, 48, 96, 1, 1, false, false},
    {"blazeface", 16, 16, 96, 96, 1, 1, false, true},
    {"blazeface", 8, 8, 96, 96, 1, 1, false, false},
    {"blazeface", 16, 16, 96, 32, 1, 1, true, false},
    {"blazeface", 16, 16, 96, 2, 1, 1, true, false},
    {"blazeface", 8, 8, 96, 6, 1, 1, true, false},
    // emotion (mini-XCEPTION, 64x64x1)
    {"emotion", 64, 64, 1, 32, 3, 2, false, false},
    {"emotion", 31, 31, 32, 64, 3, 1, false, false},
    {"emotion", 29, 29, 64, 128, 1, 1, false, false},
    {"emotion", 29, 29, 128, 128, 1, 1, false, false},
    {"emotion", 29, 29, 64, 128, 1, 2, true, false},
    {"emotion", 15, 15, 128, 256, 1, 1, false, false},
    {"emotion", 15, 15, 256, 256, 1, 1, false, false},
    {"emotion", 15, 15, 128, 256, 1, 2, true, false},
    {"emotion", 8, 8, 256, 7, 3, 1, true, false},
    // gender (mini-XCEPTION, 64x64x1)
    {"gender", 64, 64, 1, 8, 3, 1, false, false},
    {"gender", 62, 62, 8, 8, 3, 1, false, false},
    {"gender", 60, 60, 8, 16, 1, 1, false, false},
    {"gender", 60, 60, 16, 16, 1, 1, false, false},
    {"gender", 60, 60, 8, 16, 1, 2, true, false},
    {"gender", 30, 30, 32, 32, 1, 1, false, false},
    {"gender", 15, 15, 64, 64, 1, 1, false, false},
    {"gender", 8, 8, 128, 128, 1, 1, false, false},
    {"gender", 4, 4, 128, 2, 3, 1, true, false},
    // face_expression (112x112x3)
    {"face_expression", 112, 112, 3, 32, 3, 2, true, false},
    {"face_expression", 56, 56, 32, 32, 1, 1, false, true},
    {"face_expression", 56, 56, 32, 64, 1, 1, false, false},
    {"face_expression", 28, 28, 64, 64, 1, 1, false, true},
    {"face_expression", 14, 14, 128, 128, 1, 1, false, true},
    {"face_expression", 7, 7, 256, 256, 1, 1, false, true},
};

std::string shape_name(const ConvShape& c) {
  std::string s = std::string(c.model) + ":" + std::to_string(c.k) + "x" + std::to_string(c.k);
  if (c.stride != 1) s += "s" + std::to_string(c.stride);
  s += "_" + std::to_string(c.h) + "x" + std::to_string(c.w) + "x" + std::to_string(c.cin) + "->" +
       std::to_string(c.cout);
  if (c.residual) s += "_res";
  return s;
}

void BM_Conv(benchmark::State& state, ConvShape c) {
  Isa isa;
  if (!bench::pick_isa(state, isa)) return;
  ConvParams p;
  p.stride_h = p.stride_w = c.stride;
  p.padding = c.same ? Padding::same() : Padding::valid();
  p.activation = Activation::relu();
  const int fan_in = c.k * c.k * c.cin;
  const auto weight = bench::random_vector(std::size_t(fan_in) * std::size_t(c.cout), 2,
                                           1.f / std::sqrt(float(fan_in)));
  const auto bias = bench::random_vector(std::size_t(c.cout), 3);
  const Conv2d op(c.k, c.k, c.cin, c.cout, weight.data(), bias.data(), p, isa, c.residual);
  const Tensor in = bench::random_tensor(Shape(1, c.h, c.w, c.cin), 1);
  std::vector<const Tensor*> ins{&in};
  Tensor res;
  if (c.residual) {
    res = bench::random_tensor(op.conv_shape(in.shape()), 4);
    ins.push_back(&res);
  }
  bench::run_op_loop(state, op, ins);
  std::vector<Shape> shapes;
  for (const Tensor* t : ins) shapes.push_back(t->shape());
  bench::report_gflops(state, op.macs(shapes));
  state.SetLabel(std::string(isa_name(isa)) + " " + op.describe());
}

void BM_Dense(benchmark::State& state, int cin, int cout, int batch) {
  Isa isa;
  if (!bench::pick_isa(state, isa)) return;
  const auto weight =
      bench::random_vector(std::size_t(cin) * std::size_t(cout), 4, 1.f / std::sqrt(float(cin)));
  const auto bias = bench::random_vector(std::size_t(cout), 5);
  const Dense op(cin, cout, weight.data(), bias.data(), Activation::none(), isa);
  const Tensor in = bench::random_tensor(Shape(batch, 1, 1, cin), 6);
  bench::run_op_loop(state, op, {&in});
  bench::report_gflops(state, op.macs({in.shape()}));
}

const bool kRegistered = [] {
  for (const ConvShape& c : kConvShapes)
    benchmark::RegisterBenchmark(("BM_Conv/" + shape_name(c)).c_str(), BM_Conv, c)
        ->Apply(bench::isa_threads);
  // face_expression's classifier at batch 1 and 8; a wide one for the 1-row kernel.
  benchmark::RegisterBenchmark("BM_Dense/face_expression:256->7_b1", BM_Dense, 256, 7, 1)
      ->Apply(bench::isa_threads);
  benchmark::RegisterBenchmark("BM_Dense/face_expression:256->7_b8", BM_Dense, 256, 7, 8)
      ->Apply(bench::isa_threads);
  benchmark::RegisterBenchmark("BM_Dense/2048->64_b1", BM_Dense, 2048, 64, 1)
      ->Apply(bench::isa_threads);
  return true;
}();

}  // namespace
