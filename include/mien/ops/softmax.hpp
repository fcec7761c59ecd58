// Softmax over the channels of every pixel (a classifier head is N x 1 x 1 x classes; a
// detector's per-anchor scores are N x anchors x 1 x classes). Numerically stable: the row
// maximum is subtracted first, so logits of +-1000 give exact 0/1 probabilities, not NaN.
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
#include "mien/kernels/kernels.hpp"
#include "mien/kernels/tuning.hpp"
#include "mien/ops/activation.hpp"
#include "mien/ops/op.hpp"

namespace mien {

// Reference, in double.
inline void softmax_naive(ConstTensorView in, TensorView out) {
  MIEN_CHECK(out.shape == in.shape, "softmax_naive: output ", out.shape.str(), " != input ",
             in.shape.str());
  const int c = in.shape.c;
  for (int64_t p = 0; p < in.shape.pixels(); ++p) {
    const float* x = in.data + p * c;
    double mx = x[0];
    for (int k = 1; k < c; ++k) mx = std::max(mx, double(x[k]));
    double sum = 0;
    for (int k = 0; k < c; ++k) sum += std::exp(double(x[k]) - mx);
    for (int k = 0; k < c; ++k) out.data[p * c + k] = float(std::exp(double(x[k]) - mx) / sum);
  }
}

class Softmax final : public Op {
 public:
  explicit Softmax(Isa isa) : Op(isa) {}
  const char* type() const override { return "softmax"; }
  Shape output_shape(const std::vector<Shape>& inputs) const override {
    MIEN_CHECK(inputs.size() == 1, "softmax takes 1 input, got ", inputs.size());
    MIEN_CHECK(inputs[0].valid(), "softmax: invalid input shape ", inputs[0].str());
    return inputs[0];
  }

  void run(const ConstTensorView* inputs, TensorView out, const RunContext& ctx) const override {
    const ConstTensorView& in = inputs[0];
    MIEN_CHECK(out.shape == in.shape, "softmax: output ", out.shape.str(), " != input ",
               in.shape.str());
    const int c = in.shape.c;
    const int threads = tuning::worth_threads(in.shape.size(), ctx.threads);
    const kernels::KernelTable& k = kernels_;
    parallel_for(in.shape.pixels(), threads, [&](int64_t begin, int64_t end) {
      const float* x = in.data + begin * c;
      float* y = out.data + begin * c;
      // Many short rows (a detector's classes per anchor) as one flat stream; a single short
      // row (a classifier head) is cheapest as one masked vector.
      if (c < 8 && end - begin >= 8) return k.softmax_short_rows(x, y, end - begin, c);
      k.softmax_rows(x, y, end - begin, c);
    });
  }
};

}  // namespace mien
