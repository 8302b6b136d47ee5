// The prefill / fine-stage GEMM of the fast modes, three ways on the same shapes (issue 15:
// "a blocked GEMM that dequantizes panels, or oneDNN's int8 matmul: measure both"):
//   sgemm      OpenBLAS cblas_sgemm on fp32 weights: what exact mode and, after widening the
//              int8 weights to fp32 panels, the int8 mode run today;
//   dnnl f32   oneDNN's fp32 matmul on the same data;
//   dnnl s8    oneDNN's u8 x s8 -> f32 matmul: activations quantized per tensor (asymmetric u8,
//              timed: one pass over A), int8 weights with one scale per output channel. This is
//              the only int8 path oneDNN 2.6 has on AVX2 (no weight-only decompression, no
//              VNNI on this CPU: vpmaddubsw), and it rounds the activations too, so its error
//              is reported next to the time.
// Not part of the build (it needs libdnnl-dev, which nothing else uses):
//   g++ -O2 -std=c++17 scripts/bench_onednn.cpp -o /tmp/bench_onednn -ldnnl /usr/lib/x86_64-linux-gnu/libopenblas.so.0
//   OMP_WAIT_POLICY=PASSIVE OMP_NUM_THREADS=T OPENBLAS_NUM_THREADS=T /tmp/bench_onednn
// Shapes: the small models' Linear layers on an 887-position coarse window prefill (width 768)
// and on a 1024-position fine window.
#include <cblas.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <oneapi/dnnl/dnnl.hpp>
#include <random>
#include <vector>

namespace {

using Clock = std::chrono::steady_clock;

double seconds_since(Clock::time_point t0) { return std::chrono::duration<double>(Clock::now() - t0).count(); }

template <class F>
double best_of(int reps, F&& f) {
  f();  // warm up (page faults, oneDNN's JIT)
  double best = 1e30;
  for (int i = 0; i < reps; ++i) {
    const auto t0 = Clock::now();
    f();
    best = std::min(best, seconds_since(t0));
  }
  return best;
}

struct Shape {
  const char* what;
  int64_t M, K, N;
};

}  // namespace

