// The memory-bound kernels, written once over V (included per ISA by kernels/kernels.hpp;
// no include guard on purpose): element-wise add/mul/affine, pooling, bilinear resize rows,
// softmax, and the squeeze-excite reductions. Ragged ends use masked loads and stores, which
// never touch memory past the end.

// ---------------------------------------------------------------- element-wise
template <detail::EwOp kOp>
inline V::T ew_apply(V::T a, V::T b) {
  if constexpr (kOp == detail::EwOp::Add)
    return V::add(a, b);
  else
    return V::mul(a, b);
}

// out[i] = a[i] op p[i % period]. Needs period % kLanes == 0 (a channel vector of a multiple
// of kLanes or a pattern from ew_make_pattern), so vectors never straddle the wrap, or
// n <= period (a flat stream: no wrap at all).
template <detail::EwOp kOp, bool kClamp>
inline void ew_periodic(const float* a, const float* p, int64_t period, float* out, int64_t n,
                        float lo, float hi) {
  constexpr int W = V::kLanes;
  const V::T vlo = V::set1(lo), vhi = V::set1(hi);
  int64_t i = 0, j = 0;
  for (; i + W <= n; i += W) {
    V::T v = ew_apply<kOp>(V::loadu(a + i), V::loadu(p + j));
    if constexpr (kClamp) v = V::min(V::max(v, vlo), vhi);
    V::storeu(out + i, v);
    j += W;
    if (j == period) j = 0;
  }
  if (i < n) {
    const V::Mask m = V::mask(int(n - i));
    V::T v = ew_apply<kOp>(V::load_mask(a + i, m), V::load_mask(p + j, m));
    if constexpr (kClamp) v = V::min(V::max(v, vlo), vhi);
    V::store_mask(out + i, m, v);
  }
}

// out[i] = x[i] * s[k] + t[k], k = i % period, same period rule as ew_periodic.
template <bool kShift>
inline void affine_periodic(const float* x, const float* s, const float* t, int64_t period,
                            float* out, int64_t n) {
  constexpr int W = V::kLanes;
  int64_t i = 0, j = 0;
  for (; i + W <= n; i += W) {
    const V::T v = V::loadu(x + i), sv = V::loadu(s + j);
    if constexpr (kShift)
      V::storeu(out + i, V::fmadd(v, sv, V::loadu(t + j)));
    else
      V::storeu(out + i, V::mul(v, sv));
    j += W;
    if (j == period) j = 0;
  }
  if (i < n) {
    const V::Mask m = V::mask(int(n - i));
    const V::T v = V::load_mask(x + i, m), sv = V::load_mask(s + j, m);
    if constexpr (kShift)
      V::store_mask(out + i, m, V::fmadd(v, sv, V::load_mask(t + j, m)));
    else
      V::store_mask(out + i, m, V::mul(v, sv));
  }
}

// ---------------------------------------------------------------- pooling
// NB channel blocks of one output pixel. NB independent max/add chains keep the vector pipes
// busy; results stay in registers until the store.
template <bool kMax, int NB, bool kMasked>
inline void pool_blocks(const float* x, int64_t row_stride, int c, int rows, int cols, float* o,
                        V::T inv, V::Mask mask) {
  constexpr int W = V::kLanes;
  V::T acc[NB];
#pragma GCC unroll 8
  for (int i = 0; i < NB; ++i)
    acc[i] = kMax ? V::set1(-std::numeric_limits<float>::infinity()) : V::zero();
  for (int y = 0; y < rows; ++y, x += row_stride) {
    const float* p = x;
    for (int k = 0; k < cols; ++k, p += c) {
#pragma GCC unroll 8
      for (int i = 0; i < NB; ++i) {
        const V::T v = kMasked ? V::load_mask(p + i * W, mask) : V::loadu(p + i * W);
        acc[i] = kMax ? V::max(acc[i], v) : V::add(acc[i], v);
      }
    }
  }
#pragma GCC unroll 8
  for (int i = 0; i < NB; ++i) {
    const V::T r = kMax ? acc[i] : V::mul(acc[i], inv);
    if (kMasked)
      V::store_mask(o + i * W, mask, r);
    else
      V::storeu(o + i * W, r);
  }
}

