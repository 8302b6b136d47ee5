// Private: the matrix-vector products of KV-cached decoding, for one row or a batch of rows.
//
// Decoding one token per sequence reads every weight once per step: it is bound by memory
// bandwidth, not arithmetic. Several rows (sequences) in one call read each weight block once for
// all of them (from L1/L2 for the second row on), which is what makes batched decoding pay.
//
// Row independence: every output element is one dot product summed in one fixed order (8 fp32
// lanes accumulated with FMA along `in`, the lanes reduced as (0+4, 1+5, 2+6, 3+7) -> pairs ->
// one, the tail `in % 8` added by FMA in order, then the bias), whatever the number of rows in
// the call, the tile a row falls in or the thread that computes it. So a sequence decoded in a
// batch gets bit-for-bit the logits it gets alone, and no thread count changes a result. The
// portable fallback computes the same sums with std::fma, so it gives the same bits too.
#pragma once

#include <ATen/core/Tensor.h>

#include <cstdint>

namespace bark::models {

// Y (rows, out) = X (rows, in) W^T + bias. W: (out, in) row-major (row stride `in`), bias may
// be null. Any rows >= 1; output rows are split across the intra-op threads.
void matvec_rows_f32(const float* W, const float* bias, int64_t out, int64_t in, const float* X, int64_t rows,
                     float* Y);

// Tensor form: x (..., in) fp32 CPU with at most a few rows, weight (out, in) contiguous fp32,
// bias (out) or undefined. Returns (..., out).
at::Tensor matvec_rows(const at::Tensor& x, const at::Tensor& weight, const at::Tensor& bias);

// True when the AVX2 + FMA kernel runs on this CPU (else the portable loop, same results).
bool matvec_vectorized();

// The attention of one sequence in a decoding step, around a softmax the caller takes (ATen's,
// row by row, as before). q: (nh, hs); head h's keys / values: `hs` floats per position from
// k + h * head_stride (a KV cache (1, nh, capacity, hs): head_stride = capacity * hs).
//   scores[h][s] = (q_h . k_{h,s}) * scale, s < S       (the same dot product as matvec_rows)
//   y[h][:]      = sum over s of p[h][s] * v_{h,s}       (FMA in s order, per element)
// One call per sequence: no tensor operation per head (at batch 8 those cost more than the
// arithmetic); heads are split across the row pool.
void attention_scores(const float* q, const float* k, int64_t nh, int64_t S, int64_t hs, int64_t head_stride,
                      float scale, float* scores);
void attention_values(const float* p, const float* v, int64_t nh, int64_t S, int64_t hs, int64_t head_stride,
                      float* y);

}  // namespace bark::models
