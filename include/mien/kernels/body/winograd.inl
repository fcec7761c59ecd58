// Winograd F(m x m, 3x3) transforms for 3x3 stride-1 convs, written once over V (included
// per ISA by kernels/kernels.hpp; no include guard on purpose). The op and the matrices'
// provenance: ops/conv2d_winograd.hpp. NHWC keeps the channels contiguous, so every
// transform runs on vectors of kLanes channels at once and the tile's (m+2)^2 elements are
// the "rows" of the 1-D transforms.

// ---- 1-D transforms, in place on the vectors of one tile row or column ----
// Lavin & Gray 2015, F(4, 3): B^T (6x6), points 0, +-1, +-2, infinity.
inline void wino_bt6(V::T* d) {
  const V::T two = V::set1(2.f), four = V::set1(4.f), five = V::set1(5.f);
  const V::T d0 = d[0], d1 = d[1], d2 = d[2], d3 = d[3], d4 = d[4], d5 = d[5];
  d[0] = V::fnmadd(five, d2, V::fmadd(four, d0, d4));      // 4 d0 - 5 d2 + d4
  d[1] = V::fnmadd(four, V::add(d1, d2), V::add(d3, d4));  // -4 (d1 + d2) + d3 + d4
  d[2] = V::fmadd(four, V::sub(d1, d2), V::sub(d4, d3));   // 4 (d1 - d2) - d3 + d4
  d[3] = V::fmadd(two, V::sub(d3, d1), V::sub(d4, d2));    // 2 (d3 - d1) - d2 + d4
  d[4] = V::fmadd(two, V::sub(d1, d3), V::sub(d4, d2));    // 2 (d1 - d3) - d2 + d4
  d[5] = V::fnmadd(five, d3, V::fmadd(four, d1, d5));      // 4 d1 - 5 d3 + d5
}

// F(4, 3): A^T (4x6), 6 values in, 4 out.
inline void wino_at6(const V::T* m, V::T* y) {
  const V::T two = V::set1(2.f), four = V::set1(4.f), eight = V::set1(8.f);
  const V::T s12 = V::add(m[1], m[2]), d12 = V::sub(m[1], m[2]);
  const V::T s34 = V::add(m[3], m[4]), d34 = V::sub(m[3], m[4]);
  y[0] = V::add(V::add(m[0], s12), s34);
  y[1] = V::fmadd(two, d34, d12);
  y[2] = V::fmadd(four, s34, s12);
  y[3] = V::add(V::fmadd(eight, d34, d12), m[5]);
}

// F(2, 3): B^T (4x4), points 0, +-1, infinity.
inline void wino_bt4(V::T* d) {
  const V::T d0 = d[0], d1 = d[1], d2 = d[2], d3 = d[3];
  d[0] = V::sub(d0, d2);
  d[1] = V::add(d1, d2);
  d[2] = V::sub(d2, d1);
  d[3] = V::sub(d1, d3);
}

// F(2, 3): A^T (2x4).
inline void wino_at4(const V::T* m, V::T* y) {
  y[0] = V::add(V::add(m[0], m[1]), m[2]);
  y[1] = V::sub(V::sub(m[1], m[2]), m[3]);
}

template <int M>
inline void wino_bt(V::T* d) {
  if constexpr (M == 4)
    wino_bt6(d);
  else
    wino_bt4(d);
}

template <int M>
inline void wino_at(const V::T* m, V::T* y) {
  if constexpr (M == 4)
    wino_at6(m, y);
  else
    wino_at4(m, y);
}

inline V::T wino_load(const float* p, int n) {
  return n == V::kLanes ? V::loadu(p) : V::load_part(p, n);
}

inline void wino_store(float* p, const V::T& v, int n) {
  if (n == V::kLanes)
    V::storeu(p, v);
  else
    V::store_part(p, v, n);
}

