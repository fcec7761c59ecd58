// Depthwise 2-D convolution (channel multiplier 1), NHWC. Channels are contiguous, so the
// kernels vectorise over them: one ymm (zmm for AVX-512) holds 8 (16) channels of one
// pixel, and every tap is one FMA with a per-channel weight vector. Weights are packed once
// (XNNPACK style): per block of 8 (16) channels, the bias then the KH*KW taps, zero-padded
// to a multiple of the block.
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
#include "mien/ops/activation.hpp"
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

namespace detail {

// Everything a row kernel needs, resolved once per run().
struct DwGeom {
  const float* in;
  int h, w, c;
  int out_w;
  int kh, kw, sh, sw, dh, dw, pad_top, pad_left;
  const float* packed;
  int full_blocks;   // channel blocks of 8 (16 for the AVX-512 kernels)
  int tail;          // channels in the last, partial block (0 when C is a multiple)
  int block_stride;  // floats per packed block: (1 + kh*kw) * 8 (or 16)
  float lo, hi;      // clamp applied before the store (+-inf when none)
  int ox_lo, ox_hi;  // output columns whose whole window lies inside the input
};

// Taps [t0, t1) of one axis that land inside [0, in) for a window starting at i0; an empty
// range (window wholly in the padding) is returned as [0, 0).
inline void dw_tap_range(int i0, int in, int k, int d, int& t0, int& t1) {
  t0 = i0 >= 0 ? 0 : (-i0 + d - 1) / d;
  t1 = i0 > in - 1 ? 0 : std::min(k, (in - 1 - i0) / d + 1);
  if (t1 <= t0) t0 = t1 = 0;
}

// ---- portable path ----
// Same packed weights as the AVX2 path; the 8-lane inner loops map onto the baseline
// ISA's vectors (two SSE registers on x86-64) wherever the compiler vectorises.
template <bool kFull>
inline void dw_block_scalar(const DwGeom& g, const float* img, int iy0, int ix0, int ky0, int ky1,
                            int kx0, int kx1, int b, float* o) {
  const int lanes = kFull ? 8 : g.tail;
  const float* w = g.packed + int64_t(b) * g.block_stride;
  float acc[8];
  for (int l = 0; l < 8; ++l) acc[l] = w[l];
  for (int ky = ky0; ky < ky1; ++ky) {
    const float* row = img + (int64_t(iy0 + ky * g.dh) * g.w) * g.c + b * 8;
    for (int kx = kx0; kx < kx1; ++kx) {
      const float* x = row + int64_t(ix0 + kx * g.dw) * g.c;
      const float* wt = w + 8 * (1 + ky * g.kw + kx);
      for (int l = 0; l < lanes; ++l) acc[l] += x[l] * wt[l];
    }
  }
  // Locals, not g.lo/g.hi: `o` might alias `g` for the compiler, which would then reload
  // them and select by branches (3x slower on real data).
  const float lo = g.lo, hi = g.hi;
  for (int l = 0; l < lanes; ++l) o[b * 8 + l] = std::min(std::max(acc[l], lo), hi);
}

inline void dw_row_scalar(const DwGeom& g, int n, int oy, float* orow) {
  const float* img = g.in + int64_t(n) * g.h * g.w * g.c;
  const int iy0 = oy * g.sh - g.pad_top;
  int ky0, ky1;
  dw_tap_range(iy0, g.h, g.kh, g.dh, ky0, ky1);
  for (int ox = 0; ox < g.out_w; ++ox) {
    const int ix0 = ox * g.sw - g.pad_left;
    int kx0, kx1;
    dw_tap_range(ix0, g.w, g.kw, g.dw, kx0, kx1);
    float* o = orow + int64_t(ox) * g.c;
    for (int b = 0; b < g.full_blocks; ++b)
      dw_block_scalar<true>(g, img, iy0, ix0, ky0, ky1, kx0, kx1, b, o);
    if (g.tail) dw_block_scalar<false>(g, img, iy0, ix0, ky0, ky1, kx0, kx1, g.full_blocks, o);
  }
}

#if MIEN_X86
// ---- AVX2 + FMA path ----
// Entry points (the row functions) end with _mm256_zeroupper(): GCC omits vzeroupper
// after calls that pass __m256 arguments, and dirty upper YMM halves made the SSE code that
// ran next (the portable path, libm) 2.5x slower.

// Lanes [0, tail) set: loads and stores of the last, partial channel block.
MIEN_TARGET_AVX2 inline __m256i dw_tail_mask(int tail) {
  return _mm256_cmpgt_epi32(_mm256_set1_epi32(tail), _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7));
}

