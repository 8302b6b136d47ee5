// Private: Bark's non-causal fine model (bark/model_fine.py). ATen only.
#pragma once

#include <ATen/core/Tensor.h>

#include <vector>

#include "models/gpt.h"

namespace bark::models {

struct FineGPTConfig : GPTConfig {
  int64_t n_codes_total = 8;
  int64_t n_codes_given = 1;
};

class FineGPT {
 public:
  explicit FineGPT(const FineGPTConfig& config);

  const FineGPTConfig& config() const { return config_; }
  ParamSlots named_parameters();
  void load(const TensorSource& source);
  void to(const at::Device& device);
  // Fast modes: converts the blocks' Linear weights as `plan` says (the tied wtes / lm_heads
  // stay fp32). Returns the number of tensors converted.
  int64_t convert_weights(const WeightPlan& plan);
  at::Device device() const { return wpe_.device(); }

  // model_fine.py FineGPT.forward: idx (B, T, n_codes_total) int; embeddings of codebooks
  // 0..pred_idx are summed; returns logits (B, T, output_vocab) of codebook pred_idx.
  at::Tensor forward(int64_t pred_idx, const at::Tensor& idx) const;

 private:
  FineGPTConfig config_;
  std::vector<at::Tensor> wtes_;  // n_codes_total x (input_vocab, C); wtes[i+1] is lm_heads[i]
  at::Tensor wpe_;
  std::vector<TransformerBlock> h_;
  LayerNorm ln_f_;
};

}  // namespace bark::models
