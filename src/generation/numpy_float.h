// Private: the float32 numpy operations of upstream's top_p filter, bit for bit.
//
// generation.py filters top_p on the CPU in numpy (numpy 1.24, scipy 1.10):
//   sorted_indices = np.argsort(relevant_logits)[::-1]           # default kind: introsort
//   cumulative_probs = np.cumsum(softmax(sorted_logits))          # scipy.special.softmax, float32
// Which logits survive depends on exactly how these round and order ties, so they are
// reproduced here as numpy computes them on x86-64 (checked bit for bit against numpy 1.24.2 on
// tie-heavy and wide-range vectors by tests/test_parity_reference.cpp):
//  - argsort: numpy's npysort aquicksort_ (median-of-3 introsort, insertion sort below 16
//    elements, heapsort past depth 2*floor(log2 n)); NaNs sort last.
//  - exp: numpy's AVX2/AVX512F float32 exp kernel (Cody-Waite reduction, P5/Q2 rational
//    approximation, 2^k scaling; max error 2.52 ulp), not the C library's expf.
//  - sum: the add reduction's pairwise summation (8 accumulators, blocks of <= 128), applied
//    to consecutive chunks of the 8192-element iterator buffer which are then added in order.
#pragma once

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <utility>
#include <vector>

namespace bark::generation::numpy_float {

// numpy's float "less": a < b, with NaN after everything.
inline bool less(float a, float b) { return a < b || (b != b && a == a); }

namespace detail {

// Moves `tmp` down the 1-based heap a[1..n] from slot i (numpy's sift-down loop).
inline void sift_down(const float* v, int64_t* a, int64_t i, int64_t tmp, int64_t n) {
  for (int64_t j = i << 1; j <= n;) {
    if (j < n && less(v[a[j]], v[a[j + 1]])) j += 1;
    if (!less(v[tmp], v[a[j]])) break;
    a[i] = a[j];
    i = j;
    j += j;
  }
  a[i] = tmp;
}

inline void aheapsort(const float* v, int64_t* tosort, int64_t n) {
  int64_t* a = tosort - 1;  // 1-based heap indexing
  for (int64_t l = n >> 1; l > 0; --l) sift_down(v, a, l, a[l], n);
  for (; n > 1;) {
    const int64_t tmp = a[n];
    a[n] = a[1];
    n -= 1;
    sift_down(v, a, 1, tmp, n);
  }
}

// FLOAT_pairwise_sum of numpy's loops_utils.h.
inline float pairwise_sum(const float* a, int64_t n) {
  if (n < 8) {
    float res = 0.0f;
    for (int64_t i = 0; i < n; ++i) res += a[i];
    return res;
  }
  if (n <= 128) {
    float r[8];
    for (int k = 0; k < 8; ++k) r[k] = a[k];
    int64_t i = 8;
    for (; i < n - (n % 8); i += 8) {
      for (int k = 0; k < 8; ++k) r[k] += a[i + k];
    }
    float res = ((r[0] + r[1]) + (r[2] + r[3])) + ((r[4] + r[5]) + (r[6] + r[7]));
    for (; i < n; ++i) res += a[i];
    return res;
  }
  int64_t n2 = n / 2;
  n2 -= n2 % 8;
  return pairwise_sum(a, n2) + pairwise_sum(a + n2, n - n2);
}

}  // namespace detail

// np.argsort(v) (kind='quicksort') for float32: the permutation numpy returns, ties included.
inline std::vector<int64_t> argsort(const float* v, int64_t num) {
  std::vector<int64_t> order(static_cast<size_t>(num > 0 ? num : 0));
  for (int64_t i = 0; i < num; ++i) order[static_cast<size_t>(i)] = i;
  if (num < 2) return order;
  constexpr int64_t kSmallQuicksort = 15;
  int64_t* pl = order.data();
  int64_t* pr = pl + num - 1;
  int64_t* stack[128];
  int64_t** sptr = stack;
  int depth[128];
  int* psdepth = depth;
  int cdepth = 0;
  for (uint64_t u = static_cast<uint64_t>(num); u >>= 1;) ++cdepth;
  cdepth *= 2;
  int64_t *pm, *pi, *pj, *pk, vi;
  float vp;
  for (;;) {
    if (cdepth < 0) {
      detail::aheapsort(v, pl, pr - pl + 1);
      goto stack_pop;
    }
    while ((pr - pl) > kSmallQuicksort) {
      // median of 3 partition
      pm = pl + ((pr - pl) >> 1);
      if (less(v[*pm], v[*pl])) std::swap(*pm, *pl);
      if (less(v[*pr], v[*pm])) std::swap(*pr, *pm);
      if (less(v[*pm], v[*pl])) std::swap(*pm, *pl);
      vp = v[*pm];
      pi = pl;
      pj = pr - 1;
      std::swap(*pm, *pj);
      for (;;) {
        do {
          ++pi;
        } while (less(v[*pi], vp));
        do {
          --pj;
        } while (less(vp, v[*pj]));
        if (pi >= pj) break;
        std::swap(*pi, *pj);
      }
      pk = pr - 1;
      std::swap(*pi, *pk);
      // push the larger partition on the stack
      if (pi - pl < pr - pi) {
        *sptr++ = pi + 1;
        *sptr++ = pr;
        pr = pi - 1;
      } else {
        *sptr++ = pl;
        *sptr++ = pi - 1;
        pl = pi + 1;
      }
      *psdepth++ = --cdepth;
    }
    // insertion sort
    for (pi = pl + 1; pi <= pr; ++pi) {
      vi = *pi;
      vp = v[vi];
      pj = pi;
      pk = pi - 1;
      while (pj > pl && less(vp, v[*pk])) *pj-- = *pk--;
      *pj = vi;
    }
  stack_pop:
    if (sptr == stack) break;
    pr = *(--sptr);
    pl = *(--sptr);
    cdepth = *(--psdepth);
  }
  return order;
}

// np.exp on a contiguous float32 array (numpy's SIMD kernel, one lane).
inline float exp(float x) {
  constexpr float kXmax = 88.72283935546875f;
  constexpr float kXmin = -103.97208404541015625f;
  if (x != x) return x;
  if (x >= kXmax) return INFINITY;
  if (x <= kXmin) return 0.0f;
  constexpr float kLog2e = 1.442695040888963407359924681001892137f;  // NPY_LOG2Ef
  constexpr float kRintMagic = 0x1.800000p+23f;                       // NPY_RINT_CVT_MAGICf
  // quadrant = rint(x * log2e) by the magic-number trick. The kernel writes mul_ps then
  // add_ps; GCC (-ffp-contract=fast, numpy's build) fuses them into one fma, and only the
  // fused form reproduces numpy where x * log2e lies near k + 1/2.
  const float shifted = std::fma(x, kLog2e, kRintMagic);
  const float q = shifted - kRintMagic;
  // Cody-Waite range reduction (the kernel's third fma adds q * 0)
  float r = std::fma(q, -6.93145752e-1f, x);  // NPY_CODY_WAITE_LOGE_2_HIGHf
  r = std::fma(q, -1.42860677e-6f, r);        // NPY_CODY_WAITE_LOGE_2_LOWf
  r = std::fma(q, 0.0f, r);
  float num = std::fma(5.082762527590693718096e-04f, r, 6.757896990527504603057e-03f);
  num = std::fma(num, r, 5.114512081637298353406e-02f);
  num = std::fma(num, r, 2.473615434895520810817e-01f);
  num = std::fma(num, r, 7.257664613233124478488e-01f);
  num = std::fma(num, r, 9.999999999980870924916e-01f);
  float den = std::fma(2.159509375685829852307e-02f, r, -2.742335390411667452936e-01f);
  den = std::fma(den, r, 1.0f);
  // poly * 2^q: exact for normal results; the kernel's denormal path rounds once, as ldexp
  return std::ldexp(num / den, static_cast<int>(q));
}

// np.sum of a contiguous float32 array (axis=None): identity 0, then the pairwise sum of each
// 8192-element chunk added in order.
inline float sum(const float* a, int64_t n) {
  constexpr int64_t kBufferSize = 8192;  // NPY_BUFSIZE
  float s = 0.0f;
  for (int64_t i = 0; i < n; i += kBufferSize) s += detail::pairwise_sum(a + i, std::min(kBufferSize, n - i));
  return s;
}

}  // namespace bark::generation::numpy_float
