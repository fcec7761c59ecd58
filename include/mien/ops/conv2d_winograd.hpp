// Winograd convolution for 3x3 stride-1 conv2d (Lavin & Gray, "Fast Algorithms for
// Convolutional Neural Networks", 2015, arXiv:1509.09308). F(m x m, 3x3) computes an m x m
// output tile from an (m+2) x (m+2) input tile d as
//     Y = A^T [ (G g G^T) .* (B^T d B) ] A
// and, summed over the input channels, the element-wise product becomes (m+2)^2 independent
// GEMMs [tiles x Cin] x [Cin x Cout]. Multiplications per output drop from 9 Cin Cout to
// (m+2)^2 / m^2 Cin Cout: 4x fewer for F(4x4, 3x3), 2.25x for F(2x2, 3x3).
//
// The matrices are the paper's (section 4): F(2x2, 3x3) with interpolation points 0, +-1,
// infinity, and F(4x4, 3x3) with 0, +-1, +-2, infinity. B^T and A^T are applied by the
// kernels (kernels/body/winograd.inl); G here, in double, once at load, so the transformed
// weights are the float nearest their exact value.
//
// Rounding: B^T and A^T have entries up to 5 and 8 (F(4x4)), so the transformed tiles carry
// values ~10-100x larger than the outputs and the float error of a result grows accordingly
// (measured per layer in tests/unit/test_winograd.cpp and /work/notes/fp32.md). Which
// layers take which variant is winograd_tile() below.
//
// Work is done in blocks of tiles (tuning::kWinogradBlockFloats): the input transform of a
// block into scratch V [tile][xi][Cin], one packed GEMM per xi reading V with a row stride of
// (m+2)^2 Cin and writing M [tile][xi][Cout], then the output transform of M into the output
// image. V and M of a block stay in L2; the weights (all xi) are streamed once per block.
#pragma once

#include <algorithm>
#include <cstdint>
#include <vector>

#include "mien/core/error.hpp"
#include "mien/core/parallel.hpp"
#include "mien/core/tensor.hpp"
#include "mien/kernels/gemm.hpp"
#include "mien/kernels/kernels.hpp"
#include "mien/kernels/tuning.hpp"
#include "mien/ops/activation.hpp"
#include "mien/ops/op.hpp"
#include "mien/ops/padding.hpp"

namespace mien {

// How conv2d computes a conv: Auto (the load-time rules conv_small_n and winograd_tile), the
// direct GEMM, a forced Winograd variant, or the small-N direct conv (Cout <= 16; tests,
// benchmarks).
enum class ConvAlgo { Auto, Direct, Winograd2, Winograd4, SmallN };

// The Winograd output tile m (2 or 4) conv2d uses for a 3x3 kernel, or 0 for the direct
// GEMM, decided at load by kernel, stride and channels (tuning.hpp has the numbers and why):
//  - only 3x3, stride 1, dilation 1, no fused residual, Cin >= kWinogradMinCin;
//  - F(4x4, 3x3) for Cin <= kWinograd4MaxCin, F(2x2, 3x3) beyond: F(4x4)'s error grows with
//    the number of products summed per output.
// At run time a conv whose output has fewer than kWinogradMinTiles tiles still takes the
// direct GEMM (Conv2d::make_plan).
inline int winograd_tile(ConvAlgo algo, int kh, int kw, int stride_h, int stride_w, int dilation_h,
                         int dilation_w, int cin, int cout, bool residual) {
  const bool fits = kh == 3 && kw == 3 && stride_h == 1 && stride_w == 1 && dilation_h == 1 &&
                    dilation_w == 1 && !residual && cout >= 1;
  if (!fits || algo == ConvAlgo::Direct || algo == ConvAlgo::SmallN) return 0;
  if (algo == ConvAlgo::Winograd2) return 2;
  if (algo == ConvAlgo::Winograd4) return 4;
  if (cin < tuning::kWinogradMinCin) return 0;
  return cin <= tuning::kWinograd4MaxCin ? 4 : 2;
}

namespace detail {

// G of F(m x m, 3x3): (m+2) x 3, row-major (Lavin & Gray 2015).
inline const double* winograd_g(int m) {
  static const double g2[4 * 3] = {1, 0, 0, 0.5, 0.5, 0.5, 0.5, -0.5, 0.5, 0, 0, 1};
  static const double g4[6 * 3] = {1.0 / 4,  0,         0,        -1.0 / 6, -1.0 / 6, -1.0 / 6,
                                   -1.0 / 6, 1.0 / 6,   -1.0 / 6, 1.0 / 24, 1.0 / 12, 1.0 / 6,
                                   1.0 / 24, -1.0 / 12, 1.0 / 6,  0,        0,        1};
  return m == 4 ? g4 : g2;
}

}  // namespace detail

// The transformed weights of one conv and its run.
class WinogradConv {
 public:
  WinogradConv() = default;

