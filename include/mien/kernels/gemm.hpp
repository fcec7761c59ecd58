// Packed-B GEMM: C[M,N] = act(A[M,K] * B[K,N] + bias), the engine of conv2d and dense.
//
// B is the weight matrix, known at model load, so it is packed once (XNNPACK style) into
// panels of NR columns (16 for the scalar and AVX2 kernels, 32 = two zmm for AVX-512):
// each panel is its bias row then its K weight rows, so the microkernel streams one
// contiguous, aligned buffer and starts its accumulators at the bias. A (activations) is
// read in place through a row stride, so im2col rows and NHWC pixel rows both work without
// a copy. The store epilogue can add a residual matrix (a fused `add`, see
// model/optimize.hpp) and apply relu / relu6 / clip as a min/max clamp in registers; other
// activations run on the finished rows while they are still in cache.
#pragma once

#include <algorithm>
#include <cstdint>
#include <cstring>

#include "mien/core/cpu.hpp"
#include "mien/core/error.hpp"
#include "mien/core/parallel.hpp"
#include "mien/core/tensor.hpp"
#include "mien/ops/activation.hpp"

#if MIEN_X86
#include <immintrin.h>
#endif

namespace mien {

// Columns per packed panel for the scalar and AVX2 kernels: two AVX2 vectors. The last
// panel is narrowed to 8 columns when at most 8 remain, so that e.g. a 7-class dense layer
// does not stream 16-wide rows. AVX-512 panels are twice as wide (kGemmNr512), narrowed to
// 16 when at most 16 remain.
constexpr int kGemmNr = 16;
constexpr int kGemmNr512 = 32;

// The panel width the kernels of `isa` read.
inline int gemm_nr(Isa isa) {
  return isa == Isa::Avx512 ? kGemmNr512 : kGemmNr;
}

// B[K][N] (+ bias[N]) packed into panels: panel j holds columns [NR*j, NR*j + width) as
// width bias values followed by K rows of width weights (zero beyond N). Every panel
// starts on a 64-byte boundary because (K + 1) * NR floats is a multiple of 64 bytes.
class GemmWeights {
 public:
  GemmWeights() = default;
  // b: K rows of N values with row stride ldb (>= N); bias: N values or nullptr for zero.
  // `isa` chooses the panel width its kernels read (any ISA still accepts any packing:
  // a mismatch only costs speed, see detail::gemm_kernel_isa). At most 8 columns keep the
  // 16-wide layout under AVX-512 too, so they run the AVX2 12x8 tile: a zmm would be half
  // empty (gender's 3x3 1->8 and 8->8 convs ran 10-30% slower on 12x16 zmm tiles).
  GemmWeights(int k, int n, const float* b, int64_t ldb, const float* bias, Isa isa = Isa::Scalar)
      : k_(k), n_(n), nr_(n <= 8 ? kGemmNr : gemm_nr(isa)) {
    MIEN_CHECK(k >= 1 && n >= 1, "GEMM weights must be at least 1x1, got ", k, "x", n);
    MIEN_CHECK(ldb >= n, "GEMM weight row stride ", ldb, " < ", n, " columns");
    const int full = n / nr_;
    const int rest = n - full * nr_;
    const int64_t last = rest == 0 ? 0 : (rest <= nr_ / 2 ? nr_ / 2 : nr_);
    data_.resize(std::size_t((int64_t(full) * nr_ + last) * (int64_t(k) + 1)));
    for (int j = 0; j < panels(); ++j) {
      const int width = panel_width(j);
      const int n0 = j * nr_;
      const int nc = std::min(width, n - n0);
      float* p = data_.data() + panel_offset(j);  // zero-filled by AlignedBuffer
      if (bias) std::memcpy(p, bias + n0, sizeof(float) * std::size_t(nc));
      for (int kk = 0; kk < k; ++kk)
        std::memcpy(p + int64_t(kk + 1) * width, b + kk * ldb + n0,
                    sizeof(float) * std::size_t(nc));
    }
  }

  int k() const { return k_; }
  int n() const { return n_; }
  int nr() const { return nr_; }
  bool empty() const { return data_.size() == 0; }
  int panels() const { return (n_ + nr_ - 1) / nr_; }
  // NR, or NR/2 for a last panel that has at most NR/2 real columns.
  int panel_width(int j) const {
    const int rest = n_ - j * nr_;
    return rest >= nr_ ? nr_ : (rest <= nr_ / 2 ? nr_ / 2 : nr_);
  }
  const float* panel(int j) const { return data_.data() + panel_offset(j); }

