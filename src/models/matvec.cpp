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
constexpr int kOutTile = 4;  // output rows sharing each load of x
constexpr int kRowTile = 2;  // input rows sharing each load of W: 4 x 2 accumulators

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

// NO x NR dot products over the whole input, one 8-lane accumulator each.
template <int NO, int NR>
__attribute__((target("avx2,fma"))) inline void tile(const float* W, const float* bias, int64_t in, const float* X,
                                                     float* Y, int64_t out, int64_t o, int64_t r) {
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

__attribute__((target("avx2,fma"))) void rows_avx2(const float* W, const float* bias, int64_t in, const float* X,
                                                   int64_t rows, float* Y, int64_t out, int64_t o_begin,
                                                   int64_t o_end) {
  int64_t o = o_begin;
  for (; o + kOutTile <= o_end; o += kOutTile) {
    int64_t r = 0;
    for (; r + kRowTile <= rows; r += kRowTile) tile<kOutTile, kRowTile>(W, bias, in, X, Y, out, o, r);
    for (; r < rows; ++r) tile<kOutTile, 1>(W, bias, in, X, Y, out, o, r);
  }
  for (; o < o_end; ++o) {
    int64_t r = 0;
    for (; r + kRowTile <= rows; r += kRowTile) tile<1, kRowTile>(W, bias, in, X, Y, out, o, r);
    for (; r < rows; ++r) tile<1, 1>(W, bias, in, X, Y, out, o, r);
  }
}
#endif

}  // namespace

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
