// The life of a layer (after ncnn): constructed from its parameters and weights, which it
// packs once for the chosen ISA; then run many times, from any number of threads at once
// (run() is const and touches only its inputs, output and the caller's scratch memory).
// An op holds the kernel table of its ISA (kernels/kernels.hpp), looked up once when it is
// constructed; ops describe shapes, packing and scheduling and call kernels through it.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

#include "mien/core/cpu.hpp"
#include "mien/core/error.hpp"
#include "mien/core/tensor.hpp"
#include "mien/kernels/kernels.hpp"

namespace mien {

// Per-call state given by the Session: the ISA, the thread budget and a scratch area of
// at least scratch_floats() floats, 64-byte aligned, owned by the Session.
struct RunContext {
  int threads = 1;
  float* scratch = nullptr;
  std::size_t scratch_size = 0;
};

class Op {
 public:
  virtual ~Op() = default;

  // Short type name as used in .mien files ("conv2d", "add", ...).
  virtual const char* type() const = 0;

  // Number of inputs the op takes (checked by the graph before run).
  virtual int num_inputs() const { return 1; }

  // Output shape for the given input shapes; throws mien::Error when they do not fit.
  virtual Shape output_shape(const std::vector<Shape>& inputs) const = 0;

  // Scratch floats needed by run() for these input shapes and this thread budget.
  virtual std::size_t scratch_floats(const std::vector<Shape>& /*inputs*/, int /*threads*/) const {
    return 0;
  }

  // Multiply-accumulates of one run (for `mien info` and GFLOP/s in benchmarks).
  virtual int64_t macs(const std::vector<Shape>& /*inputs*/) const { return 0; }

  // Number of learned parameters held by the op.
  virtual int64_t parameters() const { return 0; }

  // One-line description of the op's parameters for `mien info` ("3x3/2 same relu6").
  virtual std::string describe() const { return ""; }

  // Computes out from inputs. out.shape == output_shape(input shapes); out never aliases
  // an input. Must not allocate on the heap.
  virtual void run(const ConstTensorView* inputs, TensorView out, const RunContext& ctx) const = 0;

  Isa isa() const { return isa_; }

 protected:
  explicit Op(Isa isa) : isa_(isa), kernels_(kernels::kernel_table(isa)) {}
  Isa isa_;
  const kernels::KernelTable& kernels_;
};

}  // namespace mien
