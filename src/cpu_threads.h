// Private: the CPU thread settings shared by bark::Pipeline and bark-bench.
#pragma once

#include <cstdint>
#include <functional>

namespace bark {

// Physical cores (hyper-threads share one core's FMA units and memory bandwidth), from sysfs;
// falls back to the logical count.
int physical_cores();

// Sizes libtorch's intra-op pool and OpenBLAS's own pool (when libtorch's BLAS is OpenBLAS) to
// `requested` threads, or to physical_cores() when it is 0. Returns the count applied.
int set_cpu_threads(int requested);

// Refuses (std::invalid_argument) a thread count above max_num_threads(): more than 4 per logical
// CPU only adds contention, surely a typo (and 99999 threads would bring the machine down).
void check_num_threads(int requested);

// The threads a stage about to start should use: `configured`, or fewer when other runnable
// tasks already occupy the cores (/proc/stat procs_running, an instantaneous count): on a busy
// machine, threads that must meet at every parallel region wait for each other's turn on a
// contended core (measured: 10-100x slower per token, docs/PERFORMANCE.md). Applies it to the
// calling thread's OpenMP team size and to OpenBLAS's pool, and returns it.
int adapt_threads_to_load(int configured);

// Runs fn(begin, end) over disjoint chunks covering [0, n), each at least `grain` long (the last
// may be shorter), on the calling thread and up to at::get_num_threads() - 1 workers of one
// process-wide pool; returns when all chunks are done. Exceptions must not escape `fn`.
//
// Why not at::parallel_for: bark is compiled without OpenMP, where it runs serially; and with
// OMP_WAIT_POLICY=PASSIVE (which bark needs, docs/PERFORMANCE.md) every parallel region wakes a
// sleeping thread, which costs more than the ~0.1-0.5 ms matrix-vector products of a decode step
// gain. The pool's workers spin for a short while (~0.2 ms) after a job before they sleep, so
// the ~50 products of one decode step meet a running worker, and an idle process sleeps. When
// another call holds the pool (several requests at once), the caller runs all chunks itself.
void parallel_rows(int64_t n, int64_t grain, const std::function<void(int64_t, int64_t)>& fn);

}  // namespace bark
