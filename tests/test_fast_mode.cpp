// The optional fp16 fast mode (PipelineOptions::precision = Fp16): its kernels against fp32
// arithmetic on the same (rounded) weights, and its drift from exact mode on the fixture models.
#include <ATen/Functions.h>
#include <ATen/TensorOperators.h>
#include <ATen/core/grad_mode.h>
#include <catch2/catch.hpp>

#include <algorithm>
#include <cmath>
#include <string>
#include <utility>

#include "bark/pipeline.h"
#include "fixture_models.h"
#include "io/checkpoint.h"
#include "models/gpt.h"
#include "models/half.h"
#include "tensor_npz.h"
#include "test_common.h"

using bark_test::max_abs_diff;

namespace {

bark::models::GPT load_fixture_gpt(const std::string& name) {
  const auto ck = bark::io::load_bark_checkpoint((bark_test::fixtures_dir() / "models/f0" / name).string());
  bark::models::GPT gpt(bark::io::read_gpt_config(ck));
  gpt.load(ck.weights);
  return gpt;
}

// The weights GPT::to_half stores in fp16, rounded to fp16 and back in place: the function the
// fast mode is meant to compute, in plain fp32 arithmetic.
void round_like_to_half(bark::models::GPT& gpt) {
  const auto has = [](const std::string& s, const char* part) { return s.find(part) != std::string::npos; };
  for (auto& [name, t] : gpt.named_parameters()) {
    if (has(name, "attn.c_attn.weight") || has(name, "attn.c_proj.weight") || has(name, "mlp.c_fc.weight") ||
        has(name, "mlp.c_proj.weight") || name == "lm_head.weight" || name == "transformer.wte.weight") {
      *t = t->to(at::kHalf).to(at::kFloat);
    }
  }
}

}  // namespace

TEST_CASE("fp16 matrix-vector product: fp32 arithmetic on the widened weights", "[unit][fast]") {
  at::NoGradGuard no_grad;
  at::manual_seed(1);
  INFO("vectorised kernels: " << bark::models::half_kernels_vectorized());
  // tails: rows not a multiple of 4, columns not a multiple of 8
  for (auto [rows, cols] : {std::pair<int64_t, int64_t>{1, 1}, {3, 7}, {5, 8}, {67, 100}, {13, 1031}, {1024, 768}}) {
    INFO(rows << " x " << cols);
    const at::Tensor w = (at::randn({rows, cols}) * 0.1).to(at::kHalf);
    const at::Tensor x = at::randn({cols});
    const at::Tensor bias = at::randn({rows});
    const at::Tensor wide = bark::models::half_to_float(w);
    CHECK(at::equal(wide, w.to(at::kFloat)));  // widening is exact
    const at::Tensor ref = at::addmv(bias.to(at::kDouble), wide.to(at::kDouble), x.to(at::kDouble));
    const at::Tensor y = bark::models::half_matvec(w, x, bias);
    REQUIRE(y.sizes() == at::IntArrayRef{rows});
    const double scale = (wide.abs().to(at::kDouble).matmul(x.abs().to(at::kDouble))).max().item<double>() + 1.0;
    CHECK(max_abs_diff(y.to(at::kDouble), ref) <= 1e-6 * scale);
    const at::Tensor y_nobias = bark::models::half_matvec(w, x, at::Tensor());
    CHECK(max_abs_diff(y_nobias.to(at::kDouble), ref - bias.to(at::kDouble)) <= 1e-6 * scale);
    // rows may be split between threads anywhere: any split gives every row the same bits
    for (int64_t k : {1, 2, 3, 5, 64}) {
      if (k >= rows) continue;
      const at::Tensor parts = at::cat({bark::models::half_matvec(w.slice(0, 0, k), x, bias.slice(0, 0, k)),
                                        bark::models::half_matvec(w.slice(0, k), x, bias.slice(0, k))});
      CHECK(at::equal(y, parts));
    }
  }
  CHECK_THROWS(bark::models::half_matvec(at::zeros({4, 8}), at::zeros({8}), at::Tensor()));     // not half
  CHECK_THROWS(bark::models::half_matvec(at::zeros({4, 8}, at::kHalf), at::zeros({7}), at::Tensor()));  // shape
}

