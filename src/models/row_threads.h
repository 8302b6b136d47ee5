// Private: splits the output rows of a matrix-vector kernel between threads.
//
// Why not at::parallel_for: in libtorch's OpenMP builds (Debian's) it is an inline
// `#pragma omp parallel`, and bark is compiled without OpenMP, so it runs on the calling thread;
// compiled with -fopenmp, every one of the ~50 kernel calls of a decoding step wakes a sleeping
// OpenMP thread under OMP_WAIT_POLICY=PASSIVE, which cost as much as the second core gained
// (docs/PERFORMANCE.md). Here the helper threads spin for a short while after each call (a
// decoding step calls the kernels back to back), then sleep, so a step meets them awake without
// keeping a core busy between requests.
#pragma once

#include <cstdint>
#include <functional>

namespace bark::models {

// Calls fn(begin, end) on disjoint ranges covering [0, n), each boundary a multiple of `align`
// (except n), on up to at::get_num_threads() threads (the caller's included); each part has at
// least `min_rows` rows. Returns when every part is done. The split must not matter to the
// result: fn computes each row independently. Safe to call from several threads at once (a
// caller that finds the helpers busy runs everything itself).
void parallel_rows(int64_t n, int64_t align, int64_t min_rows, const std::function<void(int64_t, int64_t)>& fn);

}  // namespace bark::models
