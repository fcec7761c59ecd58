// Depthwise 2-D convolution rows over NHWC, written once over V (included per ISA by
// kernels/kernels.hpp; no include guard on purpose). One vector holds kLanes channels of one
// pixel and every tap is one FMA with a per-channel weight vector; the packed weights are, per
// block of kLanes channels, the bias then the KH*KW taps (ops/depthwise.hpp packs them).
// Entry points (the row functions) end with V::cleanup().

// Generic kernel: T output pixels of one channel block, any kernel, stride and dilation,
// taps [ky0, ky0+nky) x [kx0, kx0+nkx) (clipped by the caller for border pixels). T
// independent accumulators hide the FMA latency that a single chain per pixel would expose;
// each weight vector is loaded once per tap and shared by the T pixels. `x` points at the
// input of tap (ky0, kx0) of the first pixel (plus the block's channel offset).
template <int T, bool kMasked>
inline __attribute__((always_inline)) void dw_tile_generic(const detail::DwGeom& g, const float* x,
                                                           int ky0, int nky, int kx0, int nkx,
                                                           const float* w, float* o, V::T lo,
                                                           V::T hi, V::Mask mask) {
  constexpr int W = V::kLanes;
  const int64_t row_step = int64_t(g.dh) * g.w * g.c, col_step = int64_t(g.dw) * g.c;
  const int64_t pix_step = int64_t(g.sw) * g.c;
  V::T acc[T];
  const V::T bias = V::load(w);
#pragma GCC unroll 16
  for (int t = 0; t < T; ++t) acc[t] = bias;
  for (int ky = 0; ky < nky; ++ky, x += row_step) {
    const float* wt = w + W * (1 + (ky0 + ky) * g.kw + kx0);
    const float* xk = x;
    for (int kx = 0; kx < nkx; ++kx, xk += col_step, wt += W) {
      const V::T wv = V::load(wt);
      const float* xp = xk;
#pragma GCC unroll 16
      for (int t = 0; t < T; ++t, xp += pix_step) {
        const V::T v = kMasked ? V::load_mask(xp, mask) : V::loadu(xp);
        acc[t] = V::fmadd(v, wv, acc[t]);
      }
    }
  }
#pragma GCC unroll 16
  for (int t = 0; t < T; ++t) {
    const V::T r = V::min(V::max(acc[t], lo), hi);
    if (kMasked)
      V::store_mask(o + t * g.c, mask, r);
    else
      V::storeu(o + t * g.c, r);
  }
}

// All channel blocks of T pixels from column ox (T = 1 for border pixels, whose taps are
// clipped to the input; interior tiles use every tap).
template <int T>
inline void dw_tiles_generic(const detail::DwGeom& g, const float* img, int iy0, int ky0, int ky1,
                             int ox, float* orow, V::T lo, V::T hi, V::Mask mask) {
  constexpr int W = V::kLanes;
  const int ix0 = ox * g.sw - g.pad_left;
  int kx0, kx1;
  detail::dw_tap_range(ix0, g.w, g.kw, g.dw, kx0, kx1);
  float* o = orow + int64_t(ox) * g.c;
  // A window wholly in the padding has no taps: the output is the bias.
  const bool empty = ky0 >= ky1 || kx0 >= kx1;
  const int nky = empty ? 0 : ky1 - ky0, nkx = empty ? 0 : kx1 - kx0;
  const float* x = empty ? img : img + (int64_t(iy0 + ky0 * g.dh) * g.w + (ix0 + kx0 * g.dw)) * g.c;
  int b = 0;
  for (; b < g.full_blocks; ++b)
    dw_tile_generic<T, false>(g, x + b * W, ky0, nky, kx0, nkx,
                              g.packed + int64_t(b) * g.block_stride, o + b * W, lo, hi, mask);
  if (g.tail)
    dw_tile_generic<T, true>(g, x + b * W, ky0, nky, kx0, nkx,
                             g.packed + int64_t(b) * g.block_stride, o + b * W, lo, hi, mask);
}

