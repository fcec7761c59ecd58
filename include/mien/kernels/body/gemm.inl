// Packed-B GEMM microkernel, written once over V (included per ISA by kernels/kernels.hpp;
// no include guard on purpose). Layout and entry points: kernels/gemm.hpp.

// Adds the residual row (when given), clamps (when asked), stores one row of NV vectors,
// only the first nc columns. Full vectors use plain loads and stores, partial ones
// V::load_part / V::store_part. max(lo, x) then min(hi, x): with x as the second operand a
// NaN passes through.
template <int NV>
inline void gemm_store(float* c, const float* res, V::T v0, V::T v1, int nc,
                       const detail::GemmEpilogue& ep) {
  constexpr int W = V::kLanes;
  const int n0 = nc < W ? nc : W, n1 = nc - W;  // lanes of v0 / v1 that are real columns
  if (res) {
    v0 = V::add(v0, n0 == W ? V::loadu(res) : V::load_part(res, n0));
    if constexpr (NV == 2) {
      if (n1 > 0) v1 = V::add(v1, n1 >= W ? V::loadu(res + W) : V::load_part(res + W, n1));
    }
  }
  if (ep.on) {
    const V::T lo = V::set1(ep.lo), hi = V::set1(ep.hi);
    v0 = V::min(hi, V::max(lo, v0));
    if constexpr (NV == 2) v1 = V::min(hi, V::max(lo, v1));
  }
  if (n0 == W)
    V::storeu(c, v0);
  else
    V::store_part(c, v0, n0);
  if constexpr (NV == 2) {
    if (n1 >= W)
      V::storeu(c + W, v1);
    else if (n1 > 0)
      V::store_part(c + W, v1, n1);
  }
}

// MR rows x NV vectors (NV * kLanes columns) of a panel whose rows are LDW floats apart
// (NV * kLanes, except when the portable kernel runs half of a 32-wide panel). Each k step
// loads NV B vectors once and broadcasts one A value per row, so every B load feeds MR FMAs.
// Accumulators are named variables, not an array: compilers keep those in registers at any
// optimisation level, and `if constexpr` drops the rows a tile does not have.
#define MIEN_GEMM_ROW(r)                                         \
  if constexpr (MR > r) {                                        \
    const V::T x = V::set1(q[r * stride + p]);                   \
    c##r##_0 = V::fmadd(x, b0, c##r##_0);                        \
    if constexpr (NV == 2) c##r##_1 = V::fmadd(x, b1, c##r##_1); \
  }
