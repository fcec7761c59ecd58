// Every tuning number of the kernels and of the ops' scheduling, in one place, each with the
// reason it has its value. Change one here and re-run bench/ (bench_conv, bench_models).
#pragma once

#include <cstdint>

namespace mien {
namespace tuning {

// ---- cache blocking (GEMM and the conv2d window buffers) ----
// An A block (im2col rows or pixel rows) of at most this many floats (64 KiB) stays in L2
// while every packed B panel streams over it; each B panel stays in L1 for all the block's
// micro-tiles. conv2d sizes its window buffers with the same budget so they are the A block.
constexpr int64_t kL2BlockFloats = 16384;
// At most this many rows per block: beyond ~480 rows the C tile of a panel (480 x NR) no
// longer fits in L1 next to the panel, and small-K layers gained nothing from longer blocks.
constexpr int64_t kMaxBlockRows = 480;

// ---- GEMM panels ----
// Columns per packed panel for the 8-lane (scalar and AVX2) kernels: two vectors, so a
// 6x16 AVX2 tile uses 12 accumulators + 2 B vectors + 1 broadcast of the 16 ymm.
constexpr int kGemmNr = 16;
// AVX-512 panels: two zmm. 12x32 uses 24 of the 32 zmm as accumulators.
constexpr int kGemmNr512 = 32;

// ---- Winograd 3x3 convs (ops/conv2d_winograd.hpp) ----
// Scratch per worker for one block of tiles: its transformed inputs V and GEMM results M,
// (m+2)^2 * tiles * (Cin + Cout) floats (256 KiB, in L2). Measured on emotion's 31x31 32->64
// and gender's 62x62 8->8 (AVX-512, batch 1 and 8): 64K floats was the fastest of
// 16K..256K; smaller blocks give each transform element's GEMM too few rows to reuse its
// weights, larger ones spill V and M out of L2.
constexpr int64_t kWinogradBlockFloats = 65536;
// Input channels from which a 3x3 stride-1 conv runs Winograd: with Cin = 8 (gender's 8->8)
// F(4x4) was still 15-20% faster than the direct GEMM; with Cin = 1 or 3 the transforms
// cost more than the GEMM they save.
constexpr int kWinogradMinCin = 8;
// F(4x4, 3x3) up to this many input channels, F(2x2, 3x3) beyond. F(4x4)'s rounding error
// (max |d| / max(1, |ref|) vs the naive conv in double, random O(1) data, 16x16 same) measured
// 4-6e-6 for Cin 8..32, 7e-6 at 64 and 1.0-1.5e-5 at 128..256; F(2x2)'s stays below 8e-7 up
// to 256. Up to 32 F(4x4) keeps every conv under the 1e-5 that the conv tests hold all conv
// paths to, with margin; beyond, F(2x2) still saves 1.2-1.5x over the direct GEMM.
constexpr int kWinograd4MaxCin = 32;
// Fewer tiles than this in a run (e.g. a 4x4 output, one F(4x4) tile) go to the direct
// GEMM: the per-element GEMMs then have too few rows (measured 1 tile: 15% slower than
// direct; 4 tiles: 1.5x faster).
constexpr int64_t kWinogradMinTiles = 4;

// ---- separable convs: depthwise + pointwise fused (ops/depthwise_pointwise.hpp) ----
// Depthwise output rows per worker and band, in floats (128 KiB): the band is written by the
// depthwise kernel and read back by the pointwise GEMM while still in L2. Measured on
// BlazeFace's 128x128x24 dw3x3 + pw 24->24 +residual (AVX-512, EPYC with 1 MiB L2 per core,
// a busy shared machine): bands of 16K..128K floats were all within noise of each other and
// 5-10% faster than the unfused pair at batch 1, 10-25% at batch 8 (min of 60 runs); 4K-8K
// bands lose to the per-band GEMM overhead, a whole-image band (1.5 MiB) keeps little of the
// gain. 32K is the middle of the flat range and leaves room in a 256-512 KiB L2.
constexpr int64_t kDwPwBandFloats = 32768;
// Depthwise output floats per image below which the fused op runs the two halves one after
// the other over the whole batch (the depthwise result in scratch). 0: bands everywhere.
// Measured on every separable conv shape of the shipped classifiers (8x8x128, 7x7x256,
// 15x15x256, 29x29x128, 56x56x32/64, 60x60x16; batch 1, 1 and 2 threads): banded was within
// noise (+-5%) of the unfused pair at 1 thread and equal or faster at 2 (one fork-join
// instead of two), so no size needed the fallback.
constexpr int64_t kDwPwMinFloats = 0;

// ---- small-N direct conv (kernels/body/conv_small_n.inl, rule: conv_small_n in conv2d.hpp) ----
// At most this many output channels: one zmm (AVX-512) or two ymm (AVX2) per pixel. Measured
// per layer (Zen 5, AVX-512, 1 thread, min of 15 x 200 runs, us, direct vs GEMM): 3x3 valid
// 64x64x1 -> 8: 10.7 vs 16.4 with 8 channels in a ymm, 4.8 with two pixels per zmm
// (kernels/body/conv_small_n_pairs.inl), -> 16: 11.2 vs 15.7; 1x1 60x60x8 -> 16: 7.3 vs 11.0, ->
// 8: 7.2 vs 12.0; 60x60x16 -> 16: 11.4 vs 15.1, -> 8: 10.8 vs 13.6; 1x1/2 8 -> 16: 2.6 vs 3.8. The
// generic row (runtime Cin and kernel width) lost: 3x3 same 60x60x3 -> 8: 29.3 vs 25.0,
// 3x3 16 -> 16: 90 vs 84, 3x3 8 -> 8: 54 vs 50 (and Winograd). So only the unrolled
// shapes take it; with more than 16 channels the 12x32 zmm GEMM tile is full anyway.
constexpr int kSmallNMaxCout = 16;

// ---- N = 24 on AVX-512 (BlazeFace; kernels/body/gemm_pairs.inl) ----
// The GEMM's pair tile needs no rule: it runs every 32-column panel with 17..24 columns,
// where it issues 3 FMAs per row pair and k instead of 4 and gives the same bits (measured
// 0.75x the 12x32 tile's time on 1x1 24->24 and BlazeFace's 5x5/2 3->24, bench/README.md).
// The same trick in the depthwise rows (two pixels' last 8 of 24 channels in one zmm,
// bit-identical, commit b63a3cf) measured 1.0-1.4x the 8-lane rows' time at 32..128 px,
// so 24-channel depthwise stays on the 8-lane rows (3 ymm per pixel).

// ---- element-wise streams ----
// Non-clamp activations after add/mul run per block of about this many floats (16 KB,
// L1-resident) right after the block is computed, instead of a second pass over the tensor.
constexpr int64_t kEwBlockFloats = 4096;
// Channel vectors up to this length (not a multiple of 8) are expanded to a pattern of
// lcm(C, 8) values so the 8-lane kernels run over whole vectors; longer ones go pixel by pixel.
constexpr int kEwMaxPatternChannels = 64;
// Softmax over rows shorter than a vector: rows per block whose exponentials run as one flat
// stream (256 rows of a detector's 2 classes = 2 KB, in L1).
constexpr int64_t kSoftmaxBlockRows = 256;

// ---- threads ----
// The one rule for "worth a second thread": waking a pool worker and joining it costs a few
// microseconds, about what one core spends on kParallelMinWork units of work, a unit being
// one float read and written by an element-wise kernel. Ops state their work in those units
// through the per-element costs below (measured ratios of time per element, rounded to a
// power of two), then call worth_threads().
constexpr int64_t kParallelMinWork = int64_t(1) << 16;
// Activations: exp/div-heavy kinds dominate the standalone op; 2 units per float.
constexpr int64_t kCostActivation = 2;
// Depthwise and pooling: one multiply-add (or max) of a window tap costs about a quarter
// (depthwise, FMA from registers) or half (pooling, a load per tap) of a streamed float.
constexpr int64_t kCostDepthwiseTapDiv = 4;
constexpr int64_t kCostPoolTapDiv = 2;

// Threads to use for `work` units when the caller allows `threads`.
inline int worth_threads(int64_t work, int threads) {
  return work >= kParallelMinWork ? threads : 1;
}

}  // namespace tuning
}  // namespace mien
