// Admission control for `mien serve`: how many requests may be in the server at once
// (beyond that: 503 at once, not an ever-growing queue) and how many of them may run the
// pipeline at the same time (the others wait for a slot).
#pragma once

#include <condition_variable>
#include <cstddef>
#include <mutex>

namespace mien::cli {

class Admission {
 public:
  // `running`: requests computing at once; `in_flight`: requests admitted (running or
  // waiting for a slot), at least `running`.
  Admission(int running, int in_flight) : running_max_(running), in_flight_max_(in_flight) {}

  // A request's admission: `admitted()` false means the server is full (answer 503).
  // While admitted, `run()` waits for a compute slot and holds it until the Ticket ends.
  class Ticket {
   public:
    Ticket(const Ticket&) = delete;
    Ticket& operator=(const Ticket&) = delete;
    Ticket(Ticket&& o) noexcept : a_(o.a_), running_(o.running_) {
      o.a_ = nullptr;
      o.running_ = false;
    }
    ~Ticket() {
      if (a_) a_->leave(running_);
    }
    bool admitted() const { return a_ != nullptr; }
    void run() {
      if (a_ && !running_) {
        a_->start();
        running_ = true;
      }
    }

   private:
    friend class Admission;
    explicit Ticket(Admission* a) : a_(a) {}
    Admission* a_;
    bool running_ = false;
  };

  Ticket enter() {
    std::lock_guard<std::mutex> lock(mutex_);
    if (in_flight_ >= in_flight_max_) return Ticket(nullptr);
    ++in_flight_;
    return Ticket(this);
  }

  int in_flight() const {
    std::lock_guard<std::mutex> lock(mutex_);
    return in_flight_;
  }
  int running() const {
    std::lock_guard<std::mutex> lock(mutex_);
    return running_;
  }
  int max_in_flight() const { return in_flight_max_; }
  int max_running() const { return running_max_; }

 private:
  void start() {
    std::unique_lock<std::mutex> lock(mutex_);
    cv_.wait(lock, [&] { return running_ < running_max_; });
    ++running_;
  }
  void leave(bool was_running) {
    {
      std::lock_guard<std::mutex> lock(mutex_);
      --in_flight_;
      if (was_running) --running_;
    }
    cv_.notify_one();
  }

  const int running_max_, in_flight_max_;
  mutable std::mutex mutex_;
  std::condition_variable cv_;
  int running_ = 0, in_flight_ = 0;
};

}  // namespace mien::cli
