// qconv2d: conv2d with int8 weights and uint8 activations (the int8 GEMM of kernels/q8.hpp).
// It reads and writes float NHWC tensors like conv2d, so it replaces a conv2d node one for
// one (`mien quantize`): the input is quantized with the calibrated scale and zero point as
// the op starts, the products are summed exactly in int32, and the store turns them back
// into float with the per-channel scales, then adds bias, residual and activation.
//
// A for the GEMM: a 1x1 stride-1 unpadded conv reads the quantized pixels as its rows
// (padded to 4-byte groups when Cin is not a multiple of 4); every other conv im2cols blocks
// of output pixels from the quantized input into scratch, padding with the zero point (the
// quantized 0.0) where a window leaves the image.
#pragma once

#include <algorithm>
#include <cstdint>
#include <cstring>
#include <string>
#include <vector>

#include "mien/core/error.hpp"
#include "mien/core/parallel.hpp"
#include "mien/core/tensor.hpp"
#include "mien/kernels/q8.hpp"
#include "mien/ops/conv2d.hpp"
#include "mien/ops/conv_params.hpp"
#include "mien/ops/eltwise.hpp"
#include "mien/ops/op.hpp"

namespace mien {

class QConv2d final : public Op {
 public:
  // weight: int8 [KH][KW][Cin][Cout] (HWIO) in [-127, 127]; weight_scale: [Cout]; bias:
  // [Cout] or nullptr; in: the input's quantization; set: the int8 kernels (the model loader
  // passes default_q8_set(isa)). `residual` as for Conv2d.
  QConv2d(int kh, int kw, int cin, int cout, const int8_t* weight, const float* weight_scale,
          const float* bias, const ConvParams& p, const Q8Input& in, Isa isa, Q8Set set,
          bool residual = false)
      : Op(isa), kh_(kh), kw_(kw), cin_(cin), cout_(cout), residual_(residual), p_(p), in_(in) {
    MIEN_CHECK(kh >= 1 && kw >= 1 && cin >= 1 && cout >= 1, "qconv2d: invalid sizes kernel ", kh,
               "x", kw, ", channels ", cin, "->", cout);
    MIEN_CHECK(p.stride_h >= 1 && p.stride_w >= 1 && p.dilation_h >= 1 && p.dilation_w >= 1,
               "qconv2d: strides and dilations must be >= 1");
    MIEN_CHECK(int64_t(kh) * kw * cin <= (int64_t(1) << 24), "qconv2d: kernel ", kh, "x", kw, "x",
               cin, " is too large");
    MIEN_CHECK(weight != nullptr && weight_scale != nullptr, "qconv2d: no weights");
    p.activation.validate(cout);
    if (residual) {
      const bool unpadded =
          p.padding.mode != PadMode::Explicit || (p.padding.top == 0 && p.padding.left == 0 &&
                                                  p.padding.bottom == 0 && p.padding.right == 0);
      MIEN_CHECK(kh == 1 && kw == 1 && p.stride_h == 1 && p.stride_w == 1 && unpadded,
                 "qconv2d: a fused residual needs a 1x1 kernel, stride 1 and no padding");
    }
    weights_ = Q8Weights(kh * kw * cin, cout, weight, cout, weight_scale, bias, in, set);
  }

  const char* type() const override { return "qconv2d"; }
  int num_inputs() const override { return residual_ ? 2 : 1; }

  Shape conv_shape(const Shape& in) const {
    MIEN_CHECK(in.valid(), "qconv2d: invalid input shape ", in.str());
    MIEN_CHECK(in.c == cin_, "qconv2d expects ", cin_, " input channels, got ", in.str());
    const detail::ConvGeometry g = detail::conv_geometry(in, kh_, kw_, p_);
    MIEN_CHECK(g.rows.out >= 1 && g.cols.out >= 1, "qconv2d: empty output for input ", in.str());
    return Shape(in.n, g.rows.out, g.cols.out, cout_);
  }

  Shape output_shape(const std::vector<Shape>& inputs) const override {
    MIEN_CHECK(int(inputs.size()) == num_inputs(), "qconv2d takes ", num_inputs(),
               " input(s), got ", inputs.size());
    const Shape c = conv_shape(inputs[0]);
    if (!residual_) return c;
    return detail::ew_binary_shape("qconv2d+add", {c, inputs[1]});
  }

