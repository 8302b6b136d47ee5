// Private: the CPU thread settings shared by bark::Pipeline and bark-bench.
#pragma once

namespace bark {

// Physical cores (hyper-threads share one core's FMA units and memory bandwidth), from sysfs;
// falls back to the logical count.
int physical_cores();

// Sizes libtorch's intra-op pool and OpenBLAS's own pool (when libtorch's BLAS is OpenBLAS) to
// `requested` threads, or to physical_cores() when it is 0. Returns the count applied.
int set_cpu_threads(int requested);

}  // namespace bark
