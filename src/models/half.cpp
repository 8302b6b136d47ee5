#include "models/half.h"

#include <ATen/Functions.h>
#include <ATen/Parallel.h>
#include <c10/util/Half.h>

#include <cstdint>

#if defined(__x86_64__) && (defined(__GNUC__) || defined(__clang__))
#define BARK_HALF_X86 1
#include <immintrin.h>
#endif

namespace bark::models {
namespace {

// Rows per parallel task: 64 rows of width 1024 are 128 KB of fp16 weights.
constexpr int64_t kRowGrain = 64;

float dot_portable(const c10::Half* w, const float* x, int64_t n) {
  float acc = 0.f;
  for (int64_t i = 0; i < n; ++i) acc += static_cast<float>(w[i]) * x[i];
  return acc;
}

void matvec_portable(const c10::Half* w, const float* x, const float* bias, float* y, int64_t begin, int64_t end,
                     int64_t cols) {
  for (int64_t r = begin; r < end; ++r) y[r] = dot_portable(w + r * cols, x, cols) + (bias ? bias[r] : 0.f);
}

#ifdef BARK_HALF_X86
__attribute__((target("avx2,fma,f16c"))) inline float hsum(__m256 v) {
  const __m128 s = _mm_add_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
  const __m128 t = _mm_add_ps(s, _mm_movehl_ps(s, s));
  return _mm_cvtss_f32(_mm_add_ss(t, _mm_movehdup_ps(t)));
}

__attribute__((target("avx2,fma,f16c"))) inline __m256 load8(const c10::Half* p) {
  return _mm256_cvtph_ps(_mm_loadu_si128(reinterpret_cast<const __m128i*>(p)));
}

// Four rows at a time share each load of x, two accumulators per row (16 columns a step), and
// the next four rows are prefetched: ~11-12 GB/s of fp16 weights on one Zen 3 core, as fast as
// OpenBLAS's fp32 sgemv streams its (twice as large) weights.
__attribute__((target("avx2,fma,f16c"))) void matvec_avx2(const c10::Half* w, const float* x, const float* bias,
                                                          float* y, int64_t begin, int64_t end, int64_t cols) {
  const int64_t cols16 = cols - cols % 16;
  const int64_t cols8 = cols - cols % 8;
  int64_t r = begin;
  for (; r + 4 <= end; r += 4) {
    const c10::Half* rows[4] = {w + r * cols, w + (r + 1) * cols, w + (r + 2) * cols, w + (r + 3) * cols};
    __m256 a[4], b[4];
    for (int i = 0; i < 4; ++i) a[i] = b[i] = _mm256_setzero_ps();
    for (int64_t c = 0; c < cols16; c += 16) {
      const __m256 x0 = _mm256_loadu_ps(x + c);
      const __m256 x1 = _mm256_loadu_ps(x + c + 8);
      for (int i = 0; i < 4; ++i) {
        _mm_prefetch(reinterpret_cast<const char*>(rows[i] + c + 4 * cols), _MM_HINT_T0);
        a[i] = _mm256_fmadd_ps(load8(rows[i] + c), x0, a[i]);
        b[i] = _mm256_fmadd_ps(load8(rows[i] + c + 8), x1, b[i]);
      }
    }
    if (cols8 > cols16) {
      const __m256 x0 = _mm256_loadu_ps(x + cols16);
      for (int i = 0; i < 4; ++i) a[i] = _mm256_fmadd_ps(load8(rows[i] + cols16), x0, a[i]);
    }
    for (int i = 0; i < 4; ++i) {
      const float s = hsum(_mm256_add_ps(a[i], b[i])) + dot_portable(rows[i] + cols8, x + cols8, cols - cols8);
      y[r + i] = s + (bias ? bias[r + i] : 0.f);
    }
  }
  for (; r < end; ++r) {  // the same arithmetic per row as above, so no result depends on the split
    const c10::Half* wr = w + r * cols;
    __m256 a = _mm256_setzero_ps(), b = _mm256_setzero_ps();
    for (int64_t c = 0; c < cols16; c += 16) {
      a = _mm256_fmadd_ps(load8(wr + c), _mm256_loadu_ps(x + c), a);
      b = _mm256_fmadd_ps(load8(wr + c + 8), _mm256_loadu_ps(x + c + 8), b);
    }
    if (cols8 > cols16) a = _mm256_fmadd_ps(load8(wr + cols16), _mm256_loadu_ps(x + cols16), a);
    const float s = hsum(_mm256_add_ps(a, b)) + dot_portable(wr + cols8, x + cols8, cols - cols8);
    y[r] = s + (bias ? bias[r] : 0.f);
  }
}

__attribute__((target("avx2,f16c"))) void widen_avx2(const c10::Half* src, float* dst, int64_t begin, int64_t end) {
  int64_t i = begin;
  for (; i + 8 <= end; i += 8) _mm256_storeu_ps(dst + i, load8(src + i));
  for (; i < end; ++i) dst[i] = static_cast<float>(src[i]);
}
#endif

}  // namespace

bool half_kernels_vectorized() {
#ifdef BARK_HALF_X86
  static const bool ok = __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma") && __builtin_cpu_supports("f16c");
  return ok;
#else
  return false;
#endif
}

at::Tensor half_matvec(const at::Tensor& weight, const at::Tensor& x, const at::Tensor& bias) {
  TORCH_CHECK(weight.scalar_type() == at::kHalf && weight.dim() == 2 && weight.is_contiguous() && weight.is_cpu(),
              "half_matvec: weight must be a contiguous 2-D CPU half tensor");
  const int64_t rows = weight.size(0), cols = weight.size(1);
  TORCH_CHECK(x.numel() == cols, "half_matvec: x has ", x.numel(), " values, weight has ", cols, " columns");
  const at::Tensor xc = x.reshape({cols}).to(at::kFloat).contiguous();
  at::Tensor b;
  if (bias.defined()) b = bias.to(at::kFloat).contiguous();
  at::Tensor y = at::empty({rows}, xc.options());
  const c10::Half* w = weight.data_ptr<c10::Half>();
  const float* xp = xc.data_ptr<float>();
  const float* bp = b.defined() ? b.data_ptr<float>() : nullptr;
  float* yp = y.data_ptr<float>();
  const bool vec = half_kernels_vectorized();
  // at::parallel_for is an inline `#pragma omp parallel` in libtorch's OpenMP builds, and bark is
  // compiled without OpenMP, so there this runs on the calling thread. (Built with -fopenmp it
  // reached 14 GB/s on 2 threads in isolation but gained nothing inside decode steps, where each
  // of ~50 calls per step wakes a sleeping OpenMP thread under OMP_WAIT_POLICY=PASSIVE.) Every
  // row gets the same arithmetic wherever a split falls, so threads never change a result.
  at::parallel_for(0, rows, kRowGrain, [&](int64_t begin, int64_t end) {
#ifdef BARK_HALF_X86
    if (vec) return matvec_avx2(w, xp, bp, yp, begin, end, cols);
#endif
    matvec_portable(w, xp, bp, yp, begin, end, cols);
  });
  return y;
}

at::Tensor half_to_float(const at::Tensor& half) {
  TORCH_CHECK(half.scalar_type() == at::kHalf && half.is_contiguous() && half.is_cpu(),
              "half_to_float: expects a contiguous CPU half tensor");
  at::Tensor out = at::empty(half.sizes(), half.options().dtype(at::kFloat));
  const c10::Half* src = half.data_ptr<c10::Half>();
  float* dst = out.data_ptr<float>();
  const bool vec = half_kernels_vectorized();
  at::parallel_for(0, half.numel(), 1 << 16, [&](int64_t begin, int64_t end) {
#ifdef BARK_HALF_X86
    if (vec) return widen_avx2(src, dst, begin, end);
#endif
    for (int64_t i = begin; i < end; ++i) dst[i] = static_cast<float>(src[i]);
  });
  return out;
}

}  // namespace bark::models
