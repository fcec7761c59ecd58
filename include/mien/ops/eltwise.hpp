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

#if defined(__x86_64__) || defined(__i386__)
#include <immintrin.h>
#endif

#include "mien/core/cpu.hpp"
#include "mien/core/error.hpp"
#include "mien/core/parallel.hpp"
#include "mien/core/tensor.hpp"
#include "mien/ops/activation.hpp"
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

enum class EwOp { Add, Mul };

// Non-clamp activations are applied per block of about this many floats (16 KB, L1-resident)
// right after the block is computed, instead of in a second pass over the whole tensor.
constexpr int64_t kEwBlockFloats = 4096;
// Tensors smaller than this run on one thread: waking a second costs more than it saves.
constexpr int64_t kEwParallelFloats = int64_t(1) << 16;
// Channel vectors up to this length (not a multiple of 8) are expanded to a pattern of
// lcm(C, 8) values so the AVX2 loop runs over whole vectors; longer ones go pixel by pixel.
constexpr int kEwMaxPatternChannels = 64;
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

// out[i] = a[i] op p[i % period], i in [0, n), then the clamp when kClamp.
// One period per outer step keeps the inner loop free of the modulo, so the compiler can
// vectorise it with the baseline ISA (at -O3).
template <EwOp kOp, bool kClamp>
inline void ew_periodic_scalar(const float* a, const float* p, int64_t period, float* out,
                               int64_t n, float lo, float hi) {
  for (int64_t i = 0; i < n; i += period) {
    const int64_t m = std::min(period, n - i);
    const float* x = a + i;
    const float* q = p;
    float* y = out + i;
    for (int64_t k = 0; k < m; ++k) {
      float v;
      if constexpr (kOp == EwOp::Add)
        v = x[k] + q[k];
      else
        v = x[k] * q[k];
      if constexpr (kClamp) v = std::min(std::max(v, lo), hi);
      y[k] = v;
    }
  }
}

inline void affine_periodic_scalar(const float* x, const float* s, const float* t, int64_t period,
                                   float* out, int64_t n) {
  for (int64_t i = 0; i < n; i += period) {
    const float* xi = x + i;
    float* yi = out + i;
    if (t)
      for (int64_t k = 0; k < period; ++k) yi[k] = xi[k] * s[k] + t[k];
    else
      for (int64_t k = 0; k < period; ++k) yi[k] = xi[k] * s[k];
  }
}

#if MIEN_X86
namespace avx2 {

// Lanes [0, rest) set: masked loads never touch memory past the end, masked stores never
// write it.
MIEN_TARGET_AVX2 inline __m256i ew_mask(int64_t rest) {
  return _mm256_cmpgt_epi32(_mm256_set1_epi32(int(rest)),
                            _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7));
}

template <EwOp kOp>
MIEN_TARGET_AVX2 inline __m256 ew_apply(__m256 a, __m256 b) {
  if constexpr (kOp == EwOp::Add)
    return _mm256_add_ps(a, b);
  else
    return _mm256_mul_ps(a, b);
}

// out[i] = a[i] op p[i % period]. Needs period % 8 == 0 (a channel vector of a multiple of 8
// or a pattern from ew_make_pattern), so vectors never straddle the wrap, or n <= period (a
// flat stream: no wrap at all).
template <EwOp kOp, bool kClamp>
MIEN_TARGET_AVX2 inline void ew_periodic(const float* a, const float* p, int64_t period, float* out,
                                         int64_t n, float lo, float hi) {
  const __m256 vlo = _mm256_set1_ps(lo), vhi = _mm256_set1_ps(hi);
  int64_t i = 0, j = 0;
  for (; i + 8 <= n; i += 8) {
    __m256 v = ew_apply<kOp>(_mm256_loadu_ps(a + i), _mm256_loadu_ps(p + j));
    if constexpr (kClamp) v = _mm256_min_ps(_mm256_max_ps(v, vlo), vhi);
    _mm256_storeu_ps(out + i, v);
    j += 8;
    if (j == period) j = 0;
  }
  if (i < n) {
    const __m256i m = ew_mask(n - i);
    __m256 v = ew_apply<kOp>(_mm256_maskload_ps(a + i, m), _mm256_maskload_ps(p + j, m));
    if constexpr (kClamp) v = _mm256_min_ps(_mm256_max_ps(v, vlo), vhi);
    _mm256_maskstore_ps(out + i, m, v);
  }
}

