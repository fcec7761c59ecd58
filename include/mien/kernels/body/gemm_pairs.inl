// The AVX-512 GEMM tile for 32-column panels with 17..24 real columns (BlazeFace's N = 24),
// included in the avx512 namespace only, after body/gemm.inl (kernels/kernels.hpp).
//
// The 12x32 tile spends two zmm FMAs per row and k, but with N = 24 only 8 lanes of the
// second are real columns: a quarter of the FMA work is wasted, and on this machine a ymm
// FMA costs the same issue slot as a zmm one. Here two rows share one zmm for their last
// 8 columns: lanes 0..7 are row r's columns 16..23, lanes 8..15 row r+1's. Per row pair
// and k that is 3 FMAs instead of 4:
//   c_r   += a_r     * b[0..16)
//   c_r+1 += a_r+1   * b[0..16)
//   t     += [a_r x8 | a_r+1 x8] * [b[16..24) | b[16..24)]
// The duplicated B half is one 256-bit broadcast load (no shuffle), the A pair a blend of
// the two rows' broadcasts (a masked broadcast instead compiled to two shuffles and lost). Every
// output is still bias + sum over k of a * b, one FMA per k in k order, with the same epilogue
// (residual add, then clamp) as gemm_kernel: results equal the 12x32 tile's bit for bit.

// One row pair's epilogue: rows r (c, res) and r + 1 (c + ldc, res + ldr); u and v are
// their first 16 columns, t the shared tail of nt = nc - 16 (1..8) columns per row.
// `second`: false when the tile has an odd row count and this pair is its last row.
inline void gemp_store(float* c, int64_t ldc, const float* res, int64_t ldr, V::T u, V::T v, V::T t,
                       int nt, bool second, const detail::GemmEpilogue& ep) {
  const __mmask16 lo8 = __mmask16((1u << nt) - 1u), hi8 = __mmask16(lo8 << 8);
  if (res) {
    u = V::add(u, V::loadu(res));
    if (second) v = V::add(v, V::loadu(res + ldr));
    V::T r;
    if (nt == 8) {
      r = _mm512_maskz_loadu_ps(__mmask16(0xFF), res + 16);
      if (second) r = _mm512_insertf32x8(r, _mm256_loadu_ps(res + ldr + 16), 1);
    } else {
      r = _mm512_maskz_loadu_ps(lo8, res + 16);
      if (second) r = _mm512_mask_loadu_ps(r, hi8, res + ldr + 8);  // lanes 8.. = its col 16..
    }
    t = V::add(t, r);
  }
  if (ep.on) {
    const V::T lo = V::set1(ep.lo), hi = V::set1(ep.hi);
    u = V::min(hi, V::max(lo, u));
    v = V::min(hi, V::max(lo, v));
    t = V::min(hi, V::max(lo, t));
  }
  V::storeu(c, u);
  if (second) V::storeu(c + ldc, v);
  // 8 columns through ymm stores (see V::store_part: masked zmm stores streaming to memory
  // were slow on Zen 5); fewer through masked stores, the second row's based 8 floats early
  // so that lanes 8.. land on its columns 16..
  if (nt == 8) {
    _mm256_storeu_ps(c + 16, _mm512_maskz_extractf32x8_ps(__mmask8(0xFF), t, 0));
    if (second) _mm256_storeu_ps(c + ldc + 16, _mm512_maskz_extractf32x8_ps(__mmask8(0xFF), t, 1));
  } else {
    _mm512_mask_storeu_ps(c + 16, lo8, t);
    if (second) _mm512_mask_storeu_ps(c + ldc + 8, hi8, t);
  }
}

// Row pair i (rows 2i, 2i+1; the last pair of an odd MR repeats row 2i for its missing
// second row, whose results are not stored).
#define MIEN_GEMP_ROW(i)                                                      \
  if constexpr (2 * i < MR) {                                                 \
    constexpr int r1 = 2 * i + 1 < MR ? 2 * i + 1 : 2 * i;                    \
    const V::T x = V::set1(q[2 * i * stride + p]);                            \
    const V::T y = V::set1(q[r1 * stride + p]);                               \
    u##i = V::fmadd(x, b0, u##i);                                             \
    if constexpr (2 * i + 1 < MR) v##i = V::fmadd(y, b0, v##i);               \
    t##i = V::fmadd(_mm512_mask_blend_ps(__mmask16(0xFF00), x, y), bt, t##i); \
  }