  // weight: HWIO [3][3][Cin][Cout]; bias: Cout values or nullptr. m: 2 or 4.
  WinogradConv(int m, int cin, int cout, const float* weight, const float* bias, Isa isa)
      : m_(m), cin_(cin), cout_(cout) {
    MIEN_CHECK(m == 2 || m == 4, "winograd: tile ", m, " is not 2 or 4");
    const int a = m + 2, points = a * a;
    const double* g = detail::winograd_g(m);
    // u[xi][ci][co] = (G w G^T)[i][j], xi = i * a + j, for every (ci, co).
    std::vector<float> u(std::size_t(points) * cin * cout);
    for (int ci = 0; ci < cin; ++ci)
      for (int co = 0; co < cout; ++co) {
        double w[3][3], gw[6][3];
        for (int ky = 0; ky < 3; ++ky)
          for (int kx = 0; kx < 3; ++kx)
            w[ky][kx] = weight[((int64_t(ky) * 3 + kx) * cin + ci) * cout + co];
        for (int i = 0; i < a; ++i)
          for (int kx = 0; kx < 3; ++kx)
            gw[i][kx] = g[i * 3] * w[0][kx] + g[i * 3 + 1] * w[1][kx] + g[i * 3 + 2] * w[2][kx];
        for (int i = 0; i < a; ++i)
          for (int j = 0; j < a; ++j) {
            const double v =
                gw[i][0] * g[j * 3] + gw[i][1] * g[j * 3 + 1] + gw[i][2] * g[j * 3 + 2];
            u[(std::size_t(i * a + j) * cin + ci) * cout + co] = float(v);
          }
      }
    u_.reserve(std::size_t(points));
    for (int xi = 0; xi < points; ++xi)
      u_.emplace_back(cin, cout, u.data() + std::size_t(xi) * cin * cout, cout, nullptr, isa);
    if (bias) bias_.assign(bias, bias + cout);
    mr_ = gemm_mr(u_[0], isa);
  }

  bool empty() const { return m_ == 0; }
  int tile() const { return m_; }

  // How a run splits its tiles: `block` tiles per step, `slot` scratch floats per worker
  // (V, M and one border patch), `slots` workers.
  struct Plan {
    int64_t block = 0, slot = 0, slots = 0;
  };

  Plan plan(int64_t tiles, int threads) const {
    Plan p;
    const int64_t points = int64_t(m_ + 2) * (m_ + 2);
    const int64_t fit = tuning::kWinogradBlockFloats / (points * (cin_ + cout_));
    // Blocks of whole GEMM micro-tiles, the thread share rounded up to them too: a block
    // ending inside a micro-tile would leave a 1-row tile, which the GEMM sums in another
    // order (4 partial accumulators), so results would change with the thread count.
    const int64_t mr = mr_;
    const int64_t share = ((tiles + threads - 1) / threads + mr - 1) / mr * mr;
    const int64_t whole = std::max<int64_t>(mr, fit / mr * mr);
    p.block = std::max<int64_t>(1, std::min(whole, share));
    p.slot = slot_floats(p.block);
    p.slots = std::min<int64_t>(threads, (tiles + p.block - 1) / p.block);
    return p;
  }

  int64_t slot_floats(int64_t block) const {
    const int64_t points = int64_t(m_ + 2) * (m_ + 2);
    return (points * (block * (cin_ + cout_) + cin_) + 15) / 16 * 16;  // 64-byte aligned slots
  }

  int64_t tiles(const Shape& in, const AxisPadding& rows, const AxisPadding& cols) const {
    return int64_t(in.n) * ((rows.out + m_ - 1) / m_) * ((cols.out + m_ - 1) / m_);
  }

