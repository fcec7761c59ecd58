// The int8 vector traits the quantized GEMM (kernels/body/gemm_q8.inl) is written over: one
// struct `Q` per int8 kernel set, each in its own namespace, with the same static members.
//
//   mien::kernels::scalar      8 lanes in plain arrays            the reference, any CPU
//   mien::kernels::avx2        __m256i, AVX2 without VNNI         vpmaddwd on 16-bit halves
//   mien::kernels::avxvnni     __m256i, AVX-VNNI (VEX vpdpbusd)   Alder Lake, Zen 5 client
//   mien::kernels::avx512vnni  __m512i, AVX-512 VNNI              Cascade Lake, Zen 4/5
//
// One lane is one int32 accumulator = one output column. The packed weights hold, for each
// group of 4 consecutive k, 4 signed bytes per column (column-major within the vector), and
// A contributes 4 unsigned bytes of one row, broadcast to every lane. Q::dot adds
// sum_{j<4} a[j] * b[lane][j] to each lane, exactly (no saturation anywhere): vpdpbusd does
// that in one instruction; AVX2 splits the bytes into even/odd 16-bit halves and uses
// vpmaddwd twice (a <= 255, |b| <= 128: each 16-bit product pair sums to < 2^17). All four
// sets therefore produce bit-identical accumulators.
//
// Members (T = one vector of kLanes int32, B = a prepared weight vector, A = a prepared
// broadcast of 4 activation bytes):
//   zero() load_init(p) -> T           accumulators (from kLanes int32)
//   prep_b(p) -> B                     kLanes * 4 packed weight bytes
//   prep_a(four) -> A                  the 4 bytes of one row as one int32
//   dot(acc, a, b) -> T
// and for the store, F = kLanes floats:
//   to_float(acc, scale, bias) -> F    float(acc[l]) * scale[l] + bias[l] (a multiply then an
//                                      add; a compiler may fuse them: the tests allow 1 ulp)
//   add(v, p)                          v + p[0..kLanes), unaligned
//   clamp(v, lo, hi)                   min(hi, max(lo, v)), a NaN v passes through
//   store(p, v)                        unaligned
// and quantize(x, inv, lo, hi, zp, out): kLanes floats -> bytes round(clamp(x * inv, lo, hi)) + zp,
// rounding half to even (cvtps2dq under the default MXCSR, std::nearbyint), NaN -> lo.
#pragma once

#include <cmath>
#include <cstdint>
#include <cstring>

#include "mien/kernels/vec.hpp"

#if MIEN_X86
#include <cpuid.h>
#endif

// AVX-VNNI (the VEX-encoded vpdpbusd on ymm) and AVX-512 VNNI, each on top of the set it
// extends.
#define MIEN_KERNELS_AVXVNNI "avx2,fma,avxvnni"
#define MIEN_KERNELS_AVX512VNNI "avx512f,avx512bw,avx512dq,avx512vl,avx512vnni,avx2,fma"

