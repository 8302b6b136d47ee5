#include "models/gpt.h"

#include <ATen/Functions.h>
#include <ATen/TensorOperators.h>

#include <algorithm>
#include <cmath>
#include <cstring>
#include <functional>
#include <stdexcept>

#include "models/matvec.h"
#include "models/weights.h"

namespace bark::models {
namespace {
// Up to this many rows, fp16 / int8 products read the weights directly (lowp_linear_rows);
// beyond, widening the weight to fp32 for a GEMM is cheaper than re-reading it per row.
constexpr int64_t kLowpMaxRows = 16;
}  // namespace

at::Tensor Linear::operator()(const at::Tensor& x) const { return linear(x, weight, bias); }

at::Tensor linear(const at::Tensor& x, const at::Tensor& weight, const at::Tensor& bias) {
  const int64_t rows = x.numel() / std::max<int64_t>(1, x.size(-1));
  if (weight.scalar_type() != at::kFloat) {  // fast modes: fp16 or int8 (models/weights.h)
    // Few rows (KV-cached decoding): the fp16 / int8 weights are read once, widened in registers.
    // More rows (prefills, the fine model): widened to fp32 once for the usual GEMM, whose cost
    // then dominates.
    if (rows <= kLowpMaxRows && x.device().is_cpu()) return lowp_linear_rows(weight, x, bias);
    return at::linear(x, weight_to_float(weight), bias);
  }
  // One row (KV-cached decoding, lm_head of the last position): a matrix-vector product reads
  // each weight once, where at::linear's 1-row GEMM packs the whole weight matrix on every call
  // (~5x slower here).
  if (rows == 1 && x.device().is_cpu()) return linear_rows(x, weight, bias);
  return at::linear(x, weight, bias);
}

at::Tensor linear_rows(const at::Tensor& x, const at::Tensor& weight, const at::Tensor& bias) {
  if (weight.scalar_type() == at::kFloat) return matvec_rows(x, weight, bias);
  return lowp_linear_rows(weight, x, bias);  // the same per-row arithmetic for any number of rows
}

at::Tensor LayerNorm::operator()(const at::Tensor& x) const {
  // model.py LayerNorm / nn.LayerNorm: eps 1e-5
  return at::layer_norm(x, {weight.size(0)}, weight, bias, 1e-5);
}

TransformerBlock make_block(int64_t C, bool bias, bool layer_norm_bias) {
  const auto zeros = [](at::IntArrayRef s) { return unloaded(s); };
  TransformerBlock b;
  b.ln_1 = {unloaded({C}), layer_norm_bias ? zeros({C}) : at::Tensor()};
  b.ln_2 = {unloaded({C}), layer_norm_bias ? zeros({C}) : at::Tensor()};
  b.c_attn = {zeros({3 * C, C}), bias ? zeros({3 * C}) : at::Tensor()};
  b.attn_proj = {zeros({C, C}), bias ? zeros({C}) : at::Tensor()};
  b.c_fc = {zeros({4 * C, C}), bias ? zeros({4 * C}) : at::Tensor()};
  b.mlp_proj = {zeros({C, 4 * C}), bias ? zeros({C}) : at::Tensor()};
  return b;
}

void add_block_slots(TransformerBlock& b, const std::string& p, bool bias, ParamSlots& slots) {
  const auto add = [&](const std::string& name, at::Tensor& t) {
    if (t.defined()) slots.emplace_back(p + name, &t);
  };
  add("ln_1.weight", b.ln_1.weight);
  add("ln_1.bias", b.ln_1.bias);
  add("attn.c_attn.weight", b.c_attn.weight);
  add("attn.c_proj.weight", b.attn_proj.weight);
  add("ln_2.weight", b.ln_2.weight);
  add("ln_2.bias", b.ln_2.bias);
  add("mlp.c_fc.weight", b.c_fc.weight);
  add("mlp.c_proj.weight", b.mlp_proj.weight);
  if (bias) {
    add("attn.c_attn.bias", b.c_attn.bias);
    add("attn.c_proj.bias", b.attn_proj.bias);
    add("mlp.c_fc.bias", b.c_fc.bias);
    add("mlp.c_proj.bias", b.mlp_proj.bias);
  }
}

at::Tensor attend(const at::Tensor& q, const at::Tensor& k, const at::Tensor& v, const at::Tensor& mask) {
  const int64_t B = q.size(0), nh = q.size(1), T = q.size(2), hs = q.size(3), S = k.size(2);
  const double scale = 1.0 / std::sqrt(static_cast<double>(hs));
  if (!q.device().is_cpu()) {  // GPUs: batched, as upstream
    at::Tensor att = at::matmul(q, k.transpose(-2, -1)) * scale;
    if (mask.defined()) att = att.masked_fill(mask, -INFINITY);
    att = at::softmax(att, -1);
    return at::matmul(att, v).transpose(1, 2).contiguous().view({B, T, nh * hs});
  }
  if (T == 1) {
    // KV-cached decoding: one query row per head, so both products are matrix-vector products
    // over the cached keys and values, read once. The batched GEMMs of at::matmul repack the
    // whole cache on every step (10-20 % of a decode step at 900 cached positions). The dot
    // products are the same; their summation order differs from the GEMM's (like `linear`'s
    // single-row path), which moves no sampled token in the parity tests.
    at::Tensor scores = at::empty({S}, q.options());
    at::Tensor probs = at::empty({S}, q.options());
    at::Tensor y = at::empty({B, 1, nh, hs}, q.options());
    for (int64_t b = 0; b < B; ++b) {
      for (int64_t h = 0; h < nh; ++h) {
        at::mv_out(scores, k[b][h], q[b][h][0]);
        scores.mul_(scale);
        at::_softmax_out(probs, scores, 0, /*half_to_float=*/false);
        at::Tensor out = y[b][0][h];
        at::mv_out(out, v[b][h].t(), probs);
      }
    }
    return y.view({B, 1, nh * hs});
  }
  // Long sequences on the CPU: one head at a time through two reused (T, S) buffers. The
  // batched form materialises three (B, nh, T, S) tensors per layer (48 MB each for the fine
  // model's 1024 positions), above glibc's largest mmap threshold, so every one of them was a
  // fresh mmap + munmap: millions of zero-filled page faults per stage, 15-28 % of its time.
  // Each head's values are unchanged: at::matmul runs the same per-head GEMM on the same
  // matrices (its bmm loops over the batch), and the scaling, masking and row-wise softmax are
  // the same element-wise kernels, in place.
  at::Tensor scores = at::empty({T, S}, q.options());
  at::Tensor probs = at::empty({T, S}, q.options());
  at::Tensor yh = at::empty({T, hs}, q.options());
  at::Tensor y = at::empty({B, T, nh, hs}, q.options());
  for (int64_t b = 0; b < B; ++b) {
    for (int64_t h = 0; h < nh; ++h) {
      at::mm_out(scores, q[b][h], k[b][h].t());
      scores.mul_(scale);
      if (mask.defined()) scores.masked_fill_(mask, -INFINITY);
      at::_softmax_out(probs, scores, -1, /*half_to_float=*/false);
      at::mm_out(yh, probs, v[b][h]);
      y[b].select(1, h).copy_(yh);
    }
  }
  return y.view({B, T, nh * hs});
}

at::Tensor mlp_forward(const TransformerBlock& b, const at::Tensor& x) {
  return b.mlp_proj(at::gelu(b.c_fc(x)));  // nn.GELU(): exact erf form
}

GPT::GPT(const GPTConfig& config) : config_(config) {
  const int64_t C = config.n_embd;
  wte_ = unloaded({config.input_vocab_size, C});
  wpe_ = unloaded({config.block_size, C});
  for (int64_t i = 0; i < config.n_layer; ++i) h_.push_back(make_block(C, config.bias, config.bias));
  ln_f_ = {unloaded({C}), config.bias ? unloaded({C}) : at::Tensor()};
  lm_head_ = unloaded({config.output_vocab_size, C});
  // model.py registers tril(ones) as `bias` and masks where it is 0.
  causal_mask_ = at::ones({config.block_size, config.block_size}, at::kBool).triu(1);
}

ParamSlots GPT::named_parameters() {
  ParamSlots slots;
  slots.emplace_back("transformer.wte.weight", &wte_);
  slots.emplace_back("transformer.wpe.weight", &wpe_);
  for (size_t i = 0; i < h_.size(); ++i) {
    add_block_slots(h_[i], "transformer.h." + std::to_string(i) + ".", config_.bias, slots);
  }
  slots.emplace_back("transformer.ln_f.weight", &ln_f_.weight);
  if (ln_f_.bias.defined()) slots.emplace_back("transformer.ln_f.bias", &ln_f_.bias);
  slots.emplace_back("lm_head.weight", &lm_head_);
  return slots;
}

void GPT::load(const TensorSource& source) {
  // The causal-mask buffers (".attn.bias") are absent from the real files; we build our own.
  load_parameters(named_parameters(), source, [](const std::string& name) {
    const std::string suffix = ".attn.bias";
    return name.size() > suffix.size() && name.compare(name.size() - suffix.size(), suffix.size(), suffix) == 0;
  });
}

void GPT::to(const at::Device& device) {
  move_parameters(named_parameters(), device);
  causal_mask_ = causal_mask_.to(device);
}

KVCache GPT::make_cache(int64_t batch, int64_t capacity) const {
  KVCache cache;
  const int64_t hs = config_.n_embd / config_.n_head;
  for (int64_t i = 0; i < config_.n_layer; ++i) {
    cache.k.push_back(at::empty({batch, config_.n_head, capacity, hs}, wpe_.options()));
    cache.v.push_back(at::empty({batch, config_.n_head, capacity, hs}, wpe_.options()));
  }
  cache.capacity = capacity;
  return cache;
}

at::Tensor GPT::attention(const TransformerBlock& block, const at::Tensor& x, int64_t layer, KVCache* cache) const {
  const int64_t B = x.size(0), T = x.size(1), C = x.size(2);
  const int64_t nh = config_.n_head, hs = C / nh;
  auto qkv = block.c_attn(x).split(C, /*dim=*/2);
  at::Tensor q = qkv[0].view({B, T, nh, hs}).transpose(1, 2);  // (B, nh, T, hs)
  at::Tensor k = qkv[1].view({B, T, nh, hs}).transpose(1, 2);
  at::Tensor v = qkv[2].view({B, T, nh, hs}).transpose(1, 2);
  int64_t past = 0;
  if (cache != nullptr) {
    past = cache->length;
    TORCH_CHECK(past + T <= cache->capacity, "KV cache overflow: ", past + T, " > ", cache->capacity);
    cache->k[layer].narrow(2, past, T).copy_(k);
    cache->v[layer].narrow(2, past, T).copy_(v);
    if (past > 0) {  // incremental decoding: attend over everything cached so far
      k = cache->k[layer].narrow(2, 0, past + T);
      v = cache->v[layer].narrow(2, 0, past + T);
    }
  }
  const int64_t full_t = past + T;
  // with one query row the mask selects nothing, so skipping it changes no value
  const at::Tensor mask = T > 1 ? causal_mask_.slice(0, full_t - T, full_t).slice(1, 0, full_t) : at::Tensor();
  const at::Tensor y = attend(q, k, v, mask);
  return block.attn_proj(y);
}

int64_t GPT::convert_weights(const WeightPlan& plan) { return convert_parameters(named_parameters(), plan); }

WeightFormat GPT::weight_format() const { return models::weight_format(lm_head_); }

at::Tensor GPT::embed(const at::Tensor& table, const at::Tensor& idx) {
  at::Tensor e = at::embedding(table, idx);
  return e.scalar_type() == at::kFloat ? e : e.to(at::kFloat);
}

at::Tensor GPT::forward(const at::Tensor& idx, bool merge_context, KVCache* cache, std::vector<at::Tensor>* hidden,
                        int64_t logit_begin, int64_t logit_end) const {
  TORCH_CHECK(idx.dim() == 2, "GPT.forward: idx must be (B, T)");
  const int64_t past = cache != nullptr ? cache->length : 0;
  if (past > 0 && hidden == nullptr && idx.size(0) == 1 && idx.size(1) == 1 && idx.device().is_cpu()) {
    // the CPU decoding step: the same arithmetic as a row of a batched step
    if (logit_end <= 0) logit_end = config_.output_vocab_size;
    return decode_step({idx.item<int64_t>()}, {cache}, {{logit_begin, logit_end}})[0].view({1, 1, -1});
  }
  at::Tensor tok_emb;
  int64_t t = idx.size(1);
  if (past > 0) {
    tok_emb = embed(wte_, idx);
  } else if (merge_context) {
    TORCH_CHECK(idx.size(1) >= 256 + 256 + 1, "merge_context needs at least 513 ids, got ", idx.size(1));
    t = idx.size(1) - 256;
    tok_emb = at::cat({embed(wte_, idx.slice(1, 0, 256)) + embed(wte_, idx.slice(1, 256, 512)),
                       embed(wte_, idx.slice(1, 512))},
                      1);
  } else {
    TORCH_CHECK(t <= config_.block_size, "Cannot forward sequence of length ", t, ", block size is only ",
                config_.block_size);
    tok_emb = embed(wte_, idx);
  }
  TORCH_CHECK(past + t <= config_.block_size, "position ", past + t - 1, " is beyond the block size ",
              config_.block_size);
  const at::Tensor pos = at::arange(past, past + t, idx.options().dtype(at::kLong)).unsqueeze(0);  // (1, t)
  at::Tensor x = tok_emb + at::embedding(wpe_, pos);
  for (size_t i = 0; i < h_.size(); ++i) {
    const auto& b = h_[i];
    x = x + attention(b, b.ln_1(x), static_cast<int64_t>(i), cache);
    x = x + mlp_forward(b, b.ln_2(x));
    if (hidden != nullptr) hidden->push_back(x);
  }
  if (cache != nullptr) cache->length = past + t;
  x = ln_f_(x);
  if (hidden != nullptr) hidden->push_back(x);
  // only the last position goes through lm_head (as upstream, index with a list: a copy)
  const at::Tensor last = x.index_select(1, at::full({1}, x.size(1) - 1, idx.options().dtype(at::kLong)));
  if (logit_end <= 0) logit_end = config_.output_vocab_size;
  TORCH_CHECK(0 <= logit_begin && logit_begin < logit_end && logit_end <= config_.output_vocab_size,
              "logit range out of bounds");
  if (models::weight_format(lm_head_) == WeightFormat::Int8) {  // never a slice of a quantized tensor (weights.cpp)
    if (last.numel() / last.size(-1) <= kLowpMaxRows && last.is_cpu()) {
      return lowp_linear_rows(lm_head_, last, at::Tensor(), logit_begin, logit_end);
    }
    return at::linear(last, weight_to_float(lm_head_).slice(0, logit_begin, logit_end));
  }
  return linear(last, lm_head_.slice(0, logit_begin, logit_end), at::Tensor());
}

std::vector<at::Tensor> GPT::decode_step(const std::vector<int64_t>& tokens, const std::vector<KVCache*>& caches,
                                         const std::vector<std::pair<int64_t, int64_t>>& ranges) const {
  const auto B = static_cast<int64_t>(tokens.size());
  TORCH_CHECK(B > 0 && caches.size() == tokens.size() && ranges.size() == tokens.size(),
              "decode_step: one token, cache and logit range per row");
  const int64_t C = config_.n_embd, nh = config_.n_head, hs = C / nh;
  const at::TensorOptions long_opts = at::TensorOptions().dtype(at::kLong);
  if (!wpe_.device().is_cpu()) {
    // GPUs: each row through forward's batched-tensor path (upstream's arithmetic), one by one
    std::vector<at::Tensor> out;
    for (int64_t r = 0; r < B; ++r) {
      const at::Tensor idx = at::full({1, 1}, tokens[static_cast<size_t>(r)], long_opts.device(wpe_.device()));
      out.push_back(forward(idx, false, caches[static_cast<size_t>(r)], nullptr, ranges[static_cast<size_t>(r)].first,
                            ranges[static_cast<size_t>(r)].second)[0][0]);
    }
    return out;
  }
  std::vector<int64_t> positions;
  for (KVCache* c : caches) {
    TORCH_CHECK(c != nullptr && c->length > 0, "decode_step: every row needs a filled cache (prefill first)");
    TORCH_CHECK(c->length + 1 <= c->capacity, "KV cache overflow: ", c->length + 1, " > ", c->capacity);
    TORCH_CHECK(c->length + 1 <= config_.block_size, "position ", c->length, " is beyond the block size ",
                config_.block_size);
    positions.push_back(c->length);
  }
  // (B, C) activations, one row per sequence
  at::Tensor x = embed(wte_, at::tensor(tokens, long_opts)) + at::embedding(wpe_, at::tensor(positions, long_opts));
  // Row-wise element-wise kernels are applied row by row: ATen's vectorised loops finish a
  // range's tail with scalar code, so one call over B rows could round differently than B calls.
  const auto per_row = [B](const at::Tensor& in, const std::function<at::Tensor(const at::Tensor&)>& f) {
    if (B == 1) return f(in);
    std::vector<at::Tensor> rows;
    for (int64_t r = 0; r < B; ++r) rows.push_back(f(in[r]));
    return at::stack(rows);
  };
  const auto norm = [&](const LayerNorm& ln, const at::Tensor& in) {
    return per_row(in, [&](const at::Tensor& row) { return ln(row); });
  };
  at::Tensor y = at::empty({B, C}, x.options());
  const auto scale = static_cast<float>(1.0 / std::sqrt(static_cast<double>(hs)));  // as mul_(double) on fp32
  for (size_t i = 0; i < h_.size(); ++i) {
    const auto& b = h_[i];
    const at::Tensor qkv = linear_rows(norm(b.ln_1, x), b.c_attn.weight, b.c_attn.bias).contiguous();  // (B, 3C)
    for (int64_t r = 0; r < B; ++r) {
      KVCache& c = *caches[static_cast<size_t>(r)];
      const int64_t past = c.length, S = past + 1, cap = c.capacity;
      TORCH_CHECK(c.k[i].is_contiguous() && c.v[i].is_contiguous() && c.k[i].scalar_type() == at::kFloat,
                  "decode_step: KV caches must be contiguous fp32");
      float* kc = c.k[i].data_ptr<float>();
      float* vc = c.v[i].data_ptr<float>();
      const float* row = qkv.data_ptr<float>() + r * 3 * C;
      for (int64_t h = 0; h < nh; ++h) {  // append this position's keys and values
        std::memcpy(kc + (h * cap + past) * hs, row + C + h * hs, static_cast<size_t>(hs) * sizeof(float));
        std::memcpy(vc + (h * cap + past) * hs, row + 2 * C + h * hs, static_cast<size_t>(hs) * sizeof(float));
      }
      // softmax(q k^T / sqrt(hs)) v per head: scores and values in matvec.cpp, ATen's softmax
      // between them (row-wise, each head's row as a 1-D softmax computes it)
      at::Tensor scores = at::empty({nh, S}, x.options());
      attention_scores(row, kc, nh, S, hs, cap * hs, scale, scores.data_ptr<float>());
      const at::Tensor probs = at::_softmax(scores, -1, /*half_to_float=*/false).contiguous();
      attention_values(probs.data_ptr<float>(), vc, nh, S, hs, cap * hs, y.data_ptr<float>() + r * C);
    }
    x = x + linear_rows(y, b.attn_proj.weight, b.attn_proj.bias);
    const at::Tensor f = linear_rows(norm(b.ln_2, x), b.c_fc.weight, b.c_fc.bias);
    x = x + linear_rows(per_row(f, [](const at::Tensor& row) { return at::gelu(row); }), b.mlp_proj.weight,
                        b.mlp_proj.bias);
  }
  for (KVCache* c : caches) c->length += 1;
  x = norm(ln_f_, x);
  // lm_head once per distinct range (usually one: every row samples the same slice)
  std::vector<at::Tensor> logits(static_cast<size_t>(B));
  for (int64_t r = 0; r < B; ++r) {
    if (logits[static_cast<size_t>(r)].defined()) continue;
    auto [begin, end] = ranges[static_cast<size_t>(r)];
    if (end <= 0) end = config_.output_vocab_size;
    TORCH_CHECK(0 <= begin && begin < end && end <= config_.output_vocab_size, "logit range out of bounds");
    std::vector<int64_t> group;
    for (int64_t s = r; s < B; ++s) {
      if (ranges[static_cast<size_t>(s)] == ranges[static_cast<size_t>(r)]) group.push_back(s);
    }
    const at::Tensor rows = group.size() == static_cast<size_t>(B) ? x : x.index_select(0, at::tensor(group, long_opts));
    // never a slice of a quantized tensor (weights.cpp): int8 takes the row range itself
    const at::Tensor out = models::weight_format(lm_head_) == WeightFormat::Int8
                               ? lowp_linear_rows(lm_head_, rows, at::Tensor(), begin, end)
                               : linear_rows(rows, lm_head_.slice(0, begin, end), at::Tensor());
    for (size_t g = 0; g < group.size(); ++g) logits[static_cast<size_t>(group[g])] = out[static_cast<int64_t>(g)];
  }
  return logits;
}

}  // namespace bark::models