// Generic kernel: T output pixels of one channel block, any kernel, stride and dilation,
// taps [ky0, ky0+nky) x [kx0, kx0+nkx) (clipped by the caller for border pixels). T
// independent accumulators hide the FMA latency that a single chain per pixel would expose;
// each weight vector is loaded once per tap and shared by the T pixels. `x` points at the
// input of tap (ky0, kx0) of the first pixel (plus the block's channel offset).
template <int T, bool kMasked>
MIEN_TARGET_AVX2 inline __attribute__((always_inline)) void dw_tile_generic_avx2(
    const DwGeom& g, const float* x, int ky0, int nky, int kx0, int nkx, const float* w, float* o,
    __m256 lo, __m256 hi, __m256i mask) {
  const int64_t row_step = int64_t(g.dh) * g.w * g.c, col_step = int64_t(g.dw) * g.c;
  const int64_t pix_step = int64_t(g.sw) * g.c;
  __m256 acc[T];
  const __m256 bias = _mm256_load_ps(w);
#pragma GCC unroll 16
  for (int t = 0; t < T; ++t) acc[t] = bias;
  for (int ky = 0; ky < nky; ++ky, x += row_step) {
    const float* wt = w + 8 * (1 + (ky0 + ky) * g.kw + kx0);
    const float* xk = x;
    for (int kx = 0; kx < nkx; ++kx, xk += col_step, wt += 8) {
      const __m256 wv = _mm256_load_ps(wt);
      const float* xp = xk;
#pragma GCC unroll 16
      for (int t = 0; t < T; ++t, xp += pix_step) {
        const __m256 v = kMasked ? _mm256_maskload_ps(xp, mask) : _mm256_loadu_ps(xp);
        acc[t] = _mm256_fmadd_ps(v, wv, acc[t]);
      }
    }
  }
#pragma GCC unroll 16
  for (int t = 0; t < T; ++t) {
    const __m256 r = _mm256_min_ps(_mm256_max_ps(acc[t], lo), hi);
    if (kMasked)
      _mm256_maskstore_ps(o + t * g.c, mask, r);
    else
      _mm256_storeu_ps(o + t * g.c, r);
  }
}

// All channel blocks of T pixels from column ox (T = 1 for border pixels, whose taps are
// clipped to the input; interior tiles use every tap).
template <int T>
MIEN_TARGET_AVX2 inline void dw_tiles_generic_avx2(const DwGeom& g, const float* img, int iy0,
                                                   int ky0, int ky1, int ox, float* orow, __m256 lo,
                                                   __m256 hi, __m256i mask) {
  const int ix0 = ox * g.sw - g.pad_left;
  int kx0, kx1;
  dw_tap_range(ix0, g.w, g.kw, g.dw, kx0, kx1);
  float* o = orow + int64_t(ox) * g.c;
  // A window wholly in the padding has no taps: the output is the bias.
  const bool empty = ky0 >= ky1 || kx0 >= kx1;
  const int nky = empty ? 0 : ky1 - ky0, nkx = empty ? 0 : kx1 - kx0;
  const float* x = empty ? img : img + (int64_t(iy0 + ky0 * g.dh) * g.w + (ix0 + kx0 * g.dw)) * g.c;
  int b = 0;
  for (; b < g.full_blocks; ++b)
    dw_tile_generic_avx2<T, false>(g, x + b * 8, ky0, nky, kx0, nkx,
                                   g.packed + int64_t(b) * g.block_stride, o + b * 8, lo, hi, mask);
  if (g.tail)
    dw_tile_generic_avx2<T, true>(g, x + b * 8, ky0, nky, kx0, nkx,
                                  g.packed + int64_t(b) * g.block_stride, o + b * 8, lo, hi, mask);
}

