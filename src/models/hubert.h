// Private: HuBERT (Hsu et al. 2021) as transformers' HubertModel computes it (modeling_hubert.py,
// the "group" feature-extractor norm and post-layer-norm encoder of hubert-base-ls960), run up to
// a chosen transformer layer. ATen only; the config comes from io/hubert_files (config.json).
#pragma once

#include <ATen/core/Tensor.h>

#include <cstdint>
#include <vector>

#include "models/parameters.h"

namespace bark::models {

// transformers HubertConfig, the fields this forward pass reads (defaults: hubert-base-ls960).
struct HubertConfig {
  int64_t hidden_size = 768;
  int64_t num_hidden_layers = 12;
  int64_t num_attention_heads = 12;
  int64_t intermediate_size = 3072;
  std::vector<int64_t> conv_dim = {512, 512, 512, 512, 512, 512, 512};
  std::vector<int64_t> conv_kernel = {10, 3, 3, 3, 3, 2, 2};
  std::vector<int64_t> conv_stride = {5, 2, 2, 2, 2, 2, 2};
  bool conv_bias = false;
  int64_t num_conv_pos_embeddings = 128;
  int64_t num_conv_pos_embedding_groups = 16;
  bool feat_proj_layer_norm = true;
  double layer_norm_eps = 1e-5;
};

struct HubertLayer {
  at::Tensor q_w, q_b, k_w, k_b, v_w, v_b, o_w, o_b;  // attention.{q,k,v,out}_proj
  at::Tensor ln_w, ln_b;                              // layer_norm
  at::Tensor ff1_w, ff1_b, ff2_w, ff2_b;              // feed_forward.{intermediate,output}_dense
  at::Tensor fln_w, fln_b;                            // final_layer_norm
};

class Hubert {
 public:
  // Builds the parameter slots of the first `n_layers` transformer layers (later layers are not
  // needed for hidden_states[n_layers] and are ignored when loading).
  Hubert(const HubertConfig& config, int64_t n_layers);
  const HubertConfig& config() const { return config_; }
  int64_t n_layers() const { return static_cast<int64_t>(layers_.size()); }
  // State-dict names of transformers' HubertModel (weight norm as weight_g / weight_v).
  ParamSlots named_parameters();
  // Fills the weights; keys of layers beyond n_layers and masked_spec_embed are ignored.
  void load(const TensorSource& source);
  void to(const at::Device& device);
  at::Device device() const { return fp_w_.device(); }

  // Number of feature frames (50 Hz at 16 kHz) for `n_samples` input samples; 0 when too short.
  int64_t n_frames(int64_t n_samples) const;
  // wave (B, L) at 16 kHz -> hidden_states[n_layers] (B, T, hidden_size).
  at::Tensor forward(const at::Tensor& wave) const;

 private:
  HubertConfig config_;
  std::vector<at::Tensor> conv_w_, conv_b_;  // feature_extractor.conv_layers.i.conv
  at::Tensor gn_w_, gn_b_;                   // conv_layers.0.layer_norm (GroupNorm, one group per channel)
  at::Tensor fp_ln_w_, fp_ln_b_, fp_w_, fp_b_;  // feature_projection.{layer_norm,projection}
  at::Tensor pos_g_, pos_v_, pos_b_;         // encoder.pos_conv_embed.conv (weight norm, dim 2)
  at::Tensor pos_w_;                         // folded weight
  at::Tensor enc_ln_w_, enc_ln_b_;           // encoder.layer_norm
  std::vector<HubertLayer> layers_;
};

}  // namespace bark::models
