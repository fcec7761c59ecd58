// Activations: as a standalone op, and as the epilogue fused into conv/dense/add.
// The naive form (activate_naive) is the reference the fast paths are tested against.
#pragma once

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <limits>
#include <string>
#include <vector>

#if defined(__x86_64__) || defined(__i386__)
#include <immintrin.h>
#endif

#include "mien/core/cpu.hpp"
#include "mien/core/error.hpp"
#include "mien/core/parallel.hpp"
#include "mien/core/tensor.hpp"
#include "mien/ops/op.hpp"

namespace mien {

enum class ActKind { None, Relu, Relu6, Clip, LeakyRelu, PRelu, Sigmoid, Tanh, Swish, HardSwish };

struct Activation {
  ActKind kind = ActKind::None;
  float alpha = 0.f;          // LeakyRelu slope
  float lo = 0.f, hi = 0.f;   // Clip bounds
  std::vector<float> slopes;  // PRelu: one slope per channel

  static Activation none() { return Activation{}; }
  static Activation of(ActKind k) {
    Activation a;
    a.kind = k;
    return a;
  }
  static Activation relu() { return of(ActKind::Relu); }
  static Activation relu6() { return of(ActKind::Relu6); }
  static Activation leaky_relu(float alpha) {
    Activation a = of(ActKind::LeakyRelu);
    a.alpha = alpha;
    return a;
  }
  static Activation clip(float lo, float hi) {
    Activation a = of(ActKind::Clip);
    a.lo = lo;
    a.hi = hi;
    return a;
  }
  static Activation prelu(std::vector<float> per_channel) {
    Activation a = of(ActKind::PRelu);
    a.slopes = std::move(per_channel);
    return a;
  }

  bool is_none() const { return kind == ActKind::None; }
  // Relu, Relu6 and Clip are a min/max clamp that kernels apply in registers.
  bool is_clamp() const {
    return kind == ActKind::None || kind == ActKind::Relu || kind == ActKind::Relu6 ||
           kind == ActKind::Clip;
  }
  float clamp_lo() const {
    switch (kind) {
      case ActKind::Relu:
      case ActKind::Relu6:
        return 0.f;
      case ActKind::Clip:
        return lo;
      default:
        return -std::numeric_limits<float>::infinity();
    }
  }
  float clamp_hi() const {
    switch (kind) {
      case ActKind::Relu6:
        return 6.f;
      case ActKind::Clip:
        return hi;
      default:
        return std::numeric_limits<float>::infinity();
    }
  }

  std::string name() const {
    switch (kind) {
      case ActKind::None:
        return "none";
      case ActKind::Relu:
        return "relu";
      case ActKind::Relu6:
        return "relu6";
      case ActKind::Clip:
        return "clip";
      case ActKind::LeakyRelu:
        return "leaky_relu";
      case ActKind::PRelu:
        return "prelu";
      case ActKind::Sigmoid:
        return "sigmoid";
      case ActKind::Tanh:
        return "tanh";
      case ActKind::Swish:
        return "swish";
      case ActKind::HardSwish:
        return "hard_swish";
    }
    return "?";
  }

  // Parses the names used in .mien files; alpha/lo/hi/slopes are set by the caller.
  static ActKind kind_from_name(const std::string& s) {
    static const char* names[] = {"none",  "relu",    "relu6", "clip",  "leaky_relu",
                                  "prelu", "sigmoid", "tanh",  "swish", "hard_swish"};
    for (int i = 0; i < 10; ++i)
      if (s == names[i]) return static_cast<ActKind>(i);
    throw_error("unknown activation '", s, "'");
  }