// Generic row: border pixels one by one with clipped windows, interior in tiles of 8.
MIEN_TARGET_AVX2 inline void dw_row_generic_avx2(const DwGeom& g, int n, int oy, float* orow) {
  constexpr int T = 8;
  const float* img = g.in + int64_t(n) * g.h * g.w * g.c;
  const __m256i mask = dw_tail_mask(g.tail);
  const __m256 lo = _mm256_set1_ps(g.lo), hi = _mm256_set1_ps(g.hi);
  const int iy0 = oy * g.sh - g.pad_top;
  int ky0, ky1;
  dw_tap_range(iy0, g.h, g.kh, g.dh, ky0, ky1);
  for (int ox = 0; ox < g.ox_lo; ++ox)
    dw_tiles_generic_avx2<1>(g, img, iy0, ky0, ky1, ox, orow, lo, hi, mask);
  for (int ox = g.ox_hi; ox < g.out_w; ++ox)
    dw_tiles_generic_avx2<1>(g, img, iy0, ky0, ky1, ox, orow, lo, hi, mask);
  if (g.ox_hi - g.ox_lo >= T) {
    for (int ox = g.ox_lo;; ox += T) {
      ox = std::min(ox, g.ox_hi - T);
      dw_tiles_generic_avx2<T>(g, img, iy0, ky0, ky1, ox, orow, lo, hi, mask);
      if (ox + T >= g.ox_hi) break;
    }
  } else {
    for (int ox = g.ox_lo; ox < g.ox_hi; ++ox)
      dw_tiles_generic_avx2<1>(g, img, iy0, ky0, ky1, ox, orow, lo, hi, mask);
  }
  _mm256_zeroupper();
}

// T adjacent output pixels of one channel block, K x K kernel, stride S, kernel rows
// ky0 .. ky0+nky-1 (the caller clips rows that fall in the padding). Per kernel row, K weight
// vectors stay in registers and each of the J = (T-1)*S+K input vectors is loaded once and
// feeds every accumulator it belongs to. Accumulators start at the bias and are clamped
// before the store. Full unrolling turns the index arithmetic into constants and keeps
// acc[] and wv[] in registers (T + K + 1 <= 16 ymm). `x` points at column 0 of the first
// input row (plus the block's channel offset) and the tile's first input column is i0;
// kEdge tiles skip input columns outside [jlo, jhi) (left/right padding), others check
// nothing. always_inline: the caller's block loop then hoists the address arithmetic.
template <int K, int S, int T, bool kMasked, bool kEdge>
MIEN_TARGET_AVX2 inline __attribute__((always_inline)) void dw_tile_avx2(
    const float* x, int i0, int jlo, int jhi, int64_t row_stride, int c, int nky, const float* w,
    int ky0, float* o, __m256 lo, __m256 hi, __m256i mask) {
  constexpr int J = (T - 1) * S + K;
  __m256 acc[T];
  const __m256 bias = _mm256_load_ps(w);
#pragma GCC unroll 16
  for (int t = 0; t < T; ++t) acc[t] = bias;
  const float* wk = w + 8 + ky0 * K * 8;
  if (!kEdge) x += int64_t(i0) * c;
  for (int ky = 0; ky < nky; ++ky, x += row_stride, wk += K * 8) {
    __m256 wv[K];
#pragma GCC unroll 16
    for (int kx = 0; kx < K; ++kx) wv[kx] = _mm256_load_ps(wk + kx * 8);
    // Walks the columns by pointer bumps (offsets j*c would each need a register). Edge
    // tiles start at their first column inside the input and stop at the last.
    const float* xj = !kEdge ? x : jlo < jhi ? x + int64_t(i0 + jlo) * c : x;
#pragma GCC unroll 64
    for (int j = 0; j < J; ++j) {
      if (kEdge && (j < jlo || j >= jhi)) continue;
      __m256 v = kMasked ? _mm256_maskload_ps(xj, mask) : _mm256_loadu_ps(xj);
      xj += c;
      // Keep v in a register: otherwise GCC folds the load into every FMA that uses it,
      // and the extra loads cost ~25% with stride 2 (each input feeds two outputs).
      asm("" : "+x"(v));
#pragma GCC unroll 16
      for (int t = 0; t < T; ++t) {
        const int kx = j - t * S;
        if (kx >= 0 && kx < K) acc[t] = _mm256_fmadd_ps(v, wv[kx], acc[t]);
      }
    }
  }
#pragma GCC unroll 16
  for (int t = 0; t < T; ++t) {
    const __m256 r = _mm256_min_ps(_mm256_max_ps(acc[t], lo), hi);
    if (kMasked)
      _mm256_maskstore_ps(o + t * c, mask, r);
    else
      _mm256_storeu_ps(o + t * c, r);
  }
}