namespace mien {

// cpuid leaf 7: AVX512_VNNI is sub-leaf 0, ECX bit 11; AVX-VNNI is sub-leaf 1, EAX bit 4.
// (Read directly: clang 14's __builtin_cpu_supports does not know "avxvnni".) Each needs
// the OS state of the set it extends, which cpu_has_avx2/avx512 check.
inline bool cpu_has_avx512vnni() {
#if MIEN_X86
  unsigned a = 0, b = 0, c = 0, d = 0;
  if (!cpu_has_avx512() || !__get_cpuid_count(7, 0, &a, &b, &c, &d)) return false;
  return (c >> 11) & 1u;
#else
  return false;
#endif
}

inline bool cpu_has_avxvnni() {
#if MIEN_X86
  unsigned a = 0, b = 0, c = 0, d = 0;
  if (!cpu_has_avx2() || !__get_cpuid_count(7, 1, &a, &b, &c, &d)) return false;
  return (a >> 4) & 1u;
#else
  return false;
#endif
}

namespace kernels {

// ---------------------------------------------------------------- portable reference
namespace scalar {

struct Q {
  static constexpr int kLanes = 8;
  struct T {
    int32_t v[kLanes];
  };
  struct B {
    int8_t b[kLanes][4];
  };
  struct A {
    uint8_t a[4];
  };
  static T zero() {
    T r;
    for (int l = 0; l < kLanes; ++l) r.v[l] = 0;
    return r;
  }
  static T load_init(const int32_t* p) {
    T r;
    std::memcpy(r.v, p, sizeof r.v);
    return r;
  }
  static B prep_b(const int8_t* p) {
    B r;
    std::memcpy(r.b, p, sizeof r.b);
    return r;
  }
  static A prep_a(int32_t four) {
    A r;
    std::memcpy(r.a, &four, 4);
    return r;
  }
  static T dot(T acc, const A& a, const B& b) {
    for (int l = 0; l < kLanes; ++l)
      for (int j = 0; j < 4; ++j) acc.v[l] += int32_t(a.a[j]) * int32_t(b.b[l][j]);
    return acc;
  }
  struct F {
    float v[kLanes];
  };
  static F to_float(const T& acc, const float* scale, const float* bias) {
    F r;
    for (int l = 0; l < kLanes; ++l) {
      const float prod = float(acc.v[l]) * scale[l];  // two roundings, as in the SIMD sets
      r.v[l] = prod + bias[l];
    }
    return r;
  }
  static F add(F v, const float* p) {
    for (int l = 0; l < kLanes; ++l) v.v[l] += p[l];
    return v;
  }
  static F clamp(F v, float lo, float hi) {
    for (int l = 0; l < kLanes; ++l) {
      float x = v.v[l];
      x = lo > x ? lo : x;  // maxps(lo, x): x when either is NaN
      x = hi < x ? hi : x;
      v.v[l] = x;
    }
    return v;
  }
  static void store(float* p, const F& v) { std::memcpy(p, v.v, sizeof v.v); }
  static void quantize(const float* x, float inv, float lo, float hi, int zp, uint8_t* out) {
    for (int l = 0; l < kLanes; ++l) out[l] = quantize_one(x[l], inv, lo, hi, zp);
  }
  static uint8_t quantize_one(float x, float inv, float lo, float hi, int zp) {
    float v = x * inv;
    v = v > lo ? v : lo;  // NaN -> lo, as maxps(v, lo)
    v = v < hi ? v : hi;
    return uint8_t(int(std::nearbyint(v)) + zp);
  }
};

}  // namespace scalar
}  // namespace kernels
}  // namespace mien

#if MIEN_X86
// ---------------------------------------------------------------- AVX2, no VNNI
MIEN_KERNELS_BEGIN_TARGET(MIEN_KERNELS_AVX2)
namespace mien {
namespace kernels {
namespace avx2 {

// The 8 x int32 accumulators and their float epilogue, the same with and without VNNI
// (the AVX-VNNI set below inherits them: its target is a superset of this one).
struct Q8Ymm {
  static constexpr int kLanes = 8;
  using T = __m256i;
  static T zero() { return _mm256_setzero_si256(); }
  static T load_init(const int32_t* p) {
    return _mm256_loadu_si256(reinterpret_cast<const __m256i*>(p));
  }
  using F = __m256;
  static F to_float(T acc, const float* scale, const float* bias) {
    const F prod = _mm256_mul_ps(_mm256_cvtepi32_ps(acc), _mm256_loadu_ps(scale));
    return _mm256_add_ps(prod, _mm256_loadu_ps(bias));
  }
  static F add(F v, const float* p) { return _mm256_add_ps(v, _mm256_loadu_ps(p)); }
  static F clamp(F v, float lo, float hi) {
    return _mm256_min_ps(_mm256_set1_ps(hi), _mm256_max_ps(_mm256_set1_ps(lo), v));
  }
  static void store(float* p, F v) { _mm256_storeu_ps(p, v); }
  static void quantize(const float* x, float inv, float lo, float hi, int zp, uint8_t* out) {
    __m256 v = _mm256_mul_ps(_mm256_loadu_ps(x), _mm256_set1_ps(inv));
    v = _mm256_min_ps(_mm256_max_ps(v, _mm256_set1_ps(lo)), _mm256_set1_ps(hi));
    const __m256i q = _mm256_add_epi32(_mm256_cvtps_epi32(v), _mm256_set1_epi32(zp));
    const __m128i w = _mm_packus_epi32(_mm256_castsi256_si128(q), _mm256_extracti128_si256(q, 1));
    _mm_storel_epi64(reinterpret_cast<__m128i*>(out), _mm_packus_epi16(w, w));
  }
};

struct Q : Q8Ymm {
  // The weight bytes sign-extended into 16-bit halves: even = bytes 0 and 2 of each lane,
  // odd = bytes 1 and 3.
  struct B {
    __m256i even, odd;
  };
  struct A {
    __m256i even, odd;
  };
  static B prep_b(const int8_t* p) {
    const __m256i v = _mm256_load_si256(reinterpret_cast<const __m256i*>(p));
    return B{_mm256_srai_epi16(_mm256_slli_epi16(v, 8), 8), _mm256_srai_epi16(v, 8)};
  }
  static A prep_a(int32_t four) {
    const __m256i v = _mm256_set1_epi32(four);
    return A{_mm256_and_si256(v, _mm256_set1_epi16(0xff)), _mm256_srli_epi16(v, 8)};
  }
  static T dot(T acc, const A& a, const B& b) {
    const __m256i s =
        _mm256_add_epi32(_mm256_madd_epi16(a.even, b.even), _mm256_madd_epi16(a.odd, b.odd));
    return _mm256_add_epi32(acc, s);
  }
};

}  // namespace avx2
}  // namespace kernels
}  // namespace mien
MIEN_KERNELS_END_TARGET

