// Activations: the standalone op, and activate() for code that holds an Isa rather than a
// kernel table. The parameters (Activation) and the reference (activate_naive) live in
// kernels/activation.hpp, the kernels in kernels/body/activation.inl.
#pragma once

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <limits>
#include <string>
#include <vector>

#include "mien/core/cpu.hpp"
#include "mien/core/error.hpp"
#include "mien/core/parallel.hpp"
#include "mien/core/tensor.hpp"
#include "mien/kernels/activation.hpp"
#include "mien/kernels/kernels.hpp"
#include "mien/kernels/tuning.hpp"
#include "mien/ops/op.hpp"

namespace mien {

// out = activation(in) over pixels x channels values (NHWC rows); `in` may equal `out`.
// Runs on the calling thread (callers parallelise over rows). Allocates nothing.
inline void activate(const float* in, float* out, int64_t pixels, int channels, const Activation& a,
                     Isa isa) {
  if (a.kind == ActKind::PRelu)
    MIEN_CHECK(int(a.slopes.size()) == channels || a.slopes.size() == 1, "prelu has ",
               a.slopes.size(), " slopes for ", channels, " channels");
  kernels::kernel_table(isa).activate(in, out, pixels, channels, a);
}

// Applies the activation in place to pixels x channels values (NHWC rows).
inline void apply_activation(float* data, int64_t pixels, int channels, const Activation& a,
                             Isa isa) {
  activate(data, data, pixels, channels, a, isa);
}

// The standalone activation op (when it could not be fused into its producer).
class ActivationOp final : public Op {
 public:
  ActivationOp(Activation a, Isa isa) : Op(isa), act_(std::move(a)) {
    if (act_.kind == ActKind::Clip) act_.validate(1);
    if (act_.kind == ActKind::PRelu) MIEN_CHECK(!act_.slopes.empty(), "prelu has no slopes");
  }
  const char* type() const override { return "activation"; }
  Shape output_shape(const std::vector<Shape>& inputs) const override {
    MIEN_CHECK(inputs.size() == 1, "activation takes 1 input, got ", inputs.size());
    MIEN_CHECK(inputs[0].valid(), "activation: invalid input shape ", inputs[0].str());
    act_.validate(inputs[0].c);
    return inputs[0];
  }
  int64_t parameters() const override {
    return act_.kind == ActKind::PRelu ? int64_t(act_.slopes.size()) : 0;
  }
  std::string describe() const override { return act_.name(); }
  const Activation& activation() const { return act_; }

  void run(const ConstTensorView* inputs, TensorView out, const RunContext& ctx) const override {
    const ConstTensorView& in = inputs[0];
    MIEN_CHECK(out.shape == in.shape, "activation: output ", out.shape.str(), " != input ",
               in.shape.str());
    const int c = in.shape.c;
    const int threads =
        tuning::worth_threads(in.shape.size() * tuning::kCostActivation, ctx.threads);
    const kernels::ActivateFn fn = kernels_.activate;
    parallel_for(in.shape.pixels(), threads, [&](int64_t begin, int64_t end) {
      fn(in.data + begin * c, out.data + begin * c, end - begin, c, act_);
    });
  }

 private:
  Activation act_;
};

}  // namespace mien