// All channel blocks of T output pixels starting at column ox.
template <int K, int S, int T, bool kEdge>
MIEN_TARGET_AVX2 inline void dw_tiles_avx2(const DwGeom& g, const float* xrow, int nky, int ky0,
                                           int ox, float* orow, __m256 lo, __m256 hi,
                                           __m256i mask) {
  constexpr int J = (T - 1) * S + K;
  const int64_t rs = int64_t(g.w) * g.c;
  const int i0 = ox * S - g.pad_left;
  const int jlo = std::max(0, -i0), jhi = std::min(J, g.w - i0);
  float* o = orow + int64_t(ox) * g.c;
  int b = 0;
  for (; b < g.full_blocks; ++b)
    dw_tile_avx2<K, S, T, false, kEdge>(xrow + b * 8, i0, jlo, jhi, rs, g.c, nky,
                                        g.packed + int64_t(b) * g.block_stride, ky0, o + b * 8, lo,
                                        hi, mask);
  if (g.tail)
    dw_tile_avx2<K, S, T, true, kEdge>(xrow + b * 8, i0, jlo, jhi, rs, g.c, nky,
                                       g.packed + int64_t(b) * g.block_stride, ky0, o + b * 8, lo,
                                       hi, mask);
}

// T pixels from column ox, without checks when their windows lie inside the input.
template <int K, int S, int T>
MIEN_TARGET_AVX2 inline void dw_tiles_any_avx2(const DwGeom& g, const float* xrow, int nky, int ky0,
                                               int ox, float* orow, __m256 lo, __m256 hi,
                                               __m256i mask) {
  if (ox >= g.ox_lo && ox + T <= g.ox_hi)
    dw_tiles_avx2<K, S, T, false>(g, xrow, nky, ky0, ox, orow, lo, hi, mask);
  else
    dw_tiles_avx2<K, S, T, true>(g, xrow, nky, ky0, ox, orow, lo, hi, mask);
}

// Fast row: K x K, stride S, dilation 1, in tiles of T output pixels. Tiles whose windows
// lie inside the input run without checks; the (at most two) tiles touching the left or
// right padding skip the missing columns. The remainder of the row is covered by a tile of
// T or T/2 shifted left to end at the row's end: recomputing a few pixels is cheaper than a
// pixel-by-pixel loop. Rows clipped by top/bottom padding simply run fewer kernel rows.
template <int K, int S, int T>
MIEN_TARGET_AVX2 void dw_row_fast_avx2(const DwGeom& g, int n, int oy, float* orow) {
  constexpr int H = T / 2;
  const float* img = g.in + int64_t(n) * g.h * g.w * g.c;
  const __m256i mask = dw_tail_mask(g.tail);
  const __m256 lo = _mm256_set1_ps(g.lo), hi = _mm256_set1_ps(g.hi);
  const int iy0 = oy * S - g.pad_top;
  int ky0, ky1;
  dw_tap_range(iy0, g.h, K, 1, ky0, ky1);
  const int nky = ky1 - ky0;
  const float* xrow = nky > 0 ? img + int64_t(iy0 + ky0) * g.w * g.c : img;
  const int ow = g.out_w;
  for (int ox = 0; ox < ow;) {
    const int rest = ow - ox;
    if (rest >= T) {
      dw_tiles_any_avx2<K, S, T>(g, xrow, nky, ky0, ox, orow, lo, hi, mask);
      ox += T;
    } else if (rest > H && ow >= T) {
      dw_tiles_any_avx2<K, S, T>(g, xrow, nky, ky0, ow - T, orow, lo, hi, mask);
      break;
    } else if (rest >= H) {
      dw_tiles_any_avx2<K, S, H>(g, xrow, nky, ky0, ox, orow, lo, hi, mask);
      ox += H;
    } else if (ow >= H) {
      dw_tiles_any_avx2<K, S, H>(g, xrow, nky, ky0, ow - H, orow, lo, hi, mask);
      break;
    } else {
      dw_tiles_avx2<K, S, 1, true>(g, xrow, nky, ky0, ox, orow, lo, hi, mask);
      ++ox;
    }
  }
  _mm256_zeroupper();
}

