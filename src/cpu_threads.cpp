#include "cpu_threads.h"

#include <ATen/Parallel.h>

#include <dirent.h>
#include <dlfcn.h>

#include <algorithm>
#include <atomic>
#include <fstream>
#include <set>
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

int set_cpu_threads(int requested) {
  const int threads = requested > 0 ? requested : physical_cores();
  at::set_num_threads(threads);  // libtorch starts with 1 thread here
  // libtorch's BLAS (OpenBLAS, pthread build on Debian) keeps its own thread pool, sized to all
  // cores and busy-waiting, whatever at::set_num_threads says; on a loaded machine that
  // spinning costs several times the work. Size it like torch's pool when the symbol exists.
  if (auto fn = openblas_setter()) fn(threads);
  return threads;
}

}  // namespace bark
