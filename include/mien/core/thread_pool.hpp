// ThreadPool: mien's own fork/join pool for parallel_for (core/parallel.hpp).
//
// Why not OpenMP: libgomp's default wait policy made 2 threads ~50x slower than 1 on small
// shared VMs, the policy can only be set before the program starts, and its static
// one-chunk-per-thread split with a full join made a layer wait for any thread the OS had
// preempted (2-thread latency collapsed up to 300x with another process on one core).
//
// How it works:
// - Workers are created once and live for the process (global()), or for a pool object.
// - A job is a function pointer + context (no std::function, nothing allocated per job).
// - The range is split as a static schedule would (participant p owns the p-th contiguous
//   part, the caller being participant 0), and each part is cut into a few chunks. A
//   participant runs its own chunks front to back, then steals chunks from the back of the
//   others' parts. So when every thread runs, each works on the same part of the tensors
//   in every layer (its cache still holds what it wrote: measured, interleaving chunks
//   across threads made BlazeFace at 2 threads 35% slower); and when a worker is
//   preempted or wakes late, the others take its chunks and nobody waits for it, except
//   for the one chunk it may be in the middle of.
// - Each part's claim word packs the job's generation with its chunk bounds, so a worker
//   that wakes after its job is over cannot claim a chunk of a later job by mistake; it
//   reads the job's fields only after a successful claim (the job cannot end before that
//   chunk is done).
// - Idle workers spin briefly (the next layer's job usually follows within microseconds),
//   then block on a condition variable, so an idle pool costs no CPU.
// - Several callers share the pool: each job takes one of kMaxJobs job slots (its own
//   claim words, counters and error), workers serve every slot that has work, and each
//   caller works through its own job (and steals its unclaimed chunks back), so a second
//   caller is never serialised behind the first: both make progress, the workers helping
//   whichever job they reach. Only when every slot is taken does a call run inline.
// - Calls from inside a job (a worker, or a caller while its job runs) run serially
//   inline: parallelism is taken once, at the outermost level, and never oversubscribes
//   the pool. This is the one pool for compute in mien: the layers (parallel_for), the
//   faces of a pipeline, the chunks of an evaluation and the frames of a video all run on
//   it (run_tasks below); only blocking I/O (the video frame reader) has its own thread.
// - An exception thrown by the body is caught, the job's remaining chunks are skipped,
//   and the first exception is rethrown on the calling thread.
#pragma once

#include <algorithm>
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <exception>
#include <memory>
#include <mutex>
#include <thread>
#include <vector>

#if defined(__linux__)
#include <sched.h>
#endif

namespace mien {

// CPUs this process may run on (its affinity mask, so `taskset -c 0` gives 1), at least 1.
inline int hardware_threads() {
#if defined(__linux__) && defined(CPU_COUNT)
  cpu_set_t set;
  CPU_ZERO(&set);
  if (sched_getaffinity(0, sizeof(set), &set) == 0) {
    const int n = CPU_COUNT(&set);
    if (n > 0) return n;
  }
#endif
  const unsigned n = std::thread::hardware_concurrency();
  return n > 0 ? int(n) : 1;
}

namespace detail {

inline void cpu_relax() {
#if defined(__x86_64__) || defined(__i386__)
  __builtin_ia32_pause();
#elif defined(__aarch64__)
  asm volatile("yield");
#endif
}

// True on pool workers, and on a caller while its job runs: parallel_for runs inline there.
inline bool& in_parallel_region() {
  thread_local bool inside = false;
  return inside;
}

}  // namespace detail

class ThreadPool {
 public:
  using ChunkFn = void (*)(void* context, int64_t begin, int64_t end);

  // Chunks per participating thread: enough that the others can take over most of a
  // preempted thread's part, few enough that per-call set-up in the kernels stays small.
  static constexpr int kChunksPerThread = 4;
  static constexpr int kMaxThreads = 256;
  // Jobs that can run at the same time (one per concurrent caller); more callers run inline.
  static constexpr int kMaxJobs = 8;