// ---- AVX-512 path ----
// The fast rows again with zmm vectors: 16 channels per vector, weights packed in blocks
// of 16 channels (the op packs 16-wide only when it runs these kernels). For BlazeFace's
// 24 channels that is one full and one half-masked vector per pixel instead of three ymm.

MIEN_TARGET_AVX512 inline __mmask16 dw_tail_mask512(int tail) {
  return tail >= 16 ? __mmask16(0xFFFF) : __mmask16((1u << tail) - 1u);
}

// min(max(v, lo), hi) through the maskz forms: GCC 12's plain _mm512_max_ps/_mm512_min_ps
// trip -Wmaybe-uninitialized on their internal _mm512_undefined_ps().
MIEN_TARGET_AVX512 inline __m512 dw_clamp512(__m512 v, __m512 lo, __m512 hi) {
  const __mmask16 all = 0xFFFF;
  return _mm512_maskz_min_ps(all, _mm512_maskz_max_ps(all, v, lo), hi);
}

// dw_tile_avx2 with 16-channel vectors (see there).
template <int K, int S, int T, bool kMasked, bool kEdge>
MIEN_TARGET_AVX512 inline __attribute__((always_inline)) void dw_tile_avx512(
    const float* x, int i0, int jlo, int jhi, int64_t row_stride, int c, int nky, const float* w,
    int ky0, float* o, __m512 lo, __m512 hi, __mmask16 mask) {
  constexpr int J = (T - 1) * S + K;
  __m512 acc[T];
  const __m512 bias = _mm512_load_ps(w);
#pragma GCC unroll 16
  for (int t = 0; t < T; ++t) acc[t] = bias;
  const float* wk = w + 16 + ky0 * K * 16;
  if (!kEdge) x += int64_t(i0) * c;
  for (int ky = 0; ky < nky; ++ky, x += row_stride, wk += K * 16) {
    __m512 wv[K];
#pragma GCC unroll 16
    for (int kx = 0; kx < K; ++kx) wv[kx] = _mm512_load_ps(wk + kx * 16);
    const float* xj = !kEdge ? x : jlo < jhi ? x + int64_t(i0 + jlo) * c : x;
#pragma GCC unroll 64
    for (int j = 0; j < J; ++j) {
      if (kEdge && (j < jlo || j >= jhi)) continue;
      __m512 v = kMasked ? _mm512_maskz_loadu_ps(mask, xj) : _mm512_loadu_ps(xj);
      xj += c;
      asm("" : "+v"(v));  // one load per input vector, as in dw_tile_avx2
#pragma GCC unroll 16
      for (int t = 0; t < T; ++t) {
        const int kx = j - t * S;
        if (kx >= 0 && kx < K) acc[t] = _mm512_fmadd_ps(v, wv[kx], acc[t]);
      }
    }
  }
#pragma GCC unroll 16
  for (int t = 0; t < T; ++t) {
    const __m512 r = dw_clamp512(acc[t], lo, hi);
    if (kMasked)
      _mm512_mask_storeu_ps(o + t * c, mask, r);
    else
      _mm512_storeu_ps(o + t * c, r);
  }
}