TEST_CASE("fp16 text GPT computes the fp16-rounded model, drift from exact mode is small", "[unit][fast]") {
  at::NoGradGuard no_grad;
  auto exact = load_fixture_gpt("text.pt");
  auto rounded = load_fixture_gpt("text.pt");
  round_like_to_half(rounded);
  auto fast = load_fixture_gpt("text.pt");
  fast.to_half();
  CHECK(fast.is_half());
  CHECK_FALSE(exact.is_half());
  const bark_test::Npz g((bark_test::fixtures_dir() / "golden/f0/text_logits.npz").string());
  const at::Tensor ids = g["input_ids"].unsqueeze(0);
  const at::Tensor step_ids = g["step_ids"];
  auto c_exact = exact.make_cache(1, 1024), c_rounded = rounded.make_cache(1, 1024), c_fast = fast.make_cache(1, 1024);
  double to_rounded = 0, to_exact = 0;
  for (int64_t s = -1; s < step_ids.size(0); ++s) {  // prefill (widened GEMMs), then fp16 matrix-vector steps
    const at::Tensor in = s < 0 ? ids : step_ids[s].view({1, 1});
    const at::Tensor le = exact.forward(in, true, &c_exact);
    const at::Tensor lr = rounded.forward(in, true, &c_rounded);
    const at::Tensor lf = fast.forward(in, true, &c_fast);
    to_rounded = std::max(to_rounded, max_abs_diff(lf, lr));
    to_exact = std::max(to_exact, max_abs_diff(lf, le));
  }
  WARN("fp16 text model, max abs logit diff: vs the fp16-rounded model in fp32 " << to_rounded << ", vs exact mode "
                                                                               << to_exact);
  CHECK(to_rounded <= 1e-4);  // only the order of fp32 additions differs
  CHECK(to_exact > 0);        // the weights really are fp16
  CHECK(to_exact <= 0.05);    // fixture logits are O(1)
}

TEST_CASE("Pipeline with precision fp16 generates valid audio, tokens as close to exact mode as measured",
          "[unit][pipeline][fast]") {
  bark::PipelineOptions o;
  o.model_dir = bark_test::fixture_model_dir();
  o.use_small = true;
  o.device = bark::Device::Cpu;
  o.num_threads = 1;
  bark::GenerationOptions g;
  g.seed = 0;
  g.silent = true;
  bark::Pipeline exact(o);
  o.precision = bark::Precision::Fp16;
  bark::Pipeline fast(o);
  const auto re = exact.generate_audio_full("Hello, this is a test of the fast mode.", g);
  const auto rf = fast.generate_audio_full("Hello, this is a test of the fast mode.", g);
  const auto& se = re.full.semantic_prompt;
  const auto& sf = rf.full.semantic_prompt;
  REQUIRE_FALSE(sf.empty());
  for (int64_t t : sf) CHECK((t >= 0 && t < 10'000));
  CHECK(rf.full.coarse_prompt.n_codebooks == 2);
  CHECK(rf.full.fine_prompt.n_codebooks == 8);
  CHECK(rf.full.fine_prompt.n_frames == rf.full.coarse_prompt.n_frames);
  CHECK(rf.audio.samples.size() == static_cast<size_t>(rf.full.fine_prompt.n_frames * 320));
  for (float v : rf.audio.samples) REQUIRE(std::isfinite(v));
  size_t same_prefix = 0;
  while (same_prefix < std::min(se.size(), sf.size()) && se[same_prefix] == sf[same_prefix]) ++same_prefix;
  WARN("fp16 vs exact, seed 0: first " << same_prefix << " of " << se.size() << " / " << sf.size()
                                       << " semantic tokens identical");
  CHECK(bark::parse_precision("FP16") == bark::Precision::Fp16);
  CHECK(std::string(bark::precision_name(bark::Precision::Fp32)) == "fp32");
  CHECK_THROWS_AS(bark::parse_precision("int8"), std::invalid_argument);
}
