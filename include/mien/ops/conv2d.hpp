// conv2d: NHWC input, HWIO weights [KH][KW][Cin][Cout], any kernel, stride, dilation and
// padding, with bias and activation fused. Every case is the packed GEMM (kernels/gemm.hpp)
// with B = the weights as stored ([KH*KW*Cin][Cout]) and A read in one of three ways:
//  - 1x1 unpadded: the input pixels are A's rows (stride Cin, or sw*Cin per output row);
//  - dilation_w = 1 (nearly every conv): A's row for an output pixel is its window, KH
//    contiguous runs of KW*Cin input values, read in place (GemmA runs). When the window
//    can leave the image, a block of input rows is first copied into scratch with its
//    zero border, so the kernel never tests bounds;
//  - otherwise: im2col a block of output pixels into scratch, then GEMM.
// 3x3 stride-1 convs with enough channels run Winograd instead (ops/conv2d_winograd.hpp;
// the rule: winograd_tile). Convs with few output channels in the shapes of gender's early
// layers run a direct conv instead (kernels/body/conv_small_n.inl; the rule: conv_small_n).
// Scratch stays modest: a block of rows or pixels per thread, about 64 KiB each.
// A 1x1 stride-1 conv may also take a second input, a residual added before the activation
// (`add` fused at load by model/optimize.hpp): the GEMM adds it in its store epilogue, so
// the conv output never makes a separate trip through memory.
#pragma once

#include <algorithm>
#include <cstdint>
#include <cstring>
#include <limits>
#include <string>
#include <vector>

#include "mien/core/error.hpp"
#include "mien/core/parallel.hpp"
#include "mien/core/tensor.hpp"
#include "mien/kernels/gemm.hpp"
#include "mien/kernels/tuning.hpp"
#include "mien/ops/activation.hpp"
#include "mien/ops/conv2d_winograd.hpp"
#include "mien/ops/conv_params.hpp"
#include "mien/ops/eltwise.hpp"
#include "mien/ops/op.hpp"

