#include "cpu_threads.h"

#include "bark/options.h"

#include <ATen/Parallel.h>

#include <dirent.h>
#include <dlfcn.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <fstream>
#include <mutex>
#include <vector>
#include <set>
#include <stdexcept>
#include <string>
#include <thread>
#include <utility>

namespace bark {

int physical_cores() {
  static const int n = [] {
  std::set<std::pair<std::string, std::string>> cores;
  for (unsigned cpu = 0; cpu < 4096; ++cpu) {
    const std::string base = "/sys/devices/system/cpu/cpu" + std::to_string(cpu) + "/topology/";
    std::ifstream pkg(base + "physical_package_id"), core(base + "core_id");
    if (!pkg || !core) break;
    std::string p, c;
    pkg >> p;
    core >> c;
    cores.emplace(p, c);
  }
  const int logical = static_cast<int>(std::thread::hardware_concurrency());
  if (cores.empty()) return std::max(1, logical);
  return std::max(1, std::min(static_cast<int>(cores.size()), logical > 0 ? logical : 1 << 20));
  }();
  return n;
}

namespace {

using SetThreads = void (*)(int);

SetThreads openblas_setter() {
  static const auto fn = reinterpret_cast<SetThreads>(::dlsym(RTLD_DEFAULT, "openblas_set_num_threads"));
  return fn;
}

// Runnable tasks on the machine right now, this one included (0 if unknown).
int procs_running() {
  std::ifstream stat("/proc/stat");
  std::string key;
  while (stat >> key) {
    if (key == "procs_running") {
      int n = 0;
      stat >> n;
      return n;
    }
    stat.ignore(1 << 20, '\n');
  }
  return 0;
}

// Threads of this process that are runnable now (state R in /proc/self/task/*/stat): our own
// pool threads still spinning after the last stage are not "other" load.
int own_running_threads() {
  DIR* dir = ::opendir("/proc/self/task");
  if (dir == nullptr) return 1;
  int n = 0;
  while (dirent* e = ::readdir(dir)) {
    if (e->d_name[0] == '.') continue;
    std::ifstream stat(std::string("/proc/self/task/") + e->d_name + "/stat");
    std::string line;
    std::getline(stat, line);
    const size_t paren = line.rfind(')');  // "pid (comm) S ...": comm may hold spaces
    if (paren != std::string::npos && paren + 2 < line.size() && line[paren + 2] == 'R') ++n;
  }
  ::closedir(dir);
  return std::max(1, n);
}

}  // namespace

int adapt_threads_to_load(int configured) {
  if (configured <= 1) return 1;
  const int cores = physical_cores();
  const int others = std::max(0, procs_running() - own_running_threads());
  const int threads = std::max(1, std::min(configured, cores - others));
  // The calling thread's OpenMP team size only (omp_set_num_threads sets this thread's ICV);
  // at::set_num_threads would also change the default of every other thread.
  static const auto omp_set = reinterpret_cast<SetThreads>(::dlsym(RTLD_DEFAULT, "omp_set_num_threads"));
  if (omp_set != nullptr) omp_set(threads);
  // OpenBLAS has one pool for the process: changed only when the count changes.
  static std::atomic<int> openblas_threads{0};
  if (auto fn = openblas_setter(); fn != nullptr && openblas_threads.exchange(threads) != threads) fn(threads);
  return threads;
}

void check_num_threads(int requested) {
  const int max_threads = max_num_threads();
  if (requested > max_threads) {
    throw std::invalid_argument("num_threads must be at most " + std::to_string(max_threads) + " (4 x " +
                                std::to_string(max_threads / 4) + " logical CPUs), got " + std::to_string(requested));
  }
}

int set_cpu_threads(int requested) {
  const int threads = requested > 0 ? requested : physical_cores();
  at::set_num_threads(threads);  // libtorch starts with 1 thread here
  // libtorch's BLAS (OpenBLAS, pthread build on Debian) keeps its own thread pool, sized to all
  // cores and busy-waiting, whatever at::set_num_threads says; on a loaded machine that
  // spinning costs several times the work. Size it like torch's pool when the symbol exists.
  if (auto fn = openblas_setter()) fn(threads);
  return threads;
}

namespace {

inline void cpu_relax() {
#if defined(__x86_64__) || defined(__i386__)
  __builtin_ia32_pause();
#endif
}

// The pool behind parallel_rows: workers that spin briefly between jobs, then sleep.
class RowPool {
 public:
  explicit RowPool(int workers) {
    for (int i = 0; i < workers; ++i) threads_.emplace_back([this, i] { work(i); });
  }
  ~RowPool() {
    {
      std::lock_guard<std::mutex> lock(sleep_mutex_);
      stop_ = true;
      generation_.fetch_add(1, std::memory_order_release);
    }
    wake_.notify_all();
    for (auto& t : threads_) t.join();
  }
  int workers() const { return static_cast<int>(threads_.size()); }