  // Checks the parameters against the channel count of the tensor it will be applied to.
  void validate(int channels) const {
    if (kind == ActKind::PRelu)
      MIEN_CHECK(int(slopes.size()) == channels || slopes.size() == 1, "prelu has ", slopes.size(),
                 " slopes for ", channels, " channels");
    if (kind == ActKind::Clip) MIEN_CHECK(lo <= hi, "clip bounds ", lo, " > ", hi);
  }
};

// Reference definition of every activation, used by tests as the ground truth.
inline float activate_naive(float x, const Activation& a, int channel) {
  switch (a.kind) {
    case ActKind::None:
      return x;
    case ActKind::Relu:
      return x > 0.f ? x : 0.f;
    case ActKind::Relu6:
      return std::min(std::max(x, 0.f), 6.f);
    case ActKind::Clip:
      return std::min(std::max(x, a.lo), a.hi);
    case ActKind::LeakyRelu:
      return x >= 0.f ? x : a.alpha * x;
    case ActKind::PRelu: {
      const float s = a.slopes.size() == 1 ? a.slopes[0] : a.slopes[channel];
      return x >= 0.f ? x : s * x;
    }
    case ActKind::Sigmoid:
      return 1.f / (1.f + std::exp(-x));
    case ActKind::Tanh:
      return std::tanh(x);
    case ActKind::Swish:
      return x / (1.f + std::exp(-x));
    case ActKind::HardSwish:
      return x * std::min(std::max(x + 3.f, 0.f), 6.f) / 6.f;
  }
  return x;
}

namespace detail {

// Portable path: the switch is hoisted out of the loops so that each loop is simple enough
// for the compiler to vectorise with the baseline ISA. `in` may equal `out`.
inline void activate_scalar(const float* in, float* out, int64_t pixels, int channels,
                            const Activation& a) {
  const int64_t n = pixels * channels;
  switch (a.kind) {
    case ActKind::None:
      if (in != out) std::copy(in, in + n, out);
      return;
    case ActKind::Relu:
    case ActKind::Relu6:
    case ActKind::Clip: {
      const float lo = a.clamp_lo(), hi = a.clamp_hi();
      for (int64_t i = 0; i < n; ++i) out[i] = std::min(std::max(in[i], lo), hi);
      return;
    }
    case ActKind::LeakyRelu:
    case ActKind::PRelu: {
      if (a.kind == ActKind::LeakyRelu || a.slopes.size() == 1) {
        const float s = a.kind == ActKind::LeakyRelu ? a.alpha : a.slopes[0];
        for (int64_t i = 0; i < n; ++i) out[i] = in[i] >= 0.f ? in[i] : s * in[i];
        return;
      }
      const float* s = a.slopes.data();
      for (int64_t p = 0; p < pixels; ++p) {
        const float* x = in + p * channels;
        float* y = out + p * channels;
        for (int c = 0; c < channels; ++c) y[c] = x[c] >= 0.f ? x[c] : s[c] * x[c];
      }
      return;
    }
    case ActKind::Sigmoid:
      for (int64_t i = 0; i < n; ++i) out[i] = 1.f / (1.f + std::exp(-in[i]));
      return;
    case ActKind::Tanh:
      for (int64_t i = 0; i < n; ++i) out[i] = std::tanh(in[i]);
      return;
    case ActKind::Swish:
      for (int64_t i = 0; i < n; ++i) out[i] = in[i] / (1.f + std::exp(-in[i]));
      return;
    case ActKind::HardSwish:
      for (int64_t i = 0; i < n; ++i)
        out[i] = in[i] * std::min(std::max(in[i] + 3.f, 0.f), 6.f) / 6.f;
      return;
  }
}

#if MIEN_X86
namespace avx2 {

// exp(x) after Cephes expf: x = n ln2 + r with |r| <= ln2/2 (ln2 split in two so n*C1 is
// exact), a degree-7 polynomial for e^r, then the exponent bits of 2^n. About 1 ulp.
// Inputs are clamped to [ln(FLT_MIN), ln(FLT_MAX)] so 2^n never needs a denormal or
// infinite exponent; outside that range the result saturates (only |error| < 1.2e-38 at
// the low end, FLT_MAX instead of inf at the high end: both invisible after sigmoid/tanh).
MIEN_TARGET_AVX2 inline __m256 exp_ps(__m256 x) {
  // min/max return their second operand when one is NaN: x second lets NaN through.
  x = _mm256_min_ps(_mm256_set1_ps(88.3762626647949f), x);
  x = _mm256_max_ps(_mm256_set1_ps(-87.3365447505531f), x);
  // n = round(x / ln2) by the 1.5 * 2^23 trick: the low mantissa bits of nm hold n.
  const __m256 magic = _mm256_set1_ps(12582912.f);
  const __m256 nm = _mm256_fmadd_ps(x, _mm256_set1_ps(1.44269504088896341f), magic);
  const __m256 n = _mm256_sub_ps(nm, magic);
  __m256 r = _mm256_fnmadd_ps(n, _mm256_set1_ps(0.693359375f), x);
  r = _mm256_fnmadd_ps(n, _mm256_set1_ps(-2.12194440e-4f), r);
  __m256 p = _mm256_set1_ps(1.9875691500e-4f);
  p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(1.3981999507e-3f));
  p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(8.3334519073e-3f));
  p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(4.1665795894e-2f));
  p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(1.6666665459e-1f));
  p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(5.0000001201e-1f));
  p = _mm256_fmadd_ps(p, _mm256_mul_ps(r, r), r);
  p = _mm256_add_ps(p, _mm256_set1_ps(1.f));
  // 2^n = (n + 127) << 23, with n + 127 read from the integer bits of nm (0x4B400000 + n).
  const __m256i e = _mm256_slli_epi32(
      _mm256_sub_epi32(_mm256_castps_si256(nm), _mm256_set1_epi32(0x4B400000 - 127)), 23);
  return _mm256_mul_ps(p, _mm256_castsi256_ps(e));
}

