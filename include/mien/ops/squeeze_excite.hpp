// Squeeze-and-excitation (Hu et al.): per image, s = sigmoid(relu(GAP(x) w1 + b1) w2 + b2) and
// y = x * s per channel. One op instead of GAP -> dense -> dense -> mul keeps the small vectors
// in the scratch area (no heap, no graph values) and reads x only twice: once to pool, once to
// scale.
#pragma once

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <string>
#include <vector>

#include "mien/core/cpu.hpp"
#include "mien/core/error.hpp"
#include "mien/core/parallel.hpp"
#include "mien/core/tensor.hpp"
#include "mien/kernels/kernels.hpp"
#include "mien/kernels/tuning.hpp"
#include "mien/ops/activation.hpp"
#include "mien/ops/eltwise.hpp"
#include "mien/ops/op.hpp"

namespace mien {

// Reference, in double. w1 is [C][R], b1 [R], w2 [R][C], b2 [C].
inline void squeeze_excite_naive(ConstTensorView in, int reduced, const float* w1, const float* b1,
                                 const float* w2, const float* b2, TensorView out) {
  const Shape s = in.shape;
  MIEN_CHECK(out.shape == s, "squeeze_excite_naive: output ", out.shape.str(), " != input ",
             s.str());
  const int c = s.c, r = reduced;
  const int64_t hw = int64_t(s.h) * s.w;
  std::vector<double> pooled(static_cast<std::size_t>(c)), hidden(static_cast<std::size_t>(r)),
      scale(static_cast<std::size_t>(c));
  for (int n = 0; n < s.n; ++n) {
    const float* x = in.data + n * hw * c;
    for (int k = 0; k < c; ++k) {
      double sum = 0;
      for (int64_t p = 0; p < hw; ++p) sum += x[p * c + k];
      pooled[std::size_t(k)] = sum / double(hw);
    }
    for (int j = 0; j < r; ++j) {
      double acc = b1[j];
      for (int k = 0; k < c; ++k) acc += pooled[std::size_t(k)] * w1[int64_t(k) * r + j];
      hidden[std::size_t(j)] = std::max(acc, 0.0);
    }
    for (int k = 0; k < c; ++k) {
      double acc = b2[k];
      for (int j = 0; j < r; ++j) acc += hidden[std::size_t(j)] * w2[int64_t(j) * c + k];
      scale[std::size_t(k)] = 1.0 / (1.0 + std::exp(-acc));
    }
    for (int64_t p = 0; p < hw; ++p)
      for (int k = 0; k < c; ++k)
        out.data[(n * hw + p) * c + k] = float(x[p * c + k] * scale[std::size_t(k)]);
  }
}

namespace detail {

inline int se_round8(int v) {
  return (v + 7) & ~7;
}

}  // namespace detail

class SqueezeExcite final : public Op {
 public:
  // w1 [C][R], b1 [R], w2 [R][C], b2 [C]: copied and packed with zero-padded rows.
  SqueezeExcite(int channels, int reduced, const float* w1, const float* b1, const float* w2,
                const float* b2, Isa isa)
      : Op(isa), c_(channels), r_(reduced), sigmoid_(Activation::of(ActKind::Sigmoid)) {
    MIEN_CHECK(channels >= 1 && reduced >= 1 && channels <= (1 << 20) && reduced <= (1 << 20),
               "squeeze_excite: channels ", channels, " and reduced ", reduced, " must be 1..2^20");
    MIEN_CHECK(w1 && b1 && w2 && b2, "squeeze_excite: missing weights");
    cp_ = detail::se_round8(c_);
    rp_ = detail::se_round8(r_);
    w1_.assign(std::size_t(c_) * std::size_t(rp_), 0.f);
    w2_.assign(std::size_t(r_) * std::size_t(cp_), 0.f);
    b1_.assign(std::size_t(rp_), 0.f);
    b2_.assign(std::size_t(cp_), 0.f);
    for (int k = 0; k < c_; ++k)
      for (int j = 0; j < r_; ++j)
        w1_[std::size_t(k) * std::size_t(rp_) + std::size_t(j)] = w1[int64_t(k) * r_ + j];
    for (int j = 0; j < r_; ++j)
      for (int k = 0; k < c_; ++k)
        w2_[std::size_t(j) * std::size_t(cp_) + std::size_t(k)] = w2[int64_t(j) * c_ + k];
    std::copy_n(b1, r_, b1_.begin());
    std::copy_n(b2, c_, b2_.begin());
  }
  const char* type() const override { return "squeeze_excite"; }
  Shape output_shape(const std::vector<Shape>& inputs) const override {
    MIEN_CHECK(inputs.size() == 1, "squeeze_excite takes 1 input, got ", inputs.size());
    MIEN_CHECK(inputs[0].valid(), "squeeze_excite: invalid input shape ", inputs[0].str());
    MIEN_CHECK(inputs[0].c == c_, "squeeze_excite: input ", inputs[0].str(), " has ", inputs[0].c,
               " channels, the weights expect ", c_);
    return inputs[0];
  }
  // pooled [Cp], hidden [Rp], scale [Cp], then one partial-sum row [Cp] per pooling thread.
  std::size_t scratch_floats(const std::vector<Shape>& /*inputs*/, int threads) const override {
    return std::size_t(2 * cp_ + rp_) + std::size_t(std::max(threads, 1)) * std::size_t(cp_);
  }
  int64_t macs(const std::vector<Shape>& inputs) const override {
    const Shape s = output_shape(inputs);
    return int64_t(s.n) * (2 * int64_t(c_) * r_ + int64_t(s.h) * s.w * c_);  // 2 dense + scale
  }
  int64_t parameters() const override { return 2 * int64_t(c_) * r_ + r_ + c_; }
  std::string describe() const override {
    return std::to_string(c_) + "->" + std::to_string(r_) + "->" + std::to_string(c_);
  }

