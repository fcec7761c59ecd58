// depthwise_conv2d followed by its only reader, a 1x1 stride-1 unpadded conv2d (a separable
// conv), run as one op over bands of output rows (fused at load by model/optimize.hpp).
// Per band, a thread computes the depthwise rows into its own scratch (a band of about
// tuning::kDwPwBandFloats floats, so it is still in L2 when it is read back) and runs the
// pointwise GEMM on them straight into the output, with the conv's bias, activation and
// fused residual in the GEMM's store. The depthwise output never makes a round trip
// through memory: BlazeFace's 128x128x24 stage reads and writes it at memory speed.
//
// The op owns the two ops it replaces and runs their kernels (the depthwise row kernels,
// the packed GEMM) on the same tiles, so its results equal the unfused pair's bit for bit,
// for any bands and threads. Bands are rows numbered over N x OH, so a band may cross from
// one image into the next. Where fusing pays: tuning::kDwPwMinFloats.
#pragma once

#include <algorithm>
#include <cstdint>
#include <cstring>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "mien/core/error.hpp"
#include "mien/core/parallel.hpp"
#include "mien/core/tensor.hpp"
#include "mien/kernels/gemm.hpp"
#include "mien/kernels/tuning.hpp"
#include "mien/ops/conv2d.hpp"
#include "mien/ops/depthwise.hpp"
#include "mien/ops/op.hpp"

namespace mien {

class DepthwisePointwise final : public Op {
 public:
  // dw: any depthwise conv; pw: a 1x1 stride-1 unpadded conv2d with dw's channels as its
  // input channels (with or without a fused residual). band_floats: the depthwise band per
  // worker; min_work: the work (tuning.hpp units) from which more threads are used. Tests
  // lower both to split tiny images unevenly over bands and threads.
  DepthwisePointwise(std::unique_ptr<DepthwiseConv2d> dw, std::unique_ptr<Conv2d> pw, Isa isa,
                     int64_t band_floats = tuning::kDwPwBandFloats,
                     int64_t min_work = tuning::kParallelMinWork)
      : Op(isa),
        dw_(std::move(dw)),
        pw_(std::move(pw)),
        band_floats_(band_floats),
        min_work_(min_work) {
    MIEN_CHECK(dw_ && pw_, "depthwise_pointwise: missing op");
    const ConvParams& p = pw_->params();
    const Padding& pad = p.padding;
    const bool unpadded = pad.mode != PadMode::Explicit ||
                          (pad.top == 0 && pad.left == 0 && pad.bottom == 0 && pad.right == 0);
    MIEN_CHECK(pw_->kernel_h() == 1 && pw_->kernel_w() == 1 && p.stride_h == 1 && p.stride_w == 1 &&
                   unpadded,
               "depthwise_pointwise: the pointwise conv must be 1x1, stride 1, unpadded");
    MIEN_CHECK(pw_->winograd_tile() == 0, "depthwise_pointwise: pointwise conv runs Winograd");
    MIEN_CHECK(pw_->in_channels() == dw_->channels(), "depthwise_pointwise: depthwise has ",
               dw_->channels(), " channels, pointwise takes ", pw_->in_channels());
    MIEN_CHECK(band_floats_ >= 1, "depthwise_pointwise: band of ", band_floats_, " floats");
  }

  const char* type() const override { return "depthwise_pointwise"; }
  int num_inputs() const override { return pw_->num_inputs(); }

  Shape output_shape(const std::vector<Shape>& inputs) const override {
    MIEN_CHECK(int(inputs.size()) == num_inputs(), "depthwise_pointwise takes ", num_inputs(),
               " input(s), got ", inputs.size());
    return pw_->output_shape(pw_inputs(inputs));
  }

  std::size_t scratch_floats(const std::vector<Shape>& inputs, int threads) const override {
    const Shape out = output_shape(inputs);  // validates
    const Shape mid = dw_->out_shape(inputs[0]);
    const Plan plan = make_plan(mid, banded(mid, inputs.size() > 1 ? &inputs[1] : nullptr, out),
                                out.c, std::max(threads, 1));
    if (plan.banded) return std::size_t(plan.slots * plan.slot);
    return std::size_t(plan.slot) + pw_->scratch_floats(pw_inputs(inputs), threads);
  }