namespace mien {

namespace detail {

// Output size and top/left padding of a conv over an input shape.
struct ConvGeometry {
  AxisPadding rows, cols;
};

inline ConvGeometry conv_geometry(const Shape& in, int kh, int kw, const ConvParams& p) {
  return ConvGeometry{p.rows(in.h, kh), p.cols(in.w, kw)};
}

// Copies n floats. Short runs (Cin = 1 or 3 im2col pieces) use fixed-size moves instead of
// a memcpy call, whose overhead would dominate a 3-float copy.
inline void copy_floats(float* d, const float* s, int64_t n) {
  if (n >= 32) {
    std::memcpy(d, s, sizeof(float) * std::size_t(n));
    return;
  }
  for (; n >= 8; n -= 8, d += 8, s += 8) std::memcpy(d, s, 8 * sizeof(float));
  if (n >= 4) {
    std::memcpy(d, s, 4 * sizeof(float));
    n -= 4, d += 4, s += 4;
  }
  switch (n) {
    case 3:
      d[2] = s[2];
      [[fallthrough]];
    case 2:
      d[1] = s[1];
      [[fallthrough]];
    case 1:
      d[0] = s[0];
      [[fallthrough]];
    default:
      break;
  }
}

inline void zero_floats(float* d, int64_t n) {
  if (n >= 32) {
    std::memset(d, 0, sizeof(float) * std::size_t(n));
    return;
  }
  for (int64_t i = 0; i < n; ++i) d[i] = 0.f;
}

// im2col of output pixels [p0, p1) (flattened over N, OH, OW) into dst, one row of
// KH*KW*Cin values per pixel, in the [ky][kx][ci] order of the weights.
inline void conv_im2col(const ConstTensorView& in, int kh, int kw, const ConvParams& p,
                        const ConvGeometry& g, int64_t p0, int64_t p1, float* dst) {
  const int h = in.shape.h, w = in.shape.w, cin = in.shape.c;
  const int oh = g.rows.out, ow = g.cols.out;
  const int64_t kwc = int64_t(kw) * cin;
  int n = int(p0 / (int64_t(oh) * ow));
  int oy = int(p0 / ow % oh);
  int ox = int(p0 % ow);
  for (int64_t px = p0; px < p1; ++px) {
    const int iy0 = oy * p.stride_h - g.rows.before;
    const int ix0 = ox * p.stride_w - g.cols.before;
    for (int ky = 0; ky < kh; ++ky, dst += kwc) {
      const int iy = iy0 + ky * p.dilation_h;
      if (iy < 0 || iy >= h) {
        zero_floats(dst, kwc);
        continue;
      }
      const float* src = in.pixel(n, iy, 0);
      if (p.dilation_w == 1) {
        // The window row is one contiguous run of the input row, clipped at the edges.
        const int kx0 = std::min(kw, std::max(0, -ix0));
        const int kx1 = std::max(kx0, std::min(kw, w - ix0));
        zero_floats(dst, int64_t(kx0) * cin);
        copy_floats(dst + int64_t(kx0) * cin, src + int64_t(ix0 + kx0) * cin,
                    int64_t(kx1 - kx0) * cin);
        zero_floats(dst + int64_t(kx1) * cin, int64_t(kw - kx1) * cin);
      } else {
        for (int kx = 0; kx < kw; ++kx) {
          const int ix = ix0 + kx * p.dilation_w;
          if (ix < 0 || ix >= w)
            zero_floats(dst + int64_t(kx) * cin, cin);
          else
            copy_floats(dst + int64_t(kx) * cin, src + int64_t(ix) * cin, cin);
        }
      }
    }
    if (++ox == ow) {
      ox = 0;
      if (++oy == oh) {
        oy = 0;
        ++n;
      }
    }
  }
}

// Copies input rows [iy0, iy0 + rows) of image n into dst as rows of wp pixels starting at
// input column -left, with zeros wherever that lies outside the image.
inline void conv_pad_rows(const ConstTensorView& in, int n, int iy0, int rows, int left, int wp,
                          float* dst) {
  const int h = in.shape.h, w = in.shape.w, cin = in.shape.c;
  const int x0 = std::min(wp, std::max(0, left));       // first buffer column inside the image
  const int x1 = std::max(x0, std::min(wp, w + left));  // one past the last
  for (int i = 0; i < rows; ++i, dst += int64_t(wp) * cin) {
    const int iy = iy0 + i;
    if (iy < 0 || iy >= h) {
      zero_floats(dst, int64_t(wp) * cin);
      continue;
    }
    zero_floats(dst, int64_t(x0) * cin);
    copy_floats(dst + int64_t(x0) * cin, in.pixel(n, iy, x0 - left), int64_t(x1 - x0) * cin);
    zero_floats(dst + int64_t(x1) * cin, int64_t(wp - x1) * cin);
  }
}

}  // namespace detail

// The unrolled small-N row for a kernel, input channels, stride and dilation, or Generic.
inline kernels::SmallNShape small_n_shape(int kh, int kw, int cin, const ConvParams& p) {
  using S = kernels::SmallNShape;
  if (p.dilation_w != 1) return S::Generic;
  if (kh == 1 && kw == 1 && p.stride_w == 1)
    return cin == 8 ? S::K1C8 : cin == 16 ? S::K1C16 : S::Generic;
  if (kh == 1 && kw == 1 && p.stride_w == 2 && cin == 8) return S::K1C8S2;
  if (kh == 3 && kw == 3 && p.stride_w == 1 && cin == 1) return S::K3C1;
  return S::Generic;
}

// Whether conv2d runs the small-N direct conv (decided at load; tuning.hpp has the numbers):
// Cout <= kSmallNMaxCout, no fused residual, and under Auto only the shapes with an unrolled
// row (gender's 3x3 1->8, 1x1 8->16, 16->16 and 1x1/2 8->16), which measured faster than
// the GEMM. The generic row lost to the GEMM (and Winograd) on the 3x3 convs with 3..16
// input channels measured, so other shapes stay there. ConvAlgo::SmallN forces it for any
// shape with few enough output channels (tests).
inline bool conv_small_n(ConvAlgo algo, int kh, int kw, int cin, int cout, const ConvParams& p,
                         bool residual) {
  if (residual || cout > tuning::kSmallNMaxCout) return false;
  if (algo == ConvAlgo::SmallN) return true;
  return algo == ConvAlgo::Auto && small_n_shape(kh, kw, cin, p) != kernels::SmallNShape::Generic;
}

class Conv2d final : public Op {
 public:
  // weight: [KH][KW][Cin][Cout] row-major (TF HWIO); bias: [Cout] or nullptr. With
  // `residual`, the op takes a second input R and computes act(conv(x) + R), R broadcasting
  // like `add`'s inputs (1x1 kernels with stride 1 and no padding only).
  // `algo` forces the direct GEMM, a Winograd variant or the small-N direct conv (tests,
  // benchmarks); Auto follows conv_small_n's rule, then winograd_tile's.
  Conv2d(int kh, int kw, int cin, int cout, const float* weight, const float* bias,
         const ConvParams& p, Isa isa, bool residual = false, ConvAlgo algo = ConvAlgo::Auto)
      : Op(isa),
        kh_(kh),
        kw_(kw),
        cin_(cin),
        cout_(cout),
        has_bias_(bias != nullptr),
        residual_(residual),
        p_(p) {
    MIEN_CHECK(kh >= 1 && kw >= 1 && cin >= 1 && cout >= 1, "conv2d: invalid sizes kernel ", kh,
               "x", kw, ", channels ", cin, "->", cout);
    MIEN_CHECK(p.stride_h >= 1 && p.stride_w >= 1 && p.dilation_h >= 1 && p.dilation_w >= 1,
               "conv2d: strides and dilations must be >= 1");
    MIEN_CHECK(int64_t(kh) * kw * cin <= (int64_t(1) << 30), "conv2d: kernel ", kh, "x", kw, "x",
               cin, " is too large");
    MIEN_CHECK(weight != nullptr, "conv2d: no weights");
    p.activation.validate(cout);
    if (residual) {
      const bool unpadded =
          p.padding.mode != PadMode::Explicit || (p.padding.top == 0 && p.padding.left == 0 &&
                                                  p.padding.bottom == 0 && p.padding.right == 0);
      MIEN_CHECK(kh == 1 && kw == 1 && p.stride_h == 1 && p.stride_w == 1 && unpadded,
                 "conv2d: a fused residual needs a 1x1 kernel, stride 1 and no padding");
    }
    // HWIO flattened is exactly the GEMM's B[K = KH*KW*Cin][N = Cout].
    weights_ = GemmWeights(kh * kw * cin, cout, weight, cout, bias, isa);
    if (conv_small_n(algo, kh, kw, cin, cout, p, residual)) {
      pack_small_n(weight, bias);
      return;
    }
    const int m = mien::winograd_tile(algo, kh, kw, p.stride_h, p.stride_w, p.dilation_h,
                                      p.dilation_w, cin, cout, residual);
    if (m > 0) wino_ = WinogradConv(m, cin, cout, weight, bias, isa);
    // A forced variant runs whatever the output size (tests cover tiles larger than it).
    wino_min_tiles_ = algo == ConvAlgo::Auto ? tuning::kWinogradMinTiles : 1;
  }

