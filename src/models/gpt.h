// Private: Bark's GPT (bark/model.py), semantic and coarse stages. ATen only.
#pragma once

#include <ATen/core/Tensor.h>

#include <cstdint>
#include <string>
#include <utility>
#include <vector>

#include "models/parameters.h"
#include "models/weights.h"

namespace bark::models {

// bark/model.py GPTConfig (a checkpoint's model_args; src/io reads them).
struct GPTConfig {
  int64_t block_size = 1024;
  int64_t input_vocab_size = 10'048;
  int64_t output_vocab_size = 10'048;
  int64_t n_layer = 12;
  int64_t n_head = 12;
  int64_t n_embd = 768;
  bool bias = true;  // bias in Linear and LayerNorm
};

// Key/value cache of every layer, preallocated for `capacity` positions (not grown by concat).
struct KVCache {
  std::vector<at::Tensor> k, v;  // per layer: (B, n_head, capacity, head_dim)
  int64_t length = 0;            // positions filled
  int64_t capacity = 0;
  bool empty() const { return length == 0; }
};

// y = x W^T + b like at::linear; single rows go through a matrix-vector product. An fp16 or
// int8 weight (fast modes, models/weights.h) is read directly for up to 16 rows and widened to
// fp32 for larger GEMMs.
at::Tensor linear(const at::Tensor& x, const at::Tensor& weight, const at::Tensor& bias);
// The rows of a decode step, x (rows, in): each row is computed exactly as `linear` computes a
// single row (src/models/matvec.h), so a row's values do not depend on the other rows.
at::Tensor linear_rows(const at::Tensor& x, const at::Tensor& weight, const at::Tensor& bias);

// One Linear + its optional bias.
struct Linear {
  at::Tensor weight;  // (out, in)
  at::Tensor bias;    // (out) or undefined
  at::Tensor operator()(const at::Tensor& x) const;
};

struct LayerNorm {
  at::Tensor weight, bias;  // bias undefined when the config has bias=False
  at::Tensor operator()(const at::Tensor& x) const;
};

struct TransformerBlock {
  LayerNorm ln_1, ln_2;
  Linear c_attn, attn_proj;  // attn.c_attn, attn.c_proj
  Linear c_fc, mlp_proj;     // mlp.c_fc, mlp.c_proj
};

// Adds `block`'s parameters under "<prefix>ln_1.weight", ... to `slots`.
void add_block_slots(TransformerBlock& block, const std::string& prefix, bool bias, ParamSlots& slots);
// A block of width C whose tensors are not loaded yet (shapes only).
TransformerBlock make_block(int64_t C, bool bias, bool layer_norm_bias);
// softmax(q k^T / sqrt(hs) [masked]) v as model.py / model_fine.py compute it without SDPA.
// q: (B, nh, T, hs); k, v: (B, nh, S, hs); `mask`: (T, S) bool, true where a score is replaced
// by -inf, or undefined (no mask). Returns (B, T, nh * hs): the heads side by side.
at::Tensor attend(const at::Tensor& q, const at::Tensor& k, const at::Tensor& v, const at::Tensor& mask);
// nanoGPT MLP: c_proj(gelu(c_fc(x))).
at::Tensor mlp_forward(const TransformerBlock& block, const at::Tensor& x);

class GPT {
 public:
  explicit GPT(const GPTConfig& config);

  const GPTConfig& config() const { return config_; }
  // Every parameter under its upstream state-dict name (transformer.h.0.attn.c_attn.weight, ...).
  ParamSlots named_parameters();
  // Fills the weights by their upstream names; `.attn.bias` (the causal-mask buffers) may be absent.
  void load(const TensorSource& source);
  void to(const at::Device& device);
  at::Device device() const { return wpe_.device(); }

  // model.py GPT.forward. idx: (B, T) int64. With merge_context, the first 256 text ids and the
  // next 256 history ids are summed position by position (513 ids -> 257 positions). With a
  // cache, a non-empty cache means incremental decoding (T == 1 expected by upstream) and the
  // cache is extended in place. Returns the logits of the last position: (B, 1, output_vocab).
  // `hidden` (optional) receives each block's output and then ln_f's, for parity tests.
  // `logit_begin` / `logit_end` (end 0 = all) restrict lm_head to the vocabulary rows a stage
  // samples from: each logit is the same dot product, only fewer are computed.
  at::Tensor forward(const at::Tensor& idx, bool merge_context, KVCache* cache,
                     std::vector<at::Tensor>* hidden = nullptr, int64_t logit_begin = 0,
                     int64_t logit_end = 0) const;

  KVCache make_cache(int64_t batch, int64_t capacity) const;

  // One KV-cached decoding step for several independent sequences (CPU): row r appends token
  // tokens[r] to its own cache caches[r] (batch 1, any length, not empty) and gets the logits
  // of lm_head rows [ranges[r].first, ranges[r].second) of its new position. Each weight matrix
  // is streamed once for all rows. Row r's logits are bit-for-bit those forward() gives it
  // alone (forward's CPU decoding step is this function with one row).
  std::vector<at::Tensor> decode_step(const std::vector<int64_t>& tokens, const std::vector<KVCache*>& caches,
                                      const std::vector<std::pair<int64_t, int64_t>>& ranges) const;

  // Fast modes: converts the Linear weights, lm_head and token embedding as `plan` says
  // (convert_parameters over named_parameters()). KV-cached decoding then reads the fp16 / int8
  // weights directly; prefills widen each weight to fp32 for the GEMM. Outputs drift from
  // upstream. Returns the number of tensors converted.
  int64_t convert_weights(const WeightPlan& plan);
  // The format of the Linear weights (that of lm_head).
  WeightFormat weight_format() const;

 private:
  static at::Tensor embed(const at::Tensor& table, const at::Tensor& idx);  // fp32 rows of a table
  at::Tensor attention(const TransformerBlock& block, const at::Tensor& x, int64_t layer, KVCache* cache) const;

  GPTConfig config_;
  at::Tensor wte_, wpe_;
  std::vector<TransformerBlock> h_;
  LayerNorm ln_f_;
  at::Tensor lm_head_;
  at::Tensor causal_mask_;  // (block_size, block_size) bool, true above the diagonal
};

}  // namespace bark::models
