// A process-wide pool of hardware_concurrency - 1 workers, started on first use; the calling thread works too.
//
// - One job at a time: a caller that finds the pool busy (another thread's parallel_for, e.g. a second libuv
//   worker) runs its range serially on its own thread instead of waiting, so concurrent callers never deadlock
//   and never oversubscribe the machine.
// - Calls made from inside a pool task (on a worker, or on a caller while it runs its share) run inline.
// - Chunks are claimed in increasing order; after a failure, chunks past the failing one are skipped, and the
//   exception of the lowest failing chunk is rethrown on the caller: the same error a serial loop would raise.
// - Lifetime: the Pool object is intentionally never freed, so nothing can use it after destruction whatever the
//   static destruction order. Its workers are stopped and joined by a static Reaper at exit; parallel_for calls
//   made after that (from later static destructors) run serially.
#include "parallel.h"

#include <algorithm>
#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <exception>
#include <mutex>
#include <thread>
#include <vector>

namespace ac {
namespace {

// True on pool workers, and on a calling thread while it executes its share of a job.
thread_local bool t_in_pool_task = false;

struct Job {
  const std::function<void(size_t, size_t)>* fn = nullptr;
  size_t n = 0;
  size_t chunks = 0;
  size_t max_helpers = 0;  // workers allowed to join (the caller works as well)
  std::atomic<size_t> next{0};
  std::atomic<size_t> failed_chunk{SIZE_MAX};
  std::mutex err_mu;
  std::exception_ptr err;  // exception of the lowest failing chunk

  void run() {
    const size_t base = n / chunks, extra = n % chunks;
    for (;;) {
      const size_t c = next.fetch_add(1, std::memory_order_relaxed);
      if (c >= chunks) return;
      if (c > failed_chunk.load(std::memory_order_relaxed)) continue;
      const size_t begin = c * base + std::min(c, extra);
      const size_t end = begin + base + (c < extra ? 1 : 0);
      try {
        (*fn)(begin, end);
      } catch (...) {
        std::lock_guard<std::mutex> lk(err_mu);
        if (c < failed_chunk.load(std::memory_order_relaxed)) {
          failed_chunk.store(c, std::memory_order_relaxed);
          err = std::current_exception();
        }
      }
    }
  }
};

class Pool {
 public:
  explicit Pool(unsigned workers) {
    threads_.reserve(workers);
    for (unsigned i = 0; i < workers; ++i) {
      try {
        threads_.emplace_back([this] { worker_main(); });
      } catch (...) {
        break;  // could not start more threads: work with what we have
      }
    }
  }

  int width() const { return static_cast<int>(threads_.size()) + 1; }

  // Runs the job with the caller participating. Returns false without running anything when the pool is busy
  // with another caller's job or already stopped.
  bool run(Job& job) {
    std::unique_lock<std::mutex> busy(caller_mu_, std::try_to_lock);
    if (!busy.owns_lock()) return false;
    {
      std::lock_guard<std::mutex> lk(mu_);
      if (stop_) return false;
      job_ = &job;
      ++generation_;
    }
    // Wake only as many workers as may join.
    if (job.max_helpers >= threads_.size())
      work_cv_.notify_all();
    else
      for (size_t i = 0; i < job.max_helpers; ++i) work_cv_.notify_one();
    t_in_pool_task = true;
    job.run();  // never throws: exceptions are captured in the job
    t_in_pool_task = false;
    std::unique_lock<std::mutex> lk(mu_);
    job_ = nullptr;  // no worker joins from now on
    done_cv_.wait(lk, [this] { return users_ == 0; });
    return true;
  }

  void stop_and_join() {
    {
      std::lock_guard<std::mutex> lk(mu_);
      stop_ = true;
    }
    work_cv_.notify_all();
    const std::thread::id self = std::this_thread::get_id();
    for (std::thread& t : threads_) {
      if (t.get_id() == self)
        t.detach();  // exit() called from inside a task: cannot join ourselves
      else if (t.joinable())
        t.join();
    }
  }

 private:
  void worker_main() {
    t_in_pool_task = true;
    std::unique_lock<std::mutex> lk(mu_);
    uint64_t seen = generation_;
    for (;;) {
      work_cv_.wait(lk, [&] { return stop_ || (job_ != nullptr && generation_ != seen); });
      if (stop_) return;
      seen = generation_;
      Job* job = job_;
      if (users_ >= job->max_helpers) continue;
      ++users_;
      lk.unlock();
      job->run();
      lk.lock();
      if (--users_ == 0) done_cv_.notify_all();
    }
  }

  std::mutex caller_mu_;  // held by the caller whose job is running
  std::mutex mu_;
  std::condition_variable work_cv_, done_cv_;
  Job* job_ = nullptr;
  uint64_t generation_ = 0;
  size_t users_ = 0;  // workers currently inside job_->run()
  bool stop_ = false;
  std::vector<std::thread> threads_;
};

struct Reaper {
  Pool* pool;
  ~Reaper() {
#if !defined(_WIN32)
    pool->stop_and_join();
#endif
    // On Windows the workers are already gone when static destructors of a DLL run at process exit, and
    // joining under the loader lock can deadlock: they are left to the OS.
  }
};

Pool& pool() {
  // Leaked on purpose (see the file comment).
  static Pool* const p = new Pool(std::max(1u, std::thread::hardware_concurrency()) - 1u);
  static const Reaper reaper{p};
  (void)reaper;
  return *p;
}

}  // namespace

void parallel_for(size_t n, int threads, const std::function<void(size_t, size_t)>& fn) {
  if (n == 0) return;
  if (threads == 1 || n < 2 || t_in_pool_task) {
    fn(0, n);
    return;
  }
  Pool& p = pool();
  const int width = p.width();
  const int t = threads <= 0 ? width : std::min(threads, width);
  if (t <= 1) {
    fn(0, n);
    return;
  }
  Job job;
  job.fn = &fn;
  job.n = n;
  job.chunks = std::min(n, static_cast<size_t>(t) * 4);
  job.max_helpers = static_cast<size_t>(t - 1);
  if (!p.run(job)) {
    fn(0, n);  // pool busy with another caller (or stopped at exit): run serially here
    return;
  }
  if (job.err) std::rethrow_exception(job.err);
}

int default_threads() { return pool().width(); }

}  // namespace ac