  void run(const ConstTensorView* inputs, TensorView out, const RunContext& ctx) const override {
    const ConstTensorView& in = inputs[0];
    const Shape s = in.shape;
    MIEN_CHECK(s.c == c_ && out.shape == s, "squeeze_excite: input ", s.str(), ", output ",
               out.shape.str(), ", weights for ", c_, " channels");
    const std::size_t fixed = std::size_t(2 * cp_ + rp_);
    MIEN_CHECK(ctx.scratch && ctx.scratch_size >= fixed + std::size_t(cp_),
               "squeeze_excite: needs ", fixed + std::size_t(cp_), " scratch floats, got ",
               ctx.scratch_size);
    float* pooled = ctx.scratch;
    float* hidden = pooled + cp_;
    float* scale = hidden + rp_;
    float* partial = scale + cp_;
    const int64_t hw = int64_t(s.h) * s.w;
    const bool big = tuning::worth_threads(hw * c_, 2) > 1;
    const int slots = int(
        std::min<std::size_t>((ctx.scratch_size - fixed) / std::size_t(cp_), std::size_t(1024)));
    const int threads = big ? std::max(1, std::min(ctx.threads, slots)) : 1;
    const float inv_hw = 1.f / float(hw);
    for (int n = 0; n < s.n; ++n) {
      const float* x = in.data + n * hw * c_;
      float* y = out.data + n * hw * c_;
      // Squeeze: each thread sums a contiguous range of pixels into its own row.
      parallel_for(threads, threads, [&](int64_t t0, int64_t t1) {
        for (int64_t t = t0; t < t1; ++t) {
          const int64_t p0 = hw * t / threads, p1 = hw * (t + 1) / threads;
          sum_pixels(x + p0 * c_, p1 - p0, partial + t * cp_);
        }
      });
      for (int k = 0; k < c_; ++k) {
        float sum = partial[k];
        for (int t = 1; t < threads; ++t) sum += partial[int64_t(t) * cp_ + k];
        pooled[k] = sum * inv_hw;
      }
      // Excite: two small dense layers and the sigmoid, on one thread.
      dense(pooled, c_, w1_.data(), b1_.data(), rp_, true, hidden);
      dense(hidden, r_, w2_.data(), b2_.data(), cp_, false, scale);
      kernels_.activate(scale, scale, 1, c_, sigmoid_);
      // Scale every pixel by its channel's factor.
      parallel_for(hw, threads, [&](int64_t p0, int64_t p1) {
        detail::ew_channels<detail::EwOp::Mul>(kernels_, false, x + p0 * c_, scale, c_, y + p0 * c_,
                                               p1 - p0, 0.f, 0.f);
      });
    }
  }

 private:
  void sum_pixels(const float* x, int64_t pixels, float* acc) const {
    kernels_.se_sum(x, pixels, c_, acc);
  }
  void dense(const float* x, int in, const float* w, const float* b, int out_pad, bool relu,
             float* y) const {
    kernels_.se_dense(x, in, w, b, out_pad, relu, y);
  }

  int c_, r_, cp_ = 0, rp_ = 0;
  Activation sigmoid_;
  std::vector<float> w1_, b1_, w2_, b2_;  // padded: [C][Rp], [Rp], [R][Cp], [Cp]
};

}  // namespace mien
