#include "models/hubert.h"

#include <ATen/Functions.h>
#include <ATen/TensorOperators.h>

#include <cmath>
#include <stdexcept>
#include <string>

namespace bark::models {

Hubert::Hubert(const HubertConfig& c, int64_t n_layers) : config_(c) {
  TORCH_CHECK(n_layers >= 0 && n_layers <= c.num_hidden_layers, "Hubert: layer ", n_layers, " of ",
              c.num_hidden_layers);
  TORCH_CHECK(!c.conv_dim.empty() && c.conv_dim.size() == c.conv_kernel.size() &&
                  c.conv_dim.size() == c.conv_stride.size(), "Hubert: conv_dim / conv_kernel / conv_stride lengths");
  int64_t in = 1;
  for (size_t i = 0; i < c.conv_dim.size(); ++i) {
    conv_w_.push_back(unloaded({c.conv_dim[i], in, c.conv_kernel[i]}));
    conv_b_.push_back(c.conv_bias ? unloaded({c.conv_dim[i]}) : at::Tensor());
    in = c.conv_dim[i];
  }
  gn_w_ = unloaded({c.conv_dim[0]});
  gn_b_ = unloaded({c.conv_dim[0]});
  const int64_t H = c.hidden_size;
  if (c.feat_proj_layer_norm) {
    fp_ln_w_ = unloaded({in});
    fp_ln_b_ = unloaded({in});
  }
  fp_w_ = unloaded({H, in});
  fp_b_ = unloaded({H});
  // nn.utils.weight_norm(conv, name="weight", dim=2): g keeps the kernel axis
  pos_g_ = unloaded({1, 1, c.num_conv_pos_embeddings});
  pos_v_ = unloaded({H, H / c.num_conv_pos_embedding_groups, c.num_conv_pos_embeddings});
  pos_b_ = unloaded({H});
  enc_ln_w_ = unloaded({H});
  enc_ln_b_ = unloaded({H});
  for (int64_t l = 0; l < n_layers; ++l) {
    HubertLayer L;
    L.q_w = unloaded({H, H}), L.q_b = unloaded({H});
    L.k_w = unloaded({H, H}), L.k_b = unloaded({H});
    L.v_w = unloaded({H, H}), L.v_b = unloaded({H});
    L.o_w = unloaded({H, H}), L.o_b = unloaded({H});
    L.ln_w = unloaded({H}), L.ln_b = unloaded({H});
    L.ff1_w = unloaded({c.intermediate_size, H}), L.ff1_b = unloaded({c.intermediate_size});
    L.ff2_w = unloaded({H, c.intermediate_size}), L.ff2_b = unloaded({H});
    L.fln_w = unloaded({H}), L.fln_b = unloaded({H});
    layers_.push_back(std::move(L));
  }
}

ParamSlots Hubert::named_parameters() {
  ParamSlots s;
  for (size_t i = 0; i < conv_w_.size(); ++i) {
    const std::string p = "feature_extractor.conv_layers." + std::to_string(i) + ".";
    s.emplace_back(p + "conv.weight", &conv_w_[i]);
    if (config_.conv_bias) s.emplace_back(p + "conv.bias", &conv_b_[i]);
  }
  s.emplace_back("feature_extractor.conv_layers.0.layer_norm.weight", &gn_w_);
  s.emplace_back("feature_extractor.conv_layers.0.layer_norm.bias", &gn_b_);
  if (config_.feat_proj_layer_norm) {
    s.emplace_back("feature_projection.layer_norm.weight", &fp_ln_w_);
    s.emplace_back("feature_projection.layer_norm.bias", &fp_ln_b_);
  }
  s.emplace_back("feature_projection.projection.weight", &fp_w_);
  s.emplace_back("feature_projection.projection.bias", &fp_b_);
  s.emplace_back("encoder.pos_conv_embed.conv.weight_g", &pos_g_);
  s.emplace_back("encoder.pos_conv_embed.conv.weight_v", &pos_v_);
  s.emplace_back("encoder.pos_conv_embed.conv.bias", &pos_b_);
  s.emplace_back("encoder.layer_norm.weight", &enc_ln_w_);
  s.emplace_back("encoder.layer_norm.bias", &enc_ln_b_);
  for (size_t l = 0; l < layers_.size(); ++l) {
    HubertLayer& L = layers_[l];
    const std::string p = "encoder.layers." + std::to_string(l) + ".";
    const auto add = [&](const std::string& n, at::Tensor* w, at::Tensor* b) {
      s.emplace_back(p + n + ".weight", w);
      s.emplace_back(p + n + ".bias", b);
    };
    add("attention.q_proj", &L.q_w, &L.q_b);
    add("attention.k_proj", &L.k_w, &L.k_b);
    add("attention.v_proj", &L.v_w, &L.v_b);
    add("attention.out_proj", &L.o_w, &L.o_b);
    add("layer_norm", &L.ln_w, &L.ln_b);
    add("feed_forward.intermediate_dense", &L.ff1_w, &L.ff1_b);
    add("feed_forward.output_dense", &L.ff2_w, &L.ff2_b);
    add("final_layer_norm", &L.fln_w, &L.fln_b);
  }
  return s;
}

void Hubert::load(const TensorSource& source) {
  const int64_t kept = n_layers();
  load_parameters(named_parameters(), source, [kept](const std::string& name) {
    if (name == "masked_spec_embed") return true;
    const std::string prefix = "encoder.layers.";
    if (name.compare(0, prefix.size(), prefix) != 0) return false;
    int64_t l = 0;
    size_t i = prefix.size();
    if (i >= name.size() || name[i] < '0' || name[i] > '9') return false;
    for (; i < name.size() && name[i] >= '0' && name[i] <= '9' && l < 1'000'000; ++i) l = l * 10 + (name[i] - '0');
    return l >= kept;
  });
  pos_w_ = at::_weight_norm(pos_v_, pos_g_, 2);
}

void Hubert::to(const at::Device& device) {
  move_parameters(named_parameters(), device);
  pos_w_ = at::_weight_norm(pos_v_, pos_g_, 2);
}

int64_t Hubert::n_frames(int64_t n_samples) const {
  int64_t n = n_samples;
  for (size_t i = 0; i < config_.conv_kernel.size(); ++i) {
    if (n < config_.conv_kernel[i]) return 0;
    n = (n - config_.conv_kernel[i]) / config_.conv_stride[i] + 1;
  }
  return n;
}

at::Tensor Hubert::forward(const at::Tensor& wave) const {
  TORCH_CHECK(wave.dim() == 2, "Hubert: wave must be (B, L)");
  TORCH_CHECK(n_frames(wave.size(1)) > 0, "Hubert: ", wave.size(1), " samples are too few for one frame");
  const HubertConfig& c = config_;
  // HubertFeatureEncoder: conv0 -> GroupNorm(C groups) -> GELU, then conv -> GELU
  at::Tensor x = wave.unsqueeze(1);  // (B, 1, L)
  for (size_t i = 0; i < conv_w_.size(); ++i) {
    const int64_t stride[1] = {c.conv_stride[i]};
    x = at::conv1d(x, conv_w_[i], conv_b_[i], stride);
    if (i == 0) x = at::group_norm(x, c.conv_dim[0], gn_w_, gn_b_, 1e-5);
    x = at::gelu(x);
  }
  x = x.transpose(1, 2);  // (B, T, C)
  // HubertFeatureProjection
  if (c.feat_proj_layer_norm) x = at::layer_norm(x, {x.size(-1)}, fp_ln_w_, fp_ln_b_, c.layer_norm_eps);
  x = at::linear(x, fp_w_, fp_b_);  // (B, T, H)
  // HubertPositionalConvEmbedding: grouped conv, same padding (drop the last frame when the
  // kernel is even: HubertSamePadLayer), GELU; then encoder.layer_norm
  const int64_t K = c.num_conv_pos_embeddings;
  const int64_t stride[1] = {1}, padding[1] = {K / 2}, dilation[1] = {1};
  at::Tensor pos = at::conv1d(x.transpose(1, 2), pos_w_, pos_b_, stride, padding, dilation,
                              c.num_conv_pos_embedding_groups);
  if (K % 2 == 0) pos = pos.slice(2, 0, pos.size(2) - 1);
  x = x + at::gelu(pos).transpose(1, 2);
  x = at::layer_norm(x, {x.size(-1)}, enc_ln_w_, enc_ln_b_, c.layer_norm_eps);
  // HubertEncoderLayer (post-norm): attention, residual, norm; feed-forward, residual, norm
  const int64_t B = x.size(0), T = x.size(1), H = c.hidden_size, nh = c.num_attention_heads, hd = H / nh;
  for (const HubertLayer& L : layers_) {
    const auto heads = [&](const at::Tensor& t) { return t.view({B, T, nh, hd}).transpose(1, 2); };  // (B, nh, T, hd)
    const at::Tensor q = heads(at::linear(x, L.q_w, L.q_b) * std::pow(static_cast<double>(hd), -0.5));
    const at::Tensor k = heads(at::linear(x, L.k_w, L.k_b));
    const at::Tensor v = heads(at::linear(x, L.v_w, L.v_b));
    const at::Tensor att = at::softmax(at::matmul(q, k.transpose(-2, -1)), -1);  // (B, nh, T, T)
    const at::Tensor y = at::matmul(att, v).transpose(1, 2).reshape({B, T, H});
    x = at::layer_norm(x + at::linear(y, L.o_w, L.o_b), {H}, L.ln_w, L.ln_b, c.layer_norm_eps);
    const at::Tensor ff = at::linear(at::gelu(at::linear(x, L.ff1_w, L.ff1_b)), L.ff2_w, L.ff2_b);
    x = at::layer_norm(x + ff, {H}, L.fln_w, L.fln_b, c.layer_norm_eps);
  }
  return x;
}

}  // namespace bark::models
