// Activations: the parameters (kind, slopes, clamp bounds) shared by every kernel that fuses
// one into its store, and activate_naive, the reference the fast paths are tested against.
// The fast kernels are in kernels/body/activation.inl; the standalone op in ops/activation.hpp.
#pragma once

#include <algorithm>
#include <cmath>
#include <limits>
#include <string>
#include <vector>

#include "mien/core/error.hpp"

namespace mien {

enum class ActKind { None, Relu, Relu6, Clip, LeakyRelu, PRelu, Sigmoid, Tanh, Swish, HardSwish };

struct Activation {
  ActKind kind = ActKind::None;
  float alpha = 0.f;          // LeakyRelu slope
  float lo = 0.f, hi = 0.f;   // Clip bounds
  std::vector<float> slopes;  // PRelu: one slope per channel

  static Activation none() { return Activation{}; }
  static Activation of(ActKind k) {
    Activation a;
    a.kind = k;
    return a;
  }
  static Activation relu() { return of(ActKind::Relu); }
  static Activation relu6() { return of(ActKind::Relu6); }
  static Activation leaky_relu(float alpha) {
    Activation a = of(ActKind::LeakyRelu);
    a.alpha = alpha;
    return a;
  }
  static Activation clip(float lo, float hi) {
    Activation a = of(ActKind::Clip);
    a.lo = lo;
    a.hi = hi;
    return a;
  }
  static Activation prelu(std::vector<float> per_channel) {
    Activation a = of(ActKind::PRelu);
    a.slopes = std::move(per_channel);
    return a;
  }

  bool is_none() const { return kind == ActKind::None; }
  // Relu, Relu6 and Clip are a min/max clamp that kernels apply in registers.
  bool is_clamp() const {
    return kind == ActKind::None || kind == ActKind::Relu || kind == ActKind::Relu6 ||
           kind == ActKind::Clip;
  }
  float clamp_lo() const {
    switch (kind) {
      case ActKind::Relu:
      case ActKind::Relu6:
        return 0.f;
      case ActKind::Clip:
        return lo;
      default:
        return -std::numeric_limits<float>::infinity();
    }
  }
  float clamp_hi() const {
    switch (kind) {
      case ActKind::Relu6:
        return 6.f;
      case ActKind::Clip:
        return hi;
      default:
        return std::numeric_limits<float>::infinity();
    }
  }

  std::string name() const {
    switch (kind) {
      case ActKind::None:
        return "none";
      case ActKind::Relu:
        return "relu";
      case ActKind::Relu6:
        return "relu6";
      case ActKind::Clip:
        return "clip";
      case ActKind::LeakyRelu:
        return "leaky_relu";
      case ActKind::PRelu:
        return "prelu";
      case ActKind::Sigmoid:
        return "sigmoid";
      case ActKind::Tanh:
        return "tanh";
      case ActKind::Swish:
        return "swish";
      case ActKind::HardSwish:
        return "hard_swish";
    }
    return "?";
  }

  // Parses the names used in .mien files; alpha/lo/hi/slopes are set by the caller.
  static ActKind kind_from_name(const std::string& s) {
    static const char* names[] = {"none",  "relu",    "relu6", "clip",  "leaky_relu",
                                  "prelu", "sigmoid", "tanh",  "swish", "hard_swish"};
    for (int i = 0; i < 10; ++i)
      if (s == names[i]) return static_cast<ActKind>(i);
    throw_error("unknown activation '", s, "'");
  }

  // Checks the parameters against the channel count of the tensor it will be applied to.
  void validate(int channels) const {
    if (kind == ActKind::PRelu)
      MIEN_CHECK(int(slopes.size()) == channels || slopes.size() == 1, "prelu has ", slopes.size(),
                 " slopes for ", channels, " channels");
    if (kind == ActKind::Clip) MIEN_CHECK(lo <= hi, "clip bounds ", lo, " > ", hi);
  }
};

// Reference definition of every activation, used by tests as the ground truth.
inline float activate_naive(float x, const Activation& a, int channel) {
  switch (a.kind) {
    case ActKind::None:
      return x;
    case ActKind::Relu:
      return x > 0.f ? x : 0.f;
    case ActKind::Relu6:
      return std::min(std::max(x, 0.f), 6.f);
    case ActKind::Clip:
      return std::min(std::max(x, a.lo), a.hi);
    case ActKind::LeakyRelu:
      return x >= 0.f ? x : a.alpha * x;
    case ActKind::PRelu: {
      const float s = a.slopes.size() == 1 ? a.slopes[0] : a.slopes[channel];
      return x >= 0.f ? x : s * x;
    }
    case ActKind::Sigmoid:
      return 1.f / (1.f + std::exp(-x));
    case ActKind::Tanh:
      return std::tanh(x);
    case ActKind::Swish:
      return x / (1.f + std::exp(-x));
    case ActKind::HardSwish:
      return x * std::min(std::max(x + 3.f, 0.f), 6.f) / 6.f;
  }
  return x;
}

}  // namespace mien
