// Quantized (int8) GEMM: C[M,N] = act(float(A_u8 * B_s8 - zp * colsum(B)) * sa * sb[n] + bias[n]
// [+ R]), the engine of the int8 conv2d (ops/qconv2d.hpp).
//
// The scheme is the usual static one (as ONNX QLinearConv / TFLite): activations are uint8
// with one scale and zero point per tensor, chosen from calibration images (`mien
// quantize`), weights are int8 in [-127, 127] with one scale per output channel. A is the
// quantized input (pixel rows or im2col rows, K padded to a multiple of 4 bytes); the
// products are summed exactly in int32 and turned back into float in the store, so the op
// reads and writes float tensors and every other op of the graph is unchanged.
//
// B is packed once at load, like the float GEMM's, into panels of NR columns: a header of
// NR int32 (-zp * column sum: the zero-point correction, so the kernel never subtracts),
// NR float (sa * sb[n]) and NR float (bias), then K/4 groups of NR x 4 weight bytes, the 4
// k of one column adjacent (the operand order of vpdpbusd). The microkernel:
// kernels/body/gemm_q8.inl over kernels/vec_q8.hpp.
#pragma once

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <string>

#include "mien/core/cpu.hpp"
#include "mien/core/error.hpp"
#include "mien/core/tensor.hpp"
#include "mien/kernels/activation.hpp"
#include "mien/kernels/kernels.hpp"
#include "mien/kernels/types.hpp"

namespace mien {

// The int8 kernel sets, in order of preference (each on the CPUs that have it).
enum class Q8Set { Scalar, Avx2, AvxVnni, Avx512Vnni };

inline const char* q8_set_name(Q8Set s) {
  switch (s) {
    case Q8Set::Avx512Vnni:
      return "avx512vnni";
    case Q8Set::AvxVnni:
      return "avxvnni";
    case Q8Set::Avx2:
      return "avx2";
    default:
      return "scalar";
  }
}

class Q8Weights;

namespace kernels {

using Q8BlockFn = void (*)(const Q8Weights& w, int64_t m, const uint8_t* a, int64_t lda, float* c,
                           int64_t ldc, detail::GemmEpilogue ep);
using Q8QuantizeFn = void (*)(const float* x, int64_t n, float inv, int zp, uint8_t* out);

struct Q8Kernels {
  Q8Set set = Q8Set::Scalar;
  Q8BlockFn block = nullptr;
  Q8QuantizeFn quantize = nullptr;
  int mr_narrow = 1;  // rows per micro-tile of one-vector panels (N <= lanes)
  int mr = 1;         // rows per micro-tile of two-vector panels
  int lanes = 8;      // int32 lanes per vector: panels are lanes or 2 * lanes columns
};

inline const Q8Kernels& q8_kernels(Q8Set set);

}  // namespace kernels

// Rounds K up to the 4-byte groups the kernels read.
inline int q8_padded_k(int k) {
  return (k + 3) / 4 * 4;
}

// The activation quantization of one tensor: x ~ (q - zero_point) * scale, q in 0..255.
struct Q8Input {
  float scale = 1.f;
  int zero_point = 0;
  float inverse() const { return 1.f / scale; }
};

class Q8Weights {
 public:
  Q8Weights() = default;
  // b: K rows of N int8 weights (row stride ldb >= N) in [-127, 127]; w_scale: N per-column
  // scales; bias: N values or nullptr. `in`: the quantization of A. `set`: the kernels.
  Q8Weights(int k, int n, const int8_t* b, int64_t ldb, const float* w_scale, const float* bias,
            const Q8Input& in, Q8Set set)
      : k_(k), n_(n), kernels_(&kernels::q8_kernels(set)) {
    MIEN_CHECK(k >= 1 && n >= 1, "int8 GEMM weights must be at least 1x1, got ", k, "x", n);
    MIEN_CHECK(ldb >= n, "int8 GEMM weight row stride ", ldb, " < ", n, " columns");
    MIEN_CHECK(
        in.scale > 0.f && std::isfinite(in.scale) && in.zero_point >= 0 && in.zero_point <= 255,
        "int8 GEMM: invalid input quantization (scale ", in.scale, ", zero point ", in.zero_point,
        ")");
    nr_ = n <= kernels_->lanes ? kernels_->lanes : 2 * kernels_->lanes;
    kg_ = q8_padded_k(k) / 4;
    panel_bytes_ = int64_t(12) * nr_ + int64_t(kg_) * 4 * nr_;
    data_.resize(std::size_t(panel_bytes_ * panels() / 4));  // zero-filled, 64-byte aligned
    for (int j = 0; j < panels(); ++j) {
      uint8_t* p = panel_mut(j);
      int32_t* init = reinterpret_cast<int32_t*>(p);
      float* sc = reinterpret_cast<float*>(p) + nr_;
      float* bi = sc + nr_;
      int8_t* wq = reinterpret_cast<int8_t*>(p + 12 * nr_);
      for (int c = 0; c < nr_ && j * nr_ + c < n; ++c) {
        const int col = j * nr_ + c;
        MIEN_CHECK(std::isfinite(w_scale[col]) && w_scale[col] >= 0.f,
                   "int8 GEMM: invalid weight scale ", w_scale[col], " of column ", col);
        int64_t sum = 0;
        for (int kk = 0; kk < k; ++kk) {
          const int8_t v = b[kk * ldb + col];
          MIEN_CHECK(v >= -127, "int8 weights must lie in [-127, 127], got -128");
          sum += v;
          wq[(int64_t(kk / 4) * nr_ + c) * 4 + kk % 4] = v;
        }
        init[c] = int32_t(-int64_t(in.zero_point) * sum);
        sc[c] = in.scale * w_scale[col];
        bi[c] = bias ? bias[col] : 0.f;
      }
    }
  }

