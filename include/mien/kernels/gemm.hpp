// Packed-B GEMM: C[M,N] = act(A[M,K] * B[K,N] + bias), the engine of conv2d and dense.
//
// B is the weight matrix, packed once at model load (kernels/gemm_weights.hpp), which also
// resolves the kernels for its ISA and panel width. A (activations) is read in place through
// a row stride, so im2col rows and NHWC pixel rows both work without a copy. The store
// epilogue can add a residual matrix (a fused `add`, see model/optimize.hpp) and apply relu /
// relu6 / clip as a min/max clamp in registers; other activations run on the finished rows
// while they are still in cache. The microkernel: kernels/body/gemm.inl (AVX-512 panels with
// 17..24 columns: kernels/body/gemm_pairs.inl).
#pragma once

#include <algorithm>
#include <cstdint>

#include "mien/core/cpu.hpp"
#include "mien/core/error.hpp"
#include "mien/core/parallel.hpp"
#include "mien/kernels/activation.hpp"
#include "mien/kernels/gemm_weights.hpp"
#include "mien/kernels/kernels.hpp"
#include "mien/kernels/tuning.hpp"
#include "mien/kernels/types.hpp"

namespace mien {

inline GemmA gemm_matrix(const float* a, int64_t lda) {
  return GemmA{a, lda, 1, 0};
}

// Rows per microkernel call of the kernels that run weights packed as `w` under `isa`.
inline int gemm_mr(const GemmWeights& w, Isa isa) {
  return w.mr(isa == w.isa() ? w.kernels() : w.kernels_for(kernels::kernel_table(isa)));
}

namespace detail {

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

// Rows per cache block: an A block of about kL2BlockFloats stays in L2 and is reused by
// every panel, while each B panel is reused by all the block's micro-tiles from L1.
inline int64_t gemm_block_rows(int k, int mr) {
  const int64_t rows = (tuning::kL2BlockFloats / std::max(k, 1)) / mr * mr;
  return std::max<int64_t>(mr, std::min<int64_t>(rows, tuning::kMaxBlockRows / mr * mr));
}

}  // namespace detail

// C rows [0, m) on the calling thread: c (row stride ldc) = act(A * B + bias [+ R]) with A
// as described by `a` (a.runs must divide w.k()) and R an optional residual matrix (row
// stride ldr; it may be C itself, never A). C must not overlap A. The kernels are those
// resolved when `w` was packed; `isa` differs from w.isa() only in tests (then they are
// looked up again).
inline void gemm_serial(const GemmWeights& w, int64_t m, const GemmA& a, float* c, int64_t ldc,
                        const Activation& act, Isa isa, const float* res = nullptr,
                        int64_t ldr = 0) {
  MIEN_CHECK(a.runs >= 1 && w.k() % a.runs == 0, "GEMM: ", a.runs,
             " runs do not divide K = ", w.k());
  const kernels::KernelTable& t = isa == w.isa() ? w.table() : kernels::kernel_table(isa);
  const kernels::GemmKernels& gk = isa == w.isa() ? w.kernels() : w.kernels_for(t);
  const int mr = w.mr(gk);
  const int64_t mc = detail::gemm_block_rows(w.k(), mr);
  for (int64_t m0 = 0; m0 < m; m0 += mc) {
    const int64_t mb = std::min(mc, m - m0);
    GemmA ab = a;
    ab.data += m0 * a.stride;
    float* cb = c + m0 * ldc;
    gk.block(w, mb, ab, cb, ldc, detail::gemm_epilogue(act, res ? res + m0 * ldr : nullptr, ldr),
             mr);
    // Other activations run on the block just written, while it is still in cache.
    if (!act.is_clamp()) {
      if (ldc == w.n()) {
        t.activate(cb, cb, mb, w.n(), act);
      } else {
        for (int64_t r = 0; r < mb; ++r) t.activate(cb + r * ldc, cb + r * ldc, 1, w.n(), act);
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
  const int64_t mr = gemm_mr(w, isa);
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