  // A pool with `workers` threads besides the callers (0 = every job runs on its caller).
  explicit ThreadPool(int workers) {
    workers = std::max(0, std::min(workers, kMaxThreads - 1));
    threads_.reserve(std::size_t(workers));
    for (int i = 0; i < workers; ++i) threads_.emplace_back([this, i] { worker_main(i); });
  }
  ~ThreadPool() {
    {
      std::lock_guard<std::mutex> lock(wake_mutex_);
      stop_.store(true);
    }
    wake_cv_.notify_all();
    for (std::thread& t : threads_) t.join();
  }
  ThreadPool(const ThreadPool&) = delete;
  ThreadPool& operator=(const ThreadPool&) = delete;

  // The process-wide pool: hardware_threads() - 1 workers, started on first use. It is
  // never destroyed, so parallel_for keeps working during static destruction and exit
  // does not wait for workers (they are blocked in a wait by then).
  static ThreadPool& global() {
    static ThreadPool* const pool = new ThreadPool(hardware_threads() - 1);
    return *pool;
  }

  int workers() const { return int(threads_.size()); }

  // Calls fn(context, begin, end) on contiguous chunks that cover [0, count) exactly once,
  // each of at least `grain` items (except when count is smaller), using the calling
  // thread and up to threads - 1 workers. Returns when every chunk is done and rethrows the
  // first exception fn threw. Serial (one call over the whole range, on this thread) when
  // threads <= 1, when there is a single chunk, inside a job, or when all kMaxJobs slots
  // hold other callers' jobs.
  void run(int64_t count, int threads, int64_t grain, ChunkFn fn, void* context) {
    if (count <= 0) return;
    grain = std::max<int64_t>(grain, 1);
    const int64_t participants =
        std::min<int64_t>({int64_t(threads), int64_t(workers()) + 1, count / grain});
    if (participants <= 1 || detail::in_parallel_region()) {
      fn(context, 0, count);
      return;
    }
    Job* job = nullptr;
    std::unique_lock<std::mutex> owner;
    for (Job& j : jobs_) {
      owner = std::unique_lock<std::mutex>(j.owner, std::try_to_lock);
      if (owner.owns_lock()) {
        job = &j;
        break;
      }
    }
    if (!job) {
      fn(context, 0, count);
      return;
    }
    struct RegionGuard {
      RegionGuard() { detail::in_parallel_region() = true; }
      ~RegionGuard() { detail::in_parallel_region() = false; }
    } region;

    Job& j = *job;
    const int64_t per =
        std::max<int64_t>(1, std::min<int64_t>({int64_t(kChunksPerThread), int64_t(kChunkMask),
                                                count / (grain * participants)}));
    j.fn = fn;
    j.context = context;
    j.count = count;
    j.per_part = per;
    j.chunks = per * participants;
    j.failed.store(false, std::memory_order_relaxed);
    j.done.store(0, std::memory_order_relaxed);
    j.generation = (j.generation + 1) & kGenerationMask;
    const uint64_t gen = j.generation;
    for (int64_t p = 0; p < participants; ++p)
      j.parts[p].word.store(gen << kGenerationShift | uint64_t(per), std::memory_order_relaxed);
    // Publish (seq_cst, paired with the workers' sleepers_ increment: either a worker sees
    // the new job before it sleeps, or we see it asleep and wake it).
    j.work.store(gen << kGenerationShift | uint64_t(participants));
    if (sleepers_.load() > 0) {
      { std::lock_guard<std::mutex> lock(wake_mutex_); }
      wake_cv_.notify_all();
    }

    work_on(j, gen, 0, int(participants));
    wait_done(j, j.chunks);
    if (j.failed.load(std::memory_order_relaxed)) {
      std::exception_ptr e;
      {
        std::lock_guard<std::mutex> lock(j.error_mutex);
        e.swap(j.error);
      }
      if (e) std::rethrow_exception(e);
    }
  }