  int k() const { return k_; }
  int n() const { return n_; }
  int nr() const { return nr_; }
  int k_groups() const { return kg_; }
  int padded_k() const { return 4 * kg_; }
  int panels() const { return (n_ + nr_ - 1) / nr_; }
  bool empty() const { return kernels_ == nullptr; }
  const uint8_t* panel(int j) const {
    return reinterpret_cast<const uint8_t*>(data_.data()) + int64_t(j) * panel_bytes_;
  }
  const kernels::Q8Kernels& kernels() const { return *kernels_; }
  // Rows per micro-tile for this panel width.
  int mr() const { return nr_ == kernels_->lanes ? kernels_->mr_narrow : kernels_->mr; }

 private:
  uint8_t* panel_mut(int j) { return reinterpret_cast<uint8_t*>(data_.data()) + j * panel_bytes_; }
  int k_ = 0, n_ = 0, nr_ = 16, kg_ = 0;
  int64_t panel_bytes_ = 0;
  const kernels::Q8Kernels* kernels_ = nullptr;
  AlignedBuffer data_;
};

}  // namespace mien

#include "mien/kernels/q8_kernels.hpp"  // IWYU pragma: keep

namespace mien {

// The best int8 kernels for a model running the float kernels of `isa`: VNNI where the CPU
// has it, the AVX2 emulation otherwise; MIEN_Q8=scalar|avx2|avxvnni|avx512vnni narrows the
// choice (to benchmark or test a set; one the CPU lacks is an error).
inline Q8Set default_q8_set(Isa isa) {
  Q8Set best = Q8Set::Scalar;
  if (isa == Isa::Avx512 && cpu_has_avx512vnni())
    best = Q8Set::Avx512Vnni;
  else if (isa_has_avx2(isa) && cpu_has_avxvnni())
    best = Q8Set::AvxVnni;
  else if (isa_has_avx2(isa))
    best = Q8Set::Avx2;
  const char* env = std::getenv("MIEN_Q8");
  if (!env || !*env || std::strcmp(env, "auto") == 0) return best;
  for (Q8Set s : {Q8Set::Scalar, Q8Set::Avx2, Q8Set::AvxVnni, Q8Set::Avx512Vnni})
    if (std::strcmp(env, q8_set_name(s)) == 0) {
      MIEN_CHECK(cpu_has_q8_set(s), "MIEN_Q8=", env, " but this CPU lacks it");
      return s;
    }
  throw Error(std::string("MIEN_Q8 must be scalar, avx2, avxvnni, avx512vnni or auto, not '") +
              env + "'");
}

namespace detail {
// Rows per block: an A block of about 64 KiB of bytes stays in L2 for every panel.
inline int64_t q8_block_rows(int padded_k, int mr) {
  const int64_t rows = (int64_t(65536) / std::max(padded_k, 1)) / mr * mr;
  return std::max<int64_t>(mr, std::min<int64_t>(rows, 480 / mr * mr));
}
}  // namespace detail

// C rows [0, m) on the calling thread. a: m rows of w.padded_k() bytes, `lda` apart (the
// bytes past K may hold anything: their weights are zero). act: the fused activation (clamps
// in registers, others on the finished rows through the float kernels of `isa`); res: an
// optional residual with row stride ldr, added before the activation.
inline void q8_gemm_serial(const Q8Weights& w, int64_t m, const uint8_t* a, int64_t lda, float* c,
                           int64_t ldc, const Activation& act, Isa isa, const float* res = nullptr,
                           int64_t ldr = 0) {
  const kernels::Q8Kernels& qk = w.kernels();
  const int64_t mc = detail::q8_block_rows(w.padded_k(), w.mr());
  detail::GemmEpilogue ep;
  if (act.is_clamp() && !act.is_none()) {
    ep.on = true;
    ep.lo = act.clamp_lo();
    ep.hi = act.clamp_hi();
  }
  ep.ldr = ldr;
  for (int64_t m0 = 0; m0 < m; m0 += mc) {
    const int64_t mb = std::min(mc, m - m0);
    ep.res = res ? res + m0 * ldr : nullptr;
    float* cb = c + m0 * ldc;
    qk.block(w, mb, a + m0 * lda, lda, cb, ldc, ep);
    if (!act.is_clamp()) {
      const kernels::KernelTable& t = kernels::kernel_table(isa);
      for (int64_t r = 0; r < mb; ++r) t.activate(cb + r * ldc, cb + r * ldc, 1, w.n(), act);
    }
  }
}

// Reference for tests: the same arithmetic in int64 and double.
inline void q8_gemm_naive(int64_t m, int n, int k, const uint8_t* a, int64_t lda, const int8_t* b,
                          int64_t ldb, const Q8Input& in, const float* w_scale, const float* bias,
                          float* c, int64_t ldc, const Activation& act, const float* res = nullptr,
                          int64_t ldr = 0) {
  for (int64_t i = 0; i < m; ++i)
    for (int j = 0; j < n; ++j) {
      int64_t acc = 0;
      for (int p = 0; p < k; ++p)
        acc += (int64_t(a[i * lda + p]) - in.zero_point) * int64_t(b[int64_t(p) * ldb + j]);
      double s = double(acc) * double(in.scale) * double(w_scale[j]) + (bias ? bias[j] : 0.0);
      if (res) s += res[i * ldr + j];
      c[i * ldc + j] = activate_naive(float(s), act, j);
    }
}

// Symmetric per-column quantization of float weights B[K][N] (row stride ldb): scale[n] =
// max |B[.][n]| / 127 (1 for an all-zero column), q = round(B / scale).
inline void q8_quantize_weights(int k, int n, const float* b, int64_t ldb, int8_t* q,
                                float* scale) {
  for (int j = 0; j < n; ++j) {
    float amax = 0.f;
    for (int p = 0; p < k; ++p) amax = std::max(amax, std::fabs(b[int64_t(p) * ldb + j]));
    scale[j] = amax > 0.f ? amax / 127.f : 1.f;
    const float inv = 1.f / scale[j];
    for (int p = 0; p < k; ++p) {
      const float v = std::nearbyint(b[int64_t(p) * ldb + j] * inv);
      q[int64_t(p) * n + j] = int8_t(std::max(-127.f, std::min(127.f, v)));
    }
  }
}

}  // namespace mien