  const char* type() const override { return "conv2d"; }
  int num_inputs() const override { return residual_ ? 2 : 1; }

  // The conv's own result, before any residual.
  Shape conv_shape(const Shape& in) const {
    MIEN_CHECK(in.valid(), "conv2d: invalid input shape ", in.str());
    MIEN_CHECK(in.c == cin_, "conv2d expects ", cin_, " input channels, got ", in.str());
    const detail::ConvGeometry g = detail::conv_geometry(in, kh_, kw_, p_);
    MIEN_CHECK(g.rows.out >= 1 && g.cols.out >= 1, "conv2d: empty output for input ", in.str());
    return Shape(in.n, g.rows.out, g.cols.out, cout_);
  }

  Shape output_shape(const std::vector<Shape>& inputs) const override {
    MIEN_CHECK(int(inputs.size()) == num_inputs(), "conv2d takes ", num_inputs(), " input(s), got ",
               inputs.size());
    const Shape c = conv_shape(inputs[0]);
    if (!residual_) return c;
    // The add's broadcasting rule, either way round. back() is the residual (two inputs,
    // checked above): with at(1), GCC 12 warns -Warray-bounds where a caller passes one shape.
    return detail::ew_binary_shape("conv2d+add", {c, inputs.back()});
  }

  std::size_t scratch_floats(const std::vector<Shape>& inputs, int threads) const override {
    const Shape out = output_shape(inputs);  // validates
    const Shape c = conv_shape(inputs[0]);
    // A conv result smaller than the residual (it broadcasts) goes through scratch.
    if (residual_) return c == out ? 0 : std::size_t(c.size());
    const Plan plan =
        make_plan(inputs[0], detail::conv_geometry(inputs[0], kh_, kw_, p_), std::max(threads, 1));
    return std::size_t(plan.slots * plan.slot);
  }

