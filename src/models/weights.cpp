#include "models/weights.h"

#include "cpu_threads.h"

#include <ATen/Functions.h>
#include <ATen/TensorOperators.h>
#include <c10/util/Half.h>

#include <algorithm>
#include <cmath>
#include <set>
#include <stdexcept>
#include <string>

#if defined(__x86_64__) && (defined(__GNUC__) || defined(__clang__))
#define BARK_LOWP_X86 1
#include <immintrin.h>
#endif

namespace bark::models {
namespace {

// Fewest output rows per thread: 64 rows of width 768-3072 are 48-192 KB of fp16 weights.
constexpr int64_t kRowGrain = 64;

bool ends_with(const std::string& s, const std::string& suffix) {
  return s.size() >= suffix.size() && s.compare(s.size() - suffix.size(), suffix.size(), suffix) == 0;
}

bool is_linear_weight(const std::string& name) {
  for (const char* s : {"attn.c_attn.weight", "attn.c_proj.weight", "mlp.c_fc.weight", "mlp.c_proj.weight"}) {
    if (ends_with(name, s)) return true;
  }
  return name == "lm_head.weight";
}

inline float widen(c10::Half h) { return static_cast<float>(h); }
inline float widen(int8_t q) { return static_cast<float>(q); }

// Portable dot product: the reference arithmetic of the tails of the vector kernels too.
template <class W>
float dot_portable(const W* w, const float* x, int64_t n) {
  float acc = 0.f;
  for (int64_t i = 0; i < n; ++i) acc += widen(w[i]) * x[i];
  return acc;
}

// Output rows [begin, end) of y (M, out) = scale * (x (M, cols) . W (out, cols)^T) + bias.
template <class W>
void rows_portable(const W* w, const double* scales, const float* x, int64_t M, const float* bias, float* y,
                   int64_t out, int64_t begin, int64_t end, int64_t cols) {
  for (int64_t r = begin; r < end; ++r) {
    const float s = scales ? static_cast<float>(scales[r]) : 1.f;
    for (int64_t m = 0; m < M; ++m) {
      y[m * out + r] = s * dot_portable(w + r * cols, x + m * cols, cols) + (bias ? bias[r] : 0.f);
    }
  }
}

#ifdef BARK_LOWP_X86
#define BARK_TARGET __attribute__((target("avx2,fma,f16c")))

BARK_TARGET inline float hsum(__m256 v) {
  const __m128 s = _mm_add_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
  const __m128 t = _mm_add_ps(s, _mm_movehl_ps(s, s));
  return _mm_cvtss_f32(_mm_add_ss(t, _mm_movehdup_ps(t)));
}

BARK_TARGET inline __m256 load8(const c10::Half* p) {
  return _mm256_cvtph_ps(_mm_loadu_si128(reinterpret_cast<const __m128i*>(p)));
}
BARK_TARGET inline __m256 load8(const int8_t* p) {  // 8 int8 -> 8 exact fp32 values
  return _mm256_cvtepi32_ps(_mm256_cvtepi8_epi32(_mm_loadl_epi64(reinterpret_cast<const __m128i*>(p))));
}

// One weight row against one x row: two accumulators over 16 columns a step, an 8-column step,
// then the portable tail. Every output goes through exactly this function, so results do not
// depend on how rows are grouped, split between threads, or how many x rows there are.
template <class W>
BARK_TARGET inline float dot_avx2(const W* wr, const float* x, int64_t cols) {
  const int64_t cols16 = cols - cols % 16, cols8 = cols - cols % 8;
  __m256 a = _mm256_setzero_ps(), b = _mm256_setzero_ps();
  for (int64_t c = 0; c < cols16; c += 16) {
    a = _mm256_fmadd_ps(load8(wr + c), _mm256_loadu_ps(x + c), a);
    b = _mm256_fmadd_ps(load8(wr + c + 8), _mm256_loadu_ps(x + c + 8), b);
  }
  if (cols8 > cols16) a = _mm256_fmadd_ps(load8(wr + cols16), _mm256_loadu_ps(x + cols16), a);
  return hsum(_mm256_add_ps(a, b)) + dot_portable(wr + cols8, x + cols8, cols - cols8);
}

// Four weight rows at a time share each load of x (the same per-row arithmetic as dot_avx2:
// the same two accumulators, steps and tail), and the next four rows are prefetched: ~11-12 GB/s
// of fp16 weights on one Zen 3 core. With several x rows, the 4-row block is read from memory
// once and from L1 for the other x rows.
template <class W>
BARK_TARGET void rows_avx2(const W* w, const double* scales, const float* x, int64_t M, const float* bias, float* y,
                           int64_t out, int64_t begin, int64_t end, int64_t cols) {
  const int64_t cols16 = cols - cols % 16, cols8 = cols - cols % 8;
  int64_t r = begin;
  for (; r + 4 <= end; r += 4) {
    const W* rows[4] = {w + r * cols, w + (r + 1) * cols, w + (r + 2) * cols, w + (r + 3) * cols};
    for (int64_t m = 0; m < M; ++m) {
      const float* xm = x + m * cols;
      __m256 a[4], b[4];
      for (int i = 0; i < 4; ++i) a[i] = b[i] = _mm256_setzero_ps();
      for (int64_t c = 0; c < cols16; c += 16) {
        const __m256 x0 = _mm256_loadu_ps(xm + c);
        const __m256 x1 = _mm256_loadu_ps(xm + c + 8);
        for (int i = 0; i < 4; ++i) {
          if (m == 0) _mm_prefetch(reinterpret_cast<const char*>(rows[i] + c + 4 * cols), _MM_HINT_T0);
          a[i] = _mm256_fmadd_ps(load8(rows[i] + c), x0, a[i]);
          b[i] = _mm256_fmadd_ps(load8(rows[i] + c + 8), x1, b[i]);
        }
      }
      if (cols8 > cols16) {
        const __m256 x0 = _mm256_loadu_ps(xm + cols16);
        for (int i = 0; i < 4; ++i) a[i] = _mm256_fmadd_ps(load8(rows[i] + cols16), x0, a[i]);
      }
      for (int i = 0; i < 4; ++i) {
        const float d = hsum(_mm256_add_ps(a[i], b[i])) + dot_portable(rows[i] + cols8, xm + cols8, cols - cols8);
        const float s = scales ? static_cast<float>(scales[r + i]) : 1.f;
        y[m * out + r + i] = s * d + (bias ? bias[r + i] : 0.f);
      }
    }
  }
  for (; r < end; ++r) {
    const float s = scales ? static_cast<float>(scales[r]) : 1.f;
    for (int64_t m = 0; m < M; ++m) {
      y[m * out + r] = s * dot_avx2(w + r * cols, x + m * cols, cols) + (bias ? bias[r] : 0.f);
    }
  }
}

// rows [begin, end) of an int8 weight (rows, cols) -> fp32: q * scale, as dequantize() computes it
BARK_TARGET void dequantize_rows_avx2(const int8_t* q, const double* scales, float* dst, int64_t cols, int64_t begin,
                                      int64_t end) {
  for (int64_t r = begin; r < end; ++r) {
    const float s = static_cast<float>(scales[r]);
    const __m256 vs = _mm256_set1_ps(s);
    const int8_t* qr = q + r * cols;
    float* dr = dst + r * cols;
    int64_t c = 0;
    for (; c + 8 <= cols; c += 8) _mm256_storeu_ps(dr + c, _mm256_mul_ps(load8(qr + c), vs));
    for (; c < cols; ++c) dr[c] = static_cast<float>(qr[c]) * s;
  }
}

BARK_TARGET void widen_avx2(const c10::Half* src, float* dst, int64_t begin, int64_t end) {
  int64_t i = begin;
  for (; i + 8 <= end; i += 8) _mm256_storeu_ps(dst + i, load8(src + i));
  for (; i < end; ++i) dst[i] = static_cast<float>(src[i]);
}
#endif

template <class W>
void run_rows(const W* w, const double* scales, const float* x, int64_t M, const float* bias, float* y, int64_t out,
              int64_t cols) {
  const bool vec = lowp_kernels_vectorized();
  (void)vec;
  // Split by blocks of output rows; each output's arithmetic is the same wherever a split falls.
  bark::parallel_rows(out, kRowGrain, [&](int64_t begin, int64_t end) {
#ifdef BARK_LOWP_X86
    if (vec) return rows_avx2(w, scales, x, M, bias, y, out, begin, end, cols);
#endif
    rows_portable(w, scales, x, M, bias, y, out, begin, end, cols);
  });
}

at::Tensor half_to_float(const at::Tensor& half) {
  const at::Tensor h = half.contiguous();
  at::Tensor out = at::empty(h.sizes(), h.options().dtype(at::kFloat));
  const c10::Half* src = h.data_ptr<c10::Half>();
  float* dst = out.data_ptr<float>();
  const bool vec = lowp_kernels_vectorized();
  (void)vec;
  bark::parallel_rows(h.numel(), 1 << 16, [&](int64_t begin, int64_t end) {
#ifdef BARK_LOWP_X86
    if (vec) return widen_avx2(src, dst, begin, end);
#endif
    for (int64_t i = begin; i < end; ++i) dst[i] = static_cast<float>(src[i]);
  });
  return out;
}

at::Tensor int8_to_float(const at::Tensor& weight) {
  TORCH_CHECK(weight.dim() == 2 && weight.is_contiguous() && weight.qscheme() == at::kPerChannelAffine &&
                  weight.q_per_channel_axis() == 0,
              "int8_to_float: expects a contiguous 2-D int8 weight quantized per output channel");
  const int64_t rows = weight.size(0), cols = weight.size(1);
  const at::Tensor scales = weight.q_per_channel_scales().to(at::kDouble).contiguous();
  at::Tensor out = at::empty({rows, cols}, at::TensorOptions().dtype(at::kFloat));
  const int8_t* q = static_cast<const int8_t*>(weight.data_ptr());
  const double* sp = scales.data_ptr<double>();
  float* dst = out.data_ptr<float>();
  const bool vec = lowp_kernels_vectorized();
  (void)vec;
  bark::parallel_rows(rows, /*grain=*/64, [&](int64_t begin, int64_t end) {
#ifdef BARK_LOWP_X86
    if (vec) return dequantize_rows_avx2(q, sp, dst, cols, begin, end);
#endif
    for (int64_t r = begin; r < end; ++r) {
      const float s = static_cast<float>(sp[r]);
      for (int64_t c = 0; c < cols; ++c) dst[r * cols + c] = static_cast<float>(q[r * cols + c]) * s;
    }
  });
  return out;
}

}  // namespace

bool lowp_kernels_vectorized() {
#ifdef BARK_LOWP_X86
  static const bool ok =
      __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma") && __builtin_cpu_supports("f16c");
  return ok;
#else
  return false;
#endif
}

WeightFormat weight_format(const at::Tensor& w) {
  switch (w.scalar_type()) {
    case at::kFloat: return WeightFormat::Fp32;
    case at::kHalf: return WeightFormat::Fp16;
    case at::kQInt8: return WeightFormat::Int8;
    default: TORCH_CHECK(false, "unsupported weight dtype ", w.scalar_type());
  }
}

const char* weight_format_name(WeightFormat format) {
  switch (format) {
    case WeightFormat::Fp32: return "fp32";
    case WeightFormat::Fp16: return "fp16";
    case WeightFormat::Int8: return "int8";
  }
  return "?";
}

at::Tensor quantize_int8(const at::Tensor& weight) {
  TORCH_CHECK(weight.dim() == 2 && weight.scalar_type() == at::kFloat, "quantize_int8: expects a 2-D fp32 weight");
  const at::Tensor w = weight.contiguous();
  // symmetric: scale = max|w| / 127 per output row, so every row uses [-127, 127]; an all-zero
  // row gets scale 1 (any scale represents it exactly)
  at::Tensor amax = std::get<0>(w.abs().max(/*dim=*/1)).to(at::kDouble);
  TORCH_CHECK(at::isfinite(amax).all().item<bool>(), "quantize_int8: the weight holds inf or NaN");
  const at::Tensor scales = at::where(amax > 0, amax / 127.0, at::ones_like(amax));
  const at::Tensor zero_points = at::zeros({w.size(0)}, at::TensorOptions().dtype(at::kLong));
  return at::quantize_per_channel(w, scales, zero_points, /*axis=*/0, at::kQInt8);
}

at::Tensor weight_to_float(const at::Tensor& weight) {
  switch (weight_format(weight)) {
    case WeightFormat::Fp32: return weight;
    case WeightFormat::Fp16: return weight.device().is_cpu() ? half_to_float(weight) : weight.to(at::kFloat);
    case WeightFormat::Int8: return weight.is_cpu() ? int8_to_float(weight) : weight.dequantize();
  }
  return weight;
}

WeightFormat planned_format(const std::string& name, const WeightPlan& plan) {
  if (is_linear_weight(name)) return plan.linear;
  if (name == "transformer.wte.weight") return plan.embedding;
  return WeightFormat::Fp32;
}

at::Tensor convert_weight(const std::string& name, const at::Tensor& t, const WeightPlan& plan) {
  if (!is_linear_weight(name) && name != "transformer.wte.weight") return t;  // never converted
  const WeightFormat want = planned_format(name, plan);
  const WeightFormat have = weight_format(t);
  if (have == want) return t;
  if (have != WeightFormat::Fp32) {
    throw std::invalid_argument(std::string("cannot convert ") + name + " from " + weight_format_name(have) + " to " +
                                weight_format_name(want) + " (only fp32 weights can be converted)");
  }
  TORCH_CHECK(!t.is_meta(), "convert_weight: ", name, " is not loaded");
  if (want == WeightFormat::Fp16) return t.to(at::kHalf).contiguous();
  TORCH_CHECK(name != "transformer.wte.weight", "int8 embeddings are not supported");
  TORCH_CHECK(t.device().is_cpu(), "int8 weights are CPU only, ", name, " is on ", t.device());
  return quantize_int8(t);
}

int64_t convert_parameters(const ParamSlots& slots, const WeightPlan& plan) {
  std::set<const at::Tensor*> done;  // tied parameters are listed under two names
  int64_t converted = 0;
  for (const auto& [name, t] : slots) {
    if (!t->defined() || !done.insert(t).second) continue;
    at::Tensor c = convert_weight(name, *t, plan);
    if (c.unsafeGetTensorImpl() == t->unsafeGetTensorImpl()) continue;
    *t = std::move(c);
    ++converted;
  }
  return converted;
}

at::Tensor lowp_linear_rows(const at::Tensor& weight, const at::Tensor& x, const at::Tensor& bias, int64_t row_begin,
                            int64_t row_end) {
  const WeightFormat format = weight_format(weight);
  TORCH_CHECK(format != WeightFormat::Fp32, "lowp_linear_rows: expects an fp16 or int8 weight");
  TORCH_CHECK(weight.dim() == 2 && weight.is_cpu() && x.is_cpu(), "lowp_linear_rows: 2-D CPU weight and CPU x");
  if (row_end < 0) row_end = weight.size(0);
  TORCH_CHECK(0 <= row_begin && row_begin <= row_end && row_end <= weight.size(0), "lowp_linear_rows: rows [",
              row_begin, ", ", row_end, ") outside the weight's ", weight.size(0));
  const int64_t out = row_end - row_begin, cols = weight.size(1);
  TORCH_CHECK(x.dim() >= 1 && x.size(-1) == cols, "lowp_linear_rows: x has ", x.dim() >= 1 ? x.size(-1) : 0,
              " columns, the weight ", cols);
  TORCH_CHECK(!bias.defined() || bias.numel() == out, "lowp_linear_rows: bias has ", bias.numel(), " values, expected ",
              out);
  TORCH_CHECK(weight.is_contiguous(), "lowp_linear_rows: the weight must be contiguous");
  const at::Tensor xc = x.reshape({-1, cols}).to(at::kFloat).contiguous();
  const int64_t M = xc.size(0);
  at::Tensor b;
  if (bias.defined()) b = bias.to(at::kFloat).contiguous();
  at::Tensor y = at::empty({M, out}, xc.options());
  const float* xp = xc.data_ptr<float>();
  const float* bp = b.defined() ? b.data_ptr<float>() : nullptr;
  float* yp = y.data_ptr<float>();
  if (format == WeightFormat::Fp16) {
    run_rows(weight.data_ptr<c10::Half>() + row_begin * cols, nullptr, xp, M, bp, yp, out, cols);
  } else {
    // Never a slice of a quantized tensor (torch 1.13 mislabels some slices' quantizers): whole
    // weights and row ranges. Zero points are 0: quantize_int8 is the only producer.
    TORCH_CHECK(weight.qscheme() == at::kPerChannelAffine && weight.q_per_channel_axis() == 0,
                "lowp_linear_rows: int8 weights must be quantized per output channel");
    const at::Tensor scales = weight.q_per_channel_scales().to(at::kDouble).contiguous();
    run_rows(static_cast<const int8_t*>(weight.data_ptr()) + row_begin * cols, scales.data_ptr<double>() + row_begin,
             xp, M, bp, yp, out, cols);
  }
  std::vector<int64_t> shape(x.sizes().begin(), x.sizes().end());
  shape.back() = out;
  return y.view(shape);
}

}  // namespace bark::models
