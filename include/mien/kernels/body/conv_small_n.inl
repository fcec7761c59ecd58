// Direct conv for few output channels (Cout <= 16), written once over V (included per ISA by
// kernels/kernels.hpp; no include guard on purpose). The op: ops/conv2d.hpp (Path::SmallN);
// the rule that picks it: conv_small_n there, numbers in kernels/tuning.hpp.
//
// One vector holds output channels of one pixel (NV vectors hold all P = NV * kLanes of
// them, zero-padded beyond Cout); a tile of T adjacent output pixels of one row keeps T * NV
// accumulators, and every (tap, input channel) step loads NV weight vectors and broadcasts T
// input values. That is the GEMM's micro-tile, but with the window walked in place and, for
// the shapes that matter (KW, CIN and unit stride known at compile time), fully unrolled:
// the GEMM's inner loop over a window run of KW*Cin = 3..24 values is too short for its loop
// and tile-dispatch overhead to vanish. Borders need no padded copy: rows in the padding are
// skipped, and pixels whose window leaves the input columns run alone with clipped taps.
//
// Packed weights (ops/conv2d.hpp packs them): P bias values, then for each tap (ky, kx) and
// input channel ci, in HWIO order, the P weights of that (ky, kx, ci). Entry points (the row
// functions) end with V::cleanup().

// T output pixels from input position x (tap (ky0, kx0) of the first pixel), kernel rows
// [ky0, ky0+nky) and columns [kx0, kx0+nkx). KW / CIN / SW: kernel width, input channels and
// column stride when known at compile time (0: read from g; then KW = 0 also means nkx
// columns from kx0, the clipped border case). Accumulators start at the bias and are clamped
// before the store; other activations run on the finished row (the op).
template <int NV, int KW, int CIN, int SW, int T>
inline __attribute__((always_inline)) void sn_tile(const detail::SmallNGeom& g, const float* x,
                                                   int ky0, int nky, int kx0, int nkx, float* o,
                                                   V::T lo, V::T hi) {
  constexpr int W = V::kLanes, P = NV * W;
  const int cin = CIN ? CIN : g.cin;
  const int nk = KW ? KW : nkx;
  const int64_t pix = int64_t(SW ? SW : g.sw) * cin;  // input floats between output pixels
  const int64_t col = int64_t(g.dw) * cin;            // ... between kernel columns
  const int64_t row = int64_t(g.dh) * g.w * cin;      // ... between kernel rows
  V::T acc[T][NV];
#pragma GCC unroll 16
  for (int t = 0; t < T; ++t)
#pragma GCC unroll 2
    for (int v = 0; v < NV; ++v) acc[t][v] = V::load(g.packed + v * W);
  const float* wrow = g.packed + P * (1 + (int64_t(ky0) * g.kw + kx0) * cin);
  for (int ky = 0; ky < nky; ++ky, x += row, wrow += int64_t(P) * g.kw * cin) {
    const float* wk = wrow;
// Not for clang: with a run-time kernel width (the generic row) it cannot honour the hint
// and warns (-Wpass-failed); with a fixed one it unrolls the loop anyway.
#ifndef __clang__
#pragma GCC unroll 4
#endif
    for (int kx = 0; kx < nk; ++kx) {
      const float* xk = x + kx * col;
#pragma GCC unroll 32
      for (int ci = 0; ci < cin; ++ci, wk += P) {
        V::T wv[NV];
#pragma GCC unroll 2
        for (int v = 0; v < NV; ++v) wv[v] = V::load(wk + v * W);
#pragma GCC unroll 16
        for (int t = 0; t < T; ++t) {
          const V::T xv = V::set1(xk[t * pix + ci]);
#pragma GCC unroll 2
          for (int v = 0; v < NV; ++v) acc[t][v] = V::fmadd(xv, wv[v], acc[t][v]);
        }
      }
    }
  }
  // The last vector holds the channels beyond (NV-1)*W: all of them, or a part.
  const int last = g.cout - (NV - 1) * W;
#pragma GCC unroll 16
  for (int t = 0; t < T; ++t, o += g.cout) {
#pragma GCC unroll 2
    for (int v = 0; v < NV; ++v) {
      const V::T r = V::min(hi, V::max(lo, acc[t][v]));  // NaN passes, as the GEMM's store
      if (v < NV - 1 || last == W)
        V::storeu(o + v * W, r);
      else
        V::store_part(o + v * W, r, last);
    }
  }
}

