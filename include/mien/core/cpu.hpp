// Run-time choice of the instruction set. Kernels are compiled portable and with
// __attribute__((target(...))) for AVX2+FMA and AVX-512, so a binary built without -mavx2
// or -mavx512f still runs those kernels on a CPU that has them, and never executes them on
// one that does not.
#pragma once

#include <cstdlib>
#include <cstring>
#include <string>

#include "mien/core/error.hpp"

#if defined(__x86_64__) || defined(__i386__)
#define MIEN_X86 1
#define MIEN_TARGET_AVX2 __attribute__((target("avx2,fma")))
// F (the 512-bit FMA and masks), plus what the kernels use on top: BW/DQ/VL for byte and
// 256-bit masked forms. Every AVX-512 CPU since Skylake-X has all four.
#define MIEN_TARGET_AVX512 __attribute__((target("avx512f,avx512bw,avx512dq,avx512vl,avx2,fma")))
#else
#define MIEN_X86 0
#define MIEN_TARGET_AVX2
#define MIEN_TARGET_AVX512
#endif

namespace mien {

// Ordered: each ISA includes the ones before it (an AVX-512 CPU also runs the AVX2 kernels,
// which ops without an AVX-512 variant use).
enum class Isa { Scalar, Avx2, Avx512 };

inline const char* isa_name(Isa isa) {
  return isa == Isa::Avx512 ? "avx512" : isa == Isa::Avx2 ? "avx2" : "scalar";
}

// True when `isa` may run the AVX2+FMA kernels (AVX2 itself or a superset).
inline bool isa_has_avx2(Isa isa) {
  return isa >= Isa::Avx2;
}

inline bool cpu_has_avx2() {
#if MIEN_X86
  return __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma");
#else
  return false;
#endif
}

inline bool cpu_has_avx512() {
#if MIEN_X86
  return cpu_has_avx2() && __builtin_cpu_supports("avx512f") &&
         __builtin_cpu_supports("avx512bw") && __builtin_cpu_supports("avx512dq") &&
         __builtin_cpu_supports("avx512vl");
#else
  return false;
#endif
}

// Whether this CPU can run the kernels of `isa`.
inline bool cpu_supports(Isa isa) {
  return isa == Isa::Avx512 ? cpu_has_avx512() : isa == Isa::Avx2 ? cpu_has_avx2() : true;
}

// The ISA a Model uses when the caller does not choose: the best the CPU has, unless the
// environment variable MIEN_ISA says "scalar" (to test the fallback), "avx2" or "avx512".
inline Isa default_isa() {
  const char* env = std::getenv("MIEN_ISA");
  if (env && *env) {
    if (std::strcmp(env, "scalar") == 0) return Isa::Scalar;
    if (std::strcmp(env, "avx2") == 0) {
      MIEN_CHECK(cpu_has_avx2(), "MIEN_ISA=avx2 but this CPU lacks AVX2/FMA");
      return Isa::Avx2;
    }
    if (std::strcmp(env, "avx512") == 0) {
      MIEN_CHECK(cpu_has_avx512(), "MIEN_ISA=avx512 but this CPU lacks AVX-512 F/BW/DQ/VL");
      return Isa::Avx512;
    }
    MIEN_CHECK(std::strcmp(env, "auto") == 0,
               "MIEN_ISA must be scalar, avx2, avx512 or auto, not '", env, "'");
  }
  return cpu_has_avx512() ? Isa::Avx512 : cpu_has_avx2() ? Isa::Avx2 : Isa::Scalar;
}

// Every ISA this CPU can run, for tests that compare them all.
inline std::string available_isas() {
  return cpu_has_avx512() ? "scalar,avx2,avx512" : cpu_has_avx2() ? "scalar,avx2" : "scalar";
}

}  // namespace mien
