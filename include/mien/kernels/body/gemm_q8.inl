// Quantized GEMM microkernel and the activation quantizer, written once over the int8 traits
// Q (kernels/vec_q8.hpp; included per int8 kernel set by kernels/q8_kernels.hpp, no include
// guard on purpose). Layout and entry points: kernels/q8.hpp.

// Stores one vector of a tile row: float(acc) * scale + bias, then the residual and the
// clamp, then the first n (<= kLanes) columns.
inline void q8_store(Q::T acc, const float* scale, const float* bias, const float* res, float* c,
                     int n, const detail::GemmEpilogue& ep) {
  constexpr int W = Q::kLanes;
  Q::F v = Q::to_float(acc, scale, bias);
  if (n == W) {
    if (res) v = Q::add(v, res);
    if (ep.on) v = Q::clamp(v, ep.lo, ep.hi);
    Q::store(c, v);
    return;
  }
  alignas(64) float tmp[W] = {};
  if (res) {
    for (int l = 0; l < n; ++l) tmp[l] = res[l];
    v = Q::add(v, tmp);
  }
  if (ep.on) v = Q::clamp(v, ep.lo, ep.hi);
  Q::store(tmp, v);
  for (int l = 0; l < n; ++l) c[l] = tmp[l];
}

// MR rows x NV vectors of one panel. A rows are `lda` bytes apart and hold kg groups of 4
// bytes; the panel is its header (init, scale, bias: NR values each) then kg groups of NR x 4
// weight bytes. Each group loads NV weight vectors once and feeds them to MR rows.
#define MIEN_Q8_ROW(r)                                         \
  if constexpr (MR > r) {                                      \
    int32_t four;                                              \
    std::memcpy(&four, a + r * lda + 4 * g, 4);                \
    const Q::A x = Q::prep_a(four);                            \
    c##r##_0 = Q::dot(c##r##_0, x, b0);                        \
    if constexpr (NV == 2) c##r##_1 = Q::dot(c##r##_1, x, b1); \
  }
