#include "models/row_threads.h"

#include <ATen/Parallel.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <exception>
#include <mutex>
#include <thread>
#include <vector>

#if defined(__x86_64__)
#include <immintrin.h>
#define BARK_PAUSE() _mm_pause()
#else
#define BARK_PAUSE() std::this_thread::yield()
#endif

namespace bark::models {
namespace {

// How long a helper keeps polling for the next call before it sleeps: longer than the gaps
// between the kernels of a decoding step (attention, layer norms: tens of microseconds), much
// shorter than anything a user would notice as a busy core.
constexpr auto kSpin = std::chrono::microseconds(300);

class RowPool {
 public:
  static RowPool& instance() {
    static RowPool* pool = new RowPool();  // never destroyed: helpers may outlive static destructors
    return *pool;
  }

  // Runs parts 1..parts-1 on helpers and part 0 on the caller. false: busy, run it yourself.
  bool run(int parts, const std::function<void(int)>& part) {
    std::unique_lock<std::mutex> busy(busy_, std::try_to_lock);
    if (!busy.owns_lock()) return false;
    ensure_helpers(parts - 1);
    job_ = &part;
    active_ = parts - 1;
    // every helper takes part in every call (those beyond `parts` with nothing to do), so none
    // can lag behind and see the next call's job as its own
    remaining_.store(static_cast<int>(helpers_.size()), std::memory_order_relaxed);
    {
      std::lock_guard<std::mutex> lock(mutex_);
      epoch_.fetch_add(1, std::memory_order_release);
    }
    wake_.notify_all();
    std::exception_ptr error;
    try {
      part(0);
    } catch (...) {
      error = std::current_exception();
    }
    while (remaining_.load(std::memory_order_acquire) != 0) BARK_PAUSE();
    job_ = nullptr;
    if (!error && helper_error_) error = helper_error_;
    helper_error_ = nullptr;
    if (error) std::rethrow_exception(error);
    return true;
  }

 private:
  void ensure_helpers(int n) {
    while (static_cast<int>(helpers_.size()) < n) {
      const int index = static_cast<int>(helpers_.size()) + 1;
      // the epoch before this call publishes its job: a helper that starts late still sees it
      const uint64_t seen = epoch_.load(std::memory_order_acquire);
      helpers_.emplace_back([this, index, seen] { loop(index, seen); });
      helpers_.back().detach();
    }
  }

  void loop(int index, uint64_t seen) {
    for (;;) {
      // spin for a while, then sleep until the next call
      const auto until = std::chrono::steady_clock::now() + kSpin;
      uint64_t now = seen;
      for (int i = 0;; ++i) {
        now = epoch_.load(std::memory_order_acquire);
        if (now != seen) break;
        BARK_PAUSE();
        if ((i & 63) == 63 && std::chrono::steady_clock::now() > until) {
          std::unique_lock<std::mutex> lock(mutex_);
          wake_.wait(lock, [&] { return epoch_.load(std::memory_order_acquire) != seen; });
          now = epoch_.load(std::memory_order_acquire);
          break;
        }
      }
      seen = now;
      try {
        if (index <= active_) (*job_)(index);  // else: this call uses fewer helpers
      } catch (...) {
        std::lock_guard<std::mutex> lock(mutex_);
        if (!helper_error_) helper_error_ = std::current_exception();
      }
      remaining_.fetch_sub(1, std::memory_order_acq_rel);
    }
  }

  std::mutex busy_;   // one call at a time
  std::mutex mutex_;  // sleeping helpers
  std::condition_variable wake_;
  std::atomic<uint64_t> epoch_{0};
  std::atomic<int> remaining_{0};
  int active_ = 0;  // written before the epoch is published, read after it is seen
  const std::function<void(int)>* job_ = nullptr;
  std::exception_ptr helper_error_;
  std::vector<std::thread> helpers_;
};

}  // namespace

void parallel_rows(int64_t n, int64_t align, int64_t min_rows, const std::function<void(int64_t, int64_t)>& fn) {
  if (n <= 0) return;
  const int64_t threads = std::max(1, at::get_num_threads());
  int64_t parts = std::min<int64_t>(threads, std::max<int64_t>(1, n / std::max<int64_t>(1, min_rows)));
  if (parts <= 1) return fn(0, n);
  // part i: [bound(i), bound(i + 1)), boundaries rounded down to a multiple of `align`
  const auto bound = [&](int64_t i) {
    if (i >= parts) return n;
    const int64_t b = n * i / parts;
    return b - b % std::max<int64_t>(1, align);
  };
  const std::function<void(int)> part = [&](int i) {
    const int64_t begin = bound(i), end = bound(i + 1);
    if (begin < end) fn(begin, end);
  };
  if (!RowPool::instance().run(static_cast<int>(parts), part)) fn(0, n);
}

}  // namespace bark::models
