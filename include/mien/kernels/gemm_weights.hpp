// B[K][N] (+ bias[N]) of the packed GEMM, packed once at model load (XNNPACK style) into
// panels of NR columns (kernels/tuning.hpp: 16 for the 8-lane kernels, 32 = two zmm for
// AVX-512): each panel is its bias row then its K weight rows, so the microkernel streams one
// contiguous, aligned buffer and starts its accumulators at the bias. The last panel is
// narrowed to NR/2 columns when at most NR/2 remain, so that e.g. a 7-class dense layer does
// not stream 16-wide rows. The GEMM itself: kernels/gemm.hpp.
#pragma once

#include <algorithm>
#include <cstdint>
#include <cstring>

#include "mien/core/cpu.hpp"
#include "mien/core/error.hpp"
#include "mien/core/tensor.hpp"
#include "mien/kernels/tuning.hpp"
#include "mien/kernels/types.hpp"

namespace mien {

constexpr int kGemmNr = tuning::kGemmNr;
constexpr int kGemmNr512 = tuning::kGemmNr512;

// The panel width the kernels of `isa` read.
inline int gemm_nr(Isa isa) {
  return isa == Isa::Avx512 ? kGemmNr512 : kGemmNr;
}

// Panel j holds columns [NR*j, NR*j + width) as width bias values followed by K rows of width
// weights (zero beyond N). Every panel starts on a 64-byte boundary because (K + 1) * NR
// floats is a multiple of 64 bytes.
class GemmWeights {
 public:
  GemmWeights() = default;
  // b: K rows of N values with row stride ldb (>= N); bias: N values or nullptr for zero.
  // `isa` chooses the panel width and the kernels (resolved here, once). Any ISA still
  // accepts any packing (gemm_serial resolves again when run with another ISA: a mismatch
  // only costs speed). At most 8 columns keep the 16-wide layout under AVX-512 too, so they
  // run the AVX2 12x8 tile: a zmm would be half empty (gender's 3x3 1->8 and 8->8 convs ran
  // 10-30% slower on 12x16 zmm tiles).
  GemmWeights(int k, int n, const float* b, int64_t ldb, const float* bias, Isa isa = Isa::Scalar)
      : k_(k), n_(n), nr_(n <= 8 ? kGemmNr : gemm_nr(isa)), isa_(isa) {
    MIEN_CHECK(k >= 1 && n >= 1, "GEMM weights must be at least 1x1, got ", k, "x", n);
    MIEN_CHECK(ldb >= n, "GEMM weight row stride ", ldb, " < ", n, " columns");
    const int full = n / nr_;
    const int rest = n - full * nr_;
    const int64_t last = rest == 0 ? 0 : (rest <= nr_ / 2 ? nr_ / 2 : nr_);
    data_.resize(std::size_t((int64_t(full) * nr_ + last) * (int64_t(k) + 1)));
    for (int j = 0; j < panels(); ++j) {
      const int width = panel_width(j);
      const int n0 = j * nr_;
      const int nc = std::min(width, n - n0);
      float* p = data_.data() + panel_offset(j);  // zero-filled by AlignedBuffer
      if (bias) std::memcpy(p, bias + n0, sizeof(float) * std::size_t(nc));
      for (int kk = 0; kk < k; ++kk)
        std::memcpy(p + int64_t(kk + 1) * width, b + kk * ldb + n0,
                    sizeof(float) * std::size_t(nc));
    }
    table_ = &kernels::kernel_table(isa);
    kernels_ = &kernels_for(*table_);
  }

  int k() const { return k_; }
  int n() const { return n_; }
  int nr() const { return nr_; }
  bool empty() const { return data_.size() == 0; }
  int panels() const { return (n_ + nr_ - 1) / nr_; }
  // NR, or NR/2 for a last panel that has at most NR/2 real columns.
  int panel_width(int j) const {
    const int rest = n_ - j * nr_;
    return rest >= nr_ ? nr_ : (rest <= nr_ / 2 ? nr_ / 2 : nr_);
  }
  const float* panel(int j) const { return data_.data() + panel_offset(j); }

  // The ISA packed for, its kernel table, and the GEMM kernels for this panel width.
  Isa isa() const { return isa_; }
  const kernels::KernelTable& table() const { return *table_; }
  const kernels::GemmKernels& kernels() const { return *kernels_; }
  // The GEMM kernels of `t` for this packing.
  const kernels::GemmKernels& kernels_for(const kernels::KernelTable& t) const {
    return nr_ == kGemmNr512 ? t.gemm32 : t.gemm16;
  }
  // Rows per micro-tile of kernels `k`.
  int mr(const kernels::GemmKernels& k) const { return n_ <= 8 ? k.mr_narrow : k.mr; }

 private:
  int64_t panel_offset(int j) const { return int64_t(j) * nr_ * (int64_t(k_) + 1); }
  int k_ = 0, n_ = 0, nr_ = kGemmNr;
  Isa isa_ = Isa::Scalar;
  const kernels::KernelTable* table_ = nullptr;
  const kernels::GemmKernels* kernels_ = nullptr;
  AlignedBuffer data_;
};

}  // namespace mien

// The kernels the class points to (included last: kernels.hpp includes this file first).
#include "mien/kernels/kernels.hpp"  // IWYU pragma: keep