int main() {
  using namespace dnnl;
  engine eng(engine::kind::cpu, 0);
  stream strm(eng);
  const Shape shapes[] = {{"coarse c_attn", 887, 768, 2304},
                          {"coarse mlp.c_fc", 887, 768, 3072},
                          {"coarse mlp.c_proj", 887, 3072, 768},
                          {"fine c_attn", 1024, 768, 2304}};
  std::mt19937 rng(0);
  std::normal_distribution<float> nd(0.f, 1.f);
  std::printf("%-18s %10s %10s %10s %8s %8s  %s\n", "shape (M K N)", "sgemm ms", "dnnl f32", "dnnl s8", "s8/sg", "f32/sg",
              "s8 max rel err");
  for (const Shape& s : shapes) {
    const int64_t M = s.M, K = s.K, N = s.N;
    std::vector<float> A(M * K), W(N * K), C(M * N), C2(M * N), C3(M * N);
    for (auto& v : A) v = nd(rng);
    for (auto& v : W) v = 0.02f * nd(rng);

    // OpenBLAS: C = A W^T (W stored (N, K), as nn.Linear)
    const double t_sgemm = best_of(5, [&] {
      cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, M, N, K, 1.f, A.data(), K, W.data(), K, 0.f, C.data(), N);
    });

    // oneDNN f32: B = W^T as a (K, N) view of W with strides (1, K)
    memory::desc a_f32({M, K}, memory::data_type::f32, {K, 1});
    memory::desc b_f32({K, N}, memory::data_type::f32, {1, K});
    memory::desc c_f32({M, N}, memory::data_type::f32, {N, 1});
    matmul mm_f32(matmul::primitive_desc(matmul::desc(a_f32, b_f32, c_f32), eng));
    memory am(a_f32, eng, A.data()), bm(b_f32, eng, W.data()), cm(c_f32, eng, C2.data());
    const double t_f32 = best_of(5, [&] {
      mm_f32.execute(strm, {{DNNL_ARG_SRC, am}, {DNNL_ARG_WEIGHTS, bm}, {DNNL_ARG_DST, cm}});
      strm.wait();
    });

    // int8 weights, one scale per output channel (as Precision::Int8 stores them)
    std::vector<int8_t> Wq(N * K);
    std::vector<float> w_scale(N);
    for (int64_t n = 0; n < N; ++n) {
      float amax = 0.f;
      for (int64_t k = 0; k < K; ++k) amax = std::max(amax, std::fabs(W[n * K + k]));
      w_scale[n] = amax > 0 ? amax / 127.f : 1.f;
      for (int64_t k = 0; k < K; ++k) Wq[n * K + k] = static_cast<int8_t>(std::lround(W[n * K + k] / w_scale[n]));
    }
    // u8 activations, per tensor: a = (q - zp) * a_scale
    std::vector<uint8_t> Aq(M * K);
    memory::desc a_u8({M, K}, memory::data_type::u8, {K, 1});
    memory::desc b_s8({K, N}, memory::data_type::s8, {1, K});
    primitive_attr attr;
    attr.set_output_scales(2, {DNNL_RUNTIME_F32_VAL});  // per N column
    attr.set_zero_points(DNNL_ARG_SRC, 0, {DNNL_RUNTIME_S32_VAL});
    matmul mm_s8(matmul::primitive_desc(matmul::desc(a_u8, b_s8, c_f32), attr, eng));
    memory aqm(a_u8, eng, Aq.data()), bqm(b_s8, eng, Wq.data()), c3m(c_f32, eng, C3.data());
    std::vector<float> out_scale(N);
    int32_t zp = 0;
    memory scale_m({{N}, memory::data_type::f32, {1}}, eng, out_scale.data());
    memory zp_m({{1}, memory::data_type::s32, {1}}, eng, &zp);
    const double t_s8 = best_of(5, [&] {
      const auto [lo, hi] = std::minmax_element(A.begin(), A.end());
      const float a_scale = std::max(*hi - *lo, 1e-12f) / 255.f;
      zp = static_cast<int32_t>(std::lround(-*lo / a_scale));
      for (int64_t i = 0; i < M * K; ++i) {
        Aq[i] = static_cast<uint8_t>(std::clamp<long>(std::lround(A[i] / a_scale) + zp, 0, 255));
      }
      for (int64_t n = 0; n < N; ++n) out_scale[n] = a_scale * w_scale[n];
      mm_s8.execute(strm, {{DNNL_ARG_SRC, aqm},
                           {DNNL_ARG_WEIGHTS, bqm},
                           {DNNL_ARG_DST, c3m},
                           {DNNL_ARG_ATTR_OUTPUT_SCALES, scale_m},
                           {DNNL_ARG_ATTR_ZERO_POINTS | DNNL_ARG_SRC, zp_m}});
      strm.wait();
    });
    double err = 0, ref = 0, f32_err = 0;
    for (int64_t i = 0; i < M * N; ++i) {
      err = std::max(err, static_cast<double>(std::fabs(C3[i] - C[i])));
      f32_err = std::max(f32_err, static_cast<double>(std::fabs(C2[i] - C[i])));
      ref = std::max(ref, static_cast<double>(std::fabs(C[i])));
    }
    std::printf("%-18s %10.2f %10.2f %10.2f %8.2f %8.2f  %.4f (f32 %.1e)   [%ld %ld %ld]\n", s.what, 1e3 * t_sgemm,
                1e3 * t_f32, 1e3 * t_s8, t_s8 / t_sgemm, t_f32 / t_sgemm, err / ref, f32_err / ref,
                static_cast<long>(M), static_cast<long>(K), static_cast<long>(N));
  }
  return 0;
}
