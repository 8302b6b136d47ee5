#include "models/matvec.h"

#include <ATen/Functions.h>

#include <algorithm>
#include <cmath>
#include <vector>

#include "cpu_threads.h"

#if defined(__x86_64__) && (defined(__GNUC__) || defined(__clang__))
#define BARK_MATVEC_X86 1
#include <immintrin.h>
#endif

// Hand-written: BLAS has no "several vectors, one pass over the matrix" call with a per-element
// summation order that does not depend on how many vectors there are (sgemm's blocking depends
// on M, so a row's bits would change with the batch size), and that fixed order is what keeps a
// batched sequence's tokens identical to its single run.

namespace bark::models {
namespace {

constexpr int kLanes = 8;
constexpr int kOutTile = 3;  // output rows sharing each load of x
constexpr int kRowTile = 4;  // input rows sharing each load of W: 3 x 4 accumulators

// The fixed reduction of 8 partial sums: (0+4, 1+5, 2+6, 3+7), then (0+2, 1+3), then (0+1).
inline float reduce8(const float* a) {
  const float s0 = a[0] + a[4], s1 = a[1] + a[5], s2 = a[2] + a[6], s3 = a[3] + a[7];
  const float t0 = s0 + s2, t1 = s1 + s3;
  return t0 + t1;
}

// One output element in the portable way: the same FMAs in the same order as the AVX2 kernel.
float dot_portable(const float* w, const float* x, int64_t in) {
  const int64_t in8 = in - in % kLanes;
  float acc[kLanes] = {0, 0, 0, 0, 0, 0, 0, 0};
  for (int64_t k = 0; k < in8; k += kLanes) {
    for (int l = 0; l < kLanes; ++l) acc[l] = std::fma(w[k + l], x[k + l], acc[l]);
  }
  float s = reduce8(acc);
  for (int64_t k = in8; k < in; ++k) s = std::fma(w[k], x[k], s);
  return s;
}

void rows_portable(const float* W, const float* bias, int64_t in, const float* X, int64_t rows, float* Y,
                   int64_t out, int64_t o_begin, int64_t o_end) {
  for (int64_t o = o_begin; o < o_end; ++o) {
    for (int64_t r = 0; r < rows; ++r) {
      Y[r * out + o] = dot_portable(W + o * in, X + r * in, in) + (bias ? bias[o] : 0.f);
    }
  }
}

#ifdef BARK_MATVEC_X86
__attribute__((target("avx2,fma"))) inline float hsum(__m256 v) {
  alignas(32) float a[kLanes];
  _mm256_store_ps(a, v);
  return reduce8(a);
}

__attribute__((target("avx2,fma"))) inline float tail(const float* w, const float* x, int64_t in8, int64_t in,
                                                       float s) {
  for (int64_t k = in8; k < in; ++k) s = std::fma(w[k], x[k], s);
  return s;
}

// NO x NR dot products over the whole input, one 8-lane accumulator each. `next` (optional):
// the first row of the next output tile, prefetched while this one computes (the weights stream
// from memory once, in the first pass over them).
template <int NO, int NR>
__attribute__((target("avx2,fma"))) inline void tile(const float* W, const float* bias, int64_t in, const float* X,
                                                     float* Y, int64_t out, int64_t o, int64_t r, const float* next) {
  const int64_t in8 = in - in % kLanes;
  __m256 acc[NO][NR];
  for (int i = 0; i < NO; ++i) {
    for (int j = 0; j < NR; ++j) acc[i][j] = _mm256_setzero_ps();
  }
  const float* w[NO];
  const float* x[NR];
  for (int i = 0; i < NO; ++i) w[i] = W + (o + i) * in;
  for (int j = 0; j < NR; ++j) x[j] = X + (r + j) * in;
  for (int64_t k = 0; k < in8; k += kLanes) {
    if (next != nullptr && (k & 15) == 0) {
      for (int i = 0; i < NO; ++i) _mm_prefetch(reinterpret_cast<const char*>(next + i * in + k), _MM_HINT_T0);
    }
    __m256 wv[NO];
    for (int i = 0; i < NO; ++i) wv[i] = _mm256_loadu_ps(w[i] + k);
    for (int j = 0; j < NR; ++j) {
      const __m256 xv = _mm256_loadu_ps(x[j] + k);
      for (int i = 0; i < NO; ++i) acc[i][j] = _mm256_fmadd_ps(wv[i], xv, acc[i][j]);
    }
  }
  for (int i = 0; i < NO; ++i) {
    for (int j = 0; j < NR; ++j) {
      const float s = tail(w[i], x[j], in8, in, hsum(acc[i][j]));
      Y[(r + j) * out + o + i] = s + (bias ? bias[o + i] : 0.f);
    }
  }
}

// All rows against output tile [o, o + NO): input rows four at a time (3 x 4 = 12 accumulators
// in 16 registers: enough independent FMAs to hide their latency), then the 1-3 left.
template <int NO>
__attribute__((target("avx2,fma"))) inline void rows_of_tile(const float* W, const float* bias, int64_t in,
                                                             const float* X, int64_t rows, float* Y, int64_t out,
                                                             int64_t o, const float* next) {
  int64_t r = 0;
  for (; r + kRowTile <= rows; r += kRowTile) {
    tile<NO, kRowTile>(W, bias, in, X, Y, out, o, r, r == 0 ? next : nullptr);
  }
  const float* pf = r == 0 ? next : nullptr;
  switch (rows - r) {
    case 3: tile<NO, 3>(W, bias, in, X, Y, out, o, r, pf); break;
    case 2: tile<NO, 2>(W, bias, in, X, Y, out, o, r, pf); break;
    case 1: tile<NO, 1>(W, bias, in, X, Y, out, o, r, pf); break;
    default: break;
  }
}

__attribute__((target("avx2,fma"))) void rows_avx2(const float* W, const float* bias, int64_t in, const float* X,
                                                   int64_t rows, float* Y, int64_t out, int64_t o_begin,
                                                   int64_t o_end) {
  int64_t o = o_begin;
  for (; o + kOutTile <= o_end; o += kOutTile) {
    const float* next = o + 2 * kOutTile <= o_end ? W + (o + kOutTile) * in : nullptr;
    rows_of_tile<kOutTile>(W, bias, in, X, rows, Y, out, o, next);
  }
  for (; o < o_end; ++o) rows_of_tile<1>(W, bias, in, X, rows, Y, out, o, nullptr);
}

__attribute__((target("avx2,fma"))) float dot_avx2(const float* w, const float* x, int64_t in) {
  const int64_t in8 = in - in % kLanes;
  __m256 acc = _mm256_setzero_ps();
  for (int64_t k = 0; k < in8; k += kLanes) acc = _mm256_fmadd_ps(_mm256_loadu_ps(w + k), _mm256_loadu_ps(x + k), acc);
  return tail(w, x, in8, in, hsum(acc));
}

// Scores of positions [0, S): eight positions at a time (eight independent accumulator chains),
// each position's dot product exactly dot_avx2's.
__attribute__((target("avx2,fma"))) void scores_avx2(const float* q, const float* k, int64_t S, int64_t hs,
                                                     float scale, float* out) {
  const int64_t hs8 = hs - hs % kLanes;
  int64_t s = 0;
  for (; s + 8 <= S; s += 8) {
    __m256 acc[8];
    for (int j = 0; j < 8; ++j) acc[j] = _mm256_setzero_ps();
    for (int64_t d = 0; d < hs8; d += kLanes) {
      const __m256 qv = _mm256_loadu_ps(q + d);
      for (int j = 0; j < 8; ++j) acc[j] = _mm256_fmadd_ps(_mm256_loadu_ps(k + (s + j) * hs + d), qv, acc[j]);
    }
    for (int j = 0; j < 8; ++j) out[s + j] = tail(k + (s + j) * hs, q, hs8, hs, hsum(acc[j])) * scale;
  }
  for (; s < S; ++s) out[s] = dot_avx2(k + s * hs, q, hs) * scale;
}

// y[d] = sum_s p[s] * v[s][d], FMA in s order, per element; 64 (then 8) elements of d at a time.
__attribute__((target("avx2,fma"))) void weighted_sum_avx2(const float* p, const float* v, int64_t S, int64_t hs,
                                                           float* y) {
  int64_t d = 0;
  for (; d + 8 * kLanes <= hs; d += 8 * kLanes) {
    __m256 a[8];
    for (int j = 0; j < 8; ++j) a[j] = _mm256_setzero_ps();
    for (int64_t s = 0; s < S; ++s) {
      const __m256 ps = _mm256_set1_ps(p[s]);
      const float* vs = v + s * hs + d;
      for (int j = 0; j < 8; ++j) a[j] = _mm256_fmadd_ps(ps, _mm256_loadu_ps(vs + j * kLanes), a[j]);
    }
    for (int j = 0; j < 8; ++j) _mm256_storeu_ps(y + d + j * kLanes, a[j]);
  }
  for (; d + kLanes <= hs; d += kLanes) {
    __m256 a = _mm256_setzero_ps();
    for (int64_t s = 0; s < S; ++s) a = _mm256_fmadd_ps(_mm256_set1_ps(p[s]), _mm256_loadu_ps(v + s * hs + d), a);
    _mm256_storeu_ps(y + d, a);
  }
  for (; d < hs; ++d) {
    float a = 0.f;
    for (int64_t s = 0; s < S; ++s) a = std::fma(p[s], v[s * hs + d], a);
    y[d] = a;
  }
}
#endif

void weighted_sum_portable(const float* p, const float* v, int64_t S, int64_t hs, float* y) {
  for (int64_t d = 0; d < hs; ++d) {
    float a = 0.f;
    for (int64_t s = 0; s < S; ++s) a = std::fma(p[s], v[s * hs + d], a);
    y[d] = a;
  }
}

}  // namespace

void attention_scores(const float* q, const float* k, int64_t nh, int64_t S, int64_t hs, int64_t head_stride,
                      float scale, float* scores) {
  const bool vec = matvec_vectorized();
  parallel_rows(nh, std::max<int64_t>(1, 16384 / std::max<int64_t>(1, S * hs)), [&](int64_t h0, int64_t h1) {
    for (int64_t h = h0; h < h1; ++h) {
      const float* qh = q + h * hs;
      const float* kh = k + h * head_stride;
      float* out = scores + h * S;
#ifdef BARK_MATVEC_X86
      if (vec) {
        scores_avx2(qh, kh, S, hs, scale, out);
        continue;
      }
#endif
      (void)vec;
      for (int64_t s = 0; s < S; ++s) out[s] = dot_portable(kh + s * hs, qh, hs) * scale;
    }
  });
}

void attention_values(const float* p, const float* v, int64_t nh, int64_t S, int64_t hs, int64_t head_stride,
                      float* y) {
  const bool vec = matvec_vectorized();
  parallel_rows(nh, std::max<int64_t>(1, 16384 / std::max<int64_t>(1, S * hs)), [&](int64_t h0, int64_t h1) {
    for (int64_t h = h0; h < h1; ++h) {
#ifdef BARK_MATVEC_X86
      if (vec) {
        weighted_sum_avx2(p + h * S, v + h * head_stride, S, hs, y + h * hs);
        continue;
      }
#endif
      (void)vec;
      weighted_sum_portable(p + h * S, v + h * head_stride, S, hs, y + h * hs);
    }
  });
}

bool matvec_vectorized() {
#ifdef BARK_MATVEC_X86
  static const bool ok = __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma");
  return ok;
#else
  return false;
#endif
}

void matvec_rows_f32(const float* W, const float* bias, int64_t out, int64_t in, const float* X, int64_t rows,
                     float* Y) {
  const bool vec = matvec_vectorized();
  // Chunks of output rows, a multiple of the tile, of at least ~256 KB of weights per thread.
  const int64_t grain = std::max<int64_t>(kOutTile, (65536 / std::max<int64_t>(1, in)) / kOutTile * kOutTile);
  parallel_rows(out, grain, [&](int64_t begin, int64_t end) {
#ifdef BARK_MATVEC_X86
    if (vec) return rows_avx2(W, bias, in, X, rows, Y, out, begin, end);
#endif
    (void)vec;
    rows_portable(W, bias, in, X, rows, Y, out, begin, end);
  });
}

at::Tensor matvec_rows(const at::Tensor& x, const at::Tensor& weight, const at::Tensor& bias) {
  TORCH_CHECK(weight.dim() == 2 && weight.scalar_type() == at::kFloat && weight.is_contiguous() && weight.is_cpu(),
              "matvec_rows: weight must be a contiguous 2-D fp32 CPU tensor");
  const int64_t out = weight.size(0), in = weight.size(1);
  TORCH_CHECK(x.size(-1) == in, "matvec_rows: x has ", x.size(-1), " columns, weight has ", in);
  const at::Tensor xc = x.to(at::kFloat).contiguous();
  const int64_t rows = xc.numel() / in;
  at::Tensor b;
  if (bias.defined()) b = bias.to(at::kFloat).contiguous();
  std::vector<int64_t> shape(x.sizes().begin(), x.sizes().end());
  shape.back() = out;
  at::Tensor y = at::empty(shape, xc.options());
  matvec_rows_f32(weight.data_ptr<float>(), b.defined() ? b.data_ptr<float>() : nullptr, out, in,
                  xc.data_ptr<float>(), rows, y.data_ptr<float>());
  return y;
}

}  // namespace bark::models
