// Depthwise K x K / stride S rows for C = 16 * B + 8 channels (BlazeFace's 24), AVX-512 only
// (included in the avx512 namespace after body/depthwise.inl by kernels/kernels.hpp). Weights
// are packed 16 wide, as for the other AVX-512 rows: B full blocks, then a block whose upper 8
// lanes are zero.
//
// The 8-lane rows spend 3 ymm FMAs per pixel and tap on 24 channels, and the 16-lane rows 2
// zmm FMAs with the second half empty; on this machine a ymm FMA costs the same issue slot
// as a zmm one. Here the full blocks run one zmm per pixel as in dw_tile, and the last 8
// channels of two adjacent output pixels share one zmm: lanes 0..7 are pixel 2p's, lanes
// 8..15 pixel 2p+1's. For tap kx that vector meets [input column j | column j + S] (one
// 256-bit load and one 256-bit insert from memory) and the tap's 8 weights twice (one
// 256-bit broadcast load). Per pixel and tap: 1.5 FMAs instead of 3.
//
// Every output channel still sums bias + taps in (ky, kx) order with one FMA each, and border
// tiles skip the taps outside the input (masked FMAs in the shared vector) rather than
// multiplying zeros: results equal the 8-lane and 16-lane rows' bit for bit.

// T (even) output pixels from column i0 / S of all channels; the rest as in dw_tile.
template <int K, int S, int T, bool kEdge>
inline __attribute__((always_inline)) void dwp_tile(const float* x, int i0, int jlo, int jhi,
                                                    int64_t row_stride, int c, int blocks,
                                                    int block_stride, int nky, const float* w,
                                                    int ky0, float* o, V::T lo, V::T hi) {
  constexpr int W = V::kLanes;
  constexpr int J = (T - 1) * S + K;
  static_assert(T % 2 == 0, "pixel pairs");
  // The full 16-channel blocks: dw_tile's scheme.
  for (int b = 0; b < blocks; ++b)
    dw_tile<K, S, T, false, kEdge>(x + b * W, i0, jlo, jhi, row_stride, c, nky,
                                   w + int64_t(b) * block_stride, ky0, o + b * W, lo, hi,
                                   V::mask(W));
  // The last 8 channels, two pixels per vector.
  const int off = blocks * W;
  const float* wb = w + int64_t(blocks) * block_stride;
  constexpr int P = T / 2;
  V::T acc[P];
  const V::T bias = _mm512_maskz_broadcast_f32x8(__mmask16(0xFFFF), _mm256_load_ps(wb));
#pragma GCC unroll 16
  for (int t = 0; t < P; ++t) acc[t] = bias;
  const float* wk = wb + W + ky0 * K * W;
  const float* xr = x + off + (kEdge ? 0 : int64_t(i0) * c);
  for (int ky = 0; ky < nky; ++ky, xr += row_stride, wk += K * W) {
    V::T wv[K];
#pragma GCC unroll 16
    for (int kx = 0; kx < K; ++kx)
      wv[kx] = _mm512_maskz_broadcast_f32x8(__mmask16(0xFFFF), _mm256_load_ps(wk + kx * W));
      // Pair vector j: [column j | column j + S] of the tile's input (columns relative to i0),
      // needed for j = 2p*S + kx.
#pragma GCC unroll 64
    for (int j = 0; j <= (P - 1) * 2 * S + K - 1; ++j) {
      bool used = false;
#pragma GCC unroll 16
      for (int t = 0; t < P; ++t) used |= j - 2 * t * S >= 0 && j - 2 * t * S < K;
      if (!used) continue;
      if (kEdge) {
        const bool a = j >= jlo && j < jhi, b = j + S >= jlo && j + S < jhi;
        if (!a && !b) continue;
        const __mmask16 m = __mmask16((a ? 0x00FF : 0) | (b ? 0xFF00 : 0));
        const float* p = xr + int64_t(i0 + j) * c;
        V::T v = _mm512_maskz_loadu_ps(__mmask16(a ? 0x00FF : 0), p);
        v = _mm512_mask_loadu_ps(v, __mmask16(b ? 0xFF00 : 0), p + int64_t(S) * c - 8);
#pragma GCC unroll 16
        for (int t = 0; t < P; ++t) {
          const int kx = j - 2 * t * S;
          if (kx >= 0 && kx < K) acc[t] = _mm512_mask3_fmadd_ps(v, wv[kx], acc[t], m);
        }
      } else {
        const float* p = xr + int64_t(j) * c;
        // 16 floats from column j's last 8 channels stay inside the image (column j + 1
        // exists), then the upper half is replaced by column j + S's.
        V::T v = _mm512_maskz_insertf32x8(__mmask16(0xFFFF), _mm512_loadu_ps(p),
                                          _mm256_loadu_ps(p + int64_t(S) * c), 1);
        V::hold(v);
#pragma GCC unroll 16
        for (int t = 0; t < P; ++t) {
          const int kx = j - 2 * t * S;
          if (kx >= 0 && kx < K) acc[t] = V::fmadd(v, wv[kx], acc[t]);
        }
      }
    }
  }
  (void)J;
  float* ot = o + off;
#pragma GCC unroll 16
  for (int t = 0; t < P; ++t) {
    const V::T r = V::min(V::max(acc[t], lo), hi);
    _mm256_storeu_ps(ot + 2 * t * c, _mm512_maskz_extractf32x8_ps(__mmask8(0xFF), r, 0));
    _mm256_storeu_ps(ot + (2 * t + 1) * c, _mm512_maskz_extractf32x8_ps(__mmask8(0xFF), r, 1));
  }
}