#define MIEN_Q8_STORE(r)                                                                           \
  if constexpr (MR > r) {                                                                          \
    const float* res = ep.res ? ep.res + r * ep.ldr : nullptr;                                     \
    q8_store(c##r##_0, scale, bias, res, c + r * ldc, n0, ep);                                     \
    if constexpr (NV == 2)                                                                         \
      if (n1 > 0)                                                                                  \
        q8_store(c##r##_1, scale + W, bias + W, res ? res + W : nullptr, c + r * ldc + W, n1, ep); \
  }

template <int MR, int NV>
inline void q8_kernel(const uint8_t* a, int64_t lda, int kg, const uint8_t* panel, float* c,
                      int64_t ldc, int nc, const detail::GemmEpilogue& ep) {
  constexpr int W = Q::kLanes;
  constexpr int NR = NV * W;
  static_assert(MR >= 1 && MR <= 12 && (NV == 1 || NV == 2), "bad int8 GEMM tile");
  const int32_t* init = reinterpret_cast<const int32_t*>(panel);
  const float* scale = reinterpret_cast<const float*>(panel) + NR;
  const float* bias = scale + NR;
  const int8_t* w = reinterpret_cast<const int8_t*>(panel + 12 * NR);
  const Q::T i0 = Q::load_init(init);
  const Q::T i1 = NV == 2 ? Q::load_init(init + W) : i0;
  Q::T c0_0 = i0, c1_0 = i0, c2_0 = i0, c3_0 = i0, c4_0 = i0, c5_0 = i0;
  Q::T c6_0 = i0, c7_0 = i0, c8_0 = i0, c9_0 = i0, c10_0 = i0, c11_0 = i0;
  Q::T c0_1 = i1, c1_1 = i1, c2_1 = i1, c3_1 = i1, c4_1 = i1, c5_1 = i1;
  Q::T c6_1 = i1, c7_1 = i1, c8_1 = i1, c9_1 = i1, c10_1 = i1, c11_1 = i1;
  for (int g = 0; g < kg; ++g, w += 4 * NR) {
    const Q::B b0 = Q::prep_b(w);
    const Q::B b1 = NV == 2 ? Q::prep_b(w + 4 * W) : b0;
    MIEN_Q8_ROW(0)
    MIEN_Q8_ROW(1)
    MIEN_Q8_ROW(2)
    MIEN_Q8_ROW(3)
    MIEN_Q8_ROW(4)
    MIEN_Q8_ROW(5)
    MIEN_Q8_ROW(6)
    MIEN_Q8_ROW(7)
    MIEN_Q8_ROW(8)
    MIEN_Q8_ROW(9)
    MIEN_Q8_ROW(10)
    MIEN_Q8_ROW(11)
  }
  const int n0 = nc < W ? nc : W, n1 = nc - W;
  MIEN_Q8_STORE(0)
  MIEN_Q8_STORE(1)
  MIEN_Q8_STORE(2)
  MIEN_Q8_STORE(3)
  MIEN_Q8_STORE(4)
  MIEN_Q8_STORE(5)
  MIEN_Q8_STORE(6)
  MIEN_Q8_STORE(7)
  MIEN_Q8_STORE(8)
  MIEN_Q8_STORE(9)
  MIEN_Q8_STORE(10)
  MIEN_Q8_STORE(11)
}
#undef MIEN_Q8_ROW
#undef MIEN_Q8_STORE

template <int NV, int MRMAX>
inline void q8_tile(int rows, const uint8_t* a, int64_t lda, int kg, const uint8_t* panel, float* c,
                    int64_t ldc, int nc, const detail::GemmEpilogue& ep) {
#define MIEN_Q8_CASE(r)                                                                   \
  case r:                                                                                 \
    if constexpr (MRMAX >= r) return q8_kernel<r, NV>(a, lda, kg, panel, c, ldc, nc, ep); \
    break;
  switch (rows) {
    MIEN_Q8_CASE(12)
    MIEN_Q8_CASE(11)
    MIEN_Q8_CASE(10)
    MIEN_Q8_CASE(9)
    MIEN_Q8_CASE(8)
    MIEN_Q8_CASE(7)
    MIEN_Q8_CASE(6)
    MIEN_Q8_CASE(5)
    MIEN_Q8_CASE(4)
    MIEN_Q8_CASE(3)
    MIEN_Q8_CASE(2)
    default:
      return q8_kernel<1, NV>(a, lda, kg, panel, c, ldc, nc, ep);
  }
#undef MIEN_Q8_CASE
}

// C rows [0, m) x every panel: for each panel, every micro-tile of rows. Panels are one
// vector wide (N <= kLanes: MR_NARROW rows per tile) or two (MR_WIDE). `ep.res` points at
// the residual of row 0, column 0.
template <int MR_NARROW, int MR_WIDE>
inline void q8_block(const Q8Weights& w, int64_t m, const uint8_t* a, int64_t lda, float* c,
                     int64_t ldc, detail::GemmEpilogue ep) {
  const int n = w.n(), nr = w.nr(), kg = w.k_groups();
  const bool narrow = nr == Q::kLanes;
  const int mr = narrow ? MR_NARROW : MR_WIDE;
  for (int j = 0; j < w.panels(); ++j) {
    const uint8_t* panel = w.panel(j);
    const int n0 = j * nr;
    const int nc = nr < n - n0 ? nr : n - n0;
    detail::GemmEpilogue e = ep;
    for (int64_t r = 0; r < m; r += mr) {
      const int rows = int(m - r < mr ? m - r : mr);
      if (ep.res) e.res = ep.res + r * ep.ldr + n0;
      if (narrow)
        q8_tile<1, MR_NARROW>(rows, a + r * lda, lda, kg, panel, c + r * ldc + n0, ldc, nc, e);
      else
        q8_tile<2, MR_WIDE>(rows, a + r * lda, lda, kg, panel, c + r * ldc + n0, ldc, nc, e);
    }
  }
}

// n floats -> bytes (see Q::quantize).
inline void q8_quantize(const float* x, int64_t n, float inv, int zp, uint8_t* out) {
  constexpr int W = Q::kLanes;
  const float lo = float(-zp), hi = float(255 - zp);
  int64_t i = 0;
  for (; i + W <= n; i += W) Q::quantize(x + i, inv, lo, hi, zp, out + i);
  for (; i < n; ++i) out[i] = scalar::Q::quantize_one(x[i], inv, lo, hi, zp);
}