 private:
  // work = generation (40 bits) | participants (24 bits). Part p's claim word =
  // generation | front (12 bits) | back (12 bits): its chunks not yet claimed are
  // [front, back). The generation makes a stale compare-exchange fail; it would take 2^40
  // jobs while one thread sat between its load and its compare-exchange to fool it.
  static constexpr int kGenerationShift = 24;
  static constexpr uint64_t kGenerationMask = (uint64_t(1) << 40) - 1;
  static constexpr uint64_t kLowMask = (uint64_t(1) << 24) - 1;
  static constexpr uint64_t kChunkMask = 0xfff;
  static uint64_t generation_of(uint64_t w) { return w >> kGenerationShift; }
  static int participants_of(uint64_t w) { return int(w & kLowMask); }

  // Spin before blocking: jobs of one model run follow each other within microseconds;
  // 20, 100 and 400 us measured the same (pipeline at 2 threads, idle and under load).
  static constexpr int kSpinMicros = 100;
  static constexpr int kSpinYields = 8;

  struct alignas(64) Part {  // one cache line each: parts are claimed concurrently
    std::atomic<uint64_t> word{0};
  };
  // One job slot. `owner` is held by the caller whose job uses the slot; the fields below
  // it are written by that caller before `work` publishes the job.
  struct Job {
    std::mutex owner;
    ChunkFn fn = nullptr;
    void* context = nullptr;
    int64_t count = 0, chunks = 0, per_part = 0;
    uint64_t generation = 0;
    std::atomic<uint64_t> work{0};
    Part parts[kMaxThreads];
    std::atomic<int64_t> done{0};
    std::atomic<bool> failed{false};
    std::mutex error_mutex;
    std::exception_ptr error;
    std::atomic<bool> caller_waiting{false};
    std::mutex done_mutex;
    std::condition_variable done_cv;
  };

  // Spins until done() or about `micros` have passed (pause between checks), then yields a
  // few times (lets a preempted thread of ours run on a busy machine); true if done.
  template <typename Done>
  static bool spin_until(Done&& done, int micros) {
    const auto deadline = std::chrono::steady_clock::now() + std::chrono::microseconds(micros);
    for (unsigned i = 1;; ++i) {
      if (done()) return true;
      detail::cpu_relax();
      if ((i & 31) == 0 && std::chrono::steady_clock::now() >= deadline) break;
    }
    for (int i = 0; i < kSpinYields; ++i) {
      if (done()) return true;
      std::this_thread::yield();
    }
    return done();
  }

  // Claims one chunk of part p for job `gen`: the front one (own part) or the back one
  // (someone else's). Returns the chunk's index in the job, or -1 if none is left.
  static int64_t claim(Job& j, uint64_t gen, int p, bool front) {
    std::atomic<uint64_t>& word = j.parts[p].word;
    uint64_t w = word.load(std::memory_order_acquire);
    for (;;) {
      const uint64_t lo = (w >> 12) & kChunkMask, hi = w & kChunkMask;
      if (generation_of(w) != gen || lo >= hi) return -1;
      const uint64_t next =
          front ? (w & ~(kChunkMask << 12)) | (lo + 1) << 12 : (w & ~kChunkMask) | (hi - 1);
      if (word.compare_exchange_weak(w, next, std::memory_order_acq_rel, std::memory_order_acquire))
        return int64_t(front ? lo : hi - 1);
    }
  }

  // Runs participant `self`'s chunks of job `gen`, then steals the others' until none is
  // left.
  static void work_on(Job& j, uint64_t gen, int self, int participants) {
    for (int k = 0; k < participants; ++k) {
      const int p = (self + k) % participants;
      for (;;) {
        const int64_t c = claim(j, gen, p, k == 0);
        if (c < 0) break;
        run_chunk(j, p, c);
      }
    }
  }

