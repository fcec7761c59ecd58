// What the kernels exchange with the ops: the small structs describing one call (geometry,
// operands, epilogue) and KernelTable, the per-ISA set of kernel entry points. An op looks its
// table up once, when the model is loaded (ops/op.hpp), and calls through these pointers.
#pragma once

#include <cstdint>

#include "mien/core/cpu.hpp"
#include "mien/kernels/activation.hpp"
#include "mien/kernels/winograd_types.hpp"

namespace mien {

// Where the GEMM microkernel reads A. Row r, element k = s * run + j (run = K / runs) lives
// at data[r * stride + s * run_step + j]. A plain matrix is one run of K values per row; a
// conv window over an NHWC image is KH runs of KW*Cin values (one per window row), which
// lets conv2d feed the GEMM straight from the image instead of an im2col copy.
struct GemmA {
  const float* data = nullptr;
  int64_t stride = 0;
  int runs = 1;
  int64_t run_step = 0;
};

class GemmWeights;

namespace detail {

// What the GEMM microkernel does before its store: add a residual (row stride ldr, already
// offset to the tile) and/or clamp to [lo, hi].
struct GemmEpilogue {
  bool on = false;  // clamp
  float lo = 0.f, hi = 0.f;
  const float* res = nullptr;
  int64_t ldr = 0;
};

// Everything a depthwise row kernel needs, resolved once per run().
struct DwGeom {
  const float* in;
  int h, w, c;
  int out_w;
  int kh, kw, sh, sw, dh, dw, pad_top, pad_left;
  const float* packed;
  int full_blocks;   // channel blocks of `lanes` (8, or 16 for the AVX-512 kernels)
  int tail;          // channels in the last, partial block (0 when C is a multiple)
  int block_stride;  // floats per packed block: (1 + kh*kw) * lanes
  float lo, hi;      // clamp applied before the store (+-inf when none)
  int ox_lo, ox_hi;  // output columns whose whole window lies inside the input
};

// Everything a small-N direct conv row needs (kernels/body/conv_small_n.inl), resolved once
// per run().
struct SmallNGeom {
  const float* in;
  int h, w, cin;
  int out_w, cout;
  int kh, kw, sh, sw, dh, dw, pad_top, pad_left;
  const float* packed;  // P bias values, then P weights per (ky, kx, ci)
  float lo, hi;         // clamp applied before the store (+-inf when none)
  int ox_lo, ox_hi;     // output columns whose window lies inside the input columns
};

struct PoolGeom {
  const float* in;
  int h, w, c, out_w;
  int kh, kw, sh, sw, pad_top, pad_left;
};

// Column taps of one bilinear resize run, as three float arrays (indices are exact in float
// below 2^24, checked by the op): x0 * C, x1 * C offsets and the lerp.
struct BilinearCols {
  const float* x0;
  const float* x1;
  const float* lerp;
};

enum class EwOp { Add, Mul };

// Taps [t0, t1) of one axis that land inside [0, in) for a window starting at i0 with k taps
// d apart; an empty range (window wholly in the padding) is returned as [0, 0).
inline void dw_tap_range(int i0, int in, int k, int d, int& t0, int& t1) {
  t0 = i0 >= 0 ? 0 : (-i0 + d - 1) / d;
  t1 = i0 > in - 1 ? 0 : (k < (in - 1 - i0) / d + 1 ? k : (in - 1 - i0) / d + 1);
  if (t1 <= t0) t0 = t1 = 0;
}

// Pooling window [t0, t1) of one axis clipped to [0, in).
inline void pool_range(int i0, int in, int k, int& t0, int& t1) {
  t0 = i0 > 0 ? i0 : 0;
  t1 = in < i0 + k ? in : i0 + k;
}

}  // namespace detail

namespace kernels {

// One row block of the packed GEMM: C rows [0, m) x every panel of w (see kernels/gemm.hpp).
using GemmBlockFn = void (*)(const GemmWeights& w, int64_t m, const GemmA& a, float* c, int64_t ldc,
                             detail::GemmEpilogue ep, int mr);
// out = act(in) over pixels x channels values; in may equal out.
using ActivateFn = void (*)(const float* in, float* out, int64_t pixels, int channels,
                            const Activation& a);
using DwRowFn = void (*)(const detail::DwGeom& g, int n, int oy, float* orow);
using SmallNRowFn = void (*)(const detail::SmallNGeom& g, int n, int oy, float* orow);
using PoolRowFn = void (*)(const detail::PoolGeom& g, int n, int oy, float* orow);
using GapFn = void (*)(const float* img, int64_t pixels, int c, float* o);
// out[i] = a[i] op p[i % period] (then clamped to [lo, hi] in the clamp variants), with
// period % 8 == 0 or n <= period.
using EwPeriodicFn = void (*)(const float* a, const float* p, int64_t period, float* out, int64_t n,
                              float lo, float hi);
// out[i] = x[i] * s[i % period] (+ t[i % period]), same period rule.
using AffineFn = void (*)(const float* x, const float* s, const float* t, int64_t period,
                          float* out, int64_t n);
using BilinearRowFn = void (*)(const float* r0, const float* r1, const detail::BilinearCols& cols,
                               int out_w, int c, float ly, float* out);
using SoftmaxFn = void (*)(const float* in, float* out, int64_t pixels, int c);
using SeSumFn = void (*)(const float* x, int64_t pixels, int c, float* acc);
using SeDenseFn = void (*)(const float* x, int in, const float* w, const float* b, int out_pad,
                           bool relu, float* y);

// The GEMM kernels for one panel width: the block function and its rows per micro-tile (for
// N <= 8, one narrow panel, and otherwise).
struct GemmKernels {
  GemmBlockFn block = nullptr;
  int mr_narrow = 1, mr = 1;
};

// Depthwise rows: channels per packed block, the generic row (any kernel, stride,
// dilation) and the fast rows for K x K, stride S, dilation 1 (fast[K == 5][S == 2]; null
// where the ISA has none, then the generic row runs).
struct DwKernels {
  int lanes = 0;
  DwRowFn generic = nullptr;
  DwRowFn fast[2][2] = {{nullptr, nullptr}, {nullptr, nullptr}};
};

// Small-N direct conv rows: the output channels one call covers (P: 8 or 16, weights packed
// P wide), a generic row, and rows unrolled for kernel width x input channels x stride
// (dilation 1): the layers of gender that the rule sends there (ops/conv2d.hpp).
enum class SmallNShape { Generic, K1C8, K1C16, K1C8S2, K3C1, Count };
struct SmallNKernels {
  int channels = 0;
  SmallNRowFn row[int(SmallNShape::Count)] = {};
};

struct KernelTable {
  Isa isa = Isa::Scalar;
  ActivateFn activate = nullptr;
  GemmKernels gemm16;  // weights packed in 16-column panels
  GemmKernels gemm32;  // weights packed in 32-column panels
  DwKernels dw;        // blocks of 8 channels
  DwKernels dw_wide;   // blocks of 16 channels (AVX-512 only; lanes == 0 elsewhere)
  PoolRowFn max_pool_row = nullptr, avg_pool_row = nullptr;
  GapFn global_avg_pool = nullptr;
  EwPeriodicFn ew[2][2] = {{nullptr, nullptr}, {nullptr, nullptr}};  // [EwOp][clamp]
  AffineFn affine[2] = {nullptr, nullptr};                           // [with shift]
  BilinearRowFn bilinear_row = nullptr;
  SoftmaxFn softmax_rows = nullptr, softmax_short_rows = nullptr;
  SeSumFn se_sum = nullptr;
  SeDenseFn se_dense = nullptr;
  SmallNKernels small_n[2];  // Cout <= 8 and Cout <= 16 (kernels/body/conv_small_n.inl)
  WinoKernels wino;          // Winograd 3x3 transforms (kernels/body/winograd.inl)
};

// The table of `isa` (kernels/kernels.hpp).
inline const KernelTable& kernel_table(Isa isa);

}  // namespace kernels
}  // namespace mien