template <bool kMax>
void pool_row(const detail::PoolGeom& g, int n, int oy, float* orow) {
  constexpr int W = V::kLanes;
  const float* img = g.in + int64_t(n) * g.h * g.w * g.c;
  const int full = g.c / W, tail = g.c % W;
  const V::Mask mask = V::mask(tail);
  const int64_t rs = int64_t(g.w) * g.c;
  int y0, y1;
  detail::pool_range(oy * g.sh - g.pad_top, g.h, g.kh, y0, y1);
  for (int ox = 0; ox < g.out_w; ++ox) {
    int x0, x1;
    detail::pool_range(ox * g.sw - g.pad_left, g.w, g.kw, x0, x1);
    const int rows = y1 - y0, cols = x1 - x0;
    const V::T inv = V::set1(1.f / float(rows * cols));
    const float* x = img + (int64_t(y0) * g.w + x0) * g.c;
    float* o = orow + int64_t(ox) * g.c;
    int b = 0;
    for (; b + 4 <= full; b += 4)
      pool_blocks<kMax, 4, false>(x + b * W, rs, g.c, rows, cols, o + b * W, inv, mask);
    for (; b < full; ++b)
      pool_blocks<kMax, 1, false>(x + b * W, rs, g.c, rows, cols, o + b * W, inv, mask);
    if (tail) pool_blocks<kMax, 1, true>(x + b * W, rs, g.c, rows, cols, o + b * W, inv, mask);
  }
  V::cleanup();
}

// Global average pool of one image: four channel blocks at a time, so four independent add
// chains hide the add latency.
inline void global_avg_pool(const float* img, int64_t pixels, int c, float* o) {
  constexpr int W = V::kLanes;
  const V::T inv = V::set1(float(1.0 / double(pixels)));
  int k = 0;
  for (; k + 4 * W <= c; k += 4 * W) {
    V::T a0 = V::zero(), a1 = a0, a2 = a0, a3 = a0;
    for (int64_t p = 0; p < pixels; ++p) {
      const float* v = img + p * c + k;
      a0 = V::add(a0, V::loadu(v));
      a1 = V::add(a1, V::loadu(v + W));
      a2 = V::add(a2, V::loadu(v + 2 * W));
      a3 = V::add(a3, V::loadu(v + 3 * W));
    }
    V::storeu(o + k, V::mul(a0, inv));
    V::storeu(o + k + W, V::mul(a1, inv));
    V::storeu(o + k + 2 * W, V::mul(a2, inv));
    V::storeu(o + k + 3 * W, V::mul(a3, inv));
  }
  for (; k < c; k += W) {
    const V::Mask mask = V::mask(c - k < W ? c - k : W);
    V::T a = V::zero();
    for (int64_t p = 0; p < pixels; ++p) a = V::add(a, V::load_mask(img + p * c + k, mask));
    V::store_mask(o + k, mask, V::mul(a, inv));
  }
  V::cleanup();
}

// ---------------------------------------------------------------- bilinear resize
inline V::T bilinear_lerp(V::T tl, V::T tr, V::T bl, V::T br, V::T lx, V::T ly) {
  const V::T top = V::fmadd(V::sub(tr, tl), lx, tl);
  const V::T bottom = V::fmadd(V::sub(br, bl), lx, bl);
  return V::fmadd(V::sub(bottom, top), ly, top);
}

// One output row from input rows r0 (top) and r1 (bottom), vectorised over channels.
inline void bilinear_row(const float* r0, const float* r1, const detail::BilinearCols& cols,
                         int out_w, int c, float ly, float* out) {
  constexpr int W = V::kLanes;
  const V::T vly = V::set1(ly);
  const int cw = c / W * W, rest = c - cw;
  const V::Mask m = V::mask(rest);
  for (int x = 0; x < out_w; ++x, out += c) {
    const float* tl = r0 + int64_t(cols.x0[x]);
    const float* tr = r0 + int64_t(cols.x1[x]);
    const float* bl = r1 + int64_t(cols.x0[x]);
    const float* br = r1 + int64_t(cols.x1[x]);
    const V::T lx = V::set1(cols.lerp[x]);
    int k = 0;
    for (; k < cw; k += W)
      V::storeu(out + k, bilinear_lerp(V::loadu(tl + k), V::loadu(tr + k), V::loadu(bl + k),
                                       V::loadu(br + k), lx, vly));
    if (rest)
      V::store_mask(out + k, m,
                    bilinear_lerp(V::load_mask(tl + k, m), V::load_mask(tr + k, m),
                                  V::load_mask(bl + k, m), V::load_mask(br + k, m), lx, vly));
  }
}

