// Depthwise 2-D convolution (channel multiplier 1), NHWC. Channels are contiguous, so the
// kernels (kernels/body/depthwise.inl) vectorise over them: one vector holds 8 (16 for
// AVX-512) channels of one pixel, and every tap is one FMA with a per-channel weight vector.
// Weights are packed once (XNNPACK style): per block of 8 (16) channels, the bias then the
// KH*KW taps, zero-padded to a multiple of the block. The row kernel is chosen once, here.
#pragma once

#include <algorithm>
#include <cstdint>
#include <limits>
#include <string>
#include <vector>

#include "mien/core/cpu.hpp"
#include "mien/core/error.hpp"
#include "mien/core/parallel.hpp"
#include "mien/core/tensor.hpp"
#include "mien/kernels/activation.hpp"
#include "mien/kernels/kernels.hpp"
#include "mien/kernels/tuning.hpp"
#include "mien/ops/conv_params.hpp"
#include "mien/ops/op.hpp"

namespace mien {

// The obvious reference: weight [KH][KW][C], bias [C] or nullptr, double accumulation.
inline void depthwise_conv2d_naive(ConstTensorView in, const float* weight, const float* bias,
                                   int kh, int kw, const ConvParams& p, TensorView out) {
  const Shape s = in.shape;
  const AxisPadding rows = p.rows(s.h, kh), cols = p.cols(s.w, kw);
  MIEN_CHECK(out.shape == Shape(s.n, rows.out, cols.out, s.c), "depthwise_conv2d_naive: output ",
             out.shape.str(), " does not match input ", s.str());
  p.activation.validate(s.c);
  for (int n = 0; n < s.n; ++n)
    for (int oy = 0; oy < rows.out; ++oy)
      for (int ox = 0; ox < cols.out; ++ox)
        for (int c = 0; c < s.c; ++c) {
          double acc = bias ? bias[c] : 0.0;
          for (int ky = 0; ky < kh; ++ky)
            for (int kx = 0; kx < kw; ++kx) {
              const int iy = oy * p.stride_h - rows.before + ky * p.dilation_h;
              const int ix = ox * p.stride_w - cols.before + kx * p.dilation_w;
              if (iy < 0 || iy >= s.h || ix < 0 || ix >= s.w) continue;
              acc += double(in.pixel(n, iy, ix)[c]) * weight[(ky * kw + kx) * s.c + c];
            }
          out.pixel(n, oy, ox)[c] = activate_naive(float(acc), p.activation, c);
        }
}

class DepthwiseConv2d final : public Op {
 public:
  // weight: [KH][KW][C] row-major (channel multiplier 1); bias: [C] or nullptr.
  DepthwiseConv2d(int kh, int kw, int channels, const float* weight, const float* bias,
                  const ConvParams& p, Isa isa)
      : Op(isa), kh_(kh), kw_(kw), c_(channels), has_bias_(bias != nullptr), p_(p) {
    MIEN_CHECK(kh > 0 && kw > 0 && channels > 0 && kh <= 1024 && kw <= 1024,
               "depthwise_conv2d: invalid kernel ", kh, "x", kw, " or channel count ", channels);
    MIEN_CHECK(weight != nullptr, "depthwise_conv2d: no weights");
    MIEN_CHECK(p.stride_h > 0 && p.stride_w > 0 && p.dilation_h > 0 && p.dilation_w > 0,
               "depthwise_conv2d: strides and dilations must be positive");
    MIEN_CHECK(cpu_supports(isa), "depthwise_conv2d: this CPU lacks ", isa_name(isa));
    p_.activation.validate(channels);

    // The ISA's 8-lane rows: the fast K x K / stride S one when the shape has one, else
    // the generic row. AVX-512 takes its 16-lane fast rows unless the last 16-channel block
    // would be at most half full (C = 24: 3 ymm per pixel measured as fast as 2 zmm with a
    // masked one); other shapes keep the 8-lane generic row.
    const bool square =
        kh == kw && p.stride_h == p.stride_w && p.dilation_h == 1 && p.dilation_w == 1;
    const int s = p.stride_h;
    const bool fast = square && (kh == 3 || kh == 5) && (s == 1 || s == 2);
    const bool wide = channels % 16 == 0 || channels % 16 > 8;
    const kernels::DwKernels& dw =
        fast && wide && kernels_.dw_wide.lanes != 0 ? kernels_.dw_wide : kernels_.dw;
    lanes_ = dw.lanes;
    row_fn_ = dw.generic;
    if (fast && dw.fast[kh == 5][s == 2]) row_fn_ = dw.fast[kh == 5][s == 2];
    post_ = kernels_.activate;

    // Per block of `lanes_` channels: the bias, then the KH*KW taps (zero beyond C).
    blocks_ = (channels + lanes_ - 1) / lanes_;
    block_stride_ = (1 + kh * kw) * lanes_;
    packed_.resize(std::size_t(blocks_) * std::size_t(block_stride_));  // zeroed: padding
    float* dst = packed_.data();
    for (int b = 0; b < blocks_; ++b, dst += block_stride_)
      for (int l = 0; l < lanes_ && b * lanes_ + l < channels; ++l) {
        const int c = b * lanes_ + l;
        dst[l] = bias ? bias[c] : 0.f;
        for (int t = 0; t < kh * kw; ++t)
          dst[lanes_ * (1 + t) + l] = weight[int64_t(t) * channels + c];
      }
  }

