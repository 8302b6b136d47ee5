#include "models/fine_gpt.h"

#include <ATen/Functions.h>
#include <ATen/TensorOperators.h>

#include <cmath>
#include <stdexcept>

namespace bark::models {

FineGPT::FineGPT(const FineGPTConfig& config) : config_(config) {
  const int64_t C = config.n_embd;
  for (int64_t i = 0; i < config.n_codes_total; ++i) wtes_.push_back(unloaded({config.input_vocab_size, C}));
  wpe_ = unloaded({config.block_size, C});
  // FineBlock uses nn.LayerNorm (always with bias); Linear bias follows config.bias.
  for (int64_t i = 0; i < config.n_layer; ++i) h_.push_back(make_block(C, config.bias, /*layer_norm_bias=*/true));
  ln_f_ = {unloaded({C}), unloaded({C})};
}

ParamSlots FineGPT::named_parameters() {
  ParamSlots slots;
  for (size_t i = 0; i < wtes_.size(); ++i) slots.emplace_back("transformer.wtes." + std::to_string(i) + ".weight", &wtes_[i]);
  slots.emplace_back("transformer.wpe.weight", &wpe_);
  for (size_t i = 0; i < h_.size(); ++i) {
    add_block_slots(h_[i], "transformer.h." + std::to_string(i) + ".", config_.bias, slots);
  }
  slots.emplace_back("transformer.ln_f.weight", &ln_f_.weight);
  slots.emplace_back("transformer.ln_f.bias", &ln_f_.bias);
  // lm_heads[i] is tied to wtes[i + 1] (model_fine.py): same tensor, listed under both names.
  for (int64_t i = 0; i < config_.n_codes_total - config_.n_codes_given; ++i) {
    slots.emplace_back("lm_heads." + std::to_string(i) + ".weight", &wtes_[static_cast<size_t>(i + 1)]);
  }
  return slots;
}

void FineGPT::load(const TensorSource& source) { load_parameters(named_parameters(), source); }

void FineGPT::to(const at::Device& device) { move_parameters(named_parameters(), device); }

int64_t FineGPT::convert_weights(const WeightPlan& plan) { return convert_parameters(named_parameters(), plan); }

at::Tensor FineGPT::forward(int64_t pred_idx, const at::Tensor& idx) const {
  TORCH_CHECK(idx.dim() == 3, "FineGPT.forward: idx must be (B, T, codes)");
  const int64_t B = idx.size(0), T = idx.size(1);
  TORCH_CHECK(T <= config_.block_size, "Cannot forward sequence of length ", T, ", block size is only ",
              config_.block_size);
  TORCH_CHECK(pred_idx > 0, "cannot predict 0th codebook");
  TORCH_CHECK(pred_idx < config_.n_codes_total, "pred_idx ", pred_idx, " out of range");
  TORCH_CHECK(idx.size(2) == config_.n_codes_total, "expected ", config_.n_codes_total, " codebooks, got ",
              idx.size(2));
  const at::Tensor pos = at::arange(0, T, idx.options().dtype(at::kLong)).unsqueeze(0);  // (1, T)
  // model_fine.py: stack all codebook embeddings on a last axis, then sum the first pred_idx + 1
  std::vector<at::Tensor> tok_embs;
  for (size_t i = 0; i < wtes_.size(); ++i) {
    tok_embs.push_back(at::embedding(wtes_[i], idx.select(2, static_cast<int64_t>(i))).unsqueeze(-1));
  }
  const at::Tensor tok_emb = at::cat(tok_embs, -1);  // (B, T, C, n_codes)
  at::Tensor x = tok_emb.slice(-1, 0, pred_idx + 1).sum(-1) + at::embedding(wpe_, pos);
  const int64_t C = config_.n_embd, nh = config_.n_head, hs = C / nh;
  for (const auto& b : h_) {
    const at::Tensor xn = b.ln_1(x);
    auto qkv = b.c_attn(xn).split(C, 2);
    const at::Tensor q = qkv[0].view({B, T, nh, hs}).transpose(1, 2);  // (B, nh, T, hs)
    const at::Tensor k = qkv[1].view({B, T, nh, hs}).transpose(1, 2);
    const at::Tensor v = qkv[2].view({B, T, nh, hs}).transpose(1, 2);
    const at::Tensor y = attend(q, k, v, at::Tensor());  // non-causal: no mask
    x = x + b.attn_proj(y);
    x = x + mlp_forward(b, b.ln_2(x));
  }
  x = ln_f_(x);
  return at::linear(x, wtes_[static_cast<size_t>(pred_idx - config_.n_codes_given + 1)]);
}

}  // namespace bark::models