template <int K, int S, int T>
inline void dwp_tiles(const detail::DwGeom& g, const float* xrow, int nky, int ky0, int ox,
                      float* orow, V::T lo, V::T hi) {
  constexpr int J = (T - 1) * S + K;
  const int i0 = ox * S - g.pad_left;
  const int jlo = i0 < 0 ? -i0 : 0, jhi = J < g.w - i0 ? J : g.w - i0;
  float* o = orow + int64_t(ox) * g.c;
  const int64_t rs = int64_t(g.w) * g.c;
  if (ox >= g.ox_lo && ox + T <= g.ox_hi)
    dwp_tile<K, S, T, false>(xrow, i0, jlo, jhi, rs, g.c, g.full_blocks, g.block_stride, nky,
                             g.packed, ky0, o, lo, hi);
  else
    dwp_tile<K, S, T, true>(xrow, i0, jlo, jhi, rs, g.c, g.full_blocks, g.block_stride, nky,
                            g.packed, ky0, o, lo, hi);
}

// dw_row_fast's walk over the row with pair tiles of 8 and 2 pixels; a row of one pixel
// runs dw_tiles (16-lane, masked last block).
template <int K, int S>
void dwp_row(const detail::DwGeom& g, int n, int oy, float* orow) {
  constexpr int T = 8;
  const float* img = g.in + int64_t(n) * g.h * g.w * g.c;
  const V::T lo = V::set1(g.lo), hi = V::set1(g.hi);
  const int iy0 = oy * S - g.pad_top;
  int ky0, ky1;
  detail::dw_tap_range(iy0, g.h, K, 1, ky0, ky1);
  const int nky = ky1 - ky0;
  const float* xrow = nky > 0 ? img + int64_t(iy0 + ky0) * g.w * g.c : img;
  const int ow = g.out_w;
  if (ow < 2) {
    dw_tiles<K, S, 1, true>(g, xrow, nky, ky0, 0, orow, lo, hi, V::mask(g.tail));
    V::cleanup();
    return;
  }
  for (int ox = 0; ox < ow;) {
    const int rest = ow - ox;
    if (rest >= T) {
      dwp_tiles<K, S, T>(g, xrow, nky, ky0, ox, orow, lo, hi);
      ox += T;
    } else if (ow >= T) {
      dwp_tiles<K, S, T>(g, xrow, nky, ky0, ow - T, orow, lo, hi);
      break;
    } else if (rest >= 2) {
      dwp_tiles<K, S, 2>(g, xrow, nky, ky0, ox, orow, lo, hi);
      ox += 2;
    } else {
      dwp_tiles<K, S, 2>(g, xrow, nky, ky0, ow - 2, orow, lo, hi);
      break;
    }
  }
  V::cleanup();
}

// The pair rows, fast[K == 5][S == 2] as in DwKernels.
constexpr kernels::DwKernels dwp_kernels() {
  kernels::DwKernels k;
  k.lanes = V::kLanes;
  k.generic = &dw_row_generic;
  k.fast[0][0] = &dwp_row<3, 1>;
  k.fast[0][1] = &dwp_row<3, 2>;
  k.fast[1][0] = &dwp_row<5, 1>;
  k.fast[1][1] = &dwp_row<5, 2>;
  return k;
}