// 1 / (1 + e^-x), with a true division: rcp + Newton would cost accuracy for ~nothing here.
MIEN_TARGET_AVX2 inline __m256 sigmoid_ps(__m256 x) {
  const __m256 one = _mm256_set1_ps(1.f);
  return _mm256_div_ps(one, _mm256_add_ps(one, exp_ps(_mm256_sub_ps(_mm256_setzero_ps(), x))));
}

// tanh after Cephes tanhf: 1 - 2/(e^2|x| + 1) cancels badly near 0, so |x| < 0.625 uses an
// odd polynomial x + x^3 P(x^2) that is accurate in relative terms down to denormals.
MIEN_TARGET_AVX2 inline __m256 tanh_ps(__m256 x) {
  const __m256 sign = _mm256_set1_ps(-0.f);
  const __m256 ax = _mm256_andnot_ps(sign, x);
  const __m256 one = _mm256_set1_ps(1.f);
  // Large branch; 2|x| is capped where tanh is 1.f anyway, so e^2|x| stays finite.
  const __m256 e = exp_ps(_mm256_min_ps(_mm256_set1_ps(40.f), _mm256_add_ps(ax, ax)));
  const __m256 big = _mm256_sub_ps(one, _mm256_div_ps(_mm256_set1_ps(2.f), _mm256_add_ps(e, one)));
  // Small branch.
  const __m256 z = _mm256_mul_ps(x, x);
  __m256 p = _mm256_set1_ps(-5.70498872745e-3f);
  p = _mm256_fmadd_ps(p, z, _mm256_set1_ps(2.06390887954e-2f));
  p = _mm256_fmadd_ps(p, z, _mm256_set1_ps(-5.37397155531e-2f));
  p = _mm256_fmadd_ps(p, z, _mm256_set1_ps(1.33314422036e-1f));
  p = _mm256_fmadd_ps(p, z, _mm256_set1_ps(-3.33332819422e-1f));
  const __m256 small = _mm256_fmadd_ps(_mm256_mul_ps(p, z), x, x);
  const __m256 is_small = _mm256_cmp_ps(ax, _mm256_set1_ps(0.625f), _CMP_LT_OQ);
  const __m256 big_signed = _mm256_or_ps(big, _mm256_and_ps(sign, x));
  return _mm256_blendv_ps(big_signed, small, is_small);
}

