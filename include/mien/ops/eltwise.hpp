// Element-wise ops: add and mul of two tensors (the second may be broadcast over space and/or
// batch), and the per-channel affine y = x * scale + shift (a batch_norm that could not be
// folded, or a mul by a constant). They are memory-bound, so the fast paths stream over the
// data once: a clamp activation (relu, relu6, clip) is applied in registers before the store;
// any other activation runs on a cache-sized block right after it is written.
//
// Broadcast rule (both add and mul are commutative, so either input may be the smaller one):
// the smaller tensor has the same C, a batch of N or 1, and a spatial size of H x W or 1 x 1.
// That covers N x 1 x 1 x C (squeeze-excite style scales, per-image biases), 1 x 1 x 1 x C and
// 1 x H x W x C (a constant map shared by the batch).
#pragma once

#include <algorithm>
#include <cstdint>
#include <string>
#include <utility>
#include <vector>

#include "mien/core/cpu.hpp"
#include "mien/core/error.hpp"
#include "mien/core/parallel.hpp"
#include "mien/core/tensor.hpp"
#include "mien/kernels/activation.hpp"
#include "mien/kernels/kernels.hpp"
#include "mien/kernels/tuning.hpp"
#include "mien/ops/op.hpp"

namespace mien {

namespace detail {

// True when `small` broadcasts to `big` under the rule above (equal shapes included).
inline bool ew_broadcasts(const Shape& small, const Shape& big) {
  return small.c == big.c && (small.n == big.n || small.n == 1) &&
         ((small.h == big.h && small.w == big.w) || (small.h == 1 && small.w == 1));
}

// Output shape of add/mul: the larger input's shape.
inline Shape ew_binary_shape(const char* op, const std::vector<Shape>& in) {
  MIEN_CHECK(in.size() == 2, op, " takes 2 inputs, got ", in.size());
  MIEN_CHECK(in[0].valid() && in[1].valid(), op, ": invalid input shape ", in[0].str(), " or ",
             in[1].str());
  if (ew_broadcasts(in[1], in[0])) return in[0];
  if (ew_broadcasts(in[0], in[1])) return in[1];
  throw_error(op, ": input shapes ", in[0].str(), " and ", in[1].str(),
              " do not broadcast (the smaller must be the same shape, N x 1 x 1 x C, "
              "1 x H x W x C or 1 x 1 x 1 x C)");
}

// Reads element (n, y, x, c) of `t` broadcast to a larger shape.
inline float ew_broadcast_at(const ConstTensorView& t, int n, int y, int x, int c) {
  const Shape& s = t.shape;
  return t
      .data[((int64_t(s.n == 1 ? 0 : n) * s.h + (s.h == 1 ? 0 : y)) * s.w + (s.w == 1 ? 0 : x)) *
                s.c +
            c];
}

template <typename F>
void ew_binary_naive(ConstTensorView a, ConstTensorView b, TensorView out, const char* op, F f) {
  if (!ew_broadcasts(b.shape, a.shape)) std::swap(a, b);  // commutative: the big one first
  MIEN_CHECK(ew_broadcasts(b.shape, a.shape) && out.shape == a.shape, op, "_naive: shapes ",
             a.shape.str(), ", ", b.shape.str(), " -> ", out.shape.str());
  const Shape s = a.shape;
  for (int n = 0; n < s.n; ++n)
    for (int y = 0; y < s.h; ++y)
      for (int x = 0; x < s.w; ++x)
        for (int c = 0; c < s.c; ++c)
          out.pixel(n, y, x)[c] = f(a.pixel(n, y, x)[c], ew_broadcast_at(b, n, y, x, c), c);
}

}  // namespace detail

// ---- naive references (independent of the fast paths; double arithmetic) ----

inline void add_naive(ConstTensorView a, ConstTensorView b, const Activation& act, TensorView out) {
  act.validate(out.shape.c);
  detail::ew_binary_naive(a, b, out, "add", [&](float x, float y, int c) {
    return activate_naive(float(double(x) + double(y)), act, c);
  });
}

inline void mul_naive(ConstTensorView a, ConstTensorView b, TensorView out) {
  detail::ew_binary_naive(a, b, out, "mul",
                          [](float x, float y, int) { return float(double(x) * double(y)); });
}

// scale has C values or 1 (for all channels); shift has as many as scale, or is empty (0).
inline void channel_affine_naive(ConstTensorView in, const std::vector<float>& scale,
                                 const std::vector<float>& shift, TensorView out) {
  const Shape s = in.shape;
  MIEN_CHECK(out.shape == s, "channel_affine_naive: output ", out.shape.str(), " != input ",
             s.str());
  MIEN_CHECK(int(scale.size()) == s.c || scale.size() == 1, "channel_affine_naive: ", scale.size(),
             " scales for ", s.c, " channels");
  MIEN_CHECK(shift.empty() || shift.size() == scale.size(), "channel_affine_naive: shift size");
  for (int64_t p = 0; p < s.pixels(); ++p)
    for (int c = 0; c < s.c; ++c) {
      const std::size_t k = scale.size() == 1 ? 0 : std::size_t(c);
      const double t = shift.empty() ? 0.0 : shift[k];
      out.data[p * s.c + c] = float(double(in.data[p * s.c + c]) * scale[k] + t);
    }
}

namespace detail {

// Channel vectors up to this length (not a multiple of 8) are expanded to a pattern of
// lcm(C, 8) values (tuning::kEwMaxPatternChannels).
constexpr int kEwMaxPatternChannels = tuning::kEwMaxPatternChannels;
constexpr int kEwMaxPattern = 8 * kEwMaxPatternChannels;

// lcm(c, 8): the shortest run of whole pixels that is also a run of whole vectors.
inline int ew_pattern_period(int c) {
  int g = c, r = 8;
  while (r) g = std::exchange(r, g % r);
  return c / g * 8;
}

// Fills pat[k] = vec[k % c] for k < period and returns period = ew_pattern_period(c). Applied
// from a pixel boundary, value i of the stream pairs with pat[i % period] = vec[i % c].
inline int ew_make_pattern(const float* vec, int c, float* pat) {
  const int period = ew_pattern_period(c);
  for (int k = 0; k < period; ++k) pat[k] = vec[k % c];
  return period;
}

// out = a op vec over `pixels` whole pixels of c channels (vec broadcast to every pixel).
// The kernels' channel vectors are 8 lanes (an AVX-512 table runs the AVX2 ones here), so a
// channel count that is not a multiple of 8 goes through a pattern or pixel by pixel.
template <EwOp kOp>
inline void ew_channels(const kernels::KernelTable& k, bool clamp, const float* a, const float* vec,
                        int c, float* out, int64_t pixels, float lo, float hi) {
  const kernels::EwPeriodicFn fn = k.ew[kOp == EwOp::Mul][clamp];
  const int64_t n = pixels * c;
  if (c % 8 != 0) {
    if (c <= kEwMaxPatternChannels) {
      alignas(32) float pat[kEwMaxPattern];
      const int period = ew_make_pattern(vec, c, pat);
      fn(a, pat, period, out, n, lo, hi);
    } else {
      for (int64_t p = 0; p < pixels; ++p) fn(a + p * c, vec, c, out + p * c, c, lo, hi);
    }
    return;
  }
  fn(a, vec, c, out, n, lo, hi);
}

// Computes output pixels [p0, p1) of out = act(a op b), where a has out's shape and b
// broadcasts to it. Ranges may cross image boundaries (the caller splits over all pixels).
template <EwOp kOp>
inline void ew_binary_range(const ConstTensorView& a, const ConstTensorView& b, TensorView out,
                            int64_t p0, int64_t p1, const Activation& act,
                            const kernels::KernelTable& k) {
  const Shape& s = out.shape;
  const int c = s.c;
  const int64_t hw = int64_t(s.h) * s.w;
  const bool b_full = b.shape.h == s.h && b.shape.w == s.w;
  const bool clamp = act.is_clamp() && !act.is_none();
  const bool post = !act.is_clamp();
  const float lo = act.clamp_lo(), hi = act.clamp_hi();
  const int64_t block = std::max<int64_t>(1, tuning::kEwBlockFloats / c);
  const kernels::EwPeriodicFn flat = k.ew[kOp == EwOp::Mul][clamp];
  for (int64_t p = p0; p < p1;) {
    const int64_t img = p / hw;
    const int64_t seg_end = std::min(p1, (img + 1) * hw);
    const float* bimg = b.data + (b.shape.n == 1 ? 0 : img * (b_full ? hw * c : c));
    for (int64_t q = p; q < seg_end; q += block) {
      const int64_t m = std::min(block, seg_end - q);
      float* o = out.data + q * c;
      if (b_full)  // same spatial size: a flat stream, "period" = whole block (no wrap)
        flat(a.data + q * c, bimg + (q - img * hw) * c, m * c, o, m * c, lo, hi);
      else
        ew_channels<kOp>(k, clamp, a.data + q * c, bimg, c, o, m, lo, hi);
      if (post) k.activate(o, o, m, c, act);
    }
    p = seg_end;
  }
}

template <EwOp kOp>
inline void ew_binary_run(const char* op, const ConstTensorView* inputs, TensorView out,
                          const RunContext& ctx, const Activation& act,
                          const kernels::KernelTable& k) {
  ConstTensorView a = inputs[0], b = inputs[1];
  if (a.shape != out.shape) std::swap(a, b);
  MIEN_CHECK(a.shape == out.shape && ew_broadcasts(b.shape, a.shape), op, ": inputs ",
             inputs[0].shape.str(), ", ", inputs[1].shape.str(), " do not give output ",
             out.shape.str());
  const int threads = tuning::worth_threads(out.shape.size(), ctx.threads);
  parallel_for(out.shape.pixels(), threads, [&](int64_t begin, int64_t end) {
    ew_binary_range<kOp>(a, b, out, begin, end, act, k);
  });
}

}  // namespace detail

// y = act(a + b). Inputs: two tensors, one broadcasting to the other (see the rule above).
class Add final : public Op {
 public:
  Add(const Activation& act, Isa isa) : Op(isa), act_(act) {
    if (act_.kind == ActKind::Clip) act_.validate(1);
    if (act_.kind == ActKind::PRelu) MIEN_CHECK(!act_.slopes.empty(), "add: prelu has no slopes");
  }
  const char* type() const override { return "add"; }
  int num_inputs() const override { return 2; }
  Shape output_shape(const std::vector<Shape>& inputs) const override {
    const Shape s = detail::ew_binary_shape("add", inputs);
    act_.validate(s.c);
    return s;
  }
  int64_t macs(const std::vector<Shape>& inputs) const override {
    return output_shape(inputs).size();  // one add per output value
  }
  int64_t parameters() const override {
    return act_.kind == ActKind::PRelu ? int64_t(act_.slopes.size()) : 0;
  }
  std::string describe() const override { return act_.is_none() ? "" : act_.name(); }
  const Activation& activation() const { return act_; }

