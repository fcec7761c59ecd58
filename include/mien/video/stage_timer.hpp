// Where the time of `mien video` goes: CPU seconds per pipeline stage, summed over the
// threads that ran it, so the split means the same at 1 thread or 8 and on a loaded
// machine (a preempted thread's wall time would count the other processes' work).
//
// Stages are timed with each thread's own CPU clock (CLOCK_THREAD_CPUTIME_ID) around the
// work; nested work that mien runs inline on the same thread is included. The ffmpeg
// processes are timed by the kernel (their rusage when they are reaped, subprocess.hpp) and
// added with add_cpu(). Thread-safe: scopes on many threads add to the same totals.
//
//   mien::StageTimer timer;
//   { mien::StageTimer::Scope s(timer, mien::Stage::Detect); detect(...); }
//   std::fputs(mien::format_timing(timer.totals(), frames, wall, process_cpu, 2).c_str(), stderr);
#pragma once

#include <time.h>

#include <algorithm>
#include <array>
#include <atomic>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <string>

namespace mien {

enum class Stage {
  Decode,    // ffmpeg decoding + conversion to RGB (its process), and mien reading the pipe
  Resize,    // mien scaling a frame down for detection
  Detect,    // face detection (full frame and tiles)
  Classify,  // emotion and gender models on the faces (crops included)
  Track,     // shot cuts, tracking, box interpolation, confirmation, smoothing
  Output,    // the caller's per-frame work: drawing, CSV, writing to the encoder
  Encode,    // the ffmpeg encoder's process (--draw)
};
inline constexpr int kStages = 7;

inline const char* stage_name(Stage s) {
  static const char* names[kStages] = {"decode", "resize", "detect", "classify",
                                       "track",  "output", "encode"};
  return names[int(s)];
}

// CPU seconds of the calling thread so far.
inline double thread_cpu_seconds() {
  timespec ts{};
  clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
  return double(ts.tv_sec) + 1e-9 * double(ts.tv_nsec);
}

struct StageTotals {
  std::array<double, kStages> cpu{};  // seconds
  std::array<int64_t, kStages> calls{};
  double cpu_of(Stage s) const { return cpu[std::size_t(s)]; }
  double total() const {
    double t = 0;
    for (double c : cpu) t += c;
    return t;
  }
};

class StageTimer {
 public:
  // Adds the CPU time the calling thread spends between construction and destruction.
  class Scope {
   public:
    Scope(StageTimer* timer, Stage stage)
        : timer_(timer), stage_(stage), start_(timer ? thread_cpu_seconds() : 0) {}
    Scope(StageTimer& timer, Stage stage) : Scope(&timer, stage) {}
    Scope(const Scope&) = delete;
    Scope& operator=(const Scope&) = delete;
    ~Scope() {
      if (timer_) timer_->add_cpu(stage_, thread_cpu_seconds() - start_);
    }

   private:
    StageTimer* timer_;
    Stage stage_;
    double start_;
  };

  void add_cpu(Stage s, double seconds, int64_t calls = 1) {
    ns_[std::size_t(s)].fetch_add(int64_t(seconds * 1e9 + 0.5), std::memory_order_relaxed);
    calls_[std::size_t(s)].fetch_add(calls, std::memory_order_relaxed);
  }

  StageTotals totals() const {
    StageTotals t;
    for (int i = 0; i < kStages; ++i) {
      t.cpu[std::size_t(i)] = 1e-9 * double(ns_[std::size_t(i)].load(std::memory_order_relaxed));
      t.calls[std::size_t(i)] = calls_[std::size_t(i)].load(std::memory_order_relaxed);
    }
    return t;
  }

 private:
  std::array<std::atomic<int64_t>, kStages> ns_{};
  std::array<std::atomic<int64_t>, kStages> calls_{};
};

// The table `mien video --timing` prints: CPU per stage (seconds, ms per frame, share of
// all CPU), the CPU of mien that no stage claims (thread start-up, queues, ffmpeg's log
// reading, allocation), and two rates: the wall-clock one, and the one `cores` cores would
// reach if the work were CPU-bound (frames / (all CPU / cores)), which a loaded machine
// cannot lower. `mien_cpu`: the mien process's own CPU over the run (getrusage RUSAGE_SELF
// difference); the ffmpeg processes are the Decode/Encode stages' share of add_cpu.
inline std::string format_timing(const StageTotals& t, int64_t frames, double wall_seconds,
                                 double mien_cpu, double ffmpeg_cpu, int cores) {
  std::string s;
  char buf[256];
  const double all = mien_cpu + ffmpeg_cpu;
  const double staged = t.total();
  const double other = std::max(0.0, all - staged);
  const double per = frames > 0 ? 1000.0 / double(frames) : 0.0;
  std::snprintf(buf, sizeof buf, "%-10s %9s %10s %7s\n", "stage", "CPU s", "ms/frame", "share");
  s += buf;
  auto row = [&](const char* name, double cpu) {
    std::snprintf(buf, sizeof buf, "%-10s %9.2f %10.2f %6.1f%%\n", name, cpu, cpu * per,
                  all > 0 ? 100.0 * cpu / all : 0.0);
    s += buf;
  };
  for (int i = 0; i < kStages; ++i) {
    if (t.cpu[std::size_t(i)] == 0 && t.calls[std::size_t(i)] == 0) continue;
    row(stage_name(Stage(i)), t.cpu[std::size_t(i)]);
  }
  row("other", other);
  row("total", all);
  const double fps_wall = wall_seconds > 0 ? double(frames) / wall_seconds : 0.0;
  const double fps_cpu = all > 0 ? double(frames) / (all / double(cores)) : 0.0;
  std::snprintf(buf, sizeof buf,
                "%lld frames in %.2f s wall: %.1f frames/s; CPU %.2f s (mien %.2f + ffmpeg "
                "%.2f): %.1f frames/s on %d core%s if CPU-bound\n",
                (long long)frames, wall_seconds, fps_wall, all, mien_cpu, ffmpeg_cpu, fps_cpu,
                cores, cores == 1 ? "" : "s");
  s += buf;
  return s;
}

}  // namespace mien