// ---------------------------------------------------------------- AVX-VNNI (ymm)
MIEN_KERNELS_BEGIN_TARGET(MIEN_KERNELS_AVXVNNI)
namespace mien {
namespace kernels {
namespace avxvnni {

struct Q : avx2::Q8Ymm {
  using B = __m256i;
  using A = __m256i;
  static B prep_b(const int8_t* p) {
    return _mm256_load_si256(reinterpret_cast<const __m256i*>(p));
  }
  static A prep_a(int32_t four) { return _mm256_set1_epi32(four); }
  // Inline asm for the same reason as the AVX-512 set (see there); {vex} asks for the
  // AVX-VNNI encoding ("x": ymm0-15, which VEX can name), not the EVEX one of AVX512-VNNI.
  static __attribute__((always_inline)) T dot(T acc, A a, B b) {
    asm("%{vex%} vpdpbusd %2, %1, %0" : "+x"(acc) : "x"(a), "x"(b));
    return acc;
  }
};

}  // namespace avxvnni
}  // namespace kernels
}  // namespace mien
MIEN_KERNELS_END_TARGET

// ---------------------------------------------------------------- AVX-512 VNNI (zmm)
MIEN_KERNELS_BEGIN_TARGET(MIEN_KERNELS_AVX512VNNI)
namespace mien {
namespace kernels {
namespace avx512vnni {

// The maskz forms with a full mask throughout: GCC 12's plain forms trip
// -Wmaybe-uninitialized on their internal _mm512_undefined_*() (as in vec.hpp).

struct Q {
  static constexpr int kLanes = 16;
  using T = __m512i;
  using B = __m512i;
  using A = __m512i;
  static T zero() { return _mm512_setzero_si512(); }
  static T load_init(const int32_t* p) { return _mm512_loadu_si512(p); }
  static B prep_b(const int8_t* p) { return _mm512_load_si512(p); }
  static A prep_a(int32_t four) { return _mm512_set1_epi32(four); }
  // Inline asm: with the intrinsic, GCC 12 copies each accumulator around every vpdpbusd
  // and spills tiles of more than 6 x 32 to the stack (measured 1.7x slower at 12 x 32).
  static __attribute__((always_inline)) T dot(T acc, A a, B b) {
    asm("vpdpbusd %2, %1, %0" : "+v"(acc) : "v"(a), "v"(b));
    return acc;
  }
  using F = __m512;
  static F to_float(T acc, const float* scale, const float* bias) {
    const F prod =
        _mm512_mul_ps(_mm512_maskz_cvtepi32_ps(__mmask16(0xFFFF), acc), _mm512_loadu_ps(scale));
    return _mm512_add_ps(prod, _mm512_loadu_ps(bias));
  }
  static F add(F v, const float* p) { return _mm512_add_ps(v, _mm512_loadu_ps(p)); }
  static F clamp(F v, float lo, float hi) {
    return _mm512_maskz_min_ps(__mmask16(0xFFFF), _mm512_set1_ps(hi),
                               _mm512_maskz_max_ps(__mmask16(0xFFFF), _mm512_set1_ps(lo), v));
  }
  static void store(float* p, F v) { _mm512_storeu_ps(p, v); }
  static void quantize(const float* x, float inv, float lo, float hi, int zp, uint8_t* out) {
    __m512 v = _mm512_mul_ps(_mm512_loadu_ps(x), _mm512_set1_ps(inv));
    v = _mm512_maskz_max_ps(__mmask16(0xFFFF), v, _mm512_set1_ps(lo));
    v = _mm512_maskz_min_ps(__mmask16(0xFFFF), v, _mm512_set1_ps(hi));
    const __m512i q =
        _mm512_add_epi32(_mm512_maskz_cvtps_epi32(__mmask16(0xFFFF), v), _mm512_set1_epi32(zp));
    _mm_storeu_si128(reinterpret_cast<__m128i*>(out),
                     _mm512_maskz_cvtepi32_epi8(__mmask16(0xFFFF), q));
  }
};

}  // namespace avx512vnni
}  // namespace kernels
}  // namespace mien
MIEN_KERNELS_END_TARGET
#endif  // MIEN_X86