  // out = act(conv(in) + bias); rows / cols: the conv's output size and top / left padding.
  void run(const ConstTensorView& in, const AxisPadding& rows, const AxisPadding& cols,
           TensorView out, const Activation& act, const RunContext& ctx, Isa isa,
           const kernels::KernelTable& table) const {
    detail::WinoGeom g;
    g.in = in.data;
    g.h = in.shape.h;
    g.w = in.shape.w;
    g.cin = cin_;
    g.pad_top = rows.before;
    g.pad_left = cols.before;
    g.tiles_h = (rows.out + m_ - 1) / m_;
    g.tiles_w = (cols.out + m_ - 1) / m_;
    g.out = out.data;
    g.out_h = rows.out;
    g.out_w = cols.out;
    g.cout = cout_;
    g.bias = bias_.empty() ? nullptr : bias_.data();
    g.clamp = act.is_clamp() && !act.is_none();
    g.lo = act.clamp_lo();
    g.hi = act.clamp_hi();
    const int threads = std::max(ctx.threads, 1);
    const int64_t tiles = int64_t(in.shape.n) * g.tiles_h * g.tiles_w;
    Plan p = plan(tiles, threads);
    // A scratch area planned for fewer threads (or none) gets fewer workers or smaller blocks.
    const int64_t have = ctx.scratch ? int64_t(ctx.scratch_size) : 0;
    while (p.block > 1 && slot_floats(p.block) > have) p.block = (p.block + 1) / 2;
    p.slot = slot_floats(p.block);
    MIEN_CHECK(p.slot <= have, "conv2d (winograd): scratch of ", have,
               " floats is smaller than the ", p.slot, " needed");
    const int64_t blocks = (tiles + p.block - 1) / p.block;
    const int64_t slots = std::max<int64_t>(1, std::min({p.slots, have / p.slot, blocks}));
    const int k = m_ == 4 ? 1 : 0;
    const int points = (m_ + 2) * (m_ + 2);
    // Tile-major V and M ([tile][xi][c]): each transform reads and writes one contiguous
    // tile. Element-major ([xi][tile][c], contiguous GEMM rows) measured the same.
    g.v_tile_stride = int64_t(points) * cin_;
    g.v_xi_stride = cin_;
    g.m_tile_stride = int64_t(points) * cout_;
    g.m_xi_stride = cout_;
    parallel_for(slots, int(slots), [&](int64_t s0, int64_t s1) {
      for (int64_t s = s0; s < s1; ++s) {
        float* v = ctx.scratch + s * p.slot;
        float* mm = v + int64_t(points) * p.block * cin_;
        float* patch = mm + int64_t(points) * p.block * cout_;
        for (int64_t b = blocks * s / slots; b < blocks * (s + 1) / slots; ++b) {
          const int64_t t0 = b * p.block, t1 = std::min(tiles, t0 + p.block);
          table.wino.input[k](g, t0, t1, v, patch);
          for (int xi = 0; xi < points; ++xi) {
            const GemmA a{v + xi * g.v_xi_stride, g.v_tile_stride, 1, 0};
            gemm_serial(u_[std::size_t(xi)], t1 - t0, a, mm + xi * g.m_xi_stride, g.m_tile_stride,
                        Activation::none(), isa);
          }
          table.wino.output[k](g, mm, t0, t1);
          if (!act.is_clamp()) activate_tiles(g, t0, t1, act, table);
        }
      }
    });
  }

 private:
  // Activations other than a clamp, on the output rows of tiles [t0, t1) just stored.
  void activate_tiles(const detail::WinoGeom& g, int64_t t0, int64_t t1, const Activation& act,
                      const kernels::KernelTable& table) const {
    const int64_t per_image = int64_t(g.tiles_h) * g.tiles_w;
    for (int64_t t = t0; t < t1; ++t) {
      const int n = int(t / per_image), ty = int(t % per_image / g.tiles_w),
                tx = int(t % g.tiles_w);
      const int oy0 = ty * m_, ox0 = tx * m_;
      const int rows = std::min(m_, g.out_h - oy0), cols = std::min(m_, g.out_w - ox0);
      for (int r = 0; r < rows; ++r) {
        float* p = g.out + ((int64_t(n) * g.out_h + oy0 + r) * g.out_w + ox0) * g.cout;
        table.activate(p, p, cols, g.cout, act);
      }
    }
  }

  int m_ = 0, cin_ = 0, cout_ = 0;
  int mr_ = 1;                  // rows per GEMM micro-tile
  std::vector<GemmWeights> u_;  // one packed [Cin x Cout] per transform element xi
  std::vector<float> bias_;
};

}  // namespace mien
