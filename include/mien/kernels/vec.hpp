// The vector traits every kernel is written over: one struct `V` per instruction set, in its
// own namespace (mien::kernels::scalar, ::avx2, ::avx512), with the same static members.
// A kernel body (kernels/body/*.inl) names only `V`, and kernels/kernels.hpp includes it
// once per namespace, so each ISA gets its own compiled copy from one source.
//
// Code in the avx2 / avx512 namespaces is compiled with the target enabled by a pragma
// region (MIEN_KERNELS_BEGIN_TARGET ... MIEN_KERNELS_END_TARGET), not by command-line
// flags, so a binary built without -mavx2 still carries those kernels; they run only when
// cpuid says so (core/cpu.hpp). Every function defined in the region, the kernel templates
// included, gets the target, so the intrinsics inline into them.
//
// The members, for T = one vector of kLanes floats:
//   zero set1 load (aligned) loadu storeu              plain access
//   mask(n) load_mask store_mask                       first n lanes, mask made once
//   load_part(p, n) store_part(p, v, n)                first n < kLanes lanes, no mask kept
//   add sub mul div fmadd(a,b,c)=a*b+c fnmadd=c-a*b    arithmetic (scalar: not fused)
//   min max                                            x86 minps/maxps: the SECOND operand
//                                                      is returned when either is NaN
//   ge lt select(c, t, f) keep(c, v) mask_cmp(m)       comparisons and blends
//   abs or_sign(mag, x) pow2n(nm)                      bit tricks for exp/tanh
//   hsum hmax                                          horizontal reductions
//   hold(v)                                            keep v in a register (no refolding)
//   cleanup()                                          vzeroupper at the end of entry points
#pragma once

#include <cstdint>
#include <cstring>

#include "mien/core/cpu.hpp"

#if MIEN_X86
#include <immintrin.h>
#endif

#if defined(__clang__)
#define MIEN_KERNELS_PRAGMA(x) _Pragma(#x)
#define MIEN_KERNELS_BEGIN_TARGET(t) \
  MIEN_KERNELS_PRAGMA(clang attribute push(__attribute__((target(t))), apply_to = function))
#define MIEN_KERNELS_END_TARGET _Pragma("clang attribute pop")
#elif defined(__GNUC__)
#define MIEN_KERNELS_PRAGMA(x) _Pragma(#x)
#define MIEN_KERNELS_BEGIN_TARGET(t) _Pragma("GCC push_options") MIEN_KERNELS_PRAGMA(GCC target(t))
#define MIEN_KERNELS_END_TARGET _Pragma("GCC pop_options")
#else
#error "mien's kernels need GCC or clang (target pragmas)"
#endif

#define MIEN_KERNELS_AVX2 "avx2,fma"
// F (the 512-bit FMA and masks) plus BW/DQ/VL for the 256-bit masked forms: every AVX-512
// CPU since Skylake-X has all four (core/cpu.hpp checks them together).
#define MIEN_KERNELS_AVX512 "avx512f,avx512bw,avx512dq,avx512vl,avx2,fma"

namespace mien {
namespace kernels {

// ---------------------------------------------------------------- portable
namespace scalar {

// Eight lanes in plain arrays: the loops map onto the baseline ISA's vectors (two SSE
// registers on x86-64) wherever the compiler vectorises, and on any other CPU they are
// plain C++. Eight lanes keep the packed layouts of the AVX2 kernels (blocks of 8 channels,
// 16-column GEMM panels).
struct V {
  static constexpr int kLanes = 8;
  struct T {
    float v[kLanes];
  };
  struct Cmp {
    bool b[kLanes];
  };
  using Mask = int;  // the first n lanes