// ---- input: v = B^T d B per tile ----
template <int M>
inline void wino_input(const detail::WinoGeom& g, int64_t t0, int64_t t1, float* v, float* patch) {
  constexpr int A = M + 2, W = V::kLanes;
  const int c = g.cin;
  const int64_t per_image = int64_t(g.tiles_h) * g.tiles_w;
  const int64_t xs = g.v_xi_stride;
  for (int64_t t = t0; t < t1; ++t, v += g.v_tile_stride) {
    const int n = int(t / per_image), ty = int(t % per_image / g.tiles_w), tx = int(t % g.tiles_w);
    const int iy0 = ty * M - g.pad_top, ix0 = tx * M - g.pad_left;
    const float* src;
    int64_t row_step;
    if (iy0 >= 0 && ix0 >= 0 && iy0 + A <= g.h && ix0 + A <= g.w) {
      src = g.in + ((int64_t(n) * g.h + iy0) * g.w + ix0) * c;
      row_step = int64_t(g.w) * c;
    } else {
      // A tile across the border: its window with zeros outside the image, so the
      // transform below never tests bounds.
      const int x0 = ix0 < 0 ? -ix0 : 0, x1 = g.w - ix0 < A ? g.w - ix0 : A;
      for (int i = 0; i < A; ++i) {
        float* prow = patch + int64_t(i) * A * c;
        const int iy = iy0 + i;
        if (iy < 0 || iy >= g.h || x1 <= x0) {
          std::memset(prow, 0, sizeof(float) * std::size_t(A * c));
          continue;
        }
        std::memset(prow, 0, sizeof(float) * std::size_t(x0 * c));
        std::memcpy(prow + int64_t(x0) * c, g.in + ((int64_t(n) * g.h + iy) * g.w + ix0 + x0) * c,
                    sizeof(float) * std::size_t((x1 - x0) * c));
        std::memset(prow + int64_t(x1) * c, 0, sizeof(float) * std::size_t((A - x1) * c));
      }
      src = patch;
      row_step = int64_t(A) * c;
    }
    for (int c0 = 0; c0 < c; c0 += W) {
      const int nc = c - c0 < W ? c - c0 : W;
      V::T tmp[A][A];
      for (int j = 0; j < A; ++j) {  // columns: B^T d
        V::T col[A];
        for (int i = 0; i < A; ++i)
          col[i] = wino_load(src + i * row_step + int64_t(j) * c + c0, nc);
        wino_bt<M>(col);
        for (int i = 0; i < A; ++i) tmp[i][j] = col[i];
      }
      for (int i = 0; i < A; ++i) {  // rows: (B^T d) B
        wino_bt<M>(tmp[i]);
        for (int j = 0; j < A; ++j) wino_store(v + (i * A + j) * xs + c0, tmp[i][j], nc);
      }
    }
  }
}

// ---- output: y = A^T m A + bias, clamped, clipped to the output ----
template <int M>
inline void wino_output(const detail::WinoGeom& g, const float* mm, int64_t t0, int64_t t1) {
  constexpr int A = M + 2, W = V::kLanes;
  const int c = g.cout;
  const int64_t per_image = int64_t(g.tiles_h) * g.tiles_w;
  const V::T lo = V::set1(g.lo), hi = V::set1(g.hi);
  const int64_t xs = g.m_xi_stride;
  for (int64_t t = t0; t < t1; ++t, mm += g.m_tile_stride) {
    const int n = int(t / per_image), ty = int(t % per_image / g.tiles_w), tx = int(t % g.tiles_w);
    const int oy0 = ty * M, ox0 = tx * M;
    const int rows = g.out_h - oy0 < M ? g.out_h - oy0 : M;
    const int cols = g.out_w - ox0 < M ? g.out_w - ox0 : M;
    float* dst = g.out + ((int64_t(n) * g.out_h + oy0) * g.out_w + ox0) * c;
    for (int c0 = 0; c0 < c; c0 += W) {
      const int nc = c - c0 < W ? c - c0 : W;
      const V::T bias = g.bias ? wino_load(g.bias + c0, nc) : V::zero();
      V::T tmp[M][A];
      for (int j = 0; j < A; ++j) {  // columns: A^T m
        V::T col[A], y[M];
        for (int i = 0; i < A; ++i) col[i] = wino_load(mm + (i * A + j) * xs + c0, nc);
        wino_at<M>(col, y);
        for (int i = 0; i < M; ++i) tmp[i][j] = y[i];
      }
      for (int i = 0; i < rows; ++i) {  // rows: (A^T m) A
        V::T y[M];
        wino_at<M>(tmp[i], y);
        float* drow = dst + int64_t(i) * g.out_w * c + c0;
        for (int j = 0; j < cols; ++j) {
          V::T r = V::add(y[j], bias);
          if (g.clamp) r = V::min(hi, V::max(lo, r));  // NaN passes (second operand)
          wino_store(drow + int64_t(j) * c, r, nc);
        }
      }
    }
  }
}

constexpr kernels::WinoKernels wino_kernels() {
  kernels::WinoKernels k;
  k.input[0] = &wino_input<2>;
  k.input[1] = &wino_input<4>;
  k.output[0] = &wino_output<2>;
  k.output[1] = &wino_output<4>;
  return k;
}
