// Max / average pooling and global average pooling, NHWC, vectorised over channels.
// Padded cells never take part: max ignores them and average divides by the number of real
// cells in the window (TensorFlow, and ONNX's default count_include_pad = 0).
#pragma once

#include <algorithm>
#include <cstdint>
#include <limits>
#include <string>
#include <vector>

#if defined(__x86_64__) || defined(__i386__)
#include <immintrin.h>
#endif

#include "mien/core/cpu.hpp"
#include "mien/core/error.hpp"
#include "mien/core/parallel.hpp"
#include "mien/core/tensor.hpp"
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

namespace detail {

struct PoolGeom {
  const float* in;
  int h, w, c, out_w;
  int kh, kw, sh, sw, pad_top, pad_left;
};

// Window [t0, t1) of one axis clipped to [0, in).
inline void pool_range(int i0, int in, int k, int& t0, int& t1) {
  t0 = std::max(0, i0);
  t1 = std::min(in, i0 + k);
}

// Portable row: the window is folded into the output pixel, so every inner loop runs over
// contiguous channels and vectorises with the baseline ISA.
template <bool kMax>
inline void pool_row_scalar(const PoolGeom& g, int n, int oy, float* orow) {
  const float* img = g.in + int64_t(n) * g.h * g.w * g.c;
  int y0, y1;
  pool_range(oy * g.sh - g.pad_top, g.h, g.kh, y0, y1);
  for (int ox = 0; ox < g.out_w; ++ox) {
    int x0, x1;
    pool_range(ox * g.sw - g.pad_left, g.w, g.kw, x0, x1);
    float* o = orow + int64_t(ox) * g.c;
    std::fill(o, o + g.c, kMax ? -std::numeric_limits<float>::infinity() : 0.f);
    for (int y = y0; y < y1; ++y)
      for (int x = x0; x < x1; ++x) {
        const float* v = img + (int64_t(y) * g.w + x) * g.c;
        if (kMax)
          for (int c = 0; c < g.c; ++c) o[c] = std::max(o[c], v[c]);
        else
          for (int c = 0; c < g.c; ++c) o[c] += v[c];
      }
    if (!kMax) {
      const float inv = 1.f / float((y1 - y0) * (x1 - x0));
      for (int c = 0; c < g.c; ++c) o[c] *= inv;
    }
  }
}

inline void gap_scalar(const float* img, int64_t pixels, int c, float* o) {
  std::fill(o, o + c, 0.f);
  for (int64_t p = 0; p < pixels; ++p) {
    const float* v = img + p * c;
    for (int k = 0; k < c; ++k) o[k] += v[k];
  }
  const float inv = float(1.0 / double(pixels));
  for (int k = 0; k < c; ++k) o[k] *= inv;
}

#if MIEN_X86
MIEN_TARGET_AVX2 inline __m256i pool_tail_mask(int tail) {
  return _mm256_cmpgt_epi32(_mm256_set1_epi32(tail), _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7));
}

// NB channel blocks (8 channels each) of one output pixel. NB independent max/add chains
// keep the vector pipes busy; results stay in registers until the store.
template <bool kMax, int NB, bool kMasked>
MIEN_TARGET_AVX2 inline void pool_blocks_avx2(const float* x, int64_t row_stride, int c, int rows,
                                              int cols, float* o, __m256 inv, __m256i mask) {
  __m256 acc[NB];
#pragma GCC unroll 8
  for (int i = 0; i < NB; ++i)
    acc[i] = kMax ? _mm256_set1_ps(-std::numeric_limits<float>::infinity()) : _mm256_setzero_ps();
  for (int y = 0; y < rows; ++y, x += row_stride) {
    const float* p = x;
    for (int k = 0; k < cols; ++k, p += c) {
#pragma GCC unroll 8
      for (int i = 0; i < NB; ++i) {
        const __m256 v = kMasked ? _mm256_maskload_ps(p + i * 8, mask) : _mm256_loadu_ps(p + i * 8);
        acc[i] = kMax ? _mm256_max_ps(acc[i], v) : _mm256_add_ps(acc[i], v);
      }
    }
  }
#pragma GCC unroll 8
  for (int i = 0; i < NB; ++i) {
    const __m256 r = kMax ? acc[i] : _mm256_mul_ps(acc[i], inv);
    if (kMasked)
      _mm256_maskstore_ps(o + i * 8, mask, r);
    else
      _mm256_storeu_ps(o + i * 8, r);
  }
}

template <bool kMax>
MIEN_TARGET_AVX2 void pool_row_avx2(const PoolGeom& g, int n, int oy, float* orow) {
  const float* img = g.in + int64_t(n) * g.h * g.w * g.c;
  const int full = g.c / 8, tail = g.c % 8;
  const __m256i mask = pool_tail_mask(tail);
  const int64_t rs = int64_t(g.w) * g.c;
  int y0, y1;
  pool_range(oy * g.sh - g.pad_top, g.h, g.kh, y0, y1);
  for (int ox = 0; ox < g.out_w; ++ox) {
    int x0, x1;
    pool_range(ox * g.sw - g.pad_left, g.w, g.kw, x0, x1);
    const int rows = y1 - y0, cols = x1 - x0;
    const __m256 inv = _mm256_set1_ps(1.f / float(rows * cols));
    const float* x = img + (int64_t(y0) * g.w + x0) * g.c;
    float* o = orow + int64_t(ox) * g.c;
    int b = 0;
    for (; b + 4 <= full; b += 4)
      pool_blocks_avx2<kMax, 4, false>(x + b * 8, rs, g.c, rows, cols, o + b * 8, inv, mask);
    for (; b < full; ++b)
      pool_blocks_avx2<kMax, 1, false>(x + b * 8, rs, g.c, rows, cols, o + b * 8, inv, mask);
    if (tail) pool_blocks_avx2<kMax, 1, true>(x + b * 8, rs, g.c, rows, cols, o + b * 8, inv, mask);
  }
  _mm256_zeroupper();  // see gap_avx2
}

