// Threading: parallel_for over mien's own process-wide thread pool (core/thread_pool.hpp).
// The caller chooses the thread count per Session. A parallel_for inside another (faces
// processed in parallel, each running its layers) runs serially on its thread, so
// parallelism is taken once, at the outermost level that asks for it.
#pragma once

#include <cstdint>
#include <type_traits>
#include <utility>

#include "mien/core/thread_pool.hpp"

namespace mien {

// Runs body(begin, end) over contiguous ranges that cover [0, count) exactly once, on up
// to `threads` threads (the caller included). Ranges are claimed dynamically, several per
// thread, so a body must not assume how many ranges there are or which thread runs one;
// each range is contiguous (good for cache and for row-wise kernels). Each range has at
// least `grain` items: pass the items below which splitting costs more than it saves.
// An exception thrown by body reaches the caller (the remaining ranges are skipped).
template <typename Body>
void parallel_for(int64_t count, int threads, int64_t grain, Body&& body) {
  if (count <= 0) return;
  using B = std::remove_reference_t<Body>;
  if (threads <= 1) {
    body(int64_t(0), count);
    return;
  }
  ThreadPool::global().run(
      count, threads, grain,
      [](void* ctx, int64_t begin, int64_t end) { (*static_cast<B*>(ctx))(begin, end); },
      const_cast<void*>(static_cast<const void*>(&body)));
}

template <typename Body>
void parallel_for(int64_t count, int threads, Body&& body) {
  parallel_for(count, threads, 1, std::forward<Body>(body));
}

}  // namespace mien