struct ClampF {
  __m256 lo, hi;
  // max(x, lo) turns NaN into lo, as the naive relu does.
  MIEN_TARGET_AVX2 __m256 operator()(__m256 x) const {
    return _mm256_min_ps(_mm256_max_ps(x, lo), hi);
  }
};
struct LeakyF {
  __m256 slope;
  MIEN_TARGET_AVX2 __m256 operator()(__m256 x) const {
    const __m256 pos = _mm256_cmp_ps(x, _mm256_setzero_ps(), _CMP_GE_OQ);
    return _mm256_blendv_ps(_mm256_mul_ps(x, slope), x, pos);
  }
};
struct SigmoidF {
  MIEN_TARGET_AVX2 __m256 operator()(__m256 x) const { return sigmoid_ps(x); }
};
struct TanhF {
  MIEN_TARGET_AVX2 __m256 operator()(__m256 x) const { return tanh_ps(x); }
};
struct SwishF {
  MIEN_TARGET_AVX2 __m256 operator()(__m256 x) const {
    const __m256 one = _mm256_set1_ps(1.f);
    return _mm256_div_ps(x, _mm256_add_ps(one, exp_ps(_mm256_sub_ps(_mm256_setzero_ps(), x))));
  }
};
struct HardSwishF {
  MIEN_TARGET_AVX2 __m256 operator()(__m256 x) const {
    const __m256 r =
        _mm256_min_ps(_mm256_max_ps(_mm256_add_ps(x, _mm256_set1_ps(3.f)), _mm256_setzero_ps()),
                      _mm256_set1_ps(6.f));
    return _mm256_mul_ps(_mm256_mul_ps(x, r), _mm256_set1_ps(1.f / 6.f));
  }
};

// out[i] = f(in[i]) over a flat array. Two vectors per iteration give the out-of-order core
// two independent exp chains; the tail goes through a stack buffer (no masked stores, no
// reads past the end). `in` may equal `out`.
template <typename F>
MIEN_TARGET_AVX2 inline void map_ps(const float* in, float* out, int64_t n, const F& f) {
  int64_t i = 0;
  for (; i + 16 <= n; i += 16) {
    const __m256 a = f(_mm256_loadu_ps(in + i));
    const __m256 b = f(_mm256_loadu_ps(in + i + 8));
    _mm256_storeu_ps(out + i, a);
    _mm256_storeu_ps(out + i + 8, b);
  }
  for (; i + 8 <= n; i += 8) _mm256_storeu_ps(out + i, f(_mm256_loadu_ps(in + i)));
  if (i < n) {
    alignas(32) float buf[8] = {0, 0, 0, 0, 0, 0, 0, 0};
    const int rest = int(n - i);
    for (int k = 0; k < rest; ++k) buf[k] = in[i + k];
    _mm256_store_ps(buf, f(_mm256_load_ps(buf)));
    for (int k = 0; k < rest; ++k) out[i + k] = buf[k];
  }
}

MIEN_TARGET_AVX2 inline void prelu_ps(const float* in, float* out, int64_t pixels, int channels,
                                      const float* slopes) {
  const int c8 = channels & ~7;
  for (int64_t p = 0; p < pixels; ++p) {
    const float* x = in + p * channels;
    float* y = out + p * channels;
    int c = 0;
    for (; c < c8; c += 8) {
      const LeakyF f{_mm256_loadu_ps(slopes + c)};
      _mm256_storeu_ps(y + c, f(_mm256_loadu_ps(x + c)));
    }
    for (; c < channels; ++c) y[c] = x[c] >= 0.f ? x[c] : slopes[c] * x[c];
  }
}