// ---------------------------------------------------------------- softmax
// exp(d) for d = x - max <= 0. exp_v saturates at FLT_MIN below ln(FLT_MIN); flush those
// lanes to 0 so that a dominated class gets probability exactly 0, as std::exp gives.
inline V::T softmax_exp(V::T d) {
  return V::keep(V::ge(d, V::set1(-87.3365447505531f)), exp_v(d));
}

// Three passes over a row (max, exp + sum, scale); the row is in L1 after the first. The
// ragged end uses masked loads/stores, so rows of 2 or 7 classes cost one vector each.
inline void softmax_rows(const float* in, float* out, int64_t pixels, int c) {
  constexpr int W = V::kLanes;
  const int cw = c / W * W, rest = c - cw;
  const V::Mask m = V::mask(rest);
  const V::Cmp mf = V::mask_cmp(m);
  const V::T neg_inf = V::set1(-std::numeric_limits<float>::infinity());
  for (int64_t p = 0; p < pixels; ++p, in += c, out += c) {
    V::T vmax = neg_inf;
    int k = 0;
    for (; k < cw; k += W) vmax = V::max(vmax, V::loadu(in + k));
    if (rest) vmax = V::max(vmax, V::select(mf, V::load_mask(in + k, m), neg_inf));
    const V::T mx = V::set1(V::hmax(vmax));

    V::T vsum = V::zero();
    for (k = 0; k < cw; k += W) {
      const V::T e = softmax_exp(V::sub(V::loadu(in + k), mx));
      V::storeu(out + k, e);
      vsum = V::add(vsum, e);
    }
    if (rest) {
      // Masked lanes would be exp(0 - max) != 0: zero them before they reach the sum.
      const V::T e = V::keep(mf, softmax_exp(V::sub(V::load_mask(in + k, m), mx)));
      V::store_mask(out + k, m, e);
      vsum = V::add(vsum, e);
    }
    const V::T inv = V::set1(1.f / V::hsum(vsum));
    for (k = 0; k < cw; k += W) V::storeu(out + k, V::mul(V::loadu(out + k), inv));
    if (rest) V::store_mask(out + k, m, V::mul(V::load_mask(out + k, m), inv));
  }
}

// Rows shorter than a vector (a detector's 2 classes per anchor): a vector per row would be
// mostly masked lanes plus two horizontal reductions, slower than scalar code. Instead, per
// block of rows: the max subtraction row by row (scalar, cheap), the exponentials as one flat
// vectorised stream over the block, then sums and scaling row by row.
inline void softmax_short_rows(const float* in, float* out, int64_t pixels, int c) {
  constexpr int W = V::kLanes;
  constexpr int64_t kBlockRows = tuning::kSoftmaxBlockRows;
  for (int64_t p0 = 0; p0 < pixels; p0 += kBlockRows) {
    const int64_t rows = pixels - p0 < kBlockRows ? pixels - p0 : kBlockRows;
    const float* x = in + p0 * c;
    float* y = out + p0 * c;
    for (int64_t p = 0; p < rows; ++p) {
      const float* xr = x + p * c;
      float mx = xr[0];
      for (int k = 1; k < c; ++k) mx = mx < xr[k] ? xr[k] : mx;
      for (int k = 0; k < c; ++k) y[p * c + k] = xr[k] - mx;
    }
    const int64_t n = rows * c;
    int64_t i = 0;
    for (; i + W <= n; i += W) V::storeu(y + i, softmax_exp(V::loadu(y + i)));
    if (i < n) {
      const V::Mask m = V::mask(int(n - i));
      V::store_mask(y + i, m, softmax_exp(V::load_mask(y + i, m)));
    }
    for (int64_t p = 0; p < rows; ++p) {
      float* yr = y + p * c;
      float sum = 0.f;
      for (int k = 0; k < c; ++k) sum += yr[k];
      const float inv = 1.f / sum;
      for (int k = 0; k < c; ++k) yr[k] *= inv;
    }
  }
}