  static T zero() { return set1(0.f); }
  static T set1(float x) {
    T r;
    for (int l = 0; l < kLanes; ++l) r.v[l] = x;
    return r;
  }
  static T load(const float* p) { return loadu(p); }
  static T loadu(const float* p) {
    T r;
    std::memcpy(r.v, p, sizeof r.v);
    return r;
  }
  static void storeu(float* p, const T& v) { std::memcpy(p, v.v, sizeof v.v); }
  static Mask mask(int n) { return n; }
  static T load_mask(const float* p, Mask n) { return load_part(p, n); }
  static void store_mask(float* p, Mask n, const T& v) { store_part(p, v, n); }
  static T load_part(const float* p, int n) {
    T r = zero();
    for (int l = 0; l < n && l < kLanes; ++l) r.v[l] = p[l];
    return r;
  }
  static void store_part(float* p, const T& v, int n) {
    for (int l = 0; l < n && l < kLanes; ++l) p[l] = v.v[l];
  }

#define MIEN_SCALAR_V_BINARY(name, expr)  \
  static T name(const T& a, const T& b) { \
    T r;                                  \
    for (int l = 0; l < kLanes; ++l) {    \
      const float x = a.v[l], y = b.v[l]; \
      r.v[l] = (expr);                    \
    }                                     \
    return r;                             \
  }
  MIEN_SCALAR_V_BINARY(add, x + y)
  MIEN_SCALAR_V_BINARY(sub, x - y)
  MIEN_SCALAR_V_BINARY(mul, x* y)
  MIEN_SCALAR_V_BINARY(div, x / y)
  MIEN_SCALAR_V_BINARY(min, x < y ? x : y)
  MIEN_SCALAR_V_BINARY(max, x > y ? x : y)
#undef MIEN_SCALAR_V_BINARY
  static T fmadd(const T& a, const T& b, const T& c) {
    T r;
    for (int l = 0; l < kLanes; ++l) r.v[l] = a.v[l] * b.v[l] + c.v[l];
    return r;
  }
  static T fnmadd(const T& a, const T& b, const T& c) {
    T r;
    for (int l = 0; l < kLanes; ++l) r.v[l] = c.v[l] - a.v[l] * b.v[l];
    return r;
  }
  static Cmp ge(const T& a, const T& b) {
    Cmp r;
    for (int l = 0; l < kLanes; ++l) r.b[l] = a.v[l] >= b.v[l];
    return r;
  }
  static Cmp lt(const T& a, const T& b) {
    Cmp r;
    for (int l = 0; l < kLanes; ++l) r.b[l] = a.v[l] < b.v[l];
    return r;
  }
  static Cmp mask_cmp(Mask n) {
    Cmp r;
    for (int l = 0; l < kLanes; ++l) r.b[l] = l < n;
    return r;
  }
  static T select(const Cmp& c, const T& t, const T& f) {
    T r;
    for (int l = 0; l < kLanes; ++l) r.v[l] = c.b[l] ? t.v[l] : f.v[l];
    return r;
  }
  static T keep(const Cmp& c, const T& v) {
    return select(c, v, zero());
  }
  static T abs(const T& a) {
    T r;
    for (int l = 0; l < kLanes; ++l) r.v[l] = bits(bits_of(a.v[l]) & 0x7FFFFFFFu);
    return r;
  }
  static T or_sign(const T& mag, const T& x) {
    T r;
    for (int l = 0; l < kLanes; ++l)
      r.v[l] = bits(bits_of(mag.v[l]) | (bits_of(x.v[l]) & 0x80000000u));
    return r;
  }
  // 2^n from nm = n + 1.5 * 2^23 (n in the low mantissa bits): exponent bits (n + 127) << 23.
  static T pow2n(const T& nm) {
    T r;
    for (int l = 0; l < kLanes; ++l)
      r.v[l] = bits((bits_of(nm.v[l]) - uint32_t(0x4B400000 - 127)) << 23);
    return r;
  }
  static float hsum(const T& v) {
    // The AVX2 order: halves, then pairs, then the last two.
    float s[4];
    for (int l = 0; l < 4; ++l) s[l] = v.v[l] + v.v[l + 4];
    const float a = s[0] + s[2], b = s[1] + s[3];
    return a + b;
  }
  static float hmax(const T& v) {
    float m = v.v[0];
    for (int l = 1; l < kLanes; ++l) m = v.v[l] > m ? v.v[l] : m;
    return m;
  }
  static void hold(T&) {}
  static void cleanup() {}

 private:
  static uint32_t bits_of(float x) {
    uint32_t u;
    std::memcpy(&u, &x, 4);
    return u;
  }
  static float bits(uint32_t u) {
    float x;
    std::memcpy(&x, &u, 4);
    return x;
  }
};

}  // namespace scalar

#if MIEN_X86
// ---------------------------------------------------------------- AVX2 + FMA
MIEN_KERNELS_BEGIN_TARGET(MIEN_KERNELS_AVX2)
namespace avx2 {

struct V {
  static constexpr int kLanes = 8;
  using T = __m256;
  using Cmp = __m256;
  using Mask = __m256i;