  std::size_t scratch_floats(const std::vector<Shape>& inputs, int threads) const override {
    const Shape out = output_shape(inputs);
    const Shape c = conv_shape(inputs[0]);
    const Layout l = layout(inputs[0], c, std::max(threads, 1));
    const int64_t conv_floats = residual_ && c != out ? c.size() : 0;
    return std::size_t((l.bytes + 3) / 4 + conv_floats);
  }

  int64_t macs(const std::vector<Shape>& inputs) const override {
    return conv_shape(inputs[0]).pixels() * weights_.k() * cout_;
  }
  int64_t parameters() const override { return int64_t(kh_) * kw_ * cin_ * cout_ + cout_; }
  std::string describe() const override {
    return p_.describe(kh_, kw_) + " " + std::to_string(cin_) + "->" + std::to_string(cout_) +
           " int8" + (residual_ ? " +residual" : "");
  }

  void run(const ConstTensorView* inputs, TensorView out, const RunContext& ctx) const override {
    const ConstTensorView& in = inputs[0];
    const Shape c = conv_shape(in.shape);
    const int threads = std::max(ctx.threads, 1);
    const Layout l = layout(in.shape, c, threads);
    const int64_t conv_floats = residual_ && c != out.shape ? c.size() : 0;
    MIEN_CHECK(ctx.scratch && int64_t(ctx.scratch_size) >= (l.bytes + 3) / 4 + conv_floats,
               "qconv2d: scratch of ", ctx.scratch_size, " floats is smaller than needed");
    uint8_t* bytes = reinterpret_cast<uint8_t*>(ctx.scratch);
    quantize_input(in, bytes, l, threads);

    const float* res = nullptr;
    int64_t ldr = 0;
    Activation act = p_.activation;
    TensorView conv = out;
    if (residual_) {
      const ConstTensorView& r = inputs[1];
      if (r.shape == out.shape && c == out.shape) {
        res = r.data;
        ldr = cout_;
      } else {
        // A broadcast residual (rare): the conv alone, then the add kernels.
        act = Activation::none();
        if (c != out.shape) conv = TensorView{c, ctx.scratch + (l.bytes + 3) / 4};
      }
    }
    if (l.direct) {
      const int64_t m = c.pixels(), mr = weights_.mr();
      parallel_for((m + mr - 1) / mr, threads, [&](int64_t u0, int64_t u1) {
        const int64_t r0 = u0 * mr, r1 = std::min(m, u1 * mr);
        q8_gemm_serial(weights_, r1 - r0, bytes + r0 * l.row_bytes, l.row_bytes,
                       conv.data + r0 * cout_, cout_, act, isa_, res ? res + r0 * ldr : nullptr,
                       ldr);
      });
    } else {
      run_im2col(in.shape, c, bytes, l, conv.data, act);
    }
    if (residual_ && !res) {
      const ConstTensorView sum[2] = {ConstTensorView(c, conv.data), inputs[1]};
      detail::ew_binary_run<detail::EwOp::Add>("qconv2d+add", sum, out, ctx, p_.activation,
                                               kernels_);
    }
  }

  bool has_residual() const { return residual_; }
  const Q8Input& input_quantization() const { return in_; }
  Q8Set kernel_set() const { return weights_.kernels().set; }

 private:
  // Scratch, in bytes: the quantized input (rows of row_bytes), then `slots` im2col blocks of
  // `block` rows of padded K bytes.
  struct Layout {
    bool direct = false;
    int64_t row_bytes = 0;  // bytes per quantized input pixel
    int64_t input_bytes = 0, block = 0, slot_bytes = 0, slots = 0, bytes = 0;
  };

  Layout layout(const Shape& in, const Shape& c, int threads) const {
    Layout l;
    const detail::ConvGeometry g = detail::conv_geometry(in, kh_, kw_, p_);
    const bool unpadded = g.rows.before == 0 && g.cols.before == 0 && c.h == in.h && c.w == in.w;
    l.direct = kh_ == 1 && kw_ == 1 && p_.stride_h == 1 && p_.stride_w == 1 && unpadded;
    l.row_bytes = l.direct ? weights_.padded_k() : cin_;
    l.input_bytes = (in.pixels() * l.row_bytes + 63) / 64 * 64;
    if (!l.direct) {
      const int64_t pixels = c.pixels(), kp = weights_.padded_k();
      const int64_t mr = weights_.mr();
      const int64_t share = (pixels + threads - 1) / threads;
      l.block = std::max<int64_t>(mr, std::min<int64_t>(480, 65536 / kp) / mr * mr);
      l.block = std::min(l.block, (share + mr - 1) / mr * mr);
      l.slot_bytes = (l.block * kp + 63) / 64 * 64;
      l.slots = std::min<int64_t>(threads, (pixels + l.block - 1) / l.block);
    }
    l.bytes = l.input_bytes + l.slots * l.slot_bytes;
    return l;
  }