// T output pixels from column ox. Interior tiles (every window inside the input columns) run
// the compile-time kernel; a border pixel (T = 1) clips its kernel columns to the input.
template <int NV, int KW, int CIN, int SW, int T>
inline void sn_pixels(const detail::SmallNGeom& g, const float* xrow, int ky0, int nky, int ox,
                      float* orow, V::T lo, V::T hi) {
  const int ix0 = ox * g.sw - g.pad_left;
  float* o = orow + int64_t(ox) * g.cout;
  if (ox >= g.ox_lo && ox + T <= g.ox_hi) {
    sn_tile<NV, KW, CIN, SW, T>(g, xrow + int64_t(ix0) * g.cin, ky0, nky, 0, g.kw, o, lo, hi);
    return;
  }
  int kx0, kx1;
  detail::dw_tap_range(ix0, g.w, g.kw, g.dw, kx0, kx1);
  const float* x = xrow + int64_t(ix0 + kx0 * g.dw) * g.cin;
  sn_tile<NV, 0, CIN, SW, 1>(g, kx1 > kx0 ? x : xrow, ky0, kx1 > kx0 ? nky : 0, kx0, kx1 - kx0, o,
                             lo, hi);
}

// One output row. The border columns go pixel by pixel; the interior in tiles of T, then
// T/2, and a remainder covered by a tile shifted left to end at the interior's end
// (recomputing a few pixels beats a pixel-by-pixel tail), as the depthwise rows do.
template <int NV, int KW, int CIN, int SW>
void sn_row(const detail::SmallNGeom& g, int n, int oy, float* orow) {
  constexpr int T = 12 / NV, H = T / 2;
  const float* img = g.in + int64_t(n) * g.h * g.w * g.cin;
  const V::T lo = V::set1(g.lo), hi = V::set1(g.hi);
  const int iy0 = oy * g.sh - g.pad_top;
  int ky0, ky1;
  detail::dw_tap_range(iy0, g.h, g.kh, g.dh, ky0, ky1);
  const int nky = ky1 - ky0;
  const float* xrow = nky > 0 ? img + int64_t(iy0 + ky0 * g.dh) * g.w * g.cin : img;
  for (int ox = 0; ox < g.ox_lo; ++ox)
    sn_pixels<NV, KW, CIN, SW, 1>(g, xrow, ky0, nky, ox, orow, lo, hi);
  for (int ox = g.ox_hi; ox < g.out_w; ++ox)
    sn_pixels<NV, KW, CIN, SW, 1>(g, xrow, ky0, nky, ox, orow, lo, hi);
  const int a = g.ox_lo, b = g.ox_hi;  // the interior columns [a, b)
  for (int ox = a; ox < b;) {
    const int rest = b - ox;
    if (rest >= T) {
      sn_pixels<NV, KW, CIN, SW, T>(g, xrow, ky0, nky, ox, orow, lo, hi);
      ox += T;
    } else if (rest > H && b - a >= T) {
      sn_pixels<NV, KW, CIN, SW, T>(g, xrow, ky0, nky, b - T, orow, lo, hi);
      break;
    } else if (rest >= H) {
      sn_pixels<NV, KW, CIN, SW, H>(g, xrow, ky0, nky, ox, orow, lo, hi);
      ox += H;
    } else if (b - a >= H) {
      sn_pixels<NV, KW, CIN, SW, H>(g, xrow, ky0, nky, b - H, orow, lo, hi);
      break;
    } else {
      sn_pixels<NV, KW, CIN, SW, 1>(g, xrow, ky0, nky, ox, orow, lo, hi);
      ++ox;
    }
  }
  V::cleanup();
}

// The rows of this ISA for NV channel vectors: the generic one (any kernel, channels,
// stride, dilation) and the unrolled ones for the shapes of kernels::SmallNShape.
template <int NV>
constexpr kernels::SmallNKernels sn_kernels() {
  kernels::SmallNKernels k;
  k.channels = NV * V::kLanes;
  k.row[int(kernels::SmallNShape::Generic)] = &sn_row<NV, 0, 0, 0>;
  k.row[int(kernels::SmallNShape::K1C8)] = &sn_row<NV, 1, 8, 1>;
  k.row[int(kernels::SmallNShape::K1C16)] = &sn_row<NV, 1, 16, 1>;
  k.row[int(kernels::SmallNShape::K1C8S2)] = &sn_row<NV, 1, 8, 2>;
  k.row[int(kernels::SmallNShape::K3C1)] = &sn_row<NV, 3, 1, 1>;
  return k;
}