  int64_t macs(const std::vector<Shape>& inputs) const override {
    return conv_shape(inputs[0]).pixels() * weights_.k() * cout_;
  }

  int64_t parameters() const override {
    return int64_t(kh_) * kw_ * cin_ * cout_ + (has_bias_ ? cout_ : 0);
  }

  std::string describe() const override {
    return p_.describe(kh_, kw_) + " " + std::to_string(cin_) + "->" + std::to_string(cout_) +
           (residual_ ? " +residual" : "") +
           (wino_.empty() ? "" : " wino" + std::to_string(wino_.tile())) +
           (small_n() ? " direct" : "");
  }

  void run(const ConstTensorView* inputs, TensorView out, const RunContext& ctx) const override {
    if (residual_) return run_residual(inputs, out, ctx);
    const ConstTensorView& in = inputs[0];
    const detail::ConvGeometry g = detail::conv_geometry(in.shape, kh_, kw_, p_);
    const int threads = std::max(ctx.threads, 1);
    Plan plan = make_plan(in.shape, g, threads);
    if (plan.slot > 0 && plan.path != Path::Winograd) fit_scratch(plan, g, ctx);
    switch (plan.path) {
      case Path::Pointwise:
        gemm(weights_, in.shape.pixels(), in.data, cin_, out.data, cout_, p_.activation, isa_,
             threads);
        return;
      case Path::Window:
        run_window(in, g, out, threads);
        return;
      case Path::PaddedWindow:
        run_padded_window(in, g, out, ctx, plan);
        return;
      case Path::Im2col:
        run_im2col(in, g, out, ctx, plan);
        return;
      case Path::Winograd:
        wino_.run(in, g.rows, g.cols, out, p_.activation, ctx, isa_, kernels_);
        return;
      case Path::SmallN:
        run_small_n(in, g, out, threads);
        return;
    }
  }

  bool has_residual() const { return residual_; }
  int kernel_h() const { return kh_; }
  int kernel_w() const { return kw_; }
  int in_channels() const { return cin_; }
  int out_channels() const { return cout_; }
  // The packed HWIO weights and bias (the direct path's; tests unpack them for references).
  const GemmWeights& gemm_weights() const { return weights_; }
  // 2 or 4 when the conv runs Winograd F(m x m, 3x3), 0 for the direct GEMM.
  int winograd_tile() const { return wino_.tile(); }
  const ConvParams& params() const { return p_; }
  // True when the conv runs the small-N direct conv (conv_small_n's rule).
  bool small_n() const { return sn_row_ != nullptr; }

 private:
  enum class Path {
    Pointwise,     // 1x1, stride 1, unpadded: one GEMM over all pixels
    Window,        // windows read in place from the input, one GEMM per output row
    PaddedWindow,  // the same from blocks of input rows copied with their zero border
    Im2col,        // dilation_w > 1: im2col blocks of output pixels
    Winograd,      // 3x3 stride 1 by Winograd (ops/conv2d_winograd.hpp)
    SmallN,        // few output channels: direct conv (kernels/body/conv_small_n.inl)
  };
  // How run() splits the work: `block` output rows (windows) or pixels (im2col) per step,
  // `slot` scratch floats per worker, `slots` workers.
  struct Plan {
    Path path = Path::Pointwise;
    int64_t block = 0, slot = 0, slots = 0;
  };

  // Input rows a block of output rows reads, and the padded width of those rows.
  int64_t window_rows(int64_t out_rows) const {
    return (out_rows - 1) * p_.stride_h + int64_t(kh_ - 1) * p_.dilation_h + 1;
  }
  int padded_width(const detail::ConvGeometry& g) const {
    return (g.cols.out - 1) * p_.stride_w + (kw_ - 1) * p_.dilation_w + 1;
  }
  int64_t slot_floats(const Plan& plan, const detail::ConvGeometry& g) const {
    const int64_t floats = plan.path == Path::PaddedWindow
                               ? window_rows(plan.block) * padded_width(g) * cin_
                               : plan.block * weights_.k();
    return (floats + 15) / 16 * 16;  // keeps every slot 64-byte aligned
  }