  // The claim succeeded, so the job cannot finish before this chunk: its fields are stable
  // until done counts it.
  static void run_chunk(Job& j, int part, int64_t chunk) {
    const int64_t chunks = j.chunks, index = part * j.per_part + chunk;
    if (!j.failed.load(std::memory_order_relaxed)) {
      const int64_t q = j.count / chunks, r = j.count % chunks;
      const int64_t begin = index * q + std::min(index, r);
      const int64_t end = begin + q + (index < r ? 1 : 0);
      try {
        j.fn(j.context, begin, end);
      } catch (...) {
        std::lock_guard<std::mutex> lock(j.error_mutex);
        if (!j.error) j.error = std::current_exception();
        j.failed.store(true, std::memory_order_relaxed);
      }
    }
    // Last use of the job's fields is above: after this increment the job may be over.
    if (j.done.fetch_add(1) + 1 == chunks && j.caller_waiting.load()) {
      { std::lock_guard<std::mutex> lock(j.done_mutex); }
      j.done_cv.notify_one();
    }
  }

  static void wait_done(Job& j, int64_t chunks) {
    if (spin_until([&] { return j.done.load(std::memory_order_acquire) == chunks; }, kSpinMicros))
      return;
    std::unique_lock<std::mutex> lock(j.done_mutex);
    j.caller_waiting.store(true);
    j.done_cv.wait(lock, [&] { return j.done.load() == chunks; });
    j.caller_waiting.store(false, std::memory_order_relaxed);
  }

  void worker_main(int id) {
    detail::in_parallel_region() = true;
    uint64_t seen[kMaxJobs] = {};  // the last generation this worker took up, per slot
    for (;;) {
      wait_for_job(seen);
      if (stop_.load(std::memory_order_relaxed)) return;
      for (int s = 0; s < kMaxJobs; ++s) {
        const uint64_t w = jobs_[s].work.load(std::memory_order_acquire);
        if (generation_of(w) == seen[s]) continue;
        seen[s] = generation_of(w);
        if (id + 1 < participants_of(w)) work_on(jobs_[s], seen[s], id + 1, participants_of(w));
      }
    }
  }

  // True when some slot holds a job generation this worker has not taken up yet.
  bool news(const uint64_t* seen, std::memory_order order) const {
    for (int s = 0; s < kMaxJobs; ++s)
      if (generation_of(jobs_[s].work.load(order)) != seen[s]) return true;
    return false;
  }

  // Returns once a slot has a generation this worker has not seen (or the pool stops).
  void wait_for_job(const uint64_t* seen) {
    if (spin_until(
            [&] {
              return news(seen, std::memory_order_acquire) || stop_.load(std::memory_order_relaxed);
            },
            kSpinMicros))
      return;
    std::unique_lock<std::mutex> lock(wake_mutex_);
    sleepers_.fetch_add(1);
    wake_cv_.wait(lock, [&] { return news(seen, std::memory_order_seq_cst) || stop_.load(); });
    sleepers_.fetch_sub(1);
  }

  std::vector<std::thread> threads_;
  Job jobs_[kMaxJobs];

  std::atomic<bool> stop_{false};
  std::atomic<int> sleepers_{0};
  std::mutex wake_mutex_;
  std::condition_variable wake_cv_;
};

// Runs task(i) for i in [0, tasks) on up to `threads` threads of the global pool (the
// caller included), each thread taking the next task in index order when it finishes one:
// for work items of very different costs (faces, dataset chunks, video frames). A thread
// that joins late finds the tasks taken; nothing waits for a thread that never comes, so a
// task may block on work done outside the pool (a reader thread) but not on another task.
template <typename Task>
void run_tasks(int64_t tasks, int threads, Task&& task) {
  if (tasks <= 0) return;
  threads = int(std::max<int64_t>(1, std::min<int64_t>(threads, tasks)));
  std::atomic<int64_t> next{0};
  auto body = [&](int64_t, int64_t) {
    for (int64_t i = next++; i < tasks; i = next++) task(i);
  };
  if (threads == 1) {
    body(0, 1);
    return;
  }
  // One range per thread, each pulling tasks until none is left.
  ThreadPool::global().run(
      threads, threads, 1,
      [](void* ctx, int64_t b, int64_t e) { (*static_cast<decltype(body)*>(ctx))(b, e); }, &body);
}

}  // namespace mien
