// Softmax over the channels of every pixel (a classifier head is N x 1 x 1 x classes; a
// detector's per-anchor scores are N x anchors x 1 x classes). Numerically stable: the row
// maximum is subtracted first, so logits of +-1000 give exact 0/1 probabilities, not NaN.
#pragma once

#include <algorithm>
#include <cmath>
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
#include "mien/ops/activation.hpp"
#include "mien/ops/op.hpp"

namespace mien {

// Reference, in double.
inline void softmax_naive(ConstTensorView in, TensorView out) {
  MIEN_CHECK(out.shape == in.shape, "softmax_naive: output ", out.shape.str(), " != input ",
             in.shape.str());
  const int c = in.shape.c;
  for (int64_t p = 0; p < in.shape.pixels(); ++p) {
    const float* x = in.data + p * c;
    double mx = x[0];
    for (int k = 1; k < c; ++k) mx = std::max(mx, double(x[k]));
    double sum = 0;
    for (int k = 0; k < c; ++k) sum += std::exp(double(x[k]) - mx);
    for (int k = 0; k < c; ++k) out.data[p * c + k] = float(std::exp(double(x[k]) - mx) / sum);
  }
}

namespace detail {

// Portable path: exponentials stored once, summed in double (cheap next to std::exp, and it
// keeps wide rows accurate), then one multiply by the reciprocal.
inline void softmax_rows_scalar(const float* in, float* out, int64_t pixels, int c) {
  for (int64_t p = 0; p < pixels; ++p, in += c, out += c) {
    float mx = in[0];
    for (int k = 1; k < c; ++k) mx = std::max(mx, in[k]);
    double sum = 0;
    for (int k = 0; k < c; ++k) {
      out[k] = std::exp(in[k] - mx);
      sum += out[k];
    }
    const float inv = float(1.0 / sum);
    for (int k = 0; k < c; ++k) out[k] *= inv;
  }
}

#if MIEN_X86
namespace avx2 {

MIEN_TARGET_AVX2 inline float softmax_hmax(__m256 v) {
  __m128 m = _mm_max_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
  m = _mm_max_ps(m, _mm_movehl_ps(m, m));
  m = _mm_max_ss(m, _mm_movehdup_ps(m));
  return _mm_cvtss_f32(m);
}

MIEN_TARGET_AVX2 inline float softmax_hsum(__m256 v) {
  __m128 s = _mm_add_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
  s = _mm_add_ps(s, _mm_movehl_ps(s, s));
  s = _mm_add_ss(s, _mm_movehdup_ps(s));
  return _mm_cvtss_f32(s);
}

// exp(d) for d = x - max <= 0. exp_ps saturates at FLT_MIN below ln(FLT_MIN); flush those
// lanes to 0 so that a dominated class gets probability exactly 0, as std::exp gives.
MIEN_TARGET_AVX2 inline __m256 softmax_exp(__m256 d) {
  const __m256 keep = _mm256_cmp_ps(d, _mm256_set1_ps(-87.3365447505531f), _CMP_GE_OQ);
  return _mm256_and_ps(exp_ps(d), keep);
}

// Three passes over a row (max, exp + sum, scale); the row is in L1 after the first. The
// ragged end uses masked loads/stores, so rows of 2 or 7 classes cost one vector each.
MIEN_TARGET_AVX2 inline void softmax_rows(const float* in, float* out, int64_t pixels, int c) {
  const int c8 = c & ~7, rest = c - c8;
  const __m256i m =
      _mm256_cmpgt_epi32(_mm256_set1_epi32(rest), _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7));
  const __m256 mf = _mm256_castsi256_ps(m);
  const __m256 neg_inf = _mm256_set1_ps(-std::numeric_limits<float>::infinity());
  for (int64_t p = 0; p < pixels; ++p, in += c, out += c) {
    __m256 vmax = neg_inf;
    int k = 0;
    for (; k < c8; k += 8) vmax = _mm256_max_ps(vmax, _mm256_loadu_ps(in + k));
    if (rest)
      vmax = _mm256_max_ps(vmax, _mm256_blendv_ps(neg_inf, _mm256_maskload_ps(in + k, m), mf));
    const __m256 mx = _mm256_set1_ps(softmax_hmax(vmax));

    __m256 vsum = _mm256_setzero_ps();
    for (k = 0; k < c8; k += 8) {
      const __m256 e = softmax_exp(_mm256_sub_ps(_mm256_loadu_ps(in + k), mx));
      _mm256_storeu_ps(out + k, e);
      vsum = _mm256_add_ps(vsum, e);
    }
    if (rest) {
      // Masked lanes would be exp(0 - max) != 0: zero them before they reach the sum.
      const __m256 e =
          _mm256_and_ps(softmax_exp(_mm256_sub_ps(_mm256_maskload_ps(in + k, m), mx)), mf);
      _mm256_maskstore_ps(out + k, m, e);
      vsum = _mm256_add_ps(vsum, e);
    }
    const __m256 inv = _mm256_set1_ps(1.f / softmax_hsum(vsum));
    for (k = 0; k < c8; k += 8)
      _mm256_storeu_ps(out + k, _mm256_mul_ps(_mm256_loadu_ps(out + k), inv));
    if (rest) _mm256_maskstore_ps(out + k, m, _mm256_mul_ps(_mm256_maskload_ps(out + k, m), inv));
  }
}

// Rows shorter than a vector (a detector's 2 classes per anchor): a vector per row would be
// mostly masked lanes plus two horizontal reductions, slower than scalar code. Instead, per
// block of rows: the max subtraction row by row (scalar, cheap), the exponentials as one flat
// vectorised stream over the block, then sums and scaling row by row.
MIEN_TARGET_AVX2 inline void softmax_short_rows(const float* in, float* out, int64_t pixels,
                                                int c) {
  constexpr int64_t kBlockRows = 256;
  for (int64_t p0 = 0; p0 < pixels; p0 += kBlockRows) {
    const int64_t rows = std::min(kBlockRows, pixels - p0);
    const float* x = in + p0 * c;
    float* y = out + p0 * c;
    for (int64_t p = 0; p < rows; ++p) {
      const float* xr = x + p * c;
      float mx = xr[0];
      for (int k = 1; k < c; ++k) mx = std::max(mx, xr[k]);
      for (int k = 0; k < c; ++k) y[p * c + k] = xr[k] - mx;
    }
    const int64_t n = rows * c;
    int64_t i = 0;
    for (; i + 8 <= n; i += 8) _mm256_storeu_ps(y + i, softmax_exp(_mm256_loadu_ps(y + i)));
    if (i < n) {
      const __m256i m = _mm256_cmpgt_epi32(_mm256_set1_epi32(int(n - i)),
                                           _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7));
      _mm256_maskstore_ps(y + i, m, softmax_exp(_mm256_maskload_ps(y + i, m)));
    }
    for (int64_t p = 0; p < rows; ++p) {
      float* yr = y + p * c;
      float sum = 0.f;
      for (int k = 0; k < c; ++k) sum += yr[k];
      const float inv = 1.f / sum;
      for (int k = 0; k < c; ++k) yr[k] *= inv;
    }
  }
}

}  // namespace avx2
#endif  // MIEN_X86

}  // namespace detail