template <int K, int S, int T, bool kEdge>
MIEN_TARGET_AVX512 inline void dw_tiles_avx512(const DwGeom& g, const float* xrow, int nky, int ky0,
                                               int ox, float* orow, __m512 lo, __m512 hi,
                                               __mmask16 mask) {
  constexpr int J = (T - 1) * S + K;
  const int64_t rs = int64_t(g.w) * g.c;
  const int i0 = ox * S - g.pad_left;
  const int jlo = std::max(0, -i0), jhi = std::min(J, g.w - i0);
  float* o = orow + int64_t(ox) * g.c;
  int b = 0;
  for (; b < g.full_blocks; ++b)
    dw_tile_avx512<K, S, T, false, kEdge>(xrow + b * 16, i0, jlo, jhi, rs, g.c, nky,
                                          g.packed + int64_t(b) * g.block_stride, ky0, o + b * 16,
                                          lo, hi, mask);
  if (g.tail)
    dw_tile_avx512<K, S, T, true, kEdge>(xrow + b * 16, i0, jlo, jhi, rs, g.c, nky,
                                         g.packed + int64_t(b) * g.block_stride, ky0, o + b * 16,
                                         lo, hi, mask);
}

template <int K, int S, int T>
MIEN_TARGET_AVX512 inline void dw_tiles_any_avx512(const DwGeom& g, const float* xrow, int nky,
                                                   int ky0, int ox, float* orow, __m512 lo,
                                                   __m512 hi, __mmask16 mask) {
  if (ox >= g.ox_lo && ox + T <= g.ox_hi)
    dw_tiles_avx512<K, S, T, false>(g, xrow, nky, ky0, ox, orow, lo, hi, mask);
  else
    dw_tiles_avx512<K, S, T, true>(g, xrow, nky, ky0, ox, orow, lo, hi, mask);
}

// dw_row_fast_avx2 with zmm tiles (same tiling of the row).
template <int K, int S, int T>
MIEN_TARGET_AVX512 void dw_row_fast_avx512(const DwGeom& g, int n, int oy, float* orow) {
  constexpr int H = T / 2;
  const float* img = g.in + int64_t(n) * g.h * g.w * g.c;
  const __mmask16 mask = dw_tail_mask512(g.tail);
  const __m512 lo = _mm512_set1_ps(g.lo), hi = _mm512_set1_ps(g.hi);
  const int iy0 = oy * S - g.pad_top;
  int ky0, ky1;
  dw_tap_range(iy0, g.h, K, 1, ky0, ky1);
  const int nky = ky1 - ky0;
  const float* xrow = nky > 0 ? img + int64_t(iy0 + ky0) * g.w * g.c : img;
  const int ow = g.out_w;
  for (int ox = 0; ox < ow;) {
    const int rest = ow - ox;
    if (rest >= T) {
      dw_tiles_any_avx512<K, S, T>(g, xrow, nky, ky0, ox, orow, lo, hi, mask);
      ox += T;
    } else if (rest > H && ow >= T) {
      dw_tiles_any_avx512<K, S, T>(g, xrow, nky, ky0, ow - T, orow, lo, hi, mask);
      break;
    } else if (rest >= H) {
      dw_tiles_any_avx512<K, S, H>(g, xrow, nky, ky0, ox, orow, lo, hi, mask);
      ox += H;
    } else if (ow >= H) {
      dw_tiles_any_avx512<K, S, H>(g, xrow, nky, ky0, ow - H, orow, lo, hi, mask);
      break;
    } else {
      dw_tiles_avx512<K, S, 1, true>(g, xrow, nky, ky0, ox, orow, lo, hi, mask);
      ++ox;
    }
  }
  _mm256_zeroupper();
}
#endif  // MIEN_X86

using DwRowFn = void (*)(const DwGeom&, int n, int oy, float* orow);

}  // namespace detail

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

    row_fn_ = &detail::dw_row_scalar;