// Four channel blocks at a time: four independent add chains hide the add latency.
MIEN_TARGET_AVX2 inline void gap_avx2(const float* img, int64_t pixels, int c, float* o) {
  const __m256 inv = _mm256_set1_ps(float(1.0 / double(pixels)));
  int k = 0;
  for (; k + 32 <= c; k += 32) {
    __m256 a0 = _mm256_setzero_ps(), a1 = a0, a2 = a0, a3 = a0;
    for (int64_t p = 0; p < pixels; ++p) {
      const float* v = img + p * c + k;
      a0 = _mm256_add_ps(a0, _mm256_loadu_ps(v));
      a1 = _mm256_add_ps(a1, _mm256_loadu_ps(v + 8));
      a2 = _mm256_add_ps(a2, _mm256_loadu_ps(v + 16));
      a3 = _mm256_add_ps(a3, _mm256_loadu_ps(v + 24));
    }
    _mm256_storeu_ps(o + k, _mm256_mul_ps(a0, inv));
    _mm256_storeu_ps(o + k + 8, _mm256_mul_ps(a1, inv));
    _mm256_storeu_ps(o + k + 16, _mm256_mul_ps(a2, inv));
    _mm256_storeu_ps(o + k + 24, _mm256_mul_ps(a3, inv));
  }
  for (; k < c; k += 8) {
    const __m256i mask = pool_tail_mask(std::min(8, c - k));
    __m256 a = _mm256_setzero_ps();
    for (int64_t p = 0; p < pixels; ++p)
      a = _mm256_add_ps(a, _mm256_maskload_ps(img + p * c + k, mask));
    _mm256_maskstore_ps(o + k, mask, _mm256_mul_ps(a, inv));
  }
  // Clean upper YMM halves for whatever SSE code runs next: GCC omits vzeroupper after
  // calls that pass __m256 arguments, and dirty state slows later SSE code ~2.5x.
  _mm256_zeroupper();
}
#endif  // MIEN_X86

using PoolRowFn = void (*)(const PoolGeom&, int n, int oy, float* orow);

}  // namespace detail

class Pool2d final : public Op {
 public:
  Pool2d(PoolKind kind, int kh, int kw, int stride_h, int stride_w, const Padding& padding, Isa isa)
      : Op(isa), kind_(kind), kh_(kh), kw_(kw), sh_(stride_h), sw_(stride_w), pad_(padding) {
    MIEN_CHECK(kh > 0 && kw > 0 && stride_h > 0 && stride_w > 0, "pool: invalid kernel ", kh, "x",
               kw, " or stride ", stride_h, "x", stride_w);
    MIEN_CHECK(cpu_supports(isa), "pool: this CPU lacks ", isa_name(isa));
    const bool mx = kind == PoolKind::Max;
    row_fn_ = mx ? &detail::pool_row_scalar<true> : &detail::pool_row_scalar<false>;
#if MIEN_X86
    if (isa_has_avx2(isa))
      row_fn_ = mx ? &detail::pool_row_avx2<true> : &detail::pool_row_avx2<false>;
#endif
  }

  const char* type() const override {
    return kind_ == PoolKind::Max ? "max_pool" : "avg_pool";
  }

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

  PoolKind kind() const {
    return kind_;
  }

  void run(const ConstTensorView* inputs, TensorView out, const RunContext& ctx) const override {
    const ConstTensorView& in = inputs[0];
    AxisPadding rows, cols;
    const Shape os = detail::pool_output_shape(in.shape, kh_, kw_, sh_, sw_, pad_, &rows, &cols);
    MIEN_CHECK(out.shape == os, type(), ": output ", out.shape.str(), " should be ", os.str());
    const detail::PoolGeom g{in.data, in.shape.h, in.shape.w, in.shape.c,  os.w,       kh_,
                             kw_,     sh_,        sw_,        rows.before, cols.before};
    // Pooling is memory-bound and cheap: a second thread pays only for large tensors.
    const int threads = os.size() * kh_ * kw_ >= (int64_t(1) << 17) ? ctx.threads : 1;
    const detail::PoolRowFn row_fn = row_fn_;
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
  detail::PoolRowFn row_fn_ = nullptr;
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
    const int threads = s.size() >= (int64_t(1) << 17) ? ctx.threads : 1;
    const Isa isa = isa_;
    parallel_for(s.n, threads, [&](int64_t begin, int64_t end) {
      for (int64_t n = begin; n < end; ++n) {
        const float* img = in.data + n * pixels * s.c;
        float* o = out.data + n * s.c;
#if MIEN_X86
        if (isa_has_avx2(isa)) {
          detail::gap_avx2(img, pixels, s.c, o);
          continue;
        }
#endif
        (void)isa;
        detail::gap_scalar(img, pixels, s.c, o);
      }
    });
  }
};

}  // namespace mien
