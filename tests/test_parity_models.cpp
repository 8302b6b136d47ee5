// Network parity against ../shared/fixtures/golden: tensors computed by upstream bark + encodec
// (torch 1.13.1, 1 thread, OpenBLAS) on the tiny upstream-format checkpoints.
// Tolerance: fp32, max abs diff <= 1e-4 (printed for every comparison).
#include <ATen/Functions.h>
#include <ATen/TensorOperators.h>
#include <ATen/core/grad_mode.h>
#include <catch2/catch.hpp>

#include "io/checkpoint.h"
#include "models/encodec.h"
#include "models/fine_gpt.h"
#include "models/gpt.h"
#include "tensor_npz.h"
#include "test_common.h"

using bark_test::max_abs_diff;

namespace {
constexpr double kTol = 1e-4;

std::string fixture(const std::string& rel) { return (bark_test::fixtures_dir() / rel).string(); }

bark::models::GPT load_gpt(const std::string& name) {
  const auto ck = bark::io::load_bark_checkpoint(fixture("models/f0/" + name));
  bark::models::GPT gpt(bark::io::read_gpt_config(ck));
  gpt.load(ck.weights);
  return gpt;
}

void check_close(const std::string& what, const at::Tensor& ours, const at::Tensor& ref) {
  INFO(what << ": shapes " << ours.sizes() << " vs " << ref.sizes());
  REQUIRE(ours.sizes() == ref.sizes());
  const double diff = max_abs_diff(ours, ref);
  UNSCOPED_INFO(what << ": max abs diff " << diff);
  WARN(what << ": max abs diff " << diff);
  CHECK(diff <= kTol);
}
}  // namespace

TEST_CASE("text GPT: merge_context prefill, block outputs, 5 KV-cached steps", "[parity][models]") {
  at::NoGradGuard no_grad;
  const auto gpt = load_gpt("text.pt");
  const bark_test::Npz g(fixture("golden/f0/text_logits.npz"));
  const at::Tensor ids = g["input_ids"].unsqueeze(0);
  std::vector<at::Tensor> hidden;
  auto cache = gpt.make_cache(1, 1024);
  const at::Tensor logits = gpt.forward(ids, /*merge_context=*/true, &cache, &hidden);
  check_close("prefill_logits", logits.view({-1}), g["prefill_logits"]);
  check_close("prefill_h0", hidden[0][0], g["prefill_h0"]);
  check_close("prefill_h1", hidden[1][0], g["prefill_h1"]);
  check_close("prefill_ln_f", hidden[2][0], g["prefill_ln_f"]);
  CHECK(cache.length == 257);

  const at::Tensor step_ids = g["step_ids"];
  const at::Tensor ref_kv = g["step_logits_kv"];
  const at::Tensor ref_nokv = g["step_logits_nokv"];
  // greedy argmax over the semantic vocabulary chooses the first step id
  CHECK(logits.view({-1}).slice(0, 0, 10000).argmax().item<int64_t>() == step_ids[0].item<int64_t>());
  at::Tensor seq = ids;
  for (int64_t s = 0; s < step_ids.size(0); ++s) {
    const at::Tensor next = step_ids[s].view({1, 1});
    const at::Tensor step_logits = gpt.forward(next, true, &cache);
    check_close("step_logits_kv[" + std::to_string(s) + "]", step_logits.view({-1}), ref_kv[s]);
    // a KV-cached step equals the full forward at the same position
    seq = at::cat({seq, next}, 1);
    const at::Tensor full = gpt.forward(seq, true, nullptr);
    check_close("step_logits_nokv[" + std::to_string(s) + "]", full.view({-1}), ref_nokv[s]);
    CHECK(max_abs_diff(full, step_logits) <= kTol);
  }
  CHECK(cache.length == 262);
  check_close("kv_cache_layer0_k", cache.k[0][0].narrow(1, 0, 262), g["kv_cache_layer0_k"]);
}

TEST_CASE("coarse GPT: prefill and 5 KV-cached steps", "[parity][models]") {
  at::NoGradGuard no_grad;
  const auto gpt = load_gpt("coarse.pt");
  const bark_test::Npz g(fixture("golden/f0/coarse_logits.npz"));
  const at::Tensor ids = g["input_ids"].unsqueeze(0);
  auto cache = gpt.make_cache(1, 1024);
  const at::Tensor logits = gpt.forward(ids, false, &cache);
  check_close("prefill_logits", logits.view({-1}), g["prefill_logits"]);
  const at::Tensor step_ids = g["step_ids"];
  at::Tensor seq = ids;
  for (int64_t s = 0; s < step_ids.size(0); ++s) {
    const at::Tensor next = step_ids[s].view({1, 1});
    const at::Tensor step_logits = gpt.forward(next, false, &cache);
    check_close("step_logits_kv[" + std::to_string(s) + "]", step_logits.view({-1}), g["step_logits_kv"][s]);
    seq = at::cat({seq, next}, 1);
    const at::Tensor full = gpt.forward(seq, false, nullptr);
    check_close("step_logits_nokv[" + std::to_string(s) + "]", full.view({-1}), g["step_logits_nokv"][s]);
  }
}

TEST_CASE("fine GPT: logits of codebooks 1..7", "[parity][models]") {
  at::NoGradGuard no_grad;
  const auto ck = bark::io::load_bark_checkpoint(fixture("models/f0/fine.pt"));
  bark::models::FineGPT fine(bark::io::read_fine_config(ck));
  fine.load(ck.weights);
  const bark_test::Npz g(fixture("golden/f0/fine_logits.npz"));
  const at::Tensor codes = g["input_codes"].to(at::kInt).unsqueeze(0);  // (1, 1024, 8) int32 as upstream
  const at::Tensor rows = g["rows"];
  for (int64_t pred = 1; pred < 8; ++pred) {
    const std::string p = std::to_string(pred);
    const at::Tensor logits = fine.forward(pred, codes)[0];  // (1024, 1056)
    check_close("logits_pred" + p + "_rows", logits.index_select(0, rows), g["logits_pred" + p + "_rows"]);
    check_close("logsumexp_pred" + p, logits.logsumexp(-1), g["logsumexp_pred" + p]);
    const at::Tensor argmax = logits.slice(1, 0, 1024).argmax(-1);
    CHECK(at::equal(argmax, g["argmax_pred" + p]));
  }
}

TEST_CASE("EnCodec: quantizer decode and SEANet decoder", "[parity][models]") {
  at::NoGradGuard no_grad;
  const std::string path = fixture("models/f0/codec.pt");
  const auto state = bark::io::load_state_dict_file(path);
  bark::models::Encodec codec(bark::models::infer_encodec_config(state));
  codec.load(state);
  const bark_test::Npz g(fixture("golden/f0/codec_decode.npz"));
  const at::Tensor codes = g["codes"].unsqueeze(0).transpose(0, 1);  // (8, 1, 150)
  const at::Tensor emb = codec.quantizer_decode(codes);
  check_close("emb", emb, g["emb"]);
  const at::Tensor wav = codec.decode(emb).view({-1});
  check_close("wav", wav, g["wav"]);
}
