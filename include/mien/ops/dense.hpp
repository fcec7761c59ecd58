// dense (fully connected): out[n][co] = act(sum_ci in[n][ci] * W[ci][co] + b[co]), the input
// flattened in NHWC order; one packed GEMM with M = batch.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "mien/core/error.hpp"
#include "mien/core/tensor.hpp"
#include "mien/kernels/gemm.hpp"
#include "mien/ops/activation.hpp"
#include "mien/ops/op.hpp"

namespace mien {

class Dense final : public Op {
 public:
  // weight: [Cin][Cout] row-major; bias: [Cout] or nullptr.
  Dense(int cin, int cout, const float* weight, const float* bias, const Activation& act, Isa isa)
      : Op(isa), cin_(cin), cout_(cout), has_bias_(bias != nullptr), act_(act) {
    MIEN_CHECK(cin >= 1 && cout >= 1, "dense: invalid sizes ", cin, "->", cout);
    MIEN_CHECK(weight != nullptr, "dense: no weights");
    act.validate(cout);
    weights_ = GemmWeights(cin, cout, weight, cout, bias, isa);
  }

  const char* type() const override { return "dense"; }

  Shape output_shape(const std::vector<Shape>& inputs) const override {
    MIEN_CHECK(inputs.size() == 1, "dense takes 1 input, got ", inputs.size());
    const Shape& in = inputs[0];
    MIEN_CHECK(in.valid(), "dense: invalid input shape ", in.str());
    MIEN_CHECK(int64_t(in.h) * in.w * in.c == cin_, "dense expects ", cin_,
               " input values per item (H*W*C), got ", in.str());
    return Shape(in.n, 1, 1, cout_);
  }

  int64_t macs(const std::vector<Shape>& inputs) const override {
    return int64_t(output_shape(inputs).n) * cin_ * cout_;
  }

  int64_t parameters() const override { return int64_t(cin_) * cout_ + (has_bias_ ? cout_ : 0); }

  std::string describe() const override {
    std::string s = std::to_string(cin_) + "->" + std::to_string(cout_);
    if (!act_.is_none()) s += " " + act_.name();
    return s;
  }

  void run(const ConstTensorView* inputs, TensorView out, const RunContext& ctx) const override {
    const ConstTensorView& in = inputs[0];
    gemm(weights_, in.shape.n, in.data, cin_, out.data, cout_, act_, isa_, ctx.threads);
  }

  int in_features() const { return cin_; }
  int out_features() const { return cout_; }
  const Activation& activation() const { return act_; }

 private:
  int cin_, cout_;
  bool has_bias_;
  Activation act_;
  GemmWeights weights_;
};

// Reference: the obvious loops in double, for tests. out.shape must be N x 1 x 1 x cout.
inline void dense_naive(ConstTensorView in, const float* weight, const float* bias, int cout,
                        const Activation& act, TensorView out) {
  const int64_t cin = int64_t(in.shape.h) * in.shape.w * in.shape.c;
  MIEN_CHECK(out.shape == Shape(in.shape.n, 1, 1, cout), "dense_naive: output shape ",
             out.shape.str());
  for (int n = 0; n < in.shape.n; ++n) {
    const float* x = in.data + n * cin;
    for (int co = 0; co < cout; ++co) {
      double s = bias ? bias[co] : 0.0;
      for (int64_t ci = 0; ci < cin; ++ci) s += double(x[ci]) * double(weight[ci * cout + co]);
      out.data[int64_t(n) * cout + co] = activate_naive(float(s), act, co);
    }
  }
}

}  // namespace mien