// out[i] = x[i] * s[k] + t[k], k = i % period, same period rule as ew_periodic.
template <bool kShift>
MIEN_TARGET_AVX2 inline void affine_periodic(const float* x, const float* s, const float* t,
                                             int64_t period, float* out, int64_t n) {
  int64_t i = 0, j = 0;
  for (; i + 8 <= n; i += 8) {
    const __m256 v = _mm256_loadu_ps(x + i), sv = _mm256_loadu_ps(s + j);
    if constexpr (kShift)
      _mm256_storeu_ps(out + i, _mm256_fmadd_ps(v, sv, _mm256_loadu_ps(t + j)));
    else
      _mm256_storeu_ps(out + i, _mm256_mul_ps(v, sv));
    j += 8;
    if (j == period) j = 0;
  }
  if (i < n) {
    const __m256i m = ew_mask(n - i);
    const __m256 v = _mm256_maskload_ps(x + i, m), sv = _mm256_maskload_ps(s + j, m);
    if constexpr (kShift)
      _mm256_maskstore_ps(out + i, m, _mm256_fmadd_ps(v, sv, _mm256_maskload_ps(t + j, m)));
    else
      _mm256_maskstore_ps(out + i, m, _mm256_mul_ps(v, sv));
  }
}

}  // namespace avx2
#endif  // MIEN_X86

template <EwOp kOp>
inline void ew_periodic_any(Isa isa, bool clamp, const float* a, const float* p, int64_t period,
                            float* out, int64_t n, float lo, float hi) {
#if MIEN_X86
  if (isa_has_avx2(isa)) {
    if (clamp)
      avx2::ew_periodic<kOp, true>(a, p, period, out, n, lo, hi);
    else
      avx2::ew_periodic<kOp, false>(a, p, period, out, n, lo, hi);
    return;
  }
#endif
  (void)isa;
  if (clamp)
    ew_periodic_scalar<kOp, true>(a, p, period, out, n, lo, hi);
  else
    ew_periodic_scalar<kOp, false>(a, p, period, out, n, lo, hi);
}

// out = a op vec over `pixels` whole pixels of c channels (vec broadcast to every pixel).
template <EwOp kOp>
inline void ew_channels(Isa isa, bool clamp, const float* a, const float* vec, int c, float* out,
                        int64_t pixels, float lo, float hi) {
  const int64_t n = pixels * c;
  if (isa_has_avx2(isa) && c % 8 != 0) {
    if (c <= kEwMaxPatternChannels) {
      alignas(32) float pat[kEwMaxPattern];
      const int period = ew_make_pattern(vec, c, pat);
      ew_periodic_any<kOp>(isa, clamp, a, pat, period, out, n, lo, hi);
    } else {
      for (int64_t p = 0; p < pixels; ++p)
        ew_periodic_any<kOp>(isa, clamp, a + p * c, vec, c, out + p * c, c, lo, hi);
    }
    return;
  }
  ew_periodic_any<kOp>(isa, clamp, a, vec, c, out, n, lo, hi);
}

// Computes output pixels [p0, p1) of out = act(a op b), where a has out's shape and b
// broadcasts to it. Ranges may cross image boundaries (the caller splits over all pixels).
template <EwOp kOp>
inline void ew_binary_range(const ConstTensorView& a, const ConstTensorView& b, TensorView out,
                            int64_t p0, int64_t p1, const Activation& act, Isa isa) {
  const Shape& s = out.shape;
  const int c = s.c;
  const int64_t hw = int64_t(s.h) * s.w;
  const bool b_full = b.shape.h == s.h && b.shape.w == s.w;
  const bool clamp = act.is_clamp() && !act.is_none();
  const bool post = !act.is_clamp();
  const float lo = act.clamp_lo(), hi = act.clamp_hi();
  const int64_t block = std::max<int64_t>(1, kEwBlockFloats / c);
  for (int64_t p = p0; p < p1;) {
    const int64_t img = p / hw;
    const int64_t seg_end = std::min(p1, (img + 1) * hw);
    const float* bimg = b.data + (b.shape.n == 1 ? 0 : img * (b_full ? hw * c : c));
    for (int64_t q = p; q < seg_end; q += block) {
      const int64_t m = std::min(block, seg_end - q);
      float* o = out.data + q * c;
      if (b_full)  // same spatial size: a flat stream, "period" = whole block (no wrap)
        ew_periodic_any<kOp>(isa, clamp, a.data + q * c, bimg + (q - img * hw) * c, m * c, o, m * c,
                             lo, hi);
      else
        ew_channels<kOp>(isa, clamp, a.data + q * c, bimg, c, o, m, lo, hi);
      if (post) apply_activation(o, m, c, act, isa);
    }
    p = seg_end;
  }
}