  int64_t macs(const std::vector<Shape>& inputs) const override {
    return dw_->macs({inputs.at(0)}) + pw_->macs(pw_inputs(inputs));
  }
  int64_t parameters() const override { return dw_->parameters() + pw_->parameters(); }

  // "dw5x5/2 same +pw relu 24->24 +residual": the depthwise's description, then the
  // pointwise's activation, channels and residual.
  std::string describe() const override {
    const Activation& act = pw_->params().activation;
    const std::string pw = pw_->describe();
    return "dw" + dw_->describe() + " +pw" + (act.is_none() ? "" : " " + act.name()) +
           pw.substr(std::min(pw.size(), pw_->params().describe(1, 1).size()));
  }

  const DepthwiseConv2d& depthwise() const { return *dw_; }
  const Conv2d& pointwise() const { return *pw_; }
  bool has_residual() const { return pw_->has_residual(); }

  // Allocates nothing (but for a broadcast residual, which runs the conv as it is).
  void run(const ConstTensorView* inputs, TensorView out, const RunContext& ctx) const override {
    const ConstTensorView& in = inputs[0];
    const Shape mid = dw_->out_shape(in.shape);
    const Shape* res_shape = has_residual() ? &inputs[1].shape : nullptr;
    const bool band = banded(mid, res_shape, out.shape);
    if (band)
      MIEN_CHECK(out.shape == pw_->conv_shape(mid), "depthwise_pointwise: output ", out.shape.str(),
                 " does not fit input ", in.shape.str());
    const int threads = std::max(ctx.threads, 1);
    Plan plan = make_plan(mid, band, out.shape.c, threads);
    const int64_t have = ctx.scratch ? int64_t(ctx.scratch_size) : 0;
    if (!plan.banded) {
      // The depthwise result whole into scratch, then the conv as is (it checks the shapes).
      MIEN_CHECK(plan.slot <= have, "depthwise_pointwise: scratch of ", have,
                 " floats is smaller than the ", plan.slot, " needed");
      const TensorView tmp{mid, ctx.scratch};
      RunContext sub = ctx;
      dw_->run(&in, tmp, sub);
      sub.scratch = ctx.scratch + plan.slot;
      sub.scratch_size = std::size_t(have - plan.slot);
      const ConstTensorView pin[2] = {ConstTensorView(mid, tmp.data),
                                      has_residual() ? inputs[1] : ConstTensorView()};
      pw_->run(pin, out, sub);
      return;
    }
    // A scratch area planned for fewer threads gets fewer workers or smaller bands.
    while (plan.band > 1 && slot_floats(plan.band, mid) > have) plan.band = (plan.band + 1) / 2;
    plan.slot = slot_floats(plan.band, mid);
    MIEN_CHECK(plan.slot <= have, "depthwise_pointwise: scratch of ", have,
               " floats is smaller than the ", plan.slot, " needed");
    plan.slots = std::max<int64_t>(1, std::min(plan.slots, have / plan.slot));

    const detail::DwGeom g = dw_->geometry(in);
    const GemmWeights& w = pw_->gemm_weights();
    const Activation& act = pw_->params().activation;
    const int64_t cin = mid.c, cout = out.shape.c, ow = mid.w;
    const float* res = has_residual() ? inputs[1].data : nullptr;
    // Workers take pixel ranges of whole microkernel tiles, as gemm() splits the unfused
    // conv, and every GEMM call below covers whole tiles except at the very end: each pixel
    // goes through the same tile height (so the same sums) as unfused, whatever the bands
    // and threads. A worker computes the depthwise rows its range touches (a row shared
    // with the next worker is computed by both) and carries the < mr pixels past the last
    // whole tile of a band over to the front of its buffer for the next one.
    const int64_t mr = gemm_mr(w, isa_);
    const int64_t pixels = mid.pixels(), units = (pixels + mr - 1) / mr;
    const int64_t slots = std::min(plan.slots, units);
    parallel_for(slots, int(slots), [&](int64_t t0, int64_t t1) {
      for (int64_t t = t0; t < t1; ++t) {
        float* buf = ctx.scratch + t * plan.slot;
        const int64_t p0 = units * t / slots * mr;
        const int64_t p1 = std::min(pixels, units * (t + 1) / slots * mr);
        const int64_t last_row = (p1 + ow - 1) / ow;  // one past
        int64_t r = p0 / ow;
        int64_t base = r * ow, held = 0;  // buf holds pixels [base, base + held)
        for (int64_t start = p0; start < p1;) {
          const int64_t count = std::min(plan.band, last_row - r);
          dw_->run_rows(g, mid.h, r, r + count, buf + held * cin);
          r += count;
          held += count * ow;
          const int64_t end =
              r == last_row ? p1 : p0 + (base + held - p0) / mr * mr;  // whole tiles
          if (end > start)
            gemm_serial(w, end - start, buf + (start - base) * cin, cin, out.data + start * cout,
                        cout, act, isa_, res ? res + start * cout : nullptr, cout);
          if (end == p1) break;
          const int64_t keep = base + held - end;  // < mr pixels
          if (keep > 0 && end > base)
            std::memmove(buf, buf + (end - base) * cin, sizeof(float) * std::size_t(keep * cin));
          held = keep;
          base = start = end;
        }
      }
    });
  }

