// The kernels of every ISA and their tables. Each body in kernels/body/ is written once over
// the vector traits V (kernels/vec.hpp) and included here once per ISA namespace, inside
// that ISA's target pragma region:
//
//   mien::kernels::scalar   8 portable lanes    every kernel
//   mien::kernels::avx2     __m256, AVX2+FMA    every kernel
//   mien::kernels::avx512   __m512              GEMM, the fast depthwise rows and the
//                                               small-N conv rows
//
// kernel_table(isa) returns the entry points for one ISA. An AVX-512 table is the AVX2 one
// with the 32-column GEMM and the 16-channel depthwise rows added: the memory-bound kernels
// measured no faster with zmm, and ops whose shapes suit ymm better (N <= 8 GEMM columns,
// depthwise with a half-empty last 16-channel block) keep choosing the 8-lane kernels.
// The Winograd transforms (body/winograd.inl) also run their AVX2 copy on AVX-512 CPUs: the
// AVX-512 traits lack sub/fnmadd, and the GEMM stage (which does use the AVX-512 GEMM), not
// the transforms, dominated a Winograd layer's instructions (callgrind, 31x31x32 -> 64).
// The tables are constants (no lazy initialisation); ops look theirs up once, at load.
#pragma once

#include <cstdint>
#include <limits>

#include "mien/core/cpu.hpp"
#include "mien/kernels/activation.hpp"
#include "mien/kernels/gemm_weights.hpp"
#include "mien/kernels/tuning.hpp"
#include "mien/kernels/types.hpp"
#include "mien/kernels/vec.hpp"

// ---------------------------------------------------------------- portable
namespace mien {
namespace kernels {
namespace scalar {
#include "mien/kernels/body/activation.inl"
#include "mien/kernels/body/conv_small_n.inl"
#include "mien/kernels/body/depthwise.inl"
#include "mien/kernels/body/gemm.inl"
#include "mien/kernels/body/stream.inl"
#include "mien/kernels/body/winograd.inl"
}  // namespace scalar
}  // namespace kernels
}  // namespace mien

#if MIEN_X86
// ---------------------------------------------------------------- AVX2 + FMA
MIEN_KERNELS_BEGIN_TARGET(MIEN_KERNELS_AVX2)
namespace mien {
namespace kernels {
namespace avx2 {
#include "mien/kernels/body/activation.inl"
#include "mien/kernels/body/conv_small_n.inl"
#include "mien/kernels/body/depthwise.inl"
#include "mien/kernels/body/gemm.inl"
#include "mien/kernels/body/stream.inl"
#include "mien/kernels/body/winograd.inl"
}  // namespace avx2
}  // namespace kernels
}  // namespace mien
MIEN_KERNELS_END_TARGET

// ---------------------------------------------------------------- AVX-512
MIEN_KERNELS_BEGIN_TARGET(MIEN_KERNELS_AVX512)
namespace mien {
namespace kernels {
namespace avx512 {
#include "mien/kernels/body/conv_small_n.inl"
#include "mien/kernels/body/conv_small_n_pairs.inl"
#include "mien/kernels/body/depthwise.inl"
#include "mien/kernels/body/gemm.inl"
#include "mien/kernels/body/gemm_pairs.inl"
}  // namespace avx512
}  // namespace kernels
}  // namespace mien
MIEN_KERNELS_END_TARGET
#endif  // MIEN_X86

namespace mien {
namespace kernels {

// Rows per GEMM micro-tile. Portable: 4x16. AVX2: 6x16 uses 12 accumulators + 2 B vectors
// + 1 broadcast of the 16 ymm registers; when N <= 8 a 12x8 tile keeps the same 12 FMA
// chains in flight (two FMA units with 4-cycle latency need at least 8). AVX-512: 12x32 uses
// 24 of the 32 zmm as accumulators, 2 for B, the A broadcasts folded into the FMAs; a last
// 16-wide panel runs 12x16 (12 chains).
constexpr KernelTable scalar_table() {
  KernelTable t;
  t.isa = Isa::Scalar;
  scalar::fill_table(t);
  t.wino = scalar::wino_kernels();
  t.small_n[0] = scalar::sn_kernels<1>();
  t.small_n[1] = scalar::sn_kernels<2>();
  t.gemm16 = GemmKernels{&scalar::gemm_block_2v<4, 4>, 4, 4};
  t.gemm32 = GemmKernels{&scalar::gemm_block_4v<4>, 4, 4};
  return t;
}

#if MIEN_X86
constexpr KernelTable avx2_table() {
  KernelTable t;
  t.isa = Isa::Avx2;
  avx2::fill_table(t);
  t.wino = avx2::wino_kernels();
  t.small_n[0] = avx2::sn_kernels<1>();
  t.small_n[1] = avx2::sn_kernels<2>();
  t.gemm16 = GemmKernels{&avx2::gemm_block_2v<12, 6>, 12, 6};
  // 32-column panels (packed for AVX-512) run on the portable kernel: only tests do that.
  t.gemm32 = scalar_table().gemm32;
  return t;
}

constexpr KernelTable avx512_table() {
  KernelTable t = avx2_table();
  t.isa = Isa::Avx512;
  // Panels of 17..24 columns (N = 24) run two rows per zmm in their last 8 columns.
  t.gemm32 = GemmKernels{&avx512::gemm_block_2v_pairs<12, 12>, 12, 12};
  t.dw_wide = avx512::dw_kernels();
  // Cout 9..16 in one zmm; Cout <= 8 keeps the ymm rows (a zmm would be half empty).
  t.small_n[1] = avx512::sn_kernels<1>();
  // 3x3 Cin 1 -> <= 8: two pixels per zmm (kernels/body/conv_small_n_pairs.inl).
  t.small_n[0].row[int(SmallNShape::K3C1)] = &avx512::snp_row<3, 3>;
  return t;
}
#endif

namespace tables {
inline constexpr KernelTable kScalarTable = scalar_table();
#if MIEN_X86
inline constexpr KernelTable kAvx2Table = avx2_table();
inline constexpr KernelTable kAvx512Table = avx512_table();
#endif
}  // namespace tables

inline const KernelTable& kernel_table(Isa isa) {
#if MIEN_X86
  if (isa == Isa::Avx512) return tables::kAvx512Table;
  if (isa == Isa::Avx2) return tables::kAvx2Table;
#endif
  (void)isa;
  return tables::kScalarTable;
}

}  // namespace kernels
}  // namespace mien
