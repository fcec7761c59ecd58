// Small-N direct conv rows for Cout <= 8 with one input channel and unit column stride (the
// first conv of a grayscale model: gender's 3x3 1->8), AVX-512 only (included in the avx512
// namespace by kernels/kernels.hpp; uses V::bcast_pair / dup_lanes / store_pairs). Written
// over the same SmallNGeom and packed weights (8 wide) as kernels/body/conv_small_n.inl.
//
// 8 channels fill half a zmm, so one zmm holds two adjacent pixels: lanes 2c and 2c+1 are
// channel c of pixels ox and ox+1. With one input channel and stride 1 those two pixels'
// inputs for a tap are adjacent floats, so the input vector is one 64-bit broadcast load
// (no shuffle), the weight vector is each weight twice (built once per row), and every FMA
// does 16 useful lanes where the ymm rows do 8. One permute per pixel pair puts the result
// back in NHWC order before the store.

// One pixel with clipped taps (the border columns), in the low 8 lanes of a zmm.
inline void snp_pixel(const detail::SmallNGeom& g, const float* xrow, int ky0, int nky, int ox,
                      float* orow, V::T lo, V::T hi) {
  constexpr int P = 8;
  const int ix0 = ox * g.sw - g.pad_left;
  int kx0, kx1;
  detail::dw_tap_range(ix0, g.w, g.kw, g.dw, kx0, kx1);
  V::T acc = V::load_part(g.packed, P);
  if (kx1 > kx0)
    for (int ky = 0; ky < nky; ++ky) {
      const float* x = xrow + int64_t(ky) * g.dh * g.w + ix0;
      const float* w = g.packed + P * (1 + (ky0 + ky) * g.kw);
      for (int kx = kx0; kx < kx1; ++kx)
        acc = V::fmadd(V::set1(x[kx * g.dw]), V::load_part(w + kx * P, P), acc);
    }
  V::store_part(orow + int64_t(ox) * g.cout, V::min(hi, V::max(lo, acc)), g.cout);
}

// TP pixel pairs from interior column ox: KH x KW taps, rows [ky0, ky0+nky), weights wd
// (each doubled, per tap).
template <int KW, int TP>
inline __attribute__((always_inline)) void snp_tile(const detail::SmallNGeom& g, const float* xrow,
                                                    int ky0, int nky, int ox, const V::T* wd,
                                                    V::T bias, float* orow, V::T lo, V::T hi) {
  V::T acc[TP];
#pragma GCC unroll 16
  for (int t = 0; t < TP; ++t) acc[t] = bias;
  const float* x = xrow + ox - g.pad_left;
  const int64_t row = int64_t(g.dh) * g.w;
  for (int ky = 0; ky < nky; ++ky, x += row) {
    const V::T* wk = wd + (ky0 + ky) * KW;
#pragma GCC unroll 8
    for (int kx = 0; kx < KW; ++kx) {
      const V::T wv = wk[kx];
#pragma GCC unroll 16
      for (int t = 0; t < TP; ++t) acc[t] = V::fmadd(V::bcast_pair(x + 2 * t + kx), wv, acc[t]);
    }
  }
  float* o = orow + int64_t(ox) * g.cout;
#pragma GCC unroll 16
  for (int t = 0; t < TP; ++t)
    V::store_pairs(o + 2 * t * g.cout, V::min(hi, V::max(lo, acc[t])), g.cout);
}

// One output row of a KH x KW conv, Cin 1, stride (any, 1), dilation (any, 1). Border columns
// pixel by pixel; the interior in tiles of 12 pairs, then 2 pairs and 1, the remainder by a
// tile shifted left to end at the interior's end (as the other small-N rows).
template <int KH, int KW>
void snp_row(const detail::SmallNGeom& g, int n, int oy, float* orow) {
  constexpr int TP = 12;
  const float* img = g.in + int64_t(n) * g.h * g.w;
  const V::T lo = V::set1(g.lo), hi = V::set1(g.hi);
  const int iy0 = oy * g.sh - g.pad_top;
  int ky0, ky1;
  detail::dw_tap_range(iy0, g.h, KH, g.dh, ky0, ky1);
  const int nky = ky1 - ky0;
  const float* xrow = nky > 0 ? img + int64_t(iy0 + ky0 * g.dh) * g.w : img;
  for (int ox = 0; ox < g.ox_lo; ++ox) snp_pixel(g, xrow, ky0, nky, ox, orow, lo, hi);
  for (int ox = g.ox_hi; ox < g.out_w; ++ox) snp_pixel(g, xrow, ky0, nky, ox, orow, lo, hi);
  V::T wd[KH * KW];
  for (int k = 0; k < KH * KW; ++k) wd[k] = V::dup_lanes(g.packed + 8 * (1 + k));
  const V::T bias = V::dup_lanes(g.packed);
  const int a = g.ox_lo, b = g.ox_hi;
  for (int ox = a; ox < b;) {
    const int rest = b - ox;
    if (rest >= 2 * TP) {
      snp_tile<KW, TP>(g, xrow, ky0, nky, ox, wd, bias, orow, lo, hi);
      ox += 2 * TP;
    } else if (b - a >= 2 * TP) {
      snp_tile<KW, TP>(g, xrow, ky0, nky, b - 2 * TP, wd, bias, orow, lo, hi);
      break;
    } else if (rest >= 4) {
      snp_tile<KW, 2>(g, xrow, ky0, nky, ox, wd, bias, orow, lo, hi);
      ox += 4;
    } else if (rest >= 2) {
      snp_tile<KW, 1>(g, xrow, ky0, nky, ox, wd, bias, orow, lo, hi);
      ox += 2;
    } else {
      snp_pixel(g, xrow, ky0, nky, ox, orow, lo, hi);
      ++ox;
    }
  }
  V::cleanup();
}