  void quantize_input(const ConstTensorView& in, uint8_t* q, const Layout& l, int threads) const {
    const kernels::Q8Kernels& k = weights_.kernels();
    const float inv = in_.inverse();
    const int zp = in_.zero_point;
    const int64_t pixels = in.shape.pixels();
    if (l.row_bytes == cin_) {
      const int64_t total = pixels * cin_;
      constexpr int64_t kChunk = 16384;
      parallel_for((total + kChunk - 1) / kChunk, threads, [&](int64_t c0, int64_t c1) {
        const int64_t i0 = c0 * kChunk, i1 = std::min(total, c1 * kChunk);
        k.quantize(in.data + i0, i1 - i0, inv, zp, q + i0);
      });
      return;
    }
    // Rows padded to 4-byte groups: the pad bytes meet zero weights, zeroed for tidiness.
    parallel_for(pixels, threads, 256, [&](int64_t p0, int64_t p1) {
      for (int64_t p = p0; p < p1; ++p) {
        uint8_t* row = q + p * l.row_bytes;
        k.quantize(in.data + p * cin_, cin_, inv, zp, row);
        std::memset(row + cin_, 0, std::size_t(l.row_bytes - cin_));
      }
    });
  }

  // im2col of output pixels [p0, p1) from the quantized input into rows of padded-K bytes.
  void im2col(const Shape& in, const Shape& c, const uint8_t* q, int64_t p0, int64_t p1,
              uint8_t* dst) const {
    const detail::ConvGeometry g = detail::conv_geometry(in, kh_, kw_, p_);
    const int kp = weights_.padded_k(), k = weights_.k();
    const uint8_t zp = uint8_t(in_.zero_point);
    for (int64_t px = p0; px < p1; ++px, dst += kp) {
      const int n = int(px / (int64_t(c.h) * c.w));
      const int oy = int(px / c.w % c.h), ox = int(px % c.w);
      const int iy0 = oy * p_.stride_h - g.rows.before, ix0 = ox * p_.stride_w - g.cols.before;
      uint8_t* d = dst;
      const int span = (kw_ - 1) * p_.dilation_w + 1;
      for (int ky = 0; ky < kh_; ++ky) {
        const int iy = iy0 + ky * p_.dilation_h;
        // A window row wholly inside the image (dilation 1) is one run of KW*Cin bytes.
        if (p_.dilation_w == 1 && iy >= 0 && iy < in.h && ix0 >= 0 && ix0 + span <= in.w) {
          std::memcpy(d, q + ((int64_t(n) * in.h + iy) * in.w + ix0) * cin_,
                      std::size_t(kw_) * std::size_t(cin_));
          d += int64_t(kw_) * cin_;
          continue;
        }
        for (int kx = 0; kx < kw_; ++kx, d += cin_) {
          const int ix = ix0 + kx * p_.dilation_w;
          if (iy < 0 || iy >= in.h || ix < 0 || ix >= in.w)
            std::memset(d, zp, std::size_t(cin_));
          else
            std::memcpy(d, q + ((int64_t(n) * in.h + iy) * in.w + ix) * cin_, std::size_t(cin_));
        }
      }
      std::memset(dst + k, 0, std::size_t(kp - k));
    }
  }

  void run_im2col(const Shape& in, const Shape& c, uint8_t* q, const Layout& l, float* out,
                  const Activation& act) const {
    const int64_t pixels = c.pixels(), kp = weights_.padded_k();
    const int64_t blocks = (pixels + l.block - 1) / l.block;
    const int64_t slots = l.slots;
    uint8_t* base = q + l.input_bytes;
    parallel_for(slots, int(slots), [&](int64_t t0, int64_t t1) {
      for (int64_t t = t0; t < t1; ++t) {
        uint8_t* buf = base + t * l.slot_bytes;
        for (int64_t b = blocks * t / slots; b < blocks * (t + 1) / slots; ++b) {
          const int64_t p0 = b * l.block, p1 = std::min(pixels, p0 + l.block);
          im2col(in, c, q, p0, p1, buf);
          q8_gemm_serial(weights_, p1 - p0, buf, kp, out + p0 * cout_, cout_, act, isa_);
        }
      }
    });
  }

  int kh_, kw_, cin_, cout_;
  bool residual_;
  ConvParams p_;
  Q8Input in_;
  Q8Weights weights_;
};

}  // namespace mien
