// Private: the CPU thread settings shared by bark::Pipeline and bark-bench.
#pragma once

namespace bark {

// Physical cores (hyper-threads share one core's FMA units and memory bandwidth), from sysfs;
// falls back to the logical count.
int physical_cores();

// Sizes libtorch's intra-op pool and OpenBLAS's own pool (when libtorch's BLAS is OpenBLAS) to
// `requested` threads, or to physical_cores() when it is 0. Returns the count applied.
int set_cpu_threads(int requested);

// The threads a stage about to start should use: `configured`, or fewer when other runnable
// tasks already occupy the cores (/proc/stat procs_running, an instantaneous count): on a busy
// machine, threads that must meet at every parallel region wait for each other's turn on a
// contended core (measured: 10-100x slower per token, docs/PERFORMANCE.md). Applies it to the
// calling thread's OpenMP team size and to OpenBLAS's pool, and returns it.
int adapt_threads_to_load(int configured);

}  // namespace bark
