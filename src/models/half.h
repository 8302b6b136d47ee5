// Private: fp16 weight storage for the optional fast mode (PipelineOptions::precision).
#pragma once

#include <ATen/core/Tensor.h>

namespace bark::models {

// y = W x (+ bias) for a half-precision weight W (out, in), fp32 x (in) and bias (out): each
// weight is widened to fp32 and accumulated in fp32. CPU tensors, W contiguous.
at::Tensor half_matvec(const at::Tensor& weight, const at::Tensor& x, const at::Tensor& bias);

// fp16 -> fp32 copy of a contiguous CPU half tensor (the prefill GEMMs of the fast mode).
at::Tensor half_to_float(const at::Tensor& half);

// True when this CPU runs the vectorised (AVX2 + FMA + F16C) kernels; otherwise a portable loop.
bool half_kernels_vectorized();

}  // namespace bark::models