template <EwOp kOp>
inline void ew_binary_run(const char* op, const ConstTensorView* inputs, TensorView out,
                          const RunContext& ctx, const Activation& act, Isa isa) {
  ConstTensorView a = inputs[0], b = inputs[1];
  if (a.shape != out.shape) std::swap(a, b);
  MIEN_CHECK(a.shape == out.shape && ew_broadcasts(b.shape, a.shape), op, ": inputs ",
             inputs[0].shape.str(), ", ", inputs[1].shape.str(), " do not give output ",
             out.shape.str());
  const int threads = out.shape.size() >= kEwParallelFloats ? ctx.threads : 1;
  parallel_for(out.shape.pixels(), threads, [&](int64_t begin, int64_t end) {
    ew_binary_range<kOp>(a, b, out, begin, end, act, isa);
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
    detail::ew_binary_run<detail::EwOp::Add>("add", inputs, out, ctx, act_, isa_);
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
    detail::ew_binary_run<detail::EwOp::Mul>("mul", inputs, out, ctx, Activation::none(), isa_);
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
    // Packed once for AVX2: channel counts that are not a multiple of 8 get the lcm(C, 8)
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
    const int threads = in.shape.size() >= detail::kEwParallelFloats ? ctx.threads : 1;
    parallel_for(in.shape.pixels(), threads, [&](int64_t begin, int64_t end) {
      run_pixels(in.data + begin * c, out.data + begin * c, end - begin, c);
    });
  }

 private:
  // Whole pixels only: every block starts at channel 0, i.e. at phase 0 of the pattern.
  void run_pixels(const float* x, float* y, int64_t pixels, int c) const {
    const int64_t n = pixels * c;
    const float* t = shift_.empty() ? nullptr : shift_.data();
#if MIEN_X86
    if (isa_has_avx2(isa_)) {
      const int s = int(scale_.size());
      if (!scale_pat_.empty()) {  // s == 1 or s == c, not a multiple of 8, <= 64
        const float* tp = t ? shift_pat_.data() : nullptr;
        if (tp)
          detail::avx2::affine_periodic<true>(x, scale_pat_.data(), tp, period_, y, n);
        else
          detail::avx2::affine_periodic<false>(x, scale_pat_.data(), nullptr, period_, y, n);
      } else if (s % 8 == 0) {  // s == c: the channel vectors themselves are the pattern
        if (t)
          detail::avx2::affine_periodic<true>(x, scale_.data(), t, s, y, n);
        else
          detail::avx2::affine_periodic<false>(x, scale_.data(), nullptr, s, y, n);
      } else {  // long channel vector, not a multiple of 8: pixel by pixel
        for (int64_t p = 0; p < pixels; ++p) {
          if (t)
            detail::avx2::affine_periodic<true>(x + p * c, scale_.data(), t, c, y + p * c, c);
          else
            detail::avx2::affine_periodic<false>(x + p * c, scale_.data(), nullptr, c, y + p * c,
                                                 c);
        }
      }
      return;
    }
#endif
    if (scale_.size() == 1) {
      const float s0 = scale_[0], t0 = t ? t[0] : 0.f;
      for (int64_t i = 0; i < n; ++i) y[i] = x[i] * s0 + t0;
      return;
    }
    detail::affine_periodic_scalar(x, scale_.data(), t, c, y, n);
  }

  std::vector<float> scale_, shift_;
  std::vector<float> scale_pat_, shift_pat_;  // AVX2 patterns (empty when not needed)
  int period_ = 0;
  std::string type_;
};

}  // namespace mien