MIEN_TARGET_AVX2 inline void activate_avx2(const float* in, float* out, int64_t pixels,
                                           int channels, const Activation& a) {
  const int64_t n = pixels * channels;
  switch (a.kind) {
    case ActKind::None:
      if (in != out) std::copy(in, in + n, out);
      break;
    case ActKind::Relu:
    case ActKind::Relu6:
    case ActKind::Clip:
      map_ps(in, out, n, ClampF{_mm256_set1_ps(a.clamp_lo()), _mm256_set1_ps(a.clamp_hi())});
      break;
    case ActKind::LeakyRelu:
      map_ps(in, out, n, LeakyF{_mm256_set1_ps(a.alpha)});
      break;
    case ActKind::PRelu:
      if (a.slopes.size() == 1)
        map_ps(in, out, n, LeakyF{_mm256_set1_ps(a.slopes[0])});
      else
        prelu_ps(in, out, pixels, channels, a.slopes.data());
      break;
    case ActKind::Sigmoid:
      map_ps(in, out, n, SigmoidF{});
      break;
    case ActKind::Tanh:
      map_ps(in, out, n, TanhF{});
      break;
    case ActKind::Swish:
      map_ps(in, out, n, SwishF{});
      break;
    case ActKind::HardSwish:
      map_ps(in, out, n, HardSwishF{});
      break;
  }
  // Clean upper YMM halves for the SSE code that may run next (GCC omits vzeroupper after
  // calls that pass __m256 arguments; dirty state slows later SSE code ~2.5x).
  _mm256_zeroupper();
}

}  // namespace avx2
#endif  // MIEN_X86

}  // namespace detail

// out = activation(in) over pixels x channels values (NHWC rows); `in` may equal `out`.
// Runs on the calling thread (callers parallelise over rows). Allocates nothing.
inline void activate(const float* in, float* out, int64_t pixels, int channels, const Activation& a,
                     Isa isa) {
  if (a.kind == ActKind::PRelu)
    MIEN_CHECK(int(a.slopes.size()) == channels || a.slopes.size() == 1, "prelu has ",
               a.slopes.size(), " slopes for ", channels, " channels");
#if MIEN_X86
  if (isa_has_avx2(isa)) return detail::avx2::activate_avx2(in, out, pixels, channels, a);
#endif
  (void)isa;
  detail::activate_scalar(in, out, pixels, channels, a);
}

// Applies the activation in place to pixels x channels values (NHWC rows).
inline void apply_activation(float* data, int64_t pixels, int channels, const Activation& a,
                             Isa isa) {
  activate(data, data, pixels, channels, a, isa);
}

// The standalone activation op (when it could not be fused into its producer).
class ActivationOp final : public Op {
 public:
  ActivationOp(Activation a, Isa isa) : Op(isa), act_(std::move(a)) {
    if (act_.kind == ActKind::Clip) act_.validate(1);
    if (act_.kind == ActKind::PRelu) MIEN_CHECK(!act_.slopes.empty(), "prelu has no slopes");
  }
  const char* type() const override { return "activation"; }
  Shape output_shape(const std::vector<Shape>& inputs) const override {
    MIEN_CHECK(inputs.size() == 1, "activation takes 1 input, got ", inputs.size());
    MIEN_CHECK(inputs[0].valid(), "activation: invalid input shape ", inputs[0].str());
    act_.validate(inputs[0].c);
    return inputs[0];
  }
  int64_t parameters() const override {
    return act_.kind == ActKind::PRelu ? int64_t(act_.slopes.size()) : 0;
  }
  std::string describe() const override { return act_.name(); }
  const Activation& activation() const { return act_; }

  void run(const ConstTensorView* inputs, TensorView out, const RunContext& ctx) const override {
    const ConstTensorView& in = inputs[0];
    MIEN_CHECK(out.shape == in.shape, "activation: output ", out.shape.str(), " != input ",
               in.shape.str());
    const int c = in.shape.c;
    // Waking a second thread costs a few microseconds: only worth it for large tensors.
    const int threads = in.shape.size() >= (int64_t(1) << 15) ? ctx.threads : 1;
    parallel_for(in.shape.pixels(), threads, [&](int64_t begin, int64_t end) {
      activate(in.data + begin * c, out.data + begin * c, end - begin, c, act_, isa_);
    });
  }

 private:
  Activation act_;
};

}  // namespace mien
