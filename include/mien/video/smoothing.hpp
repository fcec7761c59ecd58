// Temporal smoothing of a track's class probabilities: the mean over the last N analysed
// frames (default 4, the TV-series system's 4-frame buffer), or an exponential moving
// average. Single-frame flickers (a blink read as "surprise") then stop flipping labels.
#pragma once

#include <algorithm>
#include <cstdlib>
#include <deque>
#include <map>
#include <string>
#include <vector>

#include "mien/core/error.hpp"

namespace mien {

struct SmoothingOptions {
  enum class Mode { Window, Ema };
  Mode mode = Mode::Window;
  int window = 4;      // frames averaged by Mode::Window (1 = no smoothing)
  float alpha = 0.5f;  // Mode::Ema weight of the newest frame (1 = no smoothing)
};

// Parses "window", "window:N", "ema" or "ema:ALPHA".
inline SmoothingOptions parse_smoothing(const std::string& s) {
  SmoothingOptions o;
  const std::size_t colon = s.find(':');
  const std::string mode = s.substr(0, colon);
  const std::string arg = colon == std::string::npos ? "" : s.substr(colon + 1);
  char* end = nullptr;
  if (mode == "window") {
    o.mode = SmoothingOptions::Mode::Window;
    if (!arg.empty()) {
      const long n = std::strtol(arg.c_str(), &end, 10);
      MIEN_CHECK(*end == 0 && n >= 1 && n <= 1000, "smoothing window must be 1..1000 frames, not '",
                 arg, "'");
      o.window = int(n);
    }
  } else if (mode == "ema") {
    o.mode = SmoothingOptions::Mode::Ema;
    if (!arg.empty()) {
      const double a = std::strtod(arg.c_str(), &end);
      MIEN_CHECK(*end == 0 && a > 0 && a <= 1, "EMA alpha must be in (0, 1], not '", arg, "'");
      o.alpha = float(a);
    }
  } else {
    throw Error("smoothing must be window[:N] or ema[:ALPHA], not '" + s + "'");
  }
  return o;
}

class ProbabilitySmoother {
 public:
  explicit ProbabilitySmoother(SmoothingOptions opt = {}) : opt_(opt) {}

  // Adds one frame's probabilities and returns the smoothed ones.
  const std::vector<float>& update(const std::vector<float>& p) {
    if (opt_.mode == SmoothingOptions::Mode::Ema) {
      if (state_.size() != p.size()) {
        state_ = p;
      } else {
        for (std::size_t i = 0; i < p.size(); ++i)
          state_[i] = opt_.alpha * p[i] + (1 - opt_.alpha) * state_[i];
      }
      return state_;
    }
    if (!history_.empty() && history_.front().size() != p.size()) history_.clear();
    history_.push_back(p);
    while (int(history_.size()) > std::max(1, opt_.window)) history_.pop_front();
    state_.assign(p.size(), 0.f);
    for (const std::vector<float>& h : history_)
      for (std::size_t i = 0; i < p.size(); ++i) state_[i] += h[i];
    for (float& v : state_) v /= float(history_.size());
    return state_;
  }
  // The last smoothed probabilities (empty before the first update).
  const std::vector<float>& state() const { return state_; }

 private:
  SmoothingOptions opt_;
  std::deque<std::vector<float>> history_;
  std::vector<float> state_;
};

// One smoother per track id.
class TrackSmoothers {
 public:
  explicit TrackSmoothers(SmoothingOptions opt = {}) : opt_(opt) {}
  const std::vector<float>& update(int track, const std::vector<float>& p) {
    auto it = smoothers_.find(track);
    if (it == smoothers_.end()) it = smoothers_.emplace(track, ProbabilitySmoother(opt_)).first;
    return it->second.update(p);
  }
  // The track's smoothed probabilities so far, nullptr before its first update.
  const std::vector<float>* current(int track) const {
    auto it = smoothers_.find(track);
    return it == smoothers_.end() || it->second.state().empty() ? nullptr : &it->second.state();
  }

 private:
  SmoothingOptions opt_;
  std::map<int, ProbabilitySmoother> smoothers_;
};

}  // namespace mien