  static T zero() { return _mm256_setzero_ps(); }
  static T set1(float x) { return _mm256_set1_ps(x); }
  static T load(const float* p) { return _mm256_load_ps(p); }
  static T loadu(const float* p) { return _mm256_loadu_ps(p); }
  static void storeu(float* p, T v) { _mm256_storeu_ps(p, v); }
  // Lanes [0, n) set: masked loads never touch memory past the end, masked stores never
  // write it.
  static Mask mask(int n) {
    return _mm256_cmpgt_epi32(_mm256_set1_epi32(n), _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7));
  }
  static T load_mask(const float* p, Mask m) { return _mm256_maskload_ps(p, m); }
  static void store_mask(float* p, Mask m, T v) { _mm256_maskstore_ps(p, m, v); }
  static T load_part(const float* p, int n) { return load_mask(p, mask(n)); }
  static void store_part(float* p, T v, int n) { store_mask(p, mask(n), v); }

  static T add(T a, T b) { return _mm256_add_ps(a, b); }
  static T sub(T a, T b) { return _mm256_sub_ps(a, b); }
  static T mul(T a, T b) { return _mm256_mul_ps(a, b); }
  static T div(T a, T b) { return _mm256_div_ps(a, b); }
  static T min(T a, T b) { return _mm256_min_ps(a, b); }
  static T max(T a, T b) { return _mm256_max_ps(a, b); }
  static T fmadd(T a, T b, T c) { return _mm256_fmadd_ps(a, b, c); }
  static T fnmadd(T a, T b, T c) { return _mm256_fnmadd_ps(a, b, c); }
  static Cmp ge(T a, T b) { return _mm256_cmp_ps(a, b, _CMP_GE_OQ); }
  static Cmp lt(T a, T b) { return _mm256_cmp_ps(a, b, _CMP_LT_OQ); }
  static Cmp mask_cmp(Mask m) { return _mm256_castsi256_ps(m); }
  static T select(Cmp c, T t, T f) { return _mm256_blendv_ps(f, t, c); }
  static T keep(Cmp c, T v) { return _mm256_and_ps(v, c); }
  static T abs(T a) { return _mm256_andnot_ps(_mm256_set1_ps(-0.f), a); }
  static T or_sign(T mag, T x) { return _mm256_or_ps(mag, _mm256_and_ps(_mm256_set1_ps(-0.f), x)); }
  static T pow2n(T nm) {
    return _mm256_castsi256_ps(_mm256_slli_epi32(
        _mm256_sub_epi32(_mm256_castps_si256(nm), _mm256_set1_epi32(0x4B400000 - 127)), 23));
  }
  static float hsum(T v) {
    __m128 s = _mm_add_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
    s = _mm_add_ps(s, _mm_movehl_ps(s, s));
    s = _mm_add_ss(s, _mm_movehdup_ps(s));
    return _mm_cvtss_f32(s);
  }
  static float hmax(T v) {
    __m128 m = _mm_max_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
    m = _mm_max_ps(m, _mm_movehl_ps(m, m));
    m = _mm_max_ss(m, _mm_movehdup_ps(m));
    return _mm_cvtss_f32(m);
  }
  static __attribute__((always_inline)) void hold(T& v) { asm("" : "+x"(v)); }
  // Clean upper YMM halves for the SSE code that may run next (GCC omits vzeroupper after
  // calls that pass __m256 arguments; dirty state slows later SSE code ~2.5x).
  static void cleanup() { _mm256_zeroupper(); }
};

}  // namespace avx2
MIEN_KERNELS_END_TARGET

// ---------------------------------------------------------------- AVX-512
MIEN_KERNELS_BEGIN_TARGET(MIEN_KERNELS_AVX512)
namespace avx512 {

// Only what the AVX-512 kernels (GEMM, depthwise) use; the other ops run their AVX2 copies
// on AVX-512 CPUs (see the table in kernels/kernels.hpp).
struct V {
  static constexpr int kLanes = 16;
  using T = __m512;
  using Mask = __mmask16;