// ---------------------------------------------------------------- squeeze-excite
// acc[k] = sum over `pixels` pixels of x[p * c + k]; acc holds c rounded up to kLanes
// floats. Four pixels per step so each accumulator is updated once per four rows.
inline void se_sum(const float* x, int64_t pixels, int c, float* acc) {
  constexpr int W = V::kLanes;
  const int cw = c / W * W, rest = c - cw;
  const V::Mask m = V::mask(rest);
  for (int k = 0; k < cw + (rest ? W : 0); k += W) V::storeu(acc + k, V::zero());
  const int64_t stride = c;
  int64_t p = 0;
  for (; p + 4 <= pixels; p += 4, x += 4 * stride) {
    int k = 0;
    for (; k < cw; k += W) {
      const V::T s01 = V::add(V::loadu(x + k), V::loadu(x + stride + k));
      const V::T s23 = V::add(V::loadu(x + 2 * stride + k), V::loadu(x + 3 * stride + k));
      V::storeu(acc + k, V::add(V::loadu(acc + k), V::add(s01, s23)));
    }
    if (rest) {
      const V::T s01 = V::add(V::load_mask(x + k, m), V::load_mask(x + stride + k, m));
      const V::T s23 =
          V::add(V::load_mask(x + 2 * stride + k, m), V::load_mask(x + 3 * stride + k, m));
      V::storeu(acc + k, V::add(V::loadu(acc + k), V::add(s01, s23)));
    }
  }
  for (; p < pixels; ++p, x += stride) {
    int k = 0;
    for (; k < cw; k += W) V::storeu(acc + k, V::add(V::loadu(acc + k), V::loadu(x + k)));
    if (rest) V::storeu(acc + k, V::add(V::loadu(acc + k), V::load_mask(x + k, m)));
  }
}

// y = relu(x w + b): x [in], w [in][out_pad] zero-padded, b [out_pad]; y [out_pad], out_pad a
// multiple of kLanes. Four accumulators over the input index break the FMA latency chain
// (the reduced layer has only one or two output vectors).
inline void se_dense(const float* x, int in, const float* w, const float* b, int out_pad, bool relu,
                     float* y) {
  constexpr int W = V::kLanes;
  for (int j = 0; j < out_pad; j += W) {
    V::T a0 = V::loadu(b + j), a1 = V::zero(), a2 = a1, a3 = a1;
    const float* wj = w + j;
    int i = 0;
    for (; i + 4 <= in; i += 4) {
      a0 = V::fmadd(V::set1(x[i]), V::loadu(wj + int64_t(i) * out_pad), a0);
      a1 = V::fmadd(V::set1(x[i + 1]), V::loadu(wj + int64_t(i + 1) * out_pad), a1);
      a2 = V::fmadd(V::set1(x[i + 2]), V::loadu(wj + int64_t(i + 2) * out_pad), a2);
      a3 = V::fmadd(V::set1(x[i + 3]), V::loadu(wj + int64_t(i + 3) * out_pad), a3);
    }
    for (; i < in; ++i) a0 = V::fmadd(V::set1(x[i]), V::loadu(wj + int64_t(i) * out_pad), a0);
    V::T v = V::add(V::add(a0, a1), V::add(a2, a3));
    if (relu) v = V::max(v, V::zero());
    V::storeu(y + j, v);
  }
}

// Every kernel of this file and of activation.inl, and the 8-lane GEMM and depthwise ones,
// into `t` (kernels/kernels.hpp completes the table per ISA).
constexpr void fill_table(kernels::KernelTable& t) {
  using detail::EwOp;
  t.activate = &activate;
  t.dw = dw_kernels();
  t.max_pool_row = &pool_row<true>;
  t.avg_pool_row = &pool_row<false>;
  t.global_avg_pool = &global_avg_pool;
  t.ew[0][0] = &ew_periodic<EwOp::Add, false>;
  t.ew[0][1] = &ew_periodic<EwOp::Add, true>;
  t.ew[1][0] = &ew_periodic<EwOp::Mul, false>;
  t.ew[1][1] = &ew_periodic<EwOp::Mul, true>;
  t.affine[0] = &affine_periodic<false>;
  t.affine[1] = &affine_periodic<true>;
  t.bilinear_row = &bilinear_row;
  t.softmax_rows = &softmax_rows;
  t.softmax_short_rows = &softmax_short_rows;
  t.se_sum = &se_sum;
  t.se_dense = &se_dense;
}