  void run(const ConstTensorView* inputs, TensorView out, const RunContext& ctx) const override {
    detail::ew_binary_run<detail::EwOp::Add>("add", inputs, out, ctx, act_, kernels_);
  }

 private:
  Activation act_;
};

// y = a * b. Inputs: two tensors, one broadcasting to the other (see the rule above).
class Mul final : public Op {
 public:
  explicit Mul(Isa isa) : Op(isa) {}
  const char* type() const override { return "mul"; }
  int num_inputs() const override { return 2; }
  Shape output_shape(const std::vector<Shape>& inputs) const override {
    return detail::ew_binary_shape("mul", inputs);
  }
  int64_t macs(const std::vector<Shape>& inputs) const override {
    return output_shape(inputs).size();
  }

  void run(const ConstTensorView* inputs, TensorView out, const RunContext& ctx) const override {
    detail::ew_binary_run<detail::EwOp::Mul>("mul", inputs, out, ctx, Activation::none(), kernels_);
  }
};

// y = x * scale[c] + shift[c]. scale has C values (or 1 for all channels); shift has as many
// values as scale or is empty (no shift). Type name "batch_norm" or "mul" (by a constant).
class ChannelAffine final : public Op {
 public:
  ChannelAffine(std::vector<float> scale, std::vector<float> shift, Isa isa,
                const char* type_name = "batch_norm")
      : Op(isa),
        scale_(std::move(scale)),
        shift_(std::move(shift)),
        type_(type_name ? type_name : "batch_norm") {
    MIEN_CHECK(!scale_.empty(), type_, ": empty scale");
    MIEN_CHECK(scale_.size() < (std::size_t(1) << 24), type_, ": ", scale_.size(),
               " channels is too many");
    MIEN_CHECK(shift_.empty() || shift_.size() == scale_.size(), type_, ": ", scale_.size(),
               " scales but ", shift_.size(), " shifts");
    // Packed once: channel counts that are not a multiple of 8 get the lcm(C, 8)
    // pattern so the kernel streams whole vectors (see ew_make_pattern).
    const int s = int(scale_.size());
    if (s % 8 != 0 && s <= detail::kEwMaxPatternChannels) {
      period_ = detail::ew_pattern_period(s);
      scale_pat_.resize(std::size_t(period_));
      detail::ew_make_pattern(scale_.data(), s, scale_pat_.data());
      if (!shift_.empty()) {
        shift_pat_.resize(scale_pat_.size());
        detail::ew_make_pattern(shift_.data(), s, shift_pat_.data());
      }
    }
  }
  const char* type() const override { return type_.c_str(); }
  Shape output_shape(const std::vector<Shape>& inputs) const override {
    MIEN_CHECK(inputs.size() == 1, type_, " takes 1 input, got ", inputs.size());
    MIEN_CHECK(inputs[0].valid(), type_, ": invalid input shape ", inputs[0].str());
    MIEN_CHECK(int(scale_.size()) == inputs[0].c || scale_.size() == 1, type_, ": ", scale_.size(),
               " scale values for an input of ", inputs[0].c, " channels (", inputs[0].str(), ")");
    return inputs[0];
  }
  int64_t macs(const std::vector<Shape>& inputs) const override {
    return output_shape(inputs).size();
  }
  int64_t parameters() const override { return int64_t(scale_.size() + shift_.size()); }
  std::string describe() const override {
    return std::to_string(scale_.size()) + (shift_.empty() ? " scales" : " scales+shifts");
  }
  const std::vector<float>& scale() const { return scale_; }
  const std::vector<float>& shift() const { return shift_; }

