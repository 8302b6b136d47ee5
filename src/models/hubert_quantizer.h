// Private: the HuBERT -> Bark semantic-token quantizer of gitmylo's
// bark-voice-cloning-HuBERT-quantizer (hubert/customtokenizer.py, MIT): an LSTM over HuBERT
// features, then Linear layers to one logit per semantic token. ATen only.
//   version 0: lstm = LSTM(input, hidden, num_layers=2, batch_first) -> fc: Linear(hidden, output)
//   version 1: lstm -> intermediate: Linear(hidden, 4096) -> fc: Linear(4096, output)
#pragma once

#include <ATen/core/Tensor.h>

#include <cstdint>

#include "models/parameters.h"

namespace bark::models {

struct QuantizerConfig {
  int64_t input_size = 768;
  int64_t hidden_size = 1024;
  int64_t output_size = 10'000;
  int64_t version = 0;
  int64_t intermediate_size = 4096;  // version 1 only (fixed in customtokenizer.py)
  int64_t num_layers = 2;
};

class HubertQuantizer {
 public:
  explicit HubertQuantizer(const QuantizerConfig& config);
  const QuantizerConfig& config() const { return config_; }
  ParamSlots named_parameters();
  void load(const TensorSource& source);
  void to(const at::Device& device);

  // features (T, input_size) -> log-softmax logits (T, output_size) (CustomTokenizer.forward on
  // an unbatched sequence).
  at::Tensor forward(const at::Tensor& features) const;
  // argmax of forward: semantic tokens (T,) int64 (CustomTokenizer.get_token).
  at::Tensor tokens(const at::Tensor& features) const;

 private:
  QuantizerConfig config_;
  std::vector<at::Tensor> lstm_;  // weight_ih, weight_hh, bias_ih, bias_hh per layer
  at::Tensor inter_w_, inter_b_, fc_w_, fc_b_;
};

}  // namespace bark::models
