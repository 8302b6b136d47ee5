#include "cpu_threads.h"

#include <ATen/Parallel.h>

#include <dlfcn.h>

#include <algorithm>
#include <fstream>
#include <set>
#include <string>
#include <thread>
#include <utility>

namespace bark {

int physical_cores() {
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
}

int set_cpu_threads(int requested) {
  const int threads = requested > 0 ? requested : physical_cores();
  at::set_num_threads(threads);  // libtorch starts with 1 thread here
  // libtorch's BLAS (OpenBLAS, pthread build on Debian) keeps its own thread pool, sized to all
  // cores and busy-waiting, whatever at::set_num_threads says; on a loaded machine that
  // spinning costs several times the work. Size it like torch's pool when the symbol exists.
  using SetThreads = void (*)(int);
  if (auto fn = reinterpret_cast<SetThreads>(::dlsym(RTLD_DEFAULT, "openblas_set_num_threads"))) fn(threads);
  return threads;
}

}  // namespace bark
