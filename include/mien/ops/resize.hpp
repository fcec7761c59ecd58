// Spatial resizing: nearest-neighbour upsampling by an integer factor (Keras UpSampling2D,
// pure copies) and bilinear resizing with exactly TensorFlow's ResizeBilinear arithmetic
// (float coordinates, the same rounding points and lerp order as TF and TF.js), in its three
// coordinate modes:
//   legacy (asymmetric):  src = dst * in / out
//   align_corners:        src = dst * (in - 1) / (out - 1)          (in / out when out == 1)
//   half_pixel_centers:   src = (dst + 0.5) * in / out - 0.5
// then lower = max(floor(src), 0), upper = min(ceil(src), in - 1), lerp = src - floor(src),
// top = tl + (tr - tl) * x_lerp, bottom likewise, value = top + (bottom - top) * y_lerp.
#pragma once

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstring>
#include <string>
#include <vector>

#include "mien/core/cpu.hpp"
#include "mien/core/error.hpp"
#include "mien/core/parallel.hpp"
#include "mien/core/tensor.hpp"
#include "mien/kernels/kernels.hpp"
#include "mien/kernels/tuning.hpp"
#include "mien/ops/op.hpp"

namespace mien {

// ---------------------------------------------------------------------------------------------
// Nearest upsampling

// Reference: out(n, y, x, c) = in(n, y / s, x / s, c).
inline void upsample_nearest_naive(ConstTensorView in, int scale, TensorView out) {
  const Shape o = out.shape;
  MIEN_CHECK(o == Shape(in.shape.n, in.shape.h * scale, in.shape.w * scale, in.shape.c),
             "upsample_nearest_naive: ", in.shape.str(), " x", scale, " -> ", o.str());
  for (int n = 0; n < o.n; ++n)
    for (int y = 0; y < o.h; ++y)
      for (int x = 0; x < o.w; ++x)
        for (int c = 0; c < o.c; ++c) out.pixel(n, y, x)[c] = in.pixel(n, y / scale, x / scale)[c];
}

class UpsampleNearest final : public Op {
 public:
  UpsampleNearest(int scale, Isa isa) : Op(isa), scale_(scale) {
    MIEN_CHECK(scale >= 1 && scale <= 4096, "upsample_nearest: scale ", scale, " must be 1..4096");
  }
  const char* type() const override { return "upsample_nearest"; }
  Shape output_shape(const std::vector<Shape>& inputs) const override {
    MIEN_CHECK(inputs.size() == 1, "upsample_nearest takes 1 input, got ", inputs.size());
    const Shape& s = inputs[0];
    MIEN_CHECK(s.valid(), "upsample_nearest: invalid input shape ", s.str());
    const int64_t h = int64_t(s.h) * scale_, w = int64_t(s.w) * scale_;
    MIEN_CHECK(h <= (int64_t(1) << 30) && w <= (int64_t(1) << 30), "upsample_nearest: ", s.str(),
               " x", scale_, " is too large");
    return Shape(s.n, int(h), int(w), s.c);
  }
  std::string describe() const override { return "x" + std::to_string(scale_); }
  int scale() const { return scale_; }

  void run(const ConstTensorView* inputs, TensorView out, const RunContext& ctx) const override {
    const ConstTensorView& in = inputs[0];
    const Shape s = in.shape;
    MIEN_CHECK(out.shape == Shape(s.n, s.h * scale_, s.w * scale_, s.c),
               "upsample_nearest: ", s.str(), " x", scale_, " does not give ", out.shape.str());
    const int threads = tuning::worth_threads(out.shape.size(), ctx.threads);
    // One work item per input row: it produces scale_ output rows.
    parallel_for(int64_t(s.n) * s.h, threads, [&](int64_t begin, int64_t end) {
      for (int64_t r = begin; r < end; ++r) run_row(in, out, int(r / s.h), int(r % s.h));
    });
  }