#if MIEN_X86
    if (isa_has_avx2(isa)) {
      row_fn_ = &detail::dw_row_generic_avx2;
      const bool square =
          kh == kw && p.stride_h == p.stride_w && p.dilation_h == 1 && p.dilation_w == 1;
      const int s = p.stride_h;
      if (square && kh == 3 && s == 1) row_fn_ = &detail::dw_row_fast_avx2<3, 1, 8>;
      if (square && kh == 3 && s == 2) row_fn_ = &detail::dw_row_fast_avx2<3, 2, 8>;
      if (square && kh == 5 && s == 1) row_fn_ = &detail::dw_row_fast_avx2<5, 1, 8>;
      if (square && kh == 5 && s == 2) row_fn_ = &detail::dw_row_fast_avx2<5, 2, 8>;
      // AVX-512 kernels for the fast shapes, unless the last 16-channel block would be at
      // most half full (C = 24: 3 ymm per pixel measured as fast as 2 zmm with a masked
      // one); other shapes keep the AVX2 generic row.
      const bool wide = channels % 16 == 0 || channels % 16 > 8;
      if (isa == Isa::Avx512 && wide && square && (kh == 3 || kh == 5) && (s == 1 || s == 2)) {
        lanes_ = 16;
        if (kh == 3)
          row_fn_ =
              s == 1 ? &detail::dw_row_fast_avx512<3, 1, 8> : &detail::dw_row_fast_avx512<3, 2, 8>;
        if (kh == 5)
          row_fn_ =
              s == 1 ? &detail::dw_row_fast_avx512<5, 1, 8> : &detail::dw_row_fast_avx512<5, 2, 8>;
      }
    }
#endif

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

  const char* type() const override {
    return "depthwise_conv2d";
  }

  Shape output_shape(const std::vector<Shape>& inputs) const override {
    MIEN_CHECK(inputs.size() == 1, "depthwise_conv2d takes 1 input, got ", inputs.size());
    const Shape& s = inputs[0];
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
  std::string describe() const override {
    return p_.describe(kh_, kw_);
  }

  int kernel_h() const {
    return kh_;
  }
  int kernel_w() const {
    return kw_;
  }
  int channels() const {
    return c_;
  }
  const ConvParams& params() const {
    return p_;
  }

  void run(const ConstTensorView* inputs, TensorView out, const RunContext& ctx) const override {
    const ConstTensorView& in = inputs[0];
    const Shape s = in.shape;
    MIEN_CHECK(s.valid() && s.c == c_, "depthwise_conv2d: input ", s.str(), " must have ", c_,
               " channels");
    const AxisPadding rows = p_.rows(s.h, kh_), cols = p_.cols(s.w, kw_);
    MIEN_CHECK(out.shape == Shape(s.n, rows.out, cols.out, c_), "depthwise_conv2d: output ",
               out.shape.str(), " does not match input ", s.str());

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

    const int out_h = rows.out;
    const int64_t work = out.shape.size() * kh_ * kw_;
    // Below ~256k MACs (a few microseconds), waking a second thread costs more than it saves.
    const int threads = work >= (int64_t(1) << 18) ? ctx.threads : 1;
    const detail::DwRowFn row_fn = row_fn_;
    parallel_for(int64_t(s.n) * out_h, threads, [&](int64_t begin, int64_t end) {
      for (int64_t r = begin; r < end; ++r) {
        const int n = int(r / out_h), oy = int(r % out_h);
        float* orow = out.pixel(n, oy, 0);
        row_fn(g, n, oy, orow);
        if (!act.is_clamp()) apply_activation(orow, cols.out, c_, act, isa_);
      }
    });
  }

 private:
  int kh_, kw_, c_;
  bool has_bias_;
  ConvParams p_;
  int lanes_ = 8;  // channels per packed block: 16 for the AVX-512 kernels, else 8
  int blocks_ = 0, block_stride_ = 0;
  AlignedBuffer packed_;
  detail::DwRowFn row_fn_ = nullptr;
};

}  // namespace mien