  Plan make_plan(const Shape& in, const detail::ConvGeometry& g, int threads) const {
    Plan plan;
    if (small_n()) {
      plan.path = Path::SmallN;  // reads the input in place: no scratch
      return plan;
    }
    const int oh = g.rows.out, ow = g.cols.out;
    const int64_t tiles = wino_.empty() ? 0 : wino_.tiles(in, g.rows, g.cols);
    if (tiles >= wino_min_tiles_) {
      plan.path = Path::Winograd;
      const WinogradConv::Plan wp = wino_.plan(tiles, threads);
      plan.block = wp.block;
      plan.slot = wp.slot;
      plan.slots = wp.slots;
      return plan;
    }
    const bool inside = g.rows.before == 0 && g.cols.before == 0 && window_rows(oh) <= in.h &&
                        padded_width(g) <= in.w;
    if (kh_ == 1 && kw_ == 1 && inside && p_.stride_h == 1 && p_.stride_w == 1) {
      plan.path = Path::Pointwise;
      return plan;
    }
    const int64_t rows = int64_t(in.n) * oh;  // output rows over the batch
    if (p_.dilation_w == 1 && inside) {
      plan.path = Path::Window;
      return plan;
    }
    constexpr int64_t kSlotBudget = tuning::kL2BlockFloats;  // the GEMM's A block, in L2
    if (p_.dilation_w == 1) {
      plan.path = Path::PaddedWindow;
      const int64_t row_floats = int64_t(padded_width(g)) * cin_;
      const int64_t fit = (kSlotBudget / row_floats - window_rows(1)) / p_.stride_h + 1;
      plan.block =
          std::max<int64_t>(1, std::min<int64_t>({fit, oh, (rows + threads - 1) / threads}));
      plan.slots = std::min<int64_t>(threads, rows);
    } else {
      plan.path = Path::Im2col;
      // Pixels: a multiple of the microkernel heights, and an even share for each thread.
      constexpr int64_t kStep = 12;
      const int64_t pixels = rows * ow, k = weights_.k();
      const int64_t share = (pixels + threads - 1) / threads;
      plan.block = std::max<int64_t>(
          kStep, std::min<int64_t>(tuning::kMaxBlockRows, kSlotBudget / k / kStep * kStep));
      plan.block = std::min(plan.block, (share + kStep - 1) / kStep * kStep);
      plan.slots = std::min<int64_t>(threads, (pixels + plan.block - 1) / plan.block);
    }
    plan.slot = slot_floats(plan, g);
    return plan;
  }

  // A scratch area planned for fewer threads (or none) gets fewer workers or smaller blocks.
  void fit_scratch(Plan& plan, const detail::ConvGeometry& g, const RunContext& ctx) const {
    const int64_t have = ctx.scratch ? int64_t(ctx.scratch_size) : 0;
    while (plan.block > 1 && slot_floats(plan, g) > have) plan.block = (plan.block + 1) / 2;
    plan.slot = slot_floats(plan, g);
    MIEN_CHECK(plan.slot <= have, "conv2d: scratch of ", have, " floats is smaller than the ",
               plan.slot, " needed");
    plan.slots = std::max<int64_t>(1, std::min(plan.slots, have / plan.slot));
  }

  // act(conv(x) + R) for a 1x1 stride-1 unpadded conv: one GEMM over all pixels. A residual
  // of the output's shape is added in the GEMM's store; a broadcast one (rare) by the add
  // kernels afterwards, through scratch when the conv's result is the smaller side.
  void run_residual(const ConstTensorView* inputs, TensorView out, const RunContext& ctx) const {
    const ConstTensorView& in = inputs[0];
    const ConstTensorView& res = inputs[1];
    const Shape c = conv_shape(in.shape);
    MIEN_CHECK(out.shape == output_shape({in.shape, res.shape}), "conv2d: output ", out.shape.str(),
               " does not fit inputs ", in.shape.str(), ", ", res.shape.str());
    const int threads = std::max(ctx.threads, 1);
    if (c == out.shape && res.shape == out.shape) {
      gemm(weights_, c.pixels(), in.data, cin_, out.data, cout_, p_.activation, isa_, threads,
           res.data, cout_);
      return;
    }
    TensorView conv = out;
    if (c != out.shape) {
      MIEN_CHECK(ctx.scratch && int64_t(ctx.scratch_size) >= c.size(), "conv2d: scratch of ",
                 ctx.scratch_size, " floats is smaller than the ", c.size(), " needed");
      conv = TensorView{c, ctx.scratch};
    }
    gemm(weights_, c.pixels(), in.data, cin_, conv.data, cout_, Activation::none(), isa_, threads);
    const ConstTensorView sum[2] = {ConstTensorView(c, conv.data), res};
    detail::ew_binary_run<detail::EwOp::Add>("conv2d+add", sum, out, ctx, p_.activation, kernels_);
  }