#define MIEN_GEMM_STORE(r) \
  if constexpr (MR > r)    \
    gemm_store<NV>(c + r * ldc, ep.res ? ep.res + r * ep.ldr : nullptr, c##r##_0, c##r##_1, nc, ep);

template <int MR, int NV, int LDW>
inline void gemm_kernel(const GemmA& a, int64_t run, const float* w, float* c, int64_t ldc, int nc,
                        detail::GemmEpilogue ep) {
  constexpr int W = V::kLanes;
  static_assert(MR >= 1 && MR <= 12 && (NV == 1 || NV == 2) && LDW >= NV * W, "bad GEMM tile");
  const V::T bias0 = V::load(w);
  const V::T bias1 = NV == 2 ? V::load(w + W) : V::zero();
  w += LDW;
  V::T c0_0 = bias0, c1_0 = bias0, c2_0 = bias0, c3_0 = bias0, c4_0 = bias0, c5_0 = bias0;
  V::T c6_0 = bias0, c7_0 = bias0, c8_0 = bias0, c9_0 = bias0, c10_0 = bias0, c11_0 = bias0;
  V::T c0_1 = bias1, c1_1 = bias1, c2_1 = bias1, c3_1 = bias1, c4_1 = bias1, c5_1 = bias1;
  V::T c6_1 = bias1, c7_1 = bias1, c8_1 = bias1, c9_1 = bias1, c10_1 = bias1, c11_1 = bias1;
  // A single row has only NV FMA chains: three more sets of accumulators take k + 1..3 to
  // hide FMA latency (the dense layer at batch 1).
  V::T d0 = V::zero(), d1 = d0, e0 = d0, e1 = d0, f0 = d0, f1 = d0;
  const int64_t stride = a.stride;
  for (int s = 0; s < a.runs; ++s) {
    const float* q = a.data + s * a.run_step;
    int64_t p = 0;
    if constexpr (MR == 1) {
      for (; p + 4 <= run; p += 4, w += 4 * LDW) {
        const V::T x0 = V::set1(q[p]), x1 = V::set1(q[p + 1]);
        const V::T x2 = V::set1(q[p + 2]), x3 = V::set1(q[p + 3]);
        c0_0 = V::fmadd(x0, V::load(w), c0_0);
        d0 = V::fmadd(x1, V::load(w + LDW), d0);
        e0 = V::fmadd(x2, V::load(w + 2 * LDW), e0);
        f0 = V::fmadd(x3, V::load(w + 3 * LDW), f0);
        if constexpr (NV == 2) {
          c0_1 = V::fmadd(x0, V::load(w + W), c0_1);
          d1 = V::fmadd(x1, V::load(w + LDW + W), d1);
          e1 = V::fmadd(x2, V::load(w + 2 * LDW + W), e1);
          f1 = V::fmadd(x3, V::load(w + 3 * LDW + W), f1);
        }
      }
    }
    for (; p < run; ++p, w += LDW) {
      const V::T b0 = V::load(w);
      const V::T b1 = NV == 2 ? V::load(w + W) : b0;
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
    c0_0 = V::add(V::add(c0_0, d0), V::add(e0, f0));
    c0_1 = V::add(V::add(c0_1, d1), V::add(e1, f1));
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

// A micro-tile of `rows` (<= MRMAX) rows.
template <int NV, int LDW, int MRMAX>
inline void gemm_tile(int rows, const GemmA& a, int64_t run, const float* w, float* c, int64_t ldc,
                      int nc, const detail::GemmEpilogue& ep) {
#define MIEN_GEMM_CASE(r)                                                                \
  case r:                                                                                \
    if constexpr (MRMAX >= r) return gemm_kernel<r, NV, LDW>(a, run, w, c, ldc, nc, ep); \
    break;
  switch (rows) {
    MIEN_GEMM_CASE(12)
    MIEN_GEMM_CASE(11)
    MIEN_GEMM_CASE(10)
    MIEN_GEMM_CASE(9)
    MIEN_GEMM_CASE(8)
    MIEN_GEMM_CASE(7)
    MIEN_GEMM_CASE(6)
    MIEN_GEMM_CASE(5)
    MIEN_GEMM_CASE(4)
    MIEN_GEMM_CASE(3)
    MIEN_GEMM_CASE(2)
    default:
      return gemm_kernel<1, NV, LDW>(a, run, w, c, ldc, nc, ep);
  }
#undef MIEN_GEMM_CASE
}

// A panel twice as wide as two vectors (the portable kernel on 32-column panels): two
// passes of NV = 2 over its halves.
template <int MRMAX>
inline void gemm_tile_halves(int rows, const GemmA& a, int64_t run, const float* w, float* c,
                             int64_t ldc, int nc, const detail::GemmEpilogue& ep) {
  constexpr int H = 2 * V::kLanes;
  gemm_tile<2, 2 * H, MRMAX>(rows, a, run, w, c, ldc, nc < H ? nc : H, ep);
  if (nc > H) {
    detail::GemmEpilogue ep2 = ep;
    if (ep.res) ep2.res = ep.res + H;
    gemm_tile<2, 2 * H, MRMAX>(rows, a, run, w + H, c + H, ldc, nc - H, ep2);
  }
}

// One row block: every panel, then every micro-tile of rows within it. Wide runs the
// full-width panels (NR), Narrow the narrow last one (NR/2).
template <typename Narrow, typename Wide>
inline void gemm_block(const GemmWeights& w, int64_t m, const GemmA& a, float* c, int64_t ldc,
                       detail::GemmEpilogue clamp, int mr, Narrow narrow, Wide wide) {
  const int n = w.n();
  const int64_t run = w.k() / a.runs;
  for (int j = 0; j < w.panels(); ++j) {
    const float* panel = w.panel(j);
    const int n0 = j * w.nr();
    const int width = w.panel_width(j);
    const int nc = width < n - n0 ? width : n - n0;
    GemmA tile = a;
    detail::GemmEpilogue ep = clamp;
    for (int64_t r = 0; r < m; r += mr, tile.data += mr * a.stride) {
      const int rows = int(m - r < mr ? m - r : mr);
      if (clamp.res) ep.res = clamp.res + r * clamp.ldr + n0;
      if (width == w.nr())
        wide(rows, tile, run, panel, c + r * ldc + n0, ldc, nc, ep);
      else
        narrow(rows, tile, run, panel, c + r * ldc + n0, ldc, nc, ep);
    }
  }
}

// Entry points, one per panel width: NR = 2 vectors (gemm_block_2v) and, for the portable
// kernel, NR = 4 vectors (gemm_block_4v: 32-column panels packed for AVX-512).
// MR_NARROW / MR_WIDE: the most rows a tile of one / two vectors has.
template <int MR_NARROW, int MR_WIDE>
inline void gemm_block_2v(const GemmWeights& w, int64_t m, const GemmA& a, float* c, int64_t ldc,
                          detail::GemmEpilogue ep, int mr) {
  constexpr int W = V::kLanes;
  gemm_block(w, m, a, c, ldc, ep, mr, gemm_tile<1, W, MR_NARROW>, gemm_tile<2, 2 * W, MR_WIDE>);
}

template <int MRMAX>
inline void gemm_block_4v(const GemmWeights& w, int64_t m, const GemmA& a, float* c, int64_t ldc,
                          detail::GemmEpilogue ep, int mr) {
  constexpr int W = V::kLanes;
  gemm_block(w, m, a, c, ldc, ep, mr, gemm_tile<2, 2 * W, MRMAX>, gemm_tile_halves<MRMAX>);
}