  const char* type() const override { return "depthwise_conv2d"; }

  Shape output_shape(const std::vector<Shape>& inputs) const override {
    MIEN_CHECK(inputs.size() == 1, "depthwise_conv2d takes 1 input, got ", inputs.size());
    return out_shape(inputs[0]);
  }
  // The same for one input shape, without allocating (run() and fused consumers).
  Shape out_shape(const Shape& s) const {
    MIEN_CHECK(s.valid() && s.c == c_, "depthwise_conv2d: input ", s.str(), " must have ", c_,
               " channels");
    const AxisPadding rows = p_.rows(s.h, kh_), cols = p_.cols(s.w, kw_);
    return Shape(s.n, rows.out, cols.out, c_);
  }

  int64_t macs(const std::vector<Shape>& inputs) const override {
    return output_shape(inputs).size() * kh_ * kw_;
  }
  int64_t parameters() const override {
    return int64_t(kh_) * kw_ * c_ + (has_bias_ ? c_ : 0) +
           (p_.activation.kind == ActKind::PRelu ? int64_t(p_.activation.slopes.size()) : 0);
  }
  std::string describe() const override { return p_.describe(kh_, kw_); }

  int kernel_h() const { return kh_; }
  int kernel_w() const { return kw_; }
  int channels() const { return c_; }
  const ConvParams& params() const { return p_; }

  void run(const ConstTensorView* inputs, TensorView out, const RunContext& ctx) const override {
    const ConstTensorView& in = inputs[0];
    const Shape os = out_shape(in.shape);  // validates
    MIEN_CHECK(out.shape == os, "depthwise_conv2d: output ", out.shape.str(),
               " does not match input ", in.shape.str());
    const detail::DwGeom g = geometry(in);
    const int64_t row_floats = int64_t(os.w) * c_;
    const int64_t work = out.shape.size() * kh_ * kw_;
    const int threads = tuning::worth_threads(work / tuning::kCostDepthwiseTapDiv, ctx.threads);
    parallel_for(int64_t(os.n) * os.h, threads, [&](int64_t begin, int64_t end) {
      run_rows(g, os.h, begin, end, out.data + begin * row_floats);
    });
  }

  // For fused consumers (ops/depthwise_pointwise.hpp): the kernel geometry of one input
  // (shape checked by the caller), and output rows [r0, r1) of it, numbered over N x OH,
  // written one after the other to dst (out_w * C floats each), activation included.
  detail::DwGeom geometry(const ConstTensorView& in) const {
    const Shape s = in.shape;
    const AxisPadding rows = p_.rows(s.h, kh_), cols = p_.cols(s.w, kw_);
    detail::DwGeom g;
    g.in = in.data;
    g.h = s.h;
    g.w = s.w;
    g.c = c_;
    g.out_w = cols.out;
    g.kh = kh_;
    g.kw = kw_;
    g.sh = p_.stride_h;
    g.sw = p_.stride_w;
    g.dh = p_.dilation_h;
    g.dw = p_.dilation_w;
    g.pad_top = rows.before;
    g.pad_left = cols.before;
    g.packed = packed_.data();
    g.full_blocks = c_ / lanes_;
    g.tail = c_ % lanes_;
    g.block_stride = block_stride_;
    const Activation& act = p_.activation;
    g.lo = act.is_clamp() ? act.clamp_lo() : -std::numeric_limits<float>::infinity();
    g.hi = act.is_clamp() ? act.clamp_hi() : std::numeric_limits<float>::infinity();
    // Interior columns: ox*sw - pad_left >= 0 and ox*sw - pad_left + (kw-1)*dw <= w-1.
    g.ox_lo = std::min(cols.out, (cols.before + g.sw - 1) / g.sw);
    const int last = s.w - 1 - (kw_ - 1) * g.dw + cols.before;
    g.ox_hi = last < 0 ? g.ox_lo : std::max(g.ox_lo, std::min(cols.out, last / g.sw + 1));
    return g;
  }

  void run_rows(const detail::DwGeom& g, int out_h, int64_t r0, int64_t r1, float* dst) const {
    const Activation& act = p_.activation;
    const int64_t row_floats = int64_t(g.out_w) * c_;
    for (int64_t r = r0; r < r1; ++r, dst += row_floats) {
      row_fn_(g, int(r / out_h), int(r % out_h), dst);
      if (!act.is_clamp()) post_(dst, dst, g.out_w, c_, act);
    }
  }

 private:
  int kh_, kw_, c_;
  bool has_bias_;
  ConvParams p_;
  int lanes_ = 8;  // channels per packed block: 16 for the AVX-512 kernels, else 8
  int blocks_ = 0, block_stride_ = 0;
  AlignedBuffer packed_;
  kernels::DwRowFn row_fn_ = nullptr;
  kernels::ActivateFn post_ = nullptr;  // a non-clamp activation, after each row
};

}  // namespace mien