// Generic row: border pixels one by one with clipped windows, interior in tiles of 8.
inline void dw_row_generic(const detail::DwGeom& g, int n, int oy, float* orow) {
  constexpr int T = 8;
  const float* img = g.in + int64_t(n) * g.h * g.w * g.c;
  const V::Mask mask = V::mask(g.tail);
  const V::T lo = V::set1(g.lo), hi = V::set1(g.hi);
  const int iy0 = oy * g.sh - g.pad_top;
  int ky0, ky1;
  detail::dw_tap_range(iy0, g.h, g.kh, g.dh, ky0, ky1);
  for (int ox = 0; ox < g.ox_lo; ++ox)
    dw_tiles_generic<1>(g, img, iy0, ky0, ky1, ox, orow, lo, hi, mask);
  for (int ox = g.ox_hi; ox < g.out_w; ++ox)
    dw_tiles_generic<1>(g, img, iy0, ky0, ky1, ox, orow, lo, hi, mask);
  if (g.ox_hi - g.ox_lo >= T) {
    for (int ox = g.ox_lo;; ox += T) {
      ox = ox < g.ox_hi - T ? ox : g.ox_hi - T;
      dw_tiles_generic<T>(g, img, iy0, ky0, ky1, ox, orow, lo, hi, mask);
      if (ox + T >= g.ox_hi) break;
    }
  } else {
    for (int ox = g.ox_lo; ox < g.ox_hi; ++ox)
      dw_tiles_generic<1>(g, img, iy0, ky0, ky1, ox, orow, lo, hi, mask);
  }
  V::cleanup();
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
inline __attribute__((always_inline)) void dw_tile(const float* x, int i0, int jlo, int jhi,
                                                   int64_t row_stride, int c, int nky,
                                                   const float* w, int ky0, float* o, V::T lo,
                                                   V::T hi, V::Mask mask) {
  constexpr int W = V::kLanes;
  constexpr int J = (T - 1) * S + K;
  V::T acc[T];
  const V::T bias = V::load(w);
#pragma GCC unroll 16
  for (int t = 0; t < T; ++t) acc[t] = bias;
  const float* wk = w + W + ky0 * K * W;
  if (!kEdge) x += int64_t(i0) * c;
  for (int ky = 0; ky < nky; ++ky, x += row_stride, wk += K * W) {
    V::T wv[K];
#pragma GCC unroll 16
    for (int kx = 0; kx < K; ++kx) wv[kx] = V::load(wk + kx * W);
    // Walks the columns by pointer bumps (offsets j*c would each need a register). Edge
    // tiles start at their first column inside the input and stop at the last.
    const float* xj = !kEdge ? x : jlo < jhi ? x + int64_t(i0 + jlo) * c : x;
#pragma GCC unroll 64
    for (int j = 0; j < J; ++j) {
      if (kEdge && (j < jlo || j >= jhi)) continue;
      V::T v = kMasked ? V::load_mask(xj, mask) : V::loadu(xj);
      xj += c;
      // Keep v in a register: otherwise GCC folds the load into every FMA that uses it,
      // and the extra loads cost ~25% with stride 2 (each input feeds two outputs).
      V::hold(v);
#pragma GCC unroll 16
      for (int t = 0; t < T; ++t) {
        const int kx = j - t * S;
        if (kx >= 0 && kx < K) acc[t] = V::fmadd(v, wv[kx], acc[t]);
      }
    }
  }
#pragma GCC unroll 16
  for (int t = 0; t < T; ++t) {
    const V::T r = V::min(V::max(acc[t], lo), hi);
    if (kMasked)
      V::store_mask(o + t * c, mask, r);
    else
      V::storeu(o + t * c, r);
  }
}

// All channel blocks of T output pixels starting at column ox.
template <int K, int S, int T, bool kEdge>
inline void dw_tiles(const detail::DwGeom& g, const float* xrow, int nky, int ky0, int ox,
                     float* orow, V::T lo, V::T hi, V::Mask mask) {
  constexpr int W = V::kLanes;
  constexpr int J = (T - 1) * S + K;
  const int64_t rs = int64_t(g.w) * g.c;
  const int i0 = ox * S - g.pad_left;
  const int jlo = i0 < 0 ? -i0 : 0, jhi = J < g.w - i0 ? J : g.w - i0;
  float* o = orow + int64_t(ox) * g.c;
  int b = 0;
  for (; b < g.full_blocks; ++b)
    dw_tile<K, S, T, false, kEdge>(xrow + b * W, i0, jlo, jhi, rs, g.c, nky,
                                   g.packed + int64_t(b) * g.block_stride, ky0, o + b * W, lo, hi,
                                   mask);
  if (g.tail)
    dw_tile<K, S, T, true, kEdge>(xrow + b * W, i0, jlo, jhi, rs, g.c, nky,
                                  g.packed + int64_t(b) * g.block_stride, ky0, o + b * W, lo, hi,
                                  mask);
}

// T pixels from column ox, without checks when their windows lie inside the input.
template <int K, int S, int T>
inline void dw_tiles_any(const detail::DwGeom& g, const float* xrow, int nky, int ky0, int ox,
                         float* orow, V::T lo, V::T hi, V::Mask mask) {
  if (ox >= g.ox_lo && ox + T <= g.ox_hi)
    dw_tiles<K, S, T, false>(g, xrow, nky, ky0, ox, orow, lo, hi, mask);
  else
    dw_tiles<K, S, T, true>(g, xrow, nky, ky0, ox, orow, lo, hi, mask);
}

// Fast row: K x K, stride S, dilation 1, in tiles of T output pixels. Tiles whose windows
// lie inside the input run without checks; the (at most two) tiles touching the left or
// right padding skip the missing columns. The remainder of the row is covered by a tile of
// T or T/2 shifted left to end at the row's end: recomputing a few pixels is cheaper than a
// pixel-by-pixel loop. Rows clipped by top/bottom padding simply run fewer kernel rows.
template <int K, int S, int T>
void dw_row_fast(const detail::DwGeom& g, int n, int oy, float* orow) {
  constexpr int H = T / 2;
  const float* img = g.in + int64_t(n) * g.h * g.w * g.c;
  const V::Mask mask = V::mask(g.tail);
  const V::T lo = V::set1(g.lo), hi = V::set1(g.hi);
  const int iy0 = oy * S - g.pad_top;
  int ky0, ky1;
  detail::dw_tap_range(iy0, g.h, K, 1, ky0, ky1);
  const int nky = ky1 - ky0;
  const float* xrow = nky > 0 ? img + int64_t(iy0 + ky0) * g.w * g.c : img;
  const int ow = g.out_w;
  for (int ox = 0; ox < ow;) {
    const int rest = ow - ox;
    if (rest >= T) {
      dw_tiles_any<K, S, T>(g, xrow, nky, ky0, ox, orow, lo, hi, mask);
      ox += T;
    } else if (rest > H && ow >= T) {
      dw_tiles_any<K, S, T>(g, xrow, nky, ky0, ow - T, orow, lo, hi, mask);
      break;
    } else if (rest >= H) {
      dw_tiles_any<K, S, H>(g, xrow, nky, ky0, ox, orow, lo, hi, mask);
      ox += H;
    } else if (ow >= H) {
      dw_tiles_any<K, S, H>(g, xrow, nky, ky0, ow - H, orow, lo, hi, mask);
      break;
    } else {
      dw_tiles<K, S, 1, true>(g, xrow, nky, ky0, ox, orow, lo, hi, mask);
      ++ox;
    }
  }
  V::cleanup();
}

// The rows of this ISA: generic, and the fast K x K / stride S ones (K 3 or 5, S 1 or 2).
constexpr kernels::DwKernels dw_kernels() {
  kernels::DwKernels k;
  k.lanes = V::kLanes;
  k.generic = &dw_row_generic;
  k.fast[0][0] = &dw_row_fast<3, 1, 8>;
  k.fast[0][1] = &dw_row_fast<3, 2, 8>;
  k.fast[1][0] = &dw_row_fast<5, 1, 8>;
  k.fast[1][1] = &dw_row_fast<5, 2, 8>;
  return k;
}