  static T zero() { return _mm512_setzero_ps(); }
  static T set1(float x) { return _mm512_set1_ps(x); }
  static T load(const float* p) { return _mm512_load_ps(p); }
  static T loadu(const float* p) { return _mm512_loadu_ps(p); }
  static void storeu(float* p, T v) { _mm512_storeu_ps(p, v); }
  static Mask mask(int n) {
    return n >= 16 ? Mask(0xFFFF) : n <= 0 ? Mask(0) : Mask((1u << n) - 1u);
  }
  static T load_mask(const float* p, Mask m) { return _mm512_maskz_loadu_ps(m, p); }
  static void store_mask(float* p, Mask m, T v) { _mm512_mask_storeu_ps(p, m, v); }
  // Exactly 8 lanes (N = 24, 40, ...: BlazeFace's 24 channels) go through a plain ymm
  // access: masked zmm stores streaming to memory made the 1x1 24->24 convs 1.7x slower
  // than AVX2 at batch 8 on Zen 5.
  static T load_part(const float* p, int n) {
    if (n == 8) return _mm512_insertf32x8(_mm512_setzero_ps(), _mm256_loadu_ps(p), 0);
    return load_mask(p, mask(n));
  }
  static void store_part(float* p, T v, int n) {
    if (n == 8)
      _mm256_storeu_ps(p, _mm512_maskz_extractf32x8_ps(__mmask8(0xFF), v, 0));  // maskz: GCC 12
    else
      store_mask(p, mask(n), v);
  }

  static T add(T a, T b) { return _mm512_add_ps(a, b); }
  static T sub(T a, T b) { return _mm512_sub_ps(a, b); }
  static T mul(T a, T b) { return _mm512_mul_ps(a, b); }
  // The maskz forms with a full mask: GCC 12's plain _mm512_min_ps/_mm512_max_ps trip
  // -Wmaybe-uninitialized on their internal _mm512_undefined_ps().
  static T min(T a, T b) { return _mm512_maskz_min_ps(Mask(0xFFFF), a, b); }
  static T max(T a, T b) { return _mm512_maskz_max_ps(Mask(0xFFFF), a, b); }
  static T fmadd(T a, T b, T c) { return _mm512_fmadd_ps(a, b, c); }
  static __attribute__((always_inline)) void hold(T& v) { asm("" : "+v"(v)); }
  static void cleanup() { _mm256_zeroupper(); }

  // Pixel pairs (kernels/body/conv_small_n_pairs.inl): lanes 2c and 2c+1 hold channel c of
  // two adjacent pixels. p[0], p[1] repeated 8 times (one 64-bit broadcast load, no shuffle).
  static T bcast_pair(const float* p) {
    double d;
    std::memcpy(&d, p, sizeof d);
    return _mm512_castpd_ps(_mm512_set1_pd(d));
  }
  // 8 values, each twice: p[0] p[0] p[1] p[1] ... p[7] p[7].
  static T dup_lanes(const float* p) {
    const __m512i idx = _mm512_set_epi32(7, 7, 6, 6, 5, 5, 4, 4, 3, 3, 2, 2, 1, 1, 0, 0);
    return _mm512_maskz_permutexvar_ps(
        Mask(0xFFFF), idx, _mm512_insertf32x8(_mm512_setzero_ps(), _mm256_loadu_ps(p), 0));
  }
  // Stores a pair vector as two pixels of c <= 8 channels, the first at o, the second at o + c.
  static void store_pairs(float* o, T v, int c) {
    const __m512i idx = _mm512_set_epi32(15, 13, 11, 9, 7, 5, 3, 1, 14, 12, 10, 8, 6, 4, 2, 0);
    const T r = _mm512_maskz_permutexvar_ps(Mask(0xFFFF), idx,
                                            v);  // pixel 0 in lanes 0..7, pixel 1 in 8..15
    if (c == 8) {
      _mm512_storeu_ps(o, r);
      return;
    }
    store_mask(o, mask(c), r);
    store_mask(o + c, mask(c), _mm512_maskz_shuffle_f32x4(Mask(0xFFFF), r, r, 0xEE));
  }
};

}  // namespace avx512
MIEN_KERNELS_END_TARGET
#endif  // MIEN_X86

}  // namespace kernels
}  // namespace mien
