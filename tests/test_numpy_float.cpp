// numpy's float32 argsort emulation (src/generation/numpy_float.h) on inputs whose sorted order is
// unique, including the heapsort fallback numpy's introsort takes past its depth limit.
#include <catch2/catch.hpp>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <numeric>
#include <random>
#include <vector>

#include "generation/numpy_float.h"

namespace nf = bark::generation::numpy_float;

namespace {
// Ascending by value, NaN last; for distinct values (and one NaN) exactly one order qualifies.
bool sorted_like_numpy(const std::vector<float>& v, const std::vector<int64_t>& order) {
  if (order.size() != v.size()) return false;
  std::vector<int64_t> seen(order);
  std::sort(seen.begin(), seen.end());
  for (size_t i = 0; i < seen.size(); ++i) {
    if (seen[i] != static_cast<int64_t>(i)) return false;  // a permutation
  }
  for (size_t i = 1; i < order.size(); ++i) {
    if (nf::less(v[static_cast<size_t>(order[i])], v[static_cast<size_t>(order[i - 1])])) return false;
  }
  return true;
}
}  // namespace

TEST_CASE("numpy_float heapsort and argsort order distinct floats ascending, NaN last", "[unit]") {
  std::mt19937 rng(7);
  std::uniform_real_distribution<float> dist(-50.f, 50.f);
  for (int64_t n : {1, 2, 3, 7, 16, 17, 100, 1000, 4097}) {
    INFO("n = " << n);
    std::vector<float> v(static_cast<size_t>(n));
    std::iota(v.begin(), v.end(), 0.f);
    std::shuffle(v.begin(), v.end(), rng);
    for (auto& x : v) x = x * 0.5f + dist(rng) * 1e-3f;  // distinct, not integers
    if (n > 2) v[static_cast<size_t>(n / 2)] = NAN;
    std::vector<int64_t> heap(static_cast<size_t>(n));
    std::iota(heap.begin(), heap.end(), 0);
    nf::detail::aheapsort(v.data(), heap.data(), n);
    CHECK(sorted_like_numpy(v, heap));
    CHECK(sorted_like_numpy(v, nf::argsort(v.data(), n)));
  }
}
