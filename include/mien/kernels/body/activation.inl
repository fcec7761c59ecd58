// Activation kernels and the exp/sigmoid/tanh approximations, written once over V (included
// per ISA by kernels/kernels.hpp; no include guard on purpose).

// exp(x) after Cephes expf: x = n ln2 + r with |r| <= ln2/2 (ln2 split in two so n*C1 is
// exact), a degree-7 polynomial for e^r, then the exponent bits of 2^n. About 1 ulp.
// Inputs are clamped to [ln(FLT_MIN), ln(FLT_MAX)] so 2^n never needs a denormal or
// infinite exponent; outside that range the result saturates (only |error| < 1.2e-38 at
// the low end, FLT_MAX instead of inf at the high end: both invisible after sigmoid/tanh).
inline V::T exp_v(V::T x) {
  // min/max return their second operand when one is NaN: x second lets NaN through.
  x = V::min(V::set1(88.3762626647949f), x);
  x = V::max(V::set1(-87.3365447505531f), x);
  // n = round(x / ln2) by the 1.5 * 2^23 trick: the low mantissa bits of nm hold n.
  const V::T magic = V::set1(12582912.f);
  const V::T nm = V::fmadd(x, V::set1(1.44269504088896341f), magic);
  const V::T n = V::sub(nm, magic);
  V::T r = V::fnmadd(n, V::set1(0.693359375f), x);
  r = V::fnmadd(n, V::set1(-2.12194440e-4f), r);
  V::T p = V::set1(1.9875691500e-4f);
  p = V::fmadd(p, r, V::set1(1.3981999507e-3f));
  p = V::fmadd(p, r, V::set1(8.3334519073e-3f));
  p = V::fmadd(p, r, V::set1(4.1665795894e-2f));
  p = V::fmadd(p, r, V::set1(1.6666665459e-1f));
  p = V::fmadd(p, r, V::set1(5.0000001201e-1f));
  p = V::fmadd(p, V::mul(r, r), r);
  p = V::add(p, V::set1(1.f));
  return V::mul(p, V::pow2n(nm));
}

// 1 / (1 + e^-x), with a true division: rcp + Newton would cost accuracy for ~nothing here.
inline V::T sigmoid_v(V::T x) {
  const V::T one = V::set1(1.f);
  return V::div(one, V::add(one, exp_v(V::sub(V::zero(), x))));
}

// tanh after Cephes tanhf: 1 - 2/(e^2|x| + 1) cancels badly near 0, so |x| < 0.625 uses an
// odd polynomial x + x^3 P(x^2) that is accurate in relative terms down to denormals.
inline V::T tanh_v(V::T x) {
  const V::T ax = V::abs(x);
  const V::T one = V::set1(1.f);
  // Large branch; 2|x| is capped where tanh is 1.f anyway, so e^2|x| stays finite.
  const V::T e = exp_v(V::min(V::set1(40.f), V::add(ax, ax)));
  const V::T big = V::sub(one, V::div(V::set1(2.f), V::add(e, one)));
  // Small branch.
  const V::T z = V::mul(x, x);
  V::T p = V::set1(-5.70498872745e-3f);
  p = V::fmadd(p, z, V::set1(2.06390887954e-2f));
  p = V::fmadd(p, z, V::set1(-5.37397155531e-2f));
  p = V::fmadd(p, z, V::set1(1.33314422036e-1f));
  p = V::fmadd(p, z, V::set1(-3.33332819422e-1f));
  const V::T small = V::fmadd(V::mul(p, z), x, x);
  return V::select(V::lt(ax, V::set1(0.625f)), small, V::or_sign(big, x));
}

struct ClampF {
  V::T lo, hi;
  // max(x, lo) turns NaN into lo, as the naive relu does.
  V::T operator()(V::T x) const { return V::min(V::max(x, lo), hi); }
};
struct LeakyF {
  V::T slope;
  V::T operator()(V::T x) const { return V::select(V::ge(x, V::zero()), x, V::mul(x, slope)); }
};
struct SigmoidF {
  V::T operator()(V::T x) const { return sigmoid_v(x); }
};
struct TanhF {
  V::T operator()(V::T x) const { return tanh_v(x); }
};
struct SwishF {
  V::T operator()(V::T x) const {
    return V::div(x, V::add(V::set1(1.f), exp_v(V::sub(V::zero(), x))));
  }
};
struct HardSwishF {
  V::T operator()(V::T x) const {
    const V::T r = V::min(V::max(V::add(x, V::set1(3.f)), V::zero()), V::set1(6.f));
    return V::mul(V::mul(x, r), V::set1(1.f / 6.f));
  }
};

// out[i] = f(in[i]) over a flat array. Two vectors per iteration give the out-of-order core
// two independent exp chains; the tail goes through a stack buffer (no masked stores, no
// reads past the end). `in` may equal `out`.
template <typename F>
inline void map_v(const float* in, float* out, int64_t n, const F& f) {
  constexpr int W = V::kLanes;
  int64_t i = 0;
  for (; i + 2 * W <= n; i += 2 * W) {
    const V::T a = f(V::loadu(in + i));
    const V::T b = f(V::loadu(in + i + W));
    V::storeu(out + i, a);
    V::storeu(out + i + W, b);
  }
  for (; i + W <= n; i += W) V::storeu(out + i, f(V::loadu(in + i)));
  if (i < n) {
    alignas(64) float buf[W] = {};
    const int rest = int(n - i);
    for (int k = 0; k < rest; ++k) buf[k] = in[i + k];
    V::storeu(buf, f(V::load(buf)));
    for (int k = 0; k < rest; ++k) out[i + k] = buf[k];
  }
}

// PRelu with one slope per channel: whole vectors of channels, then the rest one by one.
inline void prelu_v(const float* in, float* out, int64_t pixels, int channels,
                    const float* slopes) {
  constexpr int W = V::kLanes;
  const int cw = channels / W * W;
  for (int64_t p = 0; p < pixels; ++p) {
    const float* x = in + p * channels;
    float* y = out + p * channels;
    int c = 0;
    for (; c < cw; c += W) {
      const LeakyF f{V::loadu(slopes + c)};
      V::storeu(y + c, f(V::loadu(x + c)));
    }
    for (; c < channels; ++c) y[c] = x[c] >= 0.f ? x[c] : slopes[c] * x[c];
  }
}

inline void activate(const float* in, float* out, int64_t pixels, int channels,
                     const Activation& a) {
  const int64_t n = pixels * channels;
  switch (a.kind) {
    case ActKind::None:
      if (in != out)
        for (int64_t i = 0; i < n; ++i) out[i] = in[i];
      break;
    case ActKind::Relu:
    case ActKind::Relu6:
    case ActKind::Clip:
      map_v(in, out, n, ClampF{V::set1(a.clamp_lo()), V::set1(a.clamp_hi())});
      break;
    case ActKind::LeakyRelu:
      map_v(in, out, n, LeakyF{V::set1(a.alpha)});
      break;
    case ActKind::PRelu:
      if (a.slopes.size() == 1)
        map_v(in, out, n, LeakyF{V::set1(a.slopes[0])});
      else
        prelu_v(in, out, pixels, channels, a.slopes.data());
      break;
    case ActKind::Sigmoid:
      map_v(in, out, n, SigmoidF{});
      break;
    case ActKind::Tanh:
      map_v(in, out, n, TanhF{});
      break;
    case ActKind::Swish:
      map_v(in, out, n, SwishF{});
      break;
    case ActKind::HardSwish:
      map_v(in, out, n, HardSwishF{});
      break;
  }
  V::cleanup();
}