  void run(const ConstTensorView* inputs, TensorView out, const RunContext& ctx) const override {
    const ConstTensorView& in = inputs[0];
    MIEN_CHECK(out.shape == in.shape && (int(scale_.size()) == in.shape.c || scale_.size() == 1),
               type_, ": input ", in.shape.str(), ", output ", out.shape.str(), ", ", scale_.size(),
               " scales");
    const int c = in.shape.c;
    const int threads = tuning::worth_threads(in.shape.size(), ctx.threads);
    parallel_for(in.shape.pixels(), threads, [&](int64_t begin, int64_t end) {
      run_pixels(in.data + begin * c, out.data + begin * c, end - begin, c);
    });
  }

 private:
  // Whole pixels only: every block starts at channel 0, i.e. at phase 0 of the pattern.
  void run_pixels(const float* x, float* y, int64_t pixels, int c) const {
    const int64_t n = pixels * c;
    const float* t = shift_.empty() ? nullptr : shift_.data();
    const kernels::AffineFn fn = kernels_.affine[t != nullptr];
    const int s = int(scale_.size());
    if (!scale_pat_.empty()) {  // s == 1 or s == c, not a multiple of 8, <= 64
      fn(x, scale_pat_.data(), t ? shift_pat_.data() : nullptr, period_, y, n);
    } else if (s % 8 == 0) {  // s == c: the channel vectors themselves are the pattern
      fn(x, scale_.data(), t, s, y, n);
    } else {  // long channel vector, not a multiple of 8: pixel by pixel
      for (int64_t p = 0; p < pixels; ++p) fn(x + p * c, scale_.data(), t, c, y + p * c, c);
    }
  }

  std::vector<float> scale_, shift_;
  std::vector<float> scale_pat_, shift_pat_;  // lcm(C, 8) patterns (empty when not needed)
  int period_ = 0;
  std::string type_;
};

}  // namespace mien
