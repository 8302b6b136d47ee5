// Private: the weight representations of the fast modes (PipelineOptions::precision), the one
// pass that converts a model's parameters to them, and their kernels.
//
// A Linear's weight is one at::Tensor in one of three formats, told apart by its dtype:
//   fp32  kFloat   exact mode, as loaded from the checkpoint;
//   fp16  kHalf    (out, in);
//   int8  kQInt8   (out, in), quantized per output channel (axis 0), symmetric (zero point 0),
//                  scale = max |w| of the row / 127: the tensor carries its own scales, so slices
//                  (lm_head rows) and device moves keep weight and scales together.
// Matrix-vector and small-M products read fp16 / int8 weights directly (widened in registers,
// fp32 accumulation); larger products widen the whole weight to fp32 for the usual GEMM.
#pragma once

#include <ATen/core/Tensor.h>

#include <cstdint>
#include <string>

#include "models/parameters.h"

namespace bark::models {

enum class WeightFormat { Fp32, Fp16, Int8 };

// The format a weight tensor is stored in (throws for anything else).
WeightFormat weight_format(const at::Tensor& weight);
const char* weight_format_name(WeightFormat format);

// What convert_parameters does to a model: the format of every Linear weight and lm_head
// (names ending in attn.c_attn / attn.c_proj / mlp.c_fc / mlp.c_proj ".weight", and
// "lm_head.weight"), and of the token embedding "transformer.wte.weight". Embeddings are only
// gathered, never multiplied, so Int8 is not offered for them. Everything else (LayerNorms,
// biases, position embeddings, the fine model's tied wtes / lm_heads) stays fp32.
struct WeightPlan {
  WeightFormat linear = WeightFormat::Fp32;
  WeightFormat embedding = WeightFormat::Fp32;
};

// The format `plan` gives the parameter `name` (Fp32 for everything it does not convert).
WeightFormat planned_format(const std::string& name, const WeightPlan& plan);

// The one conversion of one tensor: `t` in planned_format(name, plan). A tensor already in that
// format, or one the plan never converts (LayerNorms, biases, ...), is returned as it is; converting an fp16 or int8 weight to another format is refused
// (the fp32 values are gone). Loading calls this on each tensor as soon as it is read
// (io::read_weights), so a fast mode never holds a whole model in fp32.
at::Tensor convert_weight(const std::string& name, const at::Tensor& t, const WeightPlan& plan);

// convert_weight over a model's loaded parameters (GPT / FineGPT named_parameters(); tied
// parameters once). Returns the number of tensors converted.
int64_t convert_parameters(const ParamSlots& slots, const WeightPlan& plan);

// Symmetric per-output-channel int8 quantization of a 2-D fp32 weight (out, in).
at::Tensor quantize_int8(const at::Tensor& weight);

// The fp32 values a weight stands for (a copy for fp16 / int8; the tensor itself for fp32).
at::Tensor weight_to_float(const at::Tensor& weight);

// y = x W^T (+ bias) for an fp16 or int8 weight (out, in) and fp32 x (..., in), all on the CPU:
// each output is one fp32 dot product of the widened weight row with an x row (times the row's
// scale for int8), the same arithmetic whatever the number of x rows and wherever the output
// rows are split between threads. Meant for few x rows (decoding); it reads the weight once.
// [row_begin, row_end) restricts the product to those output rows (row_end -1: all); bias
// then has row_end - row_begin values.
at::Tensor lowp_linear_rows(const at::Tensor& weight, const at::Tensor& x, const at::Tensor& bias,
                            int64_t row_begin = 0, int64_t row_end = -1);

// True when this CPU runs the vectorised (AVX2 + FMA + F16C) kernels; otherwise a portable loop.
bool lowp_kernels_vectorized();

}  // namespace bark::models