 private:
  // Widens one input row into the first of its output rows, then copies that row down.
  void run_row(const ConstTensorView& in, TensorView out, int n, int iy) const {
    const int c = in.shape.c, s = scale_;
    const float* src = in.pixel(n, iy, 0);
    float* first = out.pixel(n, iy * s, 0);
    float* dst = first;
    for (int x = 0; x < in.shape.w; ++x, src += c) {
      if (c < 16) {
        for (int k = 0; k < s; ++k, dst += c)
          for (int j = 0; j < c; ++j) dst[j] = src[j];
      } else {
        for (int k = 0; k < s; ++k, dst += c) std::memcpy(dst, src, sizeof(float) * std::size_t(c));
      }
    }
    const std::size_t row_bytes = sizeof(float) * std::size_t(int64_t(out.shape.w) * c);
    for (int k = 1; k < s; ++k) std::memcpy(out.pixel(n, iy * s + k, 0), first, row_bytes);
  }

  int scale_;
};

// ---------------------------------------------------------------------------------------------
// Bilinear resizing

// Where output index i samples along one axis.
struct BilinearTap {
  int lower = 0, upper = 0;
  float lerp = 0.f;
};

// TensorFlow's CalculateResizeScale, in float as TF computes it.
inline float bilinear_scale(int in, int out, bool align_corners) {
  return (align_corners && out > 1) ? float(in - 1) / float(out - 1) : float(in) / float(out);
}

// TensorFlow's compute_interpolation_weights for one index. Always called from portable
// (non-AVX2) code so that the compiler cannot contract the half-pixel expression into an FMA,
// which would move src by an ulp and could flip floor() at an integer.
inline BilinearTap bilinear_tap(int i, float scale, bool half_pixel_centers, int in) {
  const float src = half_pixel_centers ? (float(i) + 0.5f) * scale - 0.5f : float(i) * scale;
  const float f = std::floor(src);
  BilinearTap t;
  t.lower = std::max(int(f), 0);
  t.upper = std::min(int(std::ceil(src)), in - 1);
  t.lerp = src - f;
  return t;
}

// Reference: every output value computes its own coordinates, straight from the formulas.
inline void resize_bilinear_naive(ConstTensorView in, bool align_corners, bool half_pixel_centers,
                                  TensorView out) {
  const Shape s = in.shape, o = out.shape;
  MIEN_CHECK(o.n == s.n && o.c == s.c, "resize_bilinear_naive: ", s.str(), " -> ", o.str());
  const float sy = bilinear_scale(s.h, o.h, align_corners);
  const float sx = bilinear_scale(s.w, o.w, align_corners);
  for (int n = 0; n < o.n; ++n)
    for (int y = 0; y < o.h; ++y)
      for (int x = 0; x < o.w; ++x)
        for (int c = 0; c < o.c; ++c) {
          const float fy = half_pixel_centers ? (float(y) + 0.5f) * sy - 0.5f : float(y) * sy;
          const float fx = half_pixel_centers ? (float(x) + 0.5f) * sx - 0.5f : float(x) * sx;
          const int y0 = std::max(0, int(std::floor(fy))),
                    y1 = std::min(s.h - 1, int(std::ceil(fy)));
          const int x0 = std::max(0, int(std::floor(fx))),
                    x1 = std::min(s.w - 1, int(std::ceil(fx)));
          const float ly = fy - std::floor(fy), lx = fx - std::floor(fx);
          const float tl = in.pixel(n, y0, x0)[c], tr = in.pixel(n, y0, x1)[c];
          const float bl = in.pixel(n, y1, x0)[c], br = in.pixel(n, y1, x1)[c];
          const float top = tl + (tr - tl) * lx;
          const float bottom = bl + (br - bl) * lx;
          out.pixel(n, y, x)[c] = top + (bottom - top) * ly;
        }
}

class ResizeBilinear final : public Op {
 public:
  ResizeBilinear(int out_h, int out_w, bool align_corners, bool half_pixel_centers, Isa isa)
      : Op(isa),
        out_h_(out_h),
        out_w_(out_w),
        align_corners_(align_corners),
        half_pixel_(half_pixel_centers) {
    MIEN_CHECK(out_h >= 1 && out_w >= 1 && out_h <= kMaxSize && out_w <= kMaxSize,
               "resize_bilinear: output size ", out_h, "x", out_w, " must be 1..", kMaxSize);
    MIEN_CHECK(!(align_corners && half_pixel_centers),
               "resize_bilinear: align_corners and half_pixel_centers cannot both be set (as in "
               "TensorFlow)");
  }
  const char* type() const override { return "resize_bilinear"; }
  Shape output_shape(const std::vector<Shape>& inputs) const override {
    MIEN_CHECK(inputs.size() == 1, "resize_bilinear takes 1 input, got ", inputs.size());
    const Shape& s = inputs[0];
    MIEN_CHECK(s.valid(), "resize_bilinear: invalid input shape ", s.str());
    MIEN_CHECK(s.h <= kMaxSize && s.w <= kMaxSize, "resize_bilinear: input ", s.str(),
               " is larger than ", kMaxSize, " in H or W");
    return Shape(s.n, out_h_, out_w_, s.c);
  }
  std::size_t scratch_floats(const std::vector<Shape>& /*inputs*/, int /*threads*/) const override {
    return 3 * std::size_t(out_w_);
  }
  int64_t macs(const std::vector<Shape>& inputs) const override {
    return 3 * output_shape(inputs).size();  // three lerps per output value
  }
  std::string describe() const override {
    return std::to_string(out_h_) + "x" + std::to_string(out_w_) +
           (align_corners_ ? " align_corners"
            : half_pixel_  ? " half_pixel"
                           : " asymmetric");
  }