 private:
  int64_t panel_offset(int j) const { return int64_t(j) * nr_ * (int64_t(k_) + 1); }
  int k_ = 0, n_ = 0, nr_ = kGemmNr;
  AlignedBuffer data_;
};

// Where the microkernel reads A. Row r, element k = s * run + j (run = K / runs) lives at
// data[r * stride + s * run_step + j]. A plain matrix is one run of K values per row; a
// conv window over an NHWC image is KH runs of KW*Cin values (one per window row), which
// lets conv2d feed the GEMM straight from the image instead of an im2col copy.
struct GemmA {
  const float* data = nullptr;
  int64_t stride = 0;
  int runs = 1;
  int64_t run_step = 0;
};

inline GemmA gemm_matrix(const float* a, int64_t lda) {
  return GemmA{a, lda, 1, 0};
}

// Rows per microkernel call. AVX2: 6x16 uses 12 accumulators + 2 B vectors + 1 broadcast
// of the 16 ymm registers; when N <= 8 a 12x8 tile keeps the same 12 FMA chains in flight
// (two FMA units with 4-cycle latency need at least 8). AVX-512: 12x32 uses 24 of the 32
// zmm as accumulators, 2 for B, and the A broadcasts are folded into the FMAs; a last
// 16-wide panel runs 12x16 (12 chains). The portable kernel keeps 4x16.
inline int gemm_mr(Isa isa, int n) {
  if (isa == Isa::Avx512) return 12;
  if (isa == Isa::Avx2) return n <= 8 ? 12 : 6;
  (void)n;
  return 4;
}

namespace detail {

// The kernels that run weights packed as `w` under `isa`: the ISA's own when the panel
// width matches, the AVX2 ones for 16-wide panels on an AVX-512 model (weights packed
// without an ISA), the portable kernel for anything else.
inline Isa gemm_kernel_isa(const GemmWeights& w, Isa isa) {
  if (isa == Isa::Avx512 && w.nr() == kGemmNr512) return Isa::Avx512;
  if (isa_has_avx2(isa) && w.nr() == kGemmNr) return Isa::Avx2;
  return Isa::Scalar;
}

// What the microkernel does before its store: add a residual (row stride ldr, already
// offset to the tile) and/or clamp to [lo, hi].
struct GemmEpilogue {
  bool on = false;  // clamp
  float lo = 0.f, hi = 0.f;
  const float* res = nullptr;
  int64_t ldr = 0;
};

inline GemmEpilogue gemm_epilogue(const Activation& act, const float* res, int64_t ldr) {
  GemmEpilogue c;
  if (act.is_clamp() && !act.is_none()) {
    c.on = true;
    c.lo = act.clamp_lo();
    c.hi = act.clamp_hi();
  }
  c.res = res;
  c.ldr = ldr;
  return c;
}

// ---------------------------------------------------------------- portable kernel
// MR rows x NR (8, 16 or 32) columns; nc <= NR columns are stored.
template <int MR, int NR>
inline void gemm_kernel_scalar(const GemmA& a, int64_t run, const float* w, float* c, int64_t ldc,
                               int nc, GemmEpilogue clamp) {
  float acc[MR][NR];
  for (int r = 0; r < MR; ++r)
    for (int j = 0; j < NR; ++j) acc[r][j] = w[j];
  w += NR;
  for (int s = 0; s < a.runs; ++s) {
    const float* q = a.data + s * a.run_step;
    for (int64_t p = 0; p < run; ++p, w += NR) {
      for (int r = 0; r < MR; ++r) {
        const float x = q[r * a.stride + p];
        for (int j = 0; j < NR; ++j) acc[r][j] += x * w[j];
      }
    }
  }
  for (int r = 0; r < MR; ++r) {
    float* cr = c + r * ldc;
    if (clamp.res)
      for (int j = 0; j < nc; ++j) acc[r][j] += clamp.res[r * clamp.ldr + j];
    if (clamp.on) {
      for (int j = 0; j < nc; ++j) cr[j] = std::min(std::max(acc[r][j], clamp.lo), clamp.hi);
    } else {
      for (int j = 0; j < nc; ++j) cr[j] = acc[r][j];
    }
  }
}

template <int NR>
inline void gemm_tile_scalar(int rows, const GemmA& a, int64_t run, const float* w, float* c,
                             int64_t ldc, int nc, GemmEpilogue clamp) {
  switch (rows) {
    case 4:
      gemm_kernel_scalar<4, NR>(a, run, w, c, ldc, nc, clamp);
      break;
    case 3:
      gemm_kernel_scalar<3, NR>(a, run, w, c, ldc, nc, clamp);
      break;
    case 2:
      gemm_kernel_scalar<2, NR>(a, run, w, c, ldc, nc, clamp);
      break;
    default:
      gemm_kernel_scalar<1, NR>(a, run, w, c, ldc, nc, clamp);
      break;
  }
}

#if MIEN_X86
// ---------------------------------------------------------------- AVX2 + FMA kernel
// Clamps (when asked) and stores one row of NV vectors, masking columns >= nc.
// max(lo, x) then min(hi, x): with x as the second operand a NaN passes through.
template <int NV>
MIEN_TARGET_AVX2 inline void gemm_store_avx2(float* c, const float* res, __m256 v0, __m256 v1,
                                             int nc, GemmEpilogue clamp) {
  const __m256i iota = _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7);
  if (res) {
    if (nc == 8 * NV) {
      v0 = _mm256_add_ps(v0, _mm256_loadu_ps(res));
      if constexpr (NV == 2) v1 = _mm256_add_ps(v1, _mm256_loadu_ps(res + 8));
    } else {
      v0 = _mm256_add_ps(v0,
                         _mm256_maskload_ps(res, _mm256_cmpgt_epi32(_mm256_set1_epi32(nc), iota)));
      if constexpr (NV == 2)
        v1 = _mm256_add_ps(
            v1, _mm256_maskload_ps(res + 8, _mm256_cmpgt_epi32(_mm256_set1_epi32(nc - 8), iota)));
    }
  }
  if (clamp.on) {
    const __m256 lo = _mm256_set1_ps(clamp.lo), hi = _mm256_set1_ps(clamp.hi);
    v0 = _mm256_min_ps(hi, _mm256_max_ps(lo, v0));
    if constexpr (NV == 2) v1 = _mm256_min_ps(hi, _mm256_max_ps(lo, v1));
  }
  if (nc == 8 * NV) {
    _mm256_storeu_ps(c, v0);
    if constexpr (NV == 2) _mm256_storeu_ps(c + 8, v1);
    return;
  }
  _mm256_maskstore_ps(c, _mm256_cmpgt_epi32(_mm256_set1_epi32(nc), iota), v0);
  if constexpr (NV == 2)
    _mm256_maskstore_ps(c + 8, _mm256_cmpgt_epi32(_mm256_set1_epi32(nc - 8), iota), v1);
}

// MR rows x NV vectors of 8 columns (MR <= 6 for NV = 2, MR <= 12 for NV = 1). Each k step
// loads NV B vectors once and broadcasts one A value per row, so every B load feeds MR
// FMAs. Accumulators are named variables, not an array: compilers keep those in registers
// at any optimisation level, and `if constexpr` drops the rows a tile does not have.
#define MIEN_GEMM_ROW(r)                                                \
  if constexpr (MR > r) {                                               \
    const __m256 x = _mm256_broadcast_ss(q + r * stride + p);           \
    c##r##_0 = _mm256_fmadd_ps(x, b0, c##r##_0);                        \
    if constexpr (NV == 2) c##r##_1 = _mm256_fmadd_ps(x, b1, c##r##_1); \
  }
#define MIEN_GEMM_STORE(r)                                                                      \
  if constexpr (MR > r)                                                                         \
    gemm_store_avx2<NV>(c + r * ldc, clamp.res ? clamp.res + r * clamp.ldr : nullptr, c##r##_0, \
                        c##r##_1, nc, clamp);

template <int MR, int NV>
MIEN_TARGET_AVX2 inline void gemm_kernel_avx2(const GemmA& a, int64_t run, const float* w, float* c,
                                              int64_t ldc, int nc, GemmEpilogue clamp) {
  static_assert(MR >= 1 && (NV == 1 || NV == 2) && MR * NV <= 12, "unsupported AVX2 tile");
  const __m256 bias0 = _mm256_load_ps(w);
  const __m256 bias1 = NV == 2 ? _mm256_load_ps(w + 8) : _mm256_setzero_ps();
  w += 8 * NV;
  __m256 c0_0 = bias0, c1_0 = bias0, c2_0 = bias0, c3_0 = bias0, c4_0 = bias0, c5_0 = bias0;
  __m256 c6_0 = bias0, c7_0 = bias0, c8_0 = bias0, c9_0 = bias0, c10_0 = bias0, c11_0 = bias0;
  __m256 c0_1 = bias1, c1_1 = bias1, c2_1 = bias1, c3_1 = bias1, c4_1 = bias1, c5_1 = bias1;
  __m256 c6_1 = bias1, c7_1 = bias1, c8_1 = bias1, c9_1 = bias1, c10_1 = bias1, c11_1 = bias1;
  // A single row has only NV FMA chains: three more sets of accumulators take k + 1..3 to
  // hide FMA latency (the dense layer at batch 1).
  __m256 d0 = _mm256_setzero_ps(), d1 = d0, e0 = d0, e1 = d0, f0 = d0, f1 = d0;
  const int64_t stride = a.stride;
  for (int s = 0; s < a.runs; ++s) {
    const float* q = a.data + s * a.run_step;
    int64_t p = 0;
    if constexpr (MR == 1) {
      for (; p + 4 <= run; p += 4, w += 32 * NV) {
        const __m256 x0 = _mm256_broadcast_ss(q + p), x1 = _mm256_broadcast_ss(q + p + 1);
        const __m256 x2 = _mm256_broadcast_ss(q + p + 2), x3 = _mm256_broadcast_ss(q + p + 3);
        c0_0 = _mm256_fmadd_ps(x0, _mm256_load_ps(w), c0_0);
        d0 = _mm256_fmadd_ps(x1, _mm256_load_ps(w + 8 * NV), d0);
        e0 = _mm256_fmadd_ps(x2, _mm256_load_ps(w + 16 * NV), e0);
        f0 = _mm256_fmadd_ps(x3, _mm256_load_ps(w + 24 * NV), f0);
        if constexpr (NV == 2) {
          c0_1 = _mm256_fmadd_ps(x0, _mm256_load_ps(w + 8), c0_1);
          d1 = _mm256_fmadd_ps(x1, _mm256_load_ps(w + 24), d1);
          e1 = _mm256_fmadd_ps(x2, _mm256_load_ps(w + 40), e1);
          f1 = _mm256_fmadd_ps(x3, _mm256_load_ps(w + 56), f1);
        }
      }
    }
    for (; p < run; ++p, w += 8 * NV) {
      const __m256 b0 = _mm256_load_ps(w);
      const __m256 b1 = NV == 2 ? _mm256_load_ps(w + 8) : b0;
      MIEN_GEMM_ROW(0)
      MIEN_GEMM_ROW(1)
      MIEN_GEMM_ROW(2)
      MIEN_GEMM_ROW(3)
      MIEN_GEMM_ROW(4)
      MIEN_GEMM_ROW(5)
      MIEN_GEMM_ROW(6)
      MIEN_GEMM_ROW(7)
      MIEN_GEMM_ROW(8)
      MIEN_GEMM_ROW(9)
      MIEN_GEMM_ROW(10)
      MIEN_GEMM_ROW(11)
    }
  }
  if constexpr (MR == 1) {
    c0_0 = _mm256_add_ps(_mm256_add_ps(c0_0, d0), _mm256_add_ps(e0, f0));
    c0_1 = _mm256_add_ps(_mm256_add_ps(c0_1, d1), _mm256_add_ps(e1, f1));
  }
  MIEN_GEMM_STORE(0)
  MIEN_GEMM_STORE(1)
  MIEN_GEMM_STORE(2)
  MIEN_GEMM_STORE(3)
  MIEN_GEMM_STORE(4)
  MIEN_GEMM_STORE(5)
  MIEN_GEMM_STORE(6)
  MIEN_GEMM_STORE(7)
  MIEN_GEMM_STORE(8)
  MIEN_GEMM_STORE(9)
  MIEN_GEMM_STORE(10)
  MIEN_GEMM_STORE(11)
}
#undef MIEN_GEMM_ROW
#undef MIEN_GEMM_STORE

MIEN_TARGET_AVX2 inline void gemm_tile8_avx2(int rows, const GemmA& a, int64_t run, const float* w,
                                             float* c, int64_t ldc, int nc, GemmEpilogue clamp) {
  switch (rows) {
    case 12:
      gemm_kernel_avx2<12, 1>(a, run, w, c, ldc, nc, clamp);
      break;
    case 11:
      gemm_kernel_avx2<11, 1>(a, run, w, c, ldc, nc, clamp);
      break;
    case 10:
      gemm_kernel_avx2<10, 1>(a, run, w, c, ldc, nc, clamp);
      break;
    case 9:
      gemm_kernel_avx2<9, 1>(a, run, w, c, ldc, nc, clamp);
      break;
    case 8:
      gemm_kernel_avx2<8, 1>(a, run, w, c, ldc, nc, clamp);
      break;
    case 7:
      gemm_kernel_avx2<7, 1>(a, run, w, c, ldc, nc, clamp);
      break;
    case 6:
      gemm_kernel_avx2<6, 1>(a, run, w, c, ldc, nc, clamp);
      break;
    case 5:
      gemm_kernel_avx2<5, 1>(a, run, w, c, ldc, nc, clamp);
      break;
    case 4:
      gemm_kernel_avx2<4, 1>(a, run, w, c, ldc, nc, clamp);
      break;
    case 3:
      gemm_kernel_avx2<3, 1>(a, run, w, c, ldc, nc, clamp);
      break;
    case 2:
      gemm_kernel_avx2<2, 1>(a, run, w, c, ldc, nc, clamp);
      break;
    default:
      gemm_kernel_avx2<1, 1>(a, run, w, c, ldc, nc, clamp);
      break;
  }
}

MIEN_TARGET_AVX2 inline void gemm_tile16_avx2(int rows, const GemmA& a, int64_t run, const float* w,
                                              float* c, int64_t ldc, int nc, GemmEpilogue clamp) {
  switch (rows) {
    case 6:
      gemm_kernel_avx2<6, 2>(a, run, w, c, ldc, nc, clamp);
      break;
    case 5:
      gemm_kernel_avx2<5, 2>(a, run, w, c, ldc, nc, clamp);
      break;
    case 4:
      gemm_kernel_avx2<4, 2>(a, run, w, c, ldc, nc, clamp);
      break;
    case 3:
      gemm_kernel_avx2<3, 2>(a, run, w, c, ldc, nc, clamp);
      break;
    case 2:
      gemm_kernel_avx2<2, 2>(a, run, w, c, ldc, nc, clamp);
      break;
    default:
      gemm_kernel_avx2<1, 2>(a, run, w, c, ldc, nc, clamp);
      break;
  }
}

// ---------------------------------------------------------------- AVX-512 kernel
// The AVX2 scheme with zmm vectors and panels of 32 columns: each k step loads NV B
// vectors and issues one FMA per row and vector, the A value broadcast from memory inside
// the FMA ({1to16}), so a 12x32 tile needs 2 loads + 12 broadcasts per 24 FMAs.
// mask_for(nc) keeps the columns < nc of a 16-lane vector.
MIEN_TARGET_AVX512 inline __mmask16 gemm_mask512(int nc) {
  return nc >= 16 ? __mmask16(0xFFFF) : nc <= 0 ? __mmask16(0) : __mmask16((1u << nc) - 1u);
}

// Loads / stores the first n (< 16) lanes. Exactly 8 (N = 24, 40, ...: BlazeFace's 24
// channels) goes through a plain ymm access: masked zmm stores streaming to memory made
// the 1x1 24->24 convs 1.7x slower than AVX2 at batch 8 on Zen 5.
MIEN_TARGET_AVX512 inline __m512 gemm_load_part512(const float* p, int n) {
  if (n == 8) return _mm512_insertf32x8(_mm512_setzero_ps(), _mm256_loadu_ps(p), 0);
  return _mm512_maskz_loadu_ps(gemm_mask512(n), p);
}
MIEN_TARGET_AVX512 inline void gemm_store_part512(float* p, __m512 v, int n) {
  if (n == 8)
    _mm256_storeu_ps(p,
                     _mm512_maskz_extractf32x8_ps(__mmask8(0xFF), v, 0));  // maskz: GCC 12 warning
  else
    _mm512_mask_storeu_ps(p, gemm_mask512(n), v);
}

// Adds the residual row (when given), clamps (when asked), stores one row of NV vectors.
// Full vectors use plain loads and stores, partial ones gemm_*_part512.
template <int NV>
MIEN_TARGET_AVX512 inline void gemm_store_avx512(float* c, const float* res, __m512 v0, __m512 v1,
                                                 int nc, const GemmEpilogue& ep) {
  // Lanes of each vector that are real columns: n0 for v0, n1 for v1 (<= 0: none).
  const int n0 = std::min(nc, 16), n1 = nc - 16;
  if (res) {
    v0 = _mm512_add_ps(v0, n0 == 16 ? _mm512_loadu_ps(res) : gemm_load_part512(res, n0));
    if constexpr (NV == 2) {
      if (n1 > 0)
        v1 = _mm512_add_ps(v1,
                           n1 >= 16 ? _mm512_loadu_ps(res + 16) : gemm_load_part512(res + 16, n1));
    }
  }
  if (ep.on) {
    // maskz forms with a full mask: GCC 12's plain _mm512_max_ps/_mm512_min_ps trip
    // -Wmaybe-uninitialized on their internal _mm512_undefined_ps().
    const __m512 lo = _mm512_set1_ps(ep.lo), hi = _mm512_set1_ps(ep.hi);
    const __mmask16 all = 0xFFFF;
    v0 = _mm512_maskz_min_ps(all, hi, _mm512_maskz_max_ps(all, lo, v0));
    if constexpr (NV == 2) v1 = _mm512_maskz_min_ps(all, hi, _mm512_maskz_max_ps(all, lo, v1));
  }
  if (n0 == 16)
    _mm512_storeu_ps(c, v0);
  else
    gemm_store_part512(c, v0, n0);
  if constexpr (NV == 2) {
    if (n1 >= 16)
      _mm512_storeu_ps(c + 16, v1);
    else if (n1 > 0)
      gemm_store_part512(c + 16, v1, n1);
  }
}

#define MIEN_GEMM512_ROW(r)                                             \
  if constexpr (MR > r) {                                               \
    const __m512 x = _mm512_set1_ps(q[r * stride + p]);                 \
    c##r##_0 = _mm512_fmadd_ps(x, b0, c##r##_0);                        \
    if constexpr (NV == 2) c##r##_1 = _mm512_fmadd_ps(x, b1, c##r##_1); \
  }
#define MIEN_GEMM512_STORE(r)                                                                      \
  if constexpr (MR > r)                                                                            \
    gemm_store_avx512<NV>(c + r * ldc, ep.res ? ep.res + r * ep.ldr : nullptr, c##r##_0, c##r##_1, \
                          nc, ep);

// MR (<= 12) rows x NV (1 or 2) vectors of 16 columns.
template <int MR, int NV>
MIEN_TARGET_AVX512 inline void gemm_kernel_avx512(const GemmA& a, int64_t run, const float* w,
                                                  float* c, int64_t ldc, int nc, GemmEpilogue ep) {
  static_assert(MR >= 1 && MR <= 12 && (NV == 1 || NV == 2), "unsupported AVX-512 tile");
  const __m512 bias0 = _mm512_load_ps(w);
  const __m512 bias1 = NV == 2 ? _mm512_load_ps(w + 16) : _mm512_setzero_ps();
  w += 16 * NV;
  __m512 c0_0 = bias0, c1_0 = bias0, c2_0 = bias0, c3_0 = bias0, c4_0 = bias0, c5_0 = bias0;
  __m512 c6_0 = bias0, c7_0 = bias0, c8_0 = bias0, c9_0 = bias0, c10_0 = bias0, c11_0 = bias0;
  __m512 c0_1 = bias1, c1_1 = bias1, c2_1 = bias1, c3_1 = bias1, c4_1 = bias1, c5_1 = bias1;
  __m512 c6_1 = bias1, c7_1 = bias1, c8_1 = bias1, c9_1 = bias1, c10_1 = bias1, c11_1 = bias1;
  // One row has only NV FMA chains: three more sets of accumulators hide the FMA latency.
  __m512 d0 = _mm512_setzero_ps(), d1 = d0, e0 = d0, e1 = d0, f0 = d0, f1 = d0;
  const int64_t stride = a.stride;
  for (int s = 0; s < a.runs; ++s) {
    const float* q = a.data + s * a.run_step;
    int64_t p = 0;
    if constexpr (MR == 1) {
      for (; p + 4 <= run; p += 4, w += 64 * NV) {
        const __m512 x0 = _mm512_set1_ps(q[p]), x1 = _mm512_set1_ps(q[p + 1]);
        const __m512 x2 = _mm512_set1_ps(q[p + 2]), x3 = _mm512_set1_ps(q[p + 3]);
        c0_0 = _mm512_fmadd_ps(x0, _mm512_load_ps(w), c0_0);
        d0 = _mm512_fmadd_ps(x1, _mm512_load_ps(w + 16 * NV), d0);
        e0 = _mm512_fmadd_ps(x2, _mm512_load_ps(w + 32 * NV), e0);
        f0 = _mm512_fmadd_ps(x3, _mm512_load_ps(w + 48 * NV), f0);
        if constexpr (NV == 2) {
          c0_1 = _mm512_fmadd_ps(x0, _mm512_load_ps(w + 16), c0_1);
          d1 = _mm512_fmadd_ps(x1, _mm512_load_ps(w + 48), d1);
          e1 = _mm512_fmadd_ps(x2, _mm512_load_ps(w + 80), e1);
          f1 = _mm512_fmadd_ps(x3, _mm512_load_ps(w + 112), f1);
        }
      }
    }
    for (; p < run; ++p, w += 16 * NV) {
      const __m512 b0 = _mm512_load_ps(w);
      const __m512 b1 = NV == 2 ? _mm512_load_ps(w + 16) : b0;
      MIEN_GEMM512_ROW(0)
      MIEN_GEMM512_ROW(1)
      MIEN_GEMM512_ROW(2)
      MIEN_GEMM512_ROW(3)
      MIEN_GEMM512_ROW(4)
      MIEN_GEMM512_ROW(5)
      MIEN_GEMM512_ROW(6)
      MIEN_GEMM512_ROW(7)
      MIEN_GEMM512_ROW(8)
      MIEN_GEMM512_ROW(9)
      MIEN_GEMM512_ROW(10)
      MIEN_GEMM512_ROW(11)
    }
  }
  if constexpr (MR == 1) {
    c0_0 = _mm512_add_ps(_mm512_add_ps(c0_0, d0), _mm512_add_ps(e0, f0));
    c0_1 = _mm512_add_ps(_mm512_add_ps(c0_1, d1), _mm512_add_ps(e1, f1));
  }
  MIEN_GEMM512_STORE(0)
  MIEN_GEMM512_STORE(1)
  MIEN_GEMM512_STORE(2)
  MIEN_GEMM512_STORE(3)
  MIEN_GEMM512_STORE(4)
  MIEN_GEMM512_STORE(5)
  MIEN_GEMM512_STORE(6)
  MIEN_GEMM512_STORE(7)
  MIEN_GEMM512_STORE(8)
  MIEN_GEMM512_STORE(9)
  MIEN_GEMM512_STORE(10)
  MIEN_GEMM512_STORE(11)
}
#undef MIEN_GEMM512_ROW
#undef MIEN_GEMM512_STORE

template <int NV>
MIEN_TARGET_AVX512 inline void gemm_tile_avx512(int rows, const GemmA& a, int64_t run,
                                                const float* w, float* c, int64_t ldc, int nc,
                                                GemmEpilogue ep) {
  switch (rows) {
    case 12:
      return gemm_kernel_avx512<12, NV>(a, run, w, c, ldc, nc, ep);
    case 11:
      return gemm_kernel_avx512<11, NV>(a, run, w, c, ldc, nc, ep);
    case 10:
      return gemm_kernel_avx512<10, NV>(a, run, w, c, ldc, nc, ep);
    case 9:
      return gemm_kernel_avx512<9, NV>(a, run, w, c, ldc, nc, ep);
    case 8:
      return gemm_kernel_avx512<8, NV>(a, run, w, c, ldc, nc, ep);
    case 7:
      return gemm_kernel_avx512<7, NV>(a, run, w, c, ldc, nc, ep);
    case 6:
      return gemm_kernel_avx512<6, NV>(a, run, w, c, ldc, nc, ep);
    case 5:
      return gemm_kernel_avx512<5, NV>(a, run, w, c, ldc, nc, ep);
    case 4:
      return gemm_kernel_avx512<4, NV>(a, run, w, c, ldc, nc, ep);
    case 3:
      return gemm_kernel_avx512<3, NV>(a, run, w, c, ldc, nc, ep);
    case 2:
      return gemm_kernel_avx512<2, NV>(a, run, w, c, ldc, nc, ep);
    default:
      return gemm_kernel_avx512<1, NV>(a, run, w, c, ldc, nc, ep);
  }
}
#endif

// Rows per cache block: an A block of about 64 KiB stays in L2 and is reused by every
// panel, while each B panel is reused by all the block's micro-tiles from L1.
inline int64_t gemm_block_rows(int k, int mr) {
  const int64_t rows = (int64_t(16384) / std::max(k, 1)) / mr * mr;
  return std::max<int64_t>(mr, std::min<int64_t>(rows, 480 / mr * mr));
}

// One row block: every panel, then every micro-tile of rows within it. tile16 runs the
// full-width panels (NR), tile8 the narrow last one (NR/2).
template <typename Tile8, typename Tile16>
inline void gemm_block(const GemmWeights& w, int64_t m, const GemmA& a, float* c, int64_t ldc,
                       GemmEpilogue clamp, int mr, Tile8&& tile8, Tile16&& tile16) {
  const int n = w.n();
  const int64_t run = w.k() / a.runs;
  for (int j = 0; j < w.panels(); ++j) {
    const float* panel = w.panel(j);
    const int n0 = j * w.nr();
    const int width = w.panel_width(j);
    const int nc = std::min(width, n - n0);
    GemmA tile = a;
    GemmEpilogue ep = clamp;
    for (int64_t r = 0; r < m; r += mr, tile.data += mr * a.stride) {
      const int rows = int(std::min<int64_t>(mr, m - r));
      if (clamp.res) ep.res = clamp.res + r * clamp.ldr + n0;
      if (width == w.nr())
        tile16(rows, tile, run, panel, c + r * ldc + n0, ldc, nc, ep);
      else
        tile8(rows, tile, run, panel, c + r * ldc + n0, ldc, nc, ep);
    }
  }
}

#if MIEN_X86
MIEN_TARGET_AVX2 inline void gemm_block_avx2(const GemmWeights& w, int64_t m, const GemmA& a,
                                             float* c, int64_t ldc, GemmEpilogue clamp, int mr) {
  gemm_block(w, m, a, c, ldc, clamp, mr, gemm_tile8_avx2, gemm_tile16_avx2);
}

MIEN_TARGET_AVX512 inline void gemm_block_avx512(const GemmWeights& w, int64_t m, const GemmA& a,
                                                 float* c, int64_t ldc, GemmEpilogue ep, int mr) {
  gemm_block(w, m, a, c, ldc, ep, mr, gemm_tile_avx512<1>, gemm_tile_avx512<2>);
}
#endif

inline void gemm_block_scalar(const GemmWeights& w, int64_t m, const GemmA& a, float* c,
                              int64_t ldc, GemmEpilogue clamp, int mr) {
  if (w.nr() == kGemmNr512)
    gemm_block(w, m, a, c, ldc, clamp, mr, gemm_tile_scalar<16>, gemm_tile_scalar<32>);
  else
    gemm_block(w, m, a, c, ldc, clamp, mr, gemm_tile_scalar<8>, gemm_tile_scalar<16>);
}

}  // namespace detail

// C rows [0, m) on the calling thread: c (row stride ldc) = act(A * B + bias [+ R]) with A
// as described by `a` (a.runs must divide w.k()) and R an optional residual matrix (row
// stride ldr; it may be C itself, never A). C must not overlap A.
inline void gemm_serial(const GemmWeights& w, int64_t m, const GemmA& a, float* c, int64_t ldc,
                        const Activation& act, Isa isa, const float* res = nullptr,
                        int64_t ldr = 0) {
  MIEN_CHECK(a.runs >= 1 && w.k() % a.runs == 0, "GEMM: ", a.runs,
             " runs do not divide K = ", w.k());
  const Isa kisa = detail::gemm_kernel_isa(w, isa);
  const int mr = gemm_mr(kisa, w.n());
  const int64_t mc = detail::gemm_block_rows(w.k(), mr);
  for (int64_t m0 = 0; m0 < m; m0 += mc) {
    const int64_t mb = std::min(mc, m - m0);
    GemmA ab = a;
    ab.data += m0 * a.stride;
    float* cb = c + m0 * ldc;
    const detail::GemmEpilogue ep = detail::gemm_epilogue(act, res ? res + m0 * ldr : nullptr, ldr);
#if MIEN_X86
    if (kisa == Isa::Avx512)
      detail::gemm_block_avx512(w, mb, ab, cb, ldc, ep, mr);
    else if (kisa == Isa::Avx2)
      detail::gemm_block_avx2(w, mb, ab, cb, ldc, ep, mr);
    else
#endif
      detail::gemm_block_scalar(w, mb, ab, cb, ldc, ep, mr);
    // Other activations run on the block just written, while it is still in cache.
    if (!act.is_clamp()) {
      if (ldc == w.n()) {
        apply_activation(cb, mb, w.n(), act, isa);
      } else {
        for (int64_t r = 0; r < mb; ++r) apply_activation(cb + r * ldc, 1, w.n(), act, isa);
      }
    }
  }
}

inline void gemm_serial(const GemmWeights& w, int64_t m, const float* a, int64_t lda, float* c,
                        int64_t ldc, const Activation& act, Isa isa, const float* res = nullptr,
                        int64_t ldr = 0) {
  gemm_serial(w, m, gemm_matrix(a, lda), c, ldc, act, isa, res, ldr);
}

// The same for a plain A matrix, split over up to `threads` threads by blocks of rows.
inline void gemm(const GemmWeights& w, int64_t m, const float* a, int64_t lda, float* c,
                 int64_t ldc, const Activation& act, Isa isa, int threads,
                 const float* res = nullptr, int64_t ldr = 0) {
  const int64_t mr = gemm_mr(detail::gemm_kernel_isa(w, isa), w.n());
  const int64_t units = (m + mr - 1) / mr;
  parallel_for(units, threads, [&](int64_t u0, int64_t u1) {
    const int64_t r0 = u0 * mr, r1 = std::min(m, u1 * mr);
    gemm_serial(w, r1 - r0, a + r0 * lda, lda, c + r0 * ldc, ldc, act, isa,
                res ? res + r0 * ldr : nullptr, ldr);
  });
}

// Reference: the obvious triple loop in double, for tests.
inline void gemm_naive(int64_t m, int n, int k, const float* a, int64_t lda, const float* b,
                       int64_t ldb, const float* bias, float* c, int64_t ldc, const Activation& act,
                       const float* res = nullptr, int64_t ldr = 0) {
  for (int64_t i = 0; i < m; ++i)
    for (int j = 0; j < n; ++j) {
      double s = bias ? bias[j] : 0.0;
      if (res) s += res[i * ldr + j];
      for (int p = 0; p < k; ++p) s += double(a[i * lda + p]) * double(b[int64_t(p) * ldb + j]);
      c[i * ldc + j] = activate_naive(float(s), act, j);
    }
}

}  // namespace mien
