// Max / average pooling and global average pooling, NHWC, vectorised over channels.
// Padded cells never take part: max ignores them and average divides by the number of real
// cells in the window (TensorFlow, and ONNX's default count_include_pad = 0).
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
#include "mien/kernels/kernels.hpp"
#include "mien/kernels/tuning.hpp"
#include "mien/ops/op.hpp"
#include "mien/ops/padding.hpp"

namespace mien {

enum class PoolKind { Max, Average };

namespace detail {
// Output shape of a pooling window; also rejects explicit pads as large as the kernel, which
// would give windows with no real cell (max and average of nothing are undefined).
inline Shape pool_output_shape(const Shape& s, int kh, int kw, int sh, int sw, const Padding& p,
                               AxisPadding* rows = nullptr, AxisPadding* cols = nullptr) {
  MIEN_CHECK(s.valid(), "pool: invalid input shape ", s.str());
  if (p.mode == PadMode::Explicit)
    MIEN_CHECK(p.top < kh && p.bottom < kh && p.left < kw && p.right < kw, "pool: padding ",
               p.str(), " must be smaller than the kernel ", kh, "x", kw);
  const AxisPadding r = resolve_rows(p, s.h, kh, sh, 1), c = resolve_cols(p, s.w, kw, sw, 1);
  if (rows) *rows = r;
  if (cols) *cols = c;
  return Shape(s.n, r.out, c.out, s.c);
}
}  // namespace detail

// References.
inline void pool2d_naive(ConstTensorView in, PoolKind kind, int kh, int kw, int stride_h,
                         int stride_w, const Padding& p, TensorView out) {
  AxisPadding rows, cols;
  const Shape os = detail::pool_output_shape(in.shape, kh, kw, stride_h, stride_w, p, &rows, &cols);
  MIEN_CHECK(out.shape == os, "pool2d_naive: output ", out.shape.str(), " should be ", os.str());
  for (int n = 0; n < os.n; ++n)
    for (int oy = 0; oy < os.h; ++oy)
      for (int ox = 0; ox < os.w; ++ox)
        for (int c = 0; c < os.c; ++c) {
          double sum = 0;
          float mx = -std::numeric_limits<float>::infinity();
          int count = 0;
          for (int ky = 0; ky < kh; ++ky)
            for (int kx = 0; kx < kw; ++kx) {
              const int iy = oy * stride_h - rows.before + ky;
              const int ix = ox * stride_w - cols.before + kx;
              if (iy < 0 || iy >= in.shape.h || ix < 0 || ix >= in.shape.w) continue;
              const float v = in.pixel(n, iy, ix)[c];
              sum += v;
              mx = std::max(mx, v);
              ++count;
            }
          out.pixel(n, oy, ox)[c] = kind == PoolKind::Max ? mx : float(sum / count);
        }
}

inline void global_avg_pool_naive(ConstTensorView in, TensorView out) {
  const Shape s = in.shape;
  MIEN_CHECK(out.shape == Shape(s.n, 1, 1, s.c), "global_avg_pool_naive: output ", out.shape.str(),
             " for input ", s.str());
  for (int n = 0; n < s.n; ++n)
    for (int c = 0; c < s.c; ++c) {
      double sum = 0;
      for (int y = 0; y < s.h; ++y)
        for (int x = 0; x < s.w; ++x) sum += in.pixel(n, y, x)[c];
      out.pixel(n, 0, 0)[c] = float(sum / (double(s.h) * s.w));
    }
}

class Pool2d final : public Op {
 public:
  Pool2d(PoolKind kind, int kh, int kw, int stride_h, int stride_w, const Padding& padding, Isa isa)
      : Op(isa), kind_(kind), kh_(kh), kw_(kw), sh_(stride_h), sw_(stride_w), pad_(padding) {
    MIEN_CHECK(kh > 0 && kw > 0 && stride_h > 0 && stride_w > 0, "pool: invalid kernel ", kh, "x",
               kw, " or stride ", stride_h, "x", stride_w);
    MIEN_CHECK(cpu_supports(isa), "pool: this CPU lacks ", isa_name(isa));
    const bool mx = kind == PoolKind::Max;
    row_fn_ = mx ? kernels_.max_pool_row : kernels_.avg_pool_row;
  }