class Softmax final : public Op {
 public:
  explicit Softmax(Isa isa) : Op(isa) {}
  const char* type() const override { return "softmax"; }
  Shape output_shape(const std::vector<Shape>& inputs) const override {
    MIEN_CHECK(inputs.size() == 1, "softmax takes 1 input, got ", inputs.size());
    MIEN_CHECK(inputs[0].valid(), "softmax: invalid input shape ", inputs[0].str());
    return inputs[0];
  }

  void run(const ConstTensorView* inputs, TensorView out, const RunContext& ctx) const override {
    const ConstTensorView& in = inputs[0];
    MIEN_CHECK(out.shape == in.shape, "softmax: output ", out.shape.str(), " != input ",
               in.shape.str());
    const int c = in.shape.c;
    const int threads = in.shape.size() >= kParallelFloats ? ctx.threads : 1;
    parallel_for(in.shape.pixels(), threads, [&](int64_t begin, int64_t end) {
      const float* x = in.data + begin * c;
      float* y = out.data + begin * c;
#if MIEN_X86
      if (isa_has_avx2(isa_)) {
        // A single short row (a classifier head) is cheapest as one masked vector.
        if (c < 8 && end - begin >= 8)
          return detail::avx2::softmax_short_rows(x, y, end - begin, c);
        return detail::avx2::softmax_rows(x, y, end - begin, c);
      }
#endif
      detail::softmax_rows_scalar(x, y, end - begin, c);
    });
  }

 private:
  static constexpr int64_t kParallelFloats = int64_t(1) << 16;
};

}  // namespace mien