  void run(const ConstTensorView* inputs, TensorView out, const RunContext& ctx) const override {
    const ConstTensorView& in = inputs[0];
    const Shape s = in.shape;
    MIEN_CHECK(out.shape == Shape(s.n, out_h_, out_w_, s.c), "resize_bilinear: output ",
               out.shape.str(), " does not match input ", s.str());
    MIEN_CHECK(ctx.scratch && ctx.scratch_size >= 3 * std::size_t(out_w_),
               "resize_bilinear: needs ", 3 * out_w_, " scratch floats, got ", ctx.scratch_size);
    MIEN_CHECK(int64_t(s.w) * s.c < (int64_t(1) << 24), "resize_bilinear: input row of ",
               int64_t(s.w) * s.c, " values is too long");
    // Column taps once per run (they depend on the input width), shared by every row.
    float* x0 = ctx.scratch;
    float* x1 = x0 + out_w_;
    float* lx = x1 + out_w_;
    const float sx = bilinear_scale(s.w, out_w_, align_corners_);
    for (int x = 0; x < out_w_; ++x) {
      const BilinearTap t = bilinear_tap(x, sx, half_pixel_, s.w);
      x0[x] = float(t.lower * s.c);
      x1[x] = float(t.upper * s.c);
      lx[x] = t.lerp;
    }
    const detail::BilinearCols cols{x0, x1, lx};
    const float sy = bilinear_scale(s.h, out_h_, align_corners_);
    const int threads = tuning::worth_threads(out.shape.size(), ctx.threads);
    const kernels::BilinearRowFn row = kernels_.bilinear_row;
    parallel_for(int64_t(s.n) * out_h_, threads, [&](int64_t begin, int64_t end) {
      for (int64_t r = begin; r < end; ++r) {
        const int n = int(r / out_h_), y = int(r % out_h_);
        const BilinearTap t = bilinear_tap(y, sy, half_pixel_, s.h);
        const float* r0 = in.pixel(n, t.lower, 0);
        const float* r1 = in.pixel(n, t.upper, 0);
        float* o = out.pixel(n, y, 0);
        row(r0, r1, cols, out_w_, s.c, t.lerp, o);
      }
    });
  }

 private:
  static constexpr int kMaxSize = 1 << 16;

  int out_h_, out_w_;
  bool align_corners_, half_pixel_;
};

}  // namespace mien