  // One GEMM per output row; A row ox is the window at input column ox*sw.
  void gemm_row(const float* window, int64_t row_floats, float* c, int ow) const {
    GemmA a;
    a.data = window;
    a.stride = int64_t(p_.stride_w) * cin_;
    a.runs = kh_;
    a.run_step = int64_t(p_.dilation_h) * row_floats;
    gemm_serial(weights_, ow, a, c, cout_, p_.activation, isa_);
  }

  void run_window(const ConstTensorView& in, const detail::ConvGeometry& g, TensorView out,
                  int threads) const {
    const int oh = g.rows.out, ow = g.cols.out;
    const int64_t row_floats = int64_t(in.shape.w) * cin_;
    parallel_for(int64_t(in.shape.n) * oh, threads, [&](int64_t r0, int64_t r1) {
      for (int64_t r = r0; r < r1; ++r) {
        const int n = int(r / oh), oy = int(r % oh);
        gemm_row(in.pixel(n, oy * p_.stride_h, 0), row_floats, out.pixel(n, oy, 0), ow);
      }
    });
  }

  void run_padded_window(const ConstTensorView& in, const detail::ConvGeometry& g, TensorView out,
                         const RunContext& ctx, const Plan& plan) const {
    const int oh = g.rows.out, ow = g.cols.out, wp = padded_width(g);
    const int64_t row_floats = int64_t(wp) * cin_;
    const int64_t rows = int64_t(in.shape.n) * oh;
    const int64_t slots = plan.slots;
    parallel_for(slots, int(slots), [&](int64_t t0, int64_t t1) {
      for (int64_t t = t0; t < t1; ++t) {
        float* buf = ctx.scratch + t * plan.slot;
        const int64_t end = rows * (t + 1) / slots;
        for (int64_t r = rows * t / slots; r < end;) {
          // A block of output rows of one image, and the input rows its windows cover.
          const int n = int(r / oh), oy0 = int(r % oh);
          const int count = int(std::min<int64_t>({plan.block, end - r, int64_t(oh - oy0)}));
          const int iy0 = oy0 * p_.stride_h - g.rows.before;
          detail::conv_pad_rows(in, n, iy0, int(window_rows(count)), g.cols.before, wp, buf);
          for (int i = 0; i < count; ++i)
            gemm_row(buf + int64_t(i) * p_.stride_h * row_floats, row_floats,
                     out.pixel(n, oy0 + i, 0), ow);
          r += count;
        }
      }
    });
  }

  void run_im2col(const ConstTensorView& in, const detail::ConvGeometry& g, TensorView out,
                  const RunContext& ctx, const Plan& plan) const {
    const int64_t pixels = out.shape.pixels();
    const int64_t k = weights_.k();
    const int64_t blocks = (pixels + plan.block - 1) / plan.block;
    const int64_t slots = std::min(plan.slots, blocks);
    parallel_for(slots, int(slots), [&](int64_t t0, int64_t t1) {
      for (int64_t t = t0; t < t1; ++t) {
        float* buf = ctx.scratch + t * plan.slot;
        for (int64_t b = blocks * t / slots; b < blocks * (t + 1) / slots; ++b) {
          const int64_t p0 = b * plan.block, p1 = std::min(pixels, p0 + plan.block);
          detail::conv_im2col(in, kh_, kw_, p_, g, p0, p1, buf);
          gemm_serial(weights_, p1 - p0, buf, k, out.data + p0 * cout_, cout_, p_.activation, isa_);
        }
      }
    });
  }

  // Packs the weights for the small-N rows (kernels/body/conv_small_n.inl): P = 8 or 16
  // channels wide, the bias then each (ky, kx, ci)'s Cout weights, zero beyond Cout.
  void pack_small_n(const float* weight, const float* bias) {
    const int wide = cout_ > 8;
    const int lanes = wide ? 16 : 8;
    const int64_t k = int64_t(kh_) * kw_ * cin_;
    sn_weights_.resize(std::size_t((k + 1) * lanes));  // zero-filled
    float* d = sn_weights_.data();
    if (bias) std::memcpy(d, bias, sizeof(float) * std::size_t(cout_));
    for (int64_t i = 0; i < k; ++i)
      std::memcpy(d + (i + 1) * lanes, weight + i * cout_, sizeof(float) * std::size_t(cout_));
    const kernels::SmallNKernels& sk = kernels_.small_n[wide];
    MIEN_CHECK(sk.channels == lanes, "conv2d: no small-N kernels for ", cout_, " channels");
    sn_row_ = sk.row[int(small_n_shape(kh_, kw_, cin_, p_))];
  }