 private:
  // banded: `band` rows per step, `slot` scratch floats per worker, `slots` workers.
  // Otherwise (a broadcast residual, or a map smaller than tuning::kDwPwMinFloats) `slot`
  // is the whole depthwise result, and the conv runs as it would unfused.
  struct Plan {
    bool banded = true;
    int64_t band = 0, slot = 0, slots = 0;
  };

  // The conv's inputs: the depthwise result, and the residual if any.
  std::vector<Shape> pw_inputs(const std::vector<Shape>& inputs) const {
    std::vector<Shape> s = {dw_->out_shape(inputs.at(0))};
    if (inputs.size() > 1) s.push_back(inputs[1]);
    return s;
  }

  // A band of rows plus the < mr pixels carried over from the previous band.
  int64_t slot_floats(int64_t band, const Shape& mid) const {
    const int64_t mr = gemm_mr(pw_->gemm_weights(), isa_);
    return ((band * mid.w + mr) * mid.c + 15) / 16 * 16;  // keeps every slot 64-byte aligned
  }

  // Bands unless the residual broadcasts (either way) or the map is below the size rule.
  bool banded(const Shape& mid, const Shape* res, const Shape& out) const {
    if (res && (*res != out || pw_->conv_shape(mid) != out)) return false;
    return int64_t(mid.h) * mid.w * mid.c >= tuning::kDwPwMinFloats;
  }

  Plan make_plan(const Shape& mid, bool banded, int cout, int threads) const {
    Plan plan;
    if (!banded) {
      plan.banded = false;
      plan.slot = slot_floats(int64_t(mid.n) * mid.h, mid);
      return plan;
    }
    const int64_t rows = int64_t(mid.n) * mid.h;
    const int64_t row_floats = int64_t(mid.w) * mid.c;
    // Work in the element-wise units of tuning.hpp: depthwise taps and pointwise MACs.
    const int64_t work =
        mid.size() * dw_->kernel_h() * dw_->kernel_w() / tuning::kCostDepthwiseTapDiv +
        mid.pixels() * mid.c * cout / tuning::kCostDepthwiseTapDiv;
    const int workers = work >= min_work_ ? threads : 1;
    plan.slots = std::min<int64_t>(workers, rows);
    const int64_t share = (rows + plan.slots - 1) / plan.slots;
    plan.band = std::max<int64_t>(1, std::min(band_floats_ / row_floats, share));
    plan.slot = slot_floats(plan.band, mid);
    return plan;
  }

  std::unique_ptr<DepthwiseConv2d> dw_;
  std::unique_ptr<Conv2d> pw_;
  int64_t band_floats_, min_work_;
};

}  // namespace mien
