// The int8 kernels of every set and their tables: kernels/body/gemm_q8.inl included once per
// set namespace, inside that set's target region (see kernels/vec_q8.hpp).
#pragma once

#include <cstdint>
#include <cstring>

#include "mien/kernels/vec_q8.hpp"

namespace mien {
namespace kernels {
namespace scalar {
#include "mien/kernels/body/gemm_q8.inl"
}  // namespace scalar
}  // namespace kernels
}  // namespace mien

#if MIEN_X86
MIEN_KERNELS_BEGIN_TARGET(MIEN_KERNELS_AVX2)
namespace mien {
namespace kernels {
namespace avx2 {
#include "mien/kernels/body/gemm_q8.inl"
}  // namespace avx2
}  // namespace kernels
}  // namespace mien
MIEN_KERNELS_END_TARGET

MIEN_KERNELS_BEGIN_TARGET(MIEN_KERNELS_AVXVNNI)
namespace mien {
namespace kernels {
namespace avxvnni {
#include "mien/kernels/body/gemm_q8.inl"
}  // namespace avxvnni
}  // namespace kernels
}  // namespace mien
MIEN_KERNELS_END_TARGET

MIEN_KERNELS_BEGIN_TARGET(MIEN_KERNELS_AVX512VNNI)
namespace mien {
namespace kernels {
namespace avx512vnni {
#include "mien/kernels/body/gemm_q8.inl"
}  // namespace avx512vnni
}  // namespace kernels
}  // namespace mien
MIEN_KERNELS_END_TARGET
#endif  // MIEN_X86

namespace mien {

// Whether this CPU can run the int8 kernels of `set`.
inline bool cpu_has_q8_set(Q8Set set) {
  switch (set) {
    case Q8Set::Avx512Vnni:
      return cpu_has_avx512vnni();
    case Q8Set::AvxVnni:
      return cpu_has_avxvnni();
    case Q8Set::Avx2:
      return cpu_has_avx2();
    default:
      return true;
  }
}

namespace kernels {

// Tiles (rows x columns, one-vector panels / two-vector panels): scalar 4 x 8 / 4 x 16;
// AVX2 8 x 8 / 4 x 16 (4 x 16: 8 accumulators + 4 prepared weight halves + 2 prepared row
// halves of the 16 ymm); AVX-VNNI 12 x 8 / 6 x 16 (12 accumulators + weights + broadcast);
// AVX-512 VNNI 12 x 16 / 12 x 32 (24 of the 32 zmm accumulate).
namespace q8tables {
inline constexpr Q8Kernels kScalar{
    Q8Set::Scalar, &scalar::q8_block<4, 4>, &scalar::q8_quantize, 4, 4, 8};
#if MIEN_X86
inline constexpr Q8Kernels kAvx2{Q8Set::Avx2, &avx2::q8_block<8, 4>, &avx2::q8_quantize, 8, 4, 8};
inline constexpr Q8Kernels kAvxVnni{
    Q8Set::AvxVnni, &avxvnni::q8_block<12, 6>, &avxvnni::q8_quantize, 12, 6, 8};
inline constexpr Q8Kernels kAvx512Vnni{
    Q8Set::Avx512Vnni, &avx512vnni::q8_block<12, 6>, &avx512vnni::q8_quantize, 12, 6, 16};
#endif
}  // namespace q8tables

inline const Q8Kernels& q8_kernels(Q8Set set) {
#if MIEN_X86
  if (set == Q8Set::Avx512Vnni) return q8tables::kAvx512Vnni;
  if (set == Q8Set::AvxVnni) return q8tables::kAvxVnni;
  if (set == Q8Set::Avx2) return q8tables::kAvx2;
#endif
  (void)set;
  return q8tables::kScalar;
}

}  // namespace kernels
}  // namespace mien