  void run_small_n(const ConstTensorView& in, const detail::ConvGeometry& g, TensorView out,
                   int threads) const {
    detail::SmallNGeom sg;
    sg.in = in.data;
    sg.h = in.shape.h, sg.w = in.shape.w, sg.cin = cin_;
    sg.out_w = g.cols.out, sg.cout = cout_;
    sg.kh = kh_, sg.kw = kw_, sg.sh = p_.stride_h, sg.sw = p_.stride_w;
    sg.dh = p_.dilation_h, sg.dw = p_.dilation_w;
    sg.pad_top = g.rows.before, sg.pad_left = g.cols.before;
    sg.packed = sn_weights_.data();
    const Activation& act = p_.activation;
    const bool clamp = act.is_clamp();
    sg.lo = clamp ? act.clamp_lo() : -std::numeric_limits<float>::infinity();
    sg.hi = clamp ? act.clamp_hi() : std::numeric_limits<float>::infinity();
    // Interior columns: ox*sw - left >= 0 and ox*sw - left + (kw-1)*dw <= w-1.
    const int left = g.cols.before, ow = g.cols.out;
    sg.ox_lo = std::min(ow, (left + p_.stride_w - 1) / p_.stride_w);
    const int last = in.shape.w - 1 - (kw_ - 1) * p_.dilation_w + left;
    sg.ox_hi = std::max(sg.ox_lo, last < 0 ? 0 : std::min(ow, last / p_.stride_w + 1));
    const int oh = g.rows.out;
    parallel_for(int64_t(in.shape.n) * oh, threads, [&](int64_t r0, int64_t r1) {
      for (int64_t r = r0; r < r1; ++r) {
        const int n = int(r / oh), oy = int(r % oh);
        float* row = out.pixel(n, oy, 0);
        sn_row_(sg, n, oy, row);
        // Other activations on the finished row, while it is in L1.
        if (!clamp) kernels_.activate(row, row, ow, cout_, act);
      }
    });
  }

  int kh_, kw_, cin_, cout_;
  bool has_bias_;
  bool residual_;
  ConvParams p_;
  GemmWeights weights_;
  WinogradConv wino_;                      // empty unless winograd_tile chose it
  AlignedBuffer sn_weights_;               // the small-N rows' packed weights
  kernels::SmallNRowFn sn_row_ = nullptr;  // set when conv_small_n chose them
  int64_t wino_min_tiles_ = 1;
};

// Reference: the obvious loops in double, for tests. out.shape must be the conv's output.
inline void conv2d_naive(ConstTensorView in, const float* weight, const float* bias, int kh, int kw,
                         int cout, const ConvParams& p, TensorView out) {
  const int cin = in.shape.c;
  const AxisPadding rows = p.rows(in.shape.h, kh), cols = p.cols(in.shape.w, kw);
  MIEN_CHECK(out.shape == Shape(in.shape.n, rows.out, cols.out, cout),
             "conv2d_naive: output shape ", out.shape.str());
  for (int n = 0; n < in.shape.n; ++n)
    for (int oy = 0; oy < rows.out; ++oy)
      for (int ox = 0; ox < cols.out; ++ox)
        for (int co = 0; co < cout; ++co) {
          double s = bias ? bias[co] : 0.0;
          for (int ky = 0; ky < kh; ++ky) {
            const int iy = oy * p.stride_h - rows.before + ky * p.dilation_h;
            if (iy < 0 || iy >= in.shape.h) continue;
            for (int kx = 0; kx < kw; ++kx) {
              const int ix = ox * p.stride_w - cols.before + kx * p.dilation_w;
              if (ix < 0 || ix >= in.shape.w) continue;
              for (int ci = 0; ci < cin; ++ci)
                s += double(in.pixel(n, iy, ix)[ci]) *
                     double(weight[((int64_t(ky) * kw + kx) * cin + ci) * cout + co]);
            }
          }
          out.pixel(n, oy, ox)[co] = activate_naive(float(s), p.activation, co);
        }
}

}  // namespace mien
