// Shared helpers for the doctest suite: seeded random tensors, error metrics, ISA loops.
#pragma once

#include <doctest/doctest.h>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <random>
#include <string>
#include <vector>

#include "mien/core/cpu.hpp"
#include "mien/core/tensor.hpp"
#include "mien/model/session.hpp"

namespace mien::test {

// Load options that pin the kernel set and switch the load-time graph rewrites.
inline ModelOptions model_options(Isa isa, bool optimize) {
  ModelOptions o;
  o.force_isa = true;
  o.isa = isa;
  o.optimize = optimize;
  return o;
}

// One run on a fresh Session, copied out.
inline Tensor run_model(const Model& m, const Tensor& input, int threads = 1) {
  Session s(m, threads);
  const ConstTensorView out = s.run(input.view());
  return Tensor(out.shape, out.data);
}

// Every ISA this CPU can run (scalar always), so a kernel test covers every path.
inline std::vector<Isa> isas() {
  std::vector<Isa> v{Isa::Scalar};
  if (cpu_has_avx2()) v.push_back(Isa::Avx2);
  if (cpu_has_avx512()) v.push_back(Isa::Avx512);
  return v;
}

inline Tensor random_tensor(Shape s, std::mt19937& rng, float lo = -1.f, float hi = 1.f) {
  Tensor t(s);
  std::uniform_real_distribution<float> d(lo, hi);
  for (float& v : t) v = d(rng);
  return t;
}

inline std::vector<float> random_vector(std::size_t n, std::mt19937& rng, float lo = -1.f,
                                        float hi = 1.f) {
  std::vector<float> v(n);
  std::uniform_real_distribution<float> d(lo, hi);
  for (float& x : v) x = d(rng);
  return v;
}

// Largest |a-b| / max(1, |b|): a relative error that does not explode near zero.
inline double max_rel_error(const float* a, const float* b, int64_t n) {
  double worst = 0;
  for (int64_t i = 0; i < n; ++i) {
    const double d = std::fabs(double(a[i]) - double(b[i]));
    worst = std::max(worst, d / std::max(1.0, std::fabs(double(b[i]))));
    if (std::isnan(a[i]) != std::isnan(b[i])) return INFINITY;
  }
  return worst;
}

inline double max_abs_error(const float* a, const float* b, int64_t n) {
  double worst = 0;
  for (int64_t i = 0; i < n; ++i) {
    worst = std::max(worst, std::fabs(double(a[i]) - double(b[i])));
    if (std::isnan(a[i]) != std::isnan(b[i])) return INFINITY;
  }
  return worst;
}

inline double max_rel_error(const Tensor& a, const Tensor& b) {
  REQUIRE(a.shape() == b.shape());
  return max_rel_error(a.data(), b.data(), a.size());
}

// The message of the mien::Error thrown by f(), or "" when nothing is thrown (other
// exception types fail the test).
template <typename F>
std::string error_of(F&& f) {
  try {
    f();
  } catch (const Error& e) {
    return e.what();
  }
  return "";
}

inline bool contains(const std::string& s, const std::string& part) {
  return s.find(part) != std::string::npos;
}

}  // namespace mien::test