  // False when another caller holds the pool (the caller then runs everything itself).
  bool run(int64_t n, int64_t chunk, int parts, const std::function<void(int64_t, int64_t)>& fn) {
    std::unique_lock<std::mutex> busy(submit_, std::try_to_lock);
    if (!busy.owns_lock()) return false;
    fn_ = &fn;
    n_ = n;
    chunk_ = chunk;
    parts_ = parts;
    pending_.store(workers(), std::memory_order_relaxed);
    {
      std::lock_guard<std::mutex> lock(sleep_mutex_);  // no lost wake-up for a worker going to sleep
      generation_.fetch_add(1, std::memory_order_release);
    }
    wake_.notify_all();
    fn(0, std::min(n, chunk));  // part 0 on the calling thread
    while (pending_.load(std::memory_order_acquire) != 0) cpu_relax();
    return true;
  }

 private:
  void work(int index) {
    uint64_t seen = 0;
    for (;;) {
      // spin ~0.2 ms for the next job, then sleep until one comes
      const auto spin_until = std::chrono::steady_clock::now() + std::chrono::microseconds(200);
      for (int i = 0; generation_.load(std::memory_order_acquire) == seen; ++i) {
        cpu_relax();
        if ((i & 63) == 63 && std::chrono::steady_clock::now() > spin_until) {
          std::unique_lock<std::mutex> lock(sleep_mutex_);
          wake_.wait(lock, [&] { return generation_.load(std::memory_order_acquire) != seen; });
        }
      }
      seen = generation_.load(std::memory_order_acquire);
      if (stop_) return;
      const int part = index + 1;
      if (part < parts_) {
        const int64_t begin = part * chunk_;
        (*fn_)(begin, std::min(n_, begin + chunk_));
      }
      pending_.fetch_sub(1, std::memory_order_acq_rel);
    }
  }

  std::vector<std::thread> threads_;
  std::mutex submit_, sleep_mutex_;
  std::condition_variable wake_;
  std::atomic<uint64_t> generation_{0};
  std::atomic<int> pending_{0};
  bool stop_ = false;
  // the job: written before generation_ is bumped (release), read after it is seen (acquire)
  const std::function<void(int64_t, int64_t)>* fn_ = nullptr;
  int64_t n_ = 0, chunk_ = 0;
  int parts_ = 0;
};

RowPool& row_pool() {
  // Intentionally leaked: workers must not be joined from static destructors at exit, while
  // another thread may still be decoding.
  static RowPool* pool = new RowPool(std::max(0, physical_cores() - 1));
  return *pool;
}

}  // namespace

void parallel_rows(int64_t n, int64_t grain, const std::function<void(int64_t, int64_t)>& fn) {
  if (n <= 0) return;
  grain = std::max<int64_t>(1, grain);
  const int threads = std::max(1, at::get_num_threads());
  const int64_t max_parts = (n + grain - 1) / grain;
  int parts = static_cast<int>(std::min<int64_t>(threads, max_parts));
  if (parts > 1) {
    RowPool& pool = row_pool();
    parts = std::min(parts, pool.workers() + 1);
    const int64_t chunk = (n + parts - 1) / parts;
    parts = static_cast<int>((n + chunk - 1) / chunk);
    if (parts > 1 && pool.run(n, chunk, parts, fn)) return;
  }
  fn(0, n);
}

}  // namespace bark