  const char* type() const override { return kind_ == PoolKind::Max ? "max_pool" : "avg_pool"; }

  Shape output_shape(const std::vector<Shape>& inputs) const override {
    MIEN_CHECK(inputs.size() == 1, type(), " takes 1 input, got ", inputs.size());
    return detail::pool_output_shape(inputs[0], kh_, kw_, sh_, sw_, pad_);
  }

  std::string describe() const override {
    std::string s = std::to_string(kh_) + "x" + std::to_string(kw_);
    if (sh_ != 1 || sw_ != 1)
      s += "/" + std::to_string(sh_) + (sh_ == sw_ ? "" : "x" + std::to_string(sw_));
    return s + " " + pad_.str();
  }

  PoolKind kind() const { return kind_; }

  void run(const ConstTensorView* inputs, TensorView out, const RunContext& ctx) const override {
    const ConstTensorView& in = inputs[0];
    AxisPadding rows, cols;
    const Shape os = detail::pool_output_shape(in.shape, kh_, kw_, sh_, sw_, pad_, &rows, &cols);
    MIEN_CHECK(out.shape == os, type(), ": output ", out.shape.str(), " should be ", os.str());
    const detail::PoolGeom g{in.data, in.shape.h, in.shape.w, in.shape.c,  os.w,       kh_,
                             kw_,     sh_,        sw_,        rows.before, cols.before};
    const int threads =
        tuning::worth_threads(os.size() * kh_ * kw_ / tuning::kCostPoolTapDiv, ctx.threads);
    const kernels::PoolRowFn row_fn = row_fn_;
    parallel_for(int64_t(os.n) * os.h, threads, [&](int64_t begin, int64_t end) {
      for (int64_t r = begin; r < end; ++r) {
        const int n = int(r / os.h), oy = int(r % os.h);
        row_fn(g, n, oy, out.pixel(n, oy, 0));
      }
    });
  }

 private:
  PoolKind kind_;
  int kh_, kw_, sh_, sw_;
  Padding pad_;
  kernels::PoolRowFn row_fn_ = nullptr;
};

class GlobalAvgPool final : public Op {
 public:
  explicit GlobalAvgPool(Isa isa) : Op(isa) {
    MIEN_CHECK(cpu_supports(isa), "global_avg_pool: this CPU lacks ", isa_name(isa));
  }
  const char* type() const override { return "global_avg_pool"; }
  Shape output_shape(const std::vector<Shape>& inputs) const override {
    MIEN_CHECK(inputs.size() == 1, "global_avg_pool takes 1 input, got ", inputs.size());
    MIEN_CHECK(inputs[0].valid(), "global_avg_pool: invalid input shape ", inputs[0].str());
    return Shape(inputs[0].n, 1, 1, inputs[0].c);
  }

  void run(const ConstTensorView* inputs, TensorView out, const RunContext& ctx) const override {
    const ConstTensorView& in = inputs[0];
    const Shape s = in.shape;
    MIEN_CHECK(s.valid() && out.shape == Shape(s.n, 1, 1, s.c), "global_avg_pool: output ",
               out.shape.str(), " for input ", s.str());
    const int64_t pixels = int64_t(s.h) * s.w;
    const int threads = tuning::worth_threads(s.size() / tuning::kCostPoolTapDiv, ctx.threads);
    const kernels::GapFn gap = kernels_.global_avg_pool;
    parallel_for(s.n, threads, [&](int64_t begin, int64_t end) {
      for (int64_t n = begin; n < end; ++n)
        gap(in.data + n * pixels * s.c, pixels, s.c, out.data + n * s.c);
    });
  }
};

}  // namespace mien