#define MIEN_GEMP_STORE(i)                                                                     \
  if constexpr (2 * i < MR)                                                                    \
    gemp_store(c + 2 * i * ldc, ldc, ep.res ? ep.res + 2 * i * ep.ldr : nullptr, ep.ldr, u##i, \
               v##i, t##i, nc - 16, 2 * i + 1 < MR, ep);

// MR (2..12) rows of a 32-wide panel with nc in 17..24 real columns.
template <int MR>
inline void gemp_kernel(const GemmA& a, int64_t run, const float* w, float* c, int64_t ldc, int nc,
                        detail::GemmEpilogue ep) {
  constexpr int LDW = 32;
  static_assert(MR >= 2 && MR <= 12, "bad pair GEMM tile");
  const V::T bias0 = V::load(w);
  const V::T biast = _mm512_maskz_broadcast_f32x8(__mmask16(0xFFFF), _mm256_load_ps(w + 16));
  w += LDW;
  V::T u0 = bias0, u1 = bias0, u2 = bias0, u3 = bias0, u4 = bias0, u5 = bias0;
  V::T v0 = bias0, v1 = bias0, v2 = bias0, v3 = bias0, v4 = bias0, v5 = bias0;
  V::T t0 = biast, t1 = biast, t2 = biast, t3 = biast, t4 = biast, t5 = biast;
  const int64_t stride = a.stride;
  for (int s = 0; s < a.runs; ++s) {
    const float* q = a.data + s * a.run_step;
    for (int64_t p = 0; p < run; ++p, w += LDW) {
      const V::T b0 = V::load(w);
      const V::T bt = _mm512_maskz_broadcast_f32x8(__mmask16(0xFFFF), _mm256_load_ps(w + 16));
      MIEN_GEMP_ROW(0)
      MIEN_GEMP_ROW(1)
      MIEN_GEMP_ROW(2)
      MIEN_GEMP_ROW(3)
      MIEN_GEMP_ROW(4)
      MIEN_GEMP_ROW(5)
    }
  }
  MIEN_GEMP_STORE(0)
  MIEN_GEMP_STORE(1)
  MIEN_GEMP_STORE(2)
  MIEN_GEMP_STORE(3)
  MIEN_GEMP_STORE(4)
  MIEN_GEMP_STORE(5)
}
#undef MIEN_GEMP_ROW
#undef MIEN_GEMP_STORE

// A tile of `rows` rows of a 32-wide panel: the pair tile for 17..24 columns and at least
// two rows, else gemm_tile. A single row keeps gemm_kernel<1>, whose four partial sums per
// column give different (not worse) rounding: keeping it keeps the results identical to the
// 12x32 tiles'.
template <int MRMAX>
inline void gemp_tile(int rows, const GemmA& a, int64_t run, const float* w, float* c, int64_t ldc,
                      int nc, const detail::GemmEpilogue& ep) {
  constexpr int W = V::kLanes;
  if (nc <= W || nc > W + 8 || rows < 2)
    return gemm_tile<2, 2 * W, MRMAX>(rows, a, run, w, c, ldc, nc, ep);
#define MIEN_GEMP_CASE(r)                                                       \
  case r:                                                                       \
    if constexpr (MRMAX >= r) return gemp_kernel<r>(a, run, w, c, ldc, nc, ep); \
    break;
  switch (rows) {
    MIEN_GEMP_CASE(12)
    MIEN_GEMP_CASE(11)
    MIEN_GEMP_CASE(10)
    MIEN_GEMP_CASE(9)
    MIEN_GEMP_CASE(8)
    MIEN_GEMP_CASE(7)
    MIEN_GEMP_CASE(6)
    MIEN_GEMP_CASE(5)
    MIEN_GEMP_CASE(4)
    MIEN_GEMP_CASE(3)
    default:
      return gemp_kernel<2>(a, run, w, c, ldc, nc, ep);
  }
#undef MIEN_GEMP_CASE
}

// gemm_block_2v with the pair tile for panels of 17..24 columns.
template <int MR_NARROW, int MR_WIDE>
inline void gemm_block_2v_pairs(const GemmWeights& w, int64_t m, const GemmA& a, float* c,
                                int64_t ldc, detail::GemmEpilogue ep, int mr) {
  constexpr int W = V::kLanes;
  gemm_block(w, m, a, c, ldc, ep, mr, gemm_tile<1, W, MR_NARROW>, gemp_tile<MR_WIDE>);
}
