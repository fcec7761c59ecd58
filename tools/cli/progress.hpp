// A one-line progress bar on stderr for long commands (eval, video): done/total, rate and
// ETA, redrawn at most 10 times a second; silent unless stderr is a terminal, so logs and
// pipes stay clean.
#pragma once

#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <string>

namespace mien::cli {

class ProgressBar {
 public:
  // `unit` names what is counted ("images", "frames").
  explicit ProgressBar(bool enabled, std::string label = "", std::string unit = "")
      : on_(enabled && ::isatty(2)), label_(std::move(label)), unit_(std::move(unit)) {}
  ~ProgressBar() { finish(); }

  // `total` 0 means unknown (a camera, a pipe): then only the count and rate are shown.
  void update(int64_t done, int64_t total) {
    if (!on_) return;
    const auto now = std::chrono::steady_clock::now();
    if ((total == 0 || done < total) && now - last_ < std::chrono::milliseconds(100)) return;
    last_ = now;
    const double secs = std::chrono::duration<double>(now - start_).count();
    const double rate = secs > 0 ? double(done) / secs : 0.0;
    std::string line = "\r" + (label_.empty() ? "" : label_ + " ");
    char buf[160];
    if (total > 0) {
      const double frac = std::min(1.0, double(done) / double(total));
      const int width = 30, filled = int(frac * width);
      line += "[" + std::string(std::size_t(filled), '#') +
              std::string(std::size_t(width - filled), '.') + "]";
      const double eta = rate > 0 ? double(std::max<int64_t>(0, total - done)) / rate : 0.0;
      std::snprintf(buf, sizeof buf, " %lld/%lld %s %3d%%  %.1f/s  %.1f s, ETA %.0f s ",
                    (long long)done, (long long)total, unit_.c_str(), int(100.0 * frac), rate, secs,
                    eta);
    } else {
      std::snprintf(buf, sizeof buf, " %lld %s  %.1f/s  %.1f s ", (long long)done, unit_.c_str(),
                    rate, secs);
    }
    line += buf;
    std::fputs(line.c_str(), stderr);
    std::fflush(stderr);
    drawn_ = true;
  }

  // Erases the bar so that results follow cleanly.
  void finish() {
    if (drawn_) std::fputs("\r\033[K", stderr);
    drawn_ = false;
  }

 private:
  bool on_, drawn_ = false;
  std::string label_, unit_;
  std::chrono::steady_clock::time_point start_ = std::chrono::steady_clock::now(), last_{};
};

}  // namespace mien::cli
