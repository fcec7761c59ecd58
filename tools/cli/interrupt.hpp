// SIGINT/SIGTERM during a long command (mien video on a camera or stdin is stopped this
// way): the first signal only raises a flag, so the command can stop reading, finish the
// frames in flight and write complete outputs; a second one kills as usual.
#pragma once

#include <signal.h>

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <functional>
#include <mutex>
#include <thread>

namespace mien::cli {

inline std::atomic<int>& caught_signal() {
  static std::atomic<int> sig{0};
  return sig;
}

extern "C" inline void mien_on_stop_signal(int sig) {
  caught_signal().store(sig);
  ::signal(sig, SIG_DFL);  // the next Ctrl-C ends the program at once
}

// While alive: SIGINT/SIGTERM set caught_signal() and `on_signal` runs (on a watcher
// thread, not in the handler, so it may lock and call anything). Restores the previous
// handlers when destroyed.
class InterruptWatch {
 public:
  explicit InterruptWatch(std::function<void()> on_signal) : on_signal_(std::move(on_signal)) {
    struct sigaction sa {};
    sa.sa_handler = mien_on_stop_signal;
    sigemptyset(&sa.sa_mask);
    sa.sa_flags = SA_RESTART;
    ::sigaction(SIGINT, &sa, &old_int_);
    ::sigaction(SIGTERM, &sa, &old_term_);
    // Polling keeps the handler trivially async-signal-safe; 20 ms is far below what a
    // person pressing Ctrl-C notices.
    watcher_ = std::thread([this] {
      std::unique_lock<std::mutex> lock(mutex_);
      while (!done_) {
        if (caught_signal().load() != 0) {
          lock.unlock();
          on_signal_();
          return;
        }
        cv_.wait_for(lock, std::chrono::milliseconds(20));
      }
    });
  }
  InterruptWatch(const InterruptWatch&) = delete;
  InterruptWatch& operator=(const InterruptWatch&) = delete;
  ~InterruptWatch() {
    {
      std::lock_guard<std::mutex> lock(mutex_);
      done_ = true;
    }
    cv_.notify_all();
    watcher_.join();
    ::sigaction(SIGINT, &old_int_, nullptr);
    ::sigaction(SIGTERM, &old_term_, nullptr);
  }

  // The signal caught (SIGINT, SIGTERM) or 0.
  static int signal() { return caught_signal().load(); }
  // Shell convention: 128 + signal number (130 for SIGINT, 143 for SIGTERM).
  static int exit_code() { return 128 + signal(); }

 private:
  std::function<void()> on_signal_;
  std::mutex mutex_;
  std::condition_variable cv_;
  bool done_ = false;
  std::thread watcher_;
  struct sigaction old_int_ {
  }, old_term_{};
};

}  // namespace mien::cli
