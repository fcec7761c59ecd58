// What the Winograd conv kernels (kernels/body/winograd.inl) exchange with the op
// (ops/conv2d_winograd.hpp): the geometry of one run and the kernels' entry points. Kept apart
// from types.hpp so the Winograd path adds one include and one table member there.
#pragma once

#include <cstdint>

namespace mien {
namespace detail {

// One Winograd F(m x m, 3x3) conv run over NHWC images. Tiles are numbered over the batch in
// raster order: tile t is image t / (tiles_h * tiles_w), tile row ty, tile column tx. Its
// input window (m + 2) x (m + 2) starts at input row ty * m - pad_top, column tx * m -
// pad_left (taps outside the image read zero); its m x m outputs start at output row ty * m,
// column tx * m and are clipped to out_h x out_w.
struct WinoGeom {
  const float* in;
  int h, w, cin;
  int pad_top, pad_left;
  int tiles_h, tiles_w;
  float* out;
  int out_h, out_w, cout;
  const float* bias;  // cout values, or nullptr
  bool clamp;         // clamp to [lo, hi] before the store (relu, relu6, clip)
  float lo, hi;
  // Where the transformed values of a block live: tile k's element xi of V at
  // v + k * v_tile_stride + xi * v_xi_stride (cin values), of M likewise (cout values).
  int64_t v_tile_stride, v_xi_stride, m_tile_stride, m_xi_stride;
};

}  // namespace detail

namespace kernels {

// Input transform of tiles [t0, t1): v gets, per tile, (m+2)^2 rows of cin values (B^T d B,
// row xi = the transform's element xi), placed by g's V strides (tile t0 at v). patch: scratch of
// (m+2)^2 * cin floats for tiles that cross the image border.
using WinoInputFn = void (*)(const detail::WinoGeom& g, int64_t t0, int64_t t1, float* v,
                             float* patch);
// Output transform of tiles [t0, t1) from mm (per tile, (m+2)^2 rows of cout values, placed
// by g's M strides, tile t0 at mm): the
// m x m outputs A^T M A, plus bias, clamped when asked, stored into g.out.
using WinoOutputFn = void (*)(const detail::WinoGeom& g, const float* mm, int64_t t0, int64_t t1);

// [0]: F(2x2, 3x3), [1]: F(4x4, 3x3).
struct WinoKernels {
  WinoInputFn input[2] = {nullptr, nullptr};
  WinoOutputFn output[2] = {nullptr, nullptr};
};

}  // namespace kernels
}  // namespace mien
