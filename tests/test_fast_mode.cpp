// The optional fast modes (PipelineOptions::precision = Fp16 / Int8, fine_fast): their kernels
// against fp32 arithmetic on the same (rounded / dequantized) weights, and their drift from exact
// mode on the fixture models.
#include <ATen/Functions.h>
#include <ATen/TensorOperators.h>
#include <ATen/core/grad_mode.h>
#include <catch2/catch.hpp>

#include <algorithm>
#include <cmath>
#include <limits>
#include <string>
#include <utility>

#include "bark/pipeline.h"
#include "engine/model_store.h"
#include "fixture_models.h"
#include "generation/generation.h"
#include "io/checkpoint.h"
#include "models/fine_gpt.h"
#include "models/gpt.h"
#include "models/weights.h"
#include "tensor_npz.h"
#include "test_common.h"

using bark_test::max_abs_diff;
using bark::models::WeightFormat;

namespace {

bark::models::GPT load_fixture_gpt(const std::string& name) {
  const auto ck = bark::io::load_bark_checkpoint((bark_test::fixtures_dir() / "models/f0" / name).string());
  bark::models::GPT gpt(bark::io::read_gpt_config(ck));
  gpt.load(ck.weights);
  return gpt;
}

bark::models::FineGPT load_fixture_fine() {
  const auto ck = bark::io::load_bark_checkpoint((bark_test::fixtures_dir() / "models/f0/fine.pt").string());
  bark::models::FineGPT fine(bark::io::read_fine_config(ck));
  fine.load(ck.weights);
  return fine;
}

// Replaces, in `exact` (fp32), every tensor that `converted` stores in fp16 / int8 by the fp32
// values it stands for: the function the fast mode is meant to compute, in plain fp32 arithmetic.
void round_like(bark::models::ParamSlots exact, const bark::models::ParamSlots& converted) {
  REQUIRE(exact.size() == converted.size());
  for (size_t i = 0; i < exact.size(); ++i) {
    REQUIRE(exact[i].first == converted[i].first);
    const at::Tensor& c = *converted[i].second;
    if (c.scalar_type() == at::kHalf) *exact[i].second = c.to(at::kFloat);
    if (c.scalar_type() == at::kQInt8) *exact[i].second = c.dequantize();
  }
}

const bark::models::WeightPlan kFp16Plan{WeightFormat::Fp16, WeightFormat::Fp16};
const bark::models::WeightPlan kInt8Plan{WeightFormat::Int8, WeightFormat::Fp16};

struct Drift {
  double to_rounded = 0, to_exact = 0, mean_to_exact = 0;
  int64_t top1_same = 0, steps = 0;
};

// Prefill of the golden ids, then the golden decode steps: logits of `fast` against the same
// weights rounded to its formats (kernel error) and against exact mode (weight error).
Drift text_drift(const bark::models::WeightPlan& plan) {
  auto exact = load_fixture_gpt("text.pt");
  auto rounded = load_fixture_gpt("text.pt");
  auto fast = load_fixture_gpt("text.pt");
  fast.convert_weights(plan);
  round_like(rounded.named_parameters(), fast.named_parameters());
  const bark_test::Npz g((bark_test::fixtures_dir() / "golden/f0/text_logits.npz").string());
  const at::Tensor ids = g["input_ids"].unsqueeze(0);
  const at::Tensor step_ids = g["step_ids"];
  auto c_exact = exact.make_cache(1, 1024), c_rounded = rounded.make_cache(1, 1024), c_fast = fast.make_cache(1, 1024);
  Drift d;
  for (int64_t s = -1; s < step_ids.size(0); ++s) {  // prefill (widened GEMMs), then low-precision steps
    const at::Tensor in = s < 0 ? ids : step_ids[s].view({1, 1});
    const at::Tensor le = exact.forward(in, true, &c_exact);
    const at::Tensor lr = rounded.forward(in, true, &c_rounded);
    const at::Tensor lf = fast.forward(in, true, &c_fast);
    d.to_rounded = std::max(d.to_rounded, max_abs_diff(lf, lr));
    d.to_exact = std::max(d.to_exact, max_abs_diff(lf, le));
    d.mean_to_exact += (lf - le).abs().mean().item<double>() / static_cast<double>(step_ids.size(0) + 1);
    d.top1_same += at::equal(lf.argmax(-1), le.argmax(-1)) ? 1 : 0;
    ++d.steps;
  }
  return d;
}

}  // namespace

TEST_CASE("fp16 and int8 row kernels: fp32 arithmetic on the widened weights", "[unit][fast]") {
  at::NoGradGuard no_grad;
  at::manual_seed(1);
  INFO("vectorised kernels: " << bark::models::lowp_kernels_vectorized());
  // tails: rows not a multiple of 4, columns not a multiple of 8 or 16
  for (auto [rows, cols] : {std::pair<int64_t, int64_t>{1, 1}, {3, 7}, {5, 8}, {67, 100}, {13, 1031}, {1024, 768}}) {
    for (const WeightFormat f : {WeightFormat::Fp16, WeightFormat::Int8}) {
      INFO(rows << " x " << cols << " " << bark::models::weight_format_name(f));
      const at::Tensor w32 = at::randn({rows, cols}) * 0.1;
      const at::Tensor w = f == WeightFormat::Fp16 ? w32.to(at::kHalf) : bark::models::quantize_int8(w32);
      const at::Tensor wide = bark::models::weight_to_float(w);
      if (f == WeightFormat::Fp16) CHECK(at::equal(wide, w.to(at::kFloat)));  // widening is exact
      if (f == WeightFormat::Int8) {  // q * float(scale): torch's dequantize() within an ulp
        CHECK(at::equal(wide, w.int_repr().to(at::kFloat) * w.q_per_channel_scales().to(at::kFloat).unsqueeze(1)));
        CHECK(max_abs_diff(wide, w.dequantize()) <= 1e-6 * wide.abs().max().item<double>());
      }
      const at::Tensor bias = at::randn({rows});
      for (int64_t M : {1, 3, 16}) {
        INFO("x rows " << M);
        const at::Tensor x = at::randn({M, cols});
        const at::Tensor ref = at::addmm(bias.to(at::kDouble), x.to(at::kDouble), wide.to(at::kDouble).t());
        const at::Tensor y = bark::models::lowp_linear_rows(w, x, bias);
        REQUIRE(y.sizes() == at::IntArrayRef{M, rows});
        const double scale = (x.abs().to(at::kDouble).matmul(wide.abs().to(at::kDouble).t())).max().item<double>() + 1.0;
        CHECK(max_abs_diff(y.to(at::kDouble), ref) <= 1e-6 * scale);
        const at::Tensor y_nobias = bark::models::lowp_linear_rows(w, x, at::Tensor());
        CHECK(max_abs_diff(y_nobias.to(at::kDouble), ref - bias.to(at::kDouble)) <= 1e-6 * scale);
        // every x row gets the bits it gets alone (batched decoding changes no value) ...
        for (int64_t m = 0; m < M; ++m) CHECK(at::equal(y[m], bark::models::lowp_linear_rows(w, x[m], bias)));
        // ... and output rows may be split between threads anywhere
        for (int64_t k : {1, 2, 3, 5, 64}) {
          if (k >= rows) continue;
          const at::Tensor parts = at::cat({bark::models::lowp_linear_rows(w, x, bias.slice(0, 0, k), 0, k),
                                            bark::models::lowp_linear_rows(w, x, bias.slice(0, k), k, rows)},
                                           1);
          CHECK(at::equal(y, parts));
        }
      }
    }
  }
  CHECK_THROWS(bark::models::lowp_linear_rows(at::zeros({4, 8}), at::zeros({8}), at::Tensor()));  // fp32
  CHECK_THROWS(bark::models::lowp_linear_rows(at::zeros({4, 8}, at::kHalf), at::zeros({7}), at::Tensor()));  // shape
  CHECK_THROWS(bark::models::lowp_linear_rows(at::zeros({4, 8}, at::kHalf), at::zeros({8}), at::Tensor(), 2, 5));
}

TEST_CASE("int8 quantization: symmetric per output channel, error within half a step", "[unit][fast]") {
  at::NoGradGuard no_grad;
  at::manual_seed(2);
  at::Tensor w = at::randn({6, 50});
  w[2].zero_();        // an all-zero row
  w[4][7] = 40.0;      // an outlier: only its own row gets a coarse scale
  const at::Tensor q = bark::models::quantize_int8(w);
  REQUIRE(q.scalar_type() == at::kQInt8);
  const at::Tensor scales = q.q_per_channel_scales().to(at::kFloat);
  const at::Tensor amax = std::get<0>(w.abs().max(1));
  for (int64_t r = 0; r < 6; ++r) {
    INFO("row " << r);
    if (r == 2) CHECK(scales[r].item<float>() == 1.0f);
    else CHECK(scales[r].item<float>() == Approx(amax[r].item<float>() / 127.0f).epsilon(1e-6));
    const at::Tensor ints = q.int_repr()[r].to(at::kInt);
    CHECK(ints.abs().max().item<int>() == (r == 2 ? 0 : 127));  // the row's range is used fully
    CHECK(max_abs_diff(q.dequantize()[r], w[r]) <= 0.5 * scales[r].item<float>() * (1 + 1e-5));
  }
  CHECK(at::equal(q.q_per_channel_zero_points(), at::zeros({6}, at::kLong)));
  at::Tensor bad = at::randn({2, 3});
  bad[1][1] = std::numeric_limits<float>::infinity();
  CHECK_THROWS_WITH(bark::models::quantize_int8(bad), Catch::Contains("inf or NaN"));
}

TEST_CASE("convert_parameters: one pass, Linear weights and lm_heads by name, tied weights once", "[unit][fast]") {
  at::NoGradGuard no_grad;
  auto gpt = load_fixture_gpt("text.pt");
  const int64_t n_layer = gpt.config().n_layer;
  CHECK(gpt.weight_format() == WeightFormat::Fp32);
  CHECK(gpt.convert_weights(kInt8Plan) == 4 * n_layer + 2);  // 4 Linears per block, lm_head, wte
  CHECK(gpt.weight_format() == WeightFormat::Int8);
  for (const auto& [name, t] : gpt.named_parameters()) {
    INFO(name);
    const bool linear = name.find(".c_") != std::string::npos && name.find(".weight") != std::string::npos;
    if (linear || name == "lm_head.weight") CHECK(t->scalar_type() == at::kQInt8);
    else if (name == "transformer.wte.weight") CHECK(t->scalar_type() == at::kHalf);
    else CHECK(t->scalar_type() == at::kFloat);
  }
  CHECK(gpt.convert_weights(kInt8Plan) == 0);  // already converted
  CHECK_THROWS_WITH(gpt.convert_weights(kFp16Plan), Catch::Contains("only fp32 weights can be converted"));

  auto fine = load_fixture_fine();
  CHECK(fine.convert_weights(bark::engine::fine_weight_plan(bark::Precision::Int8)) == 4 * fine.config().n_layer);
  for (const auto& [name, t] : fine.named_parameters()) {
    INFO(name);
    const bool linear = name.find(".c_") != std::string::npos && name.find(".weight") != std::string::npos;
    CHECK(t->scalar_type() == (linear ? at::kQInt8 : at::kFloat));  // tied wtes / lm_heads stay fp32
  }
  CHECK(bark::engine::fine_weight_plan(bark::Precision::Fp16).linear == WeightFormat::Fp32);
  CHECK(bark::engine::gpt_weight_plan(bark::Precision::Fp32).linear == WeightFormat::Fp32);
}

TEST_CASE("fp16 text GPT computes the fp16-rounded model, drift from exact mode is small", "[unit][fast]") {
  at::NoGradGuard no_grad;
  const Drift d = text_drift(kFp16Plan);
  WARN("fp16 text model, max abs logit diff: vs the fp16-rounded model in fp32 " << d.to_rounded << ", vs exact mode "
                                                                               << d.to_exact);
  CHECK(d.to_rounded <= 1e-4);  // only the order of fp32 additions differs
  CHECK(d.to_exact > 0);        // the weights really are fp16
  CHECK(d.to_exact <= 0.05);    // fixture logits are O(1)
}

// The bound: int8 with per-row scales rounds each weight by at most scale/2 = max|w_row|/254,
// i.e. a relative error of ~0.4 % of the row's largest weight (fp16: 0.05 % of each weight).
// Measured on the fixture text model (logits of order 1-10): max 0.057, mean 0.0095, argmax
// unchanged at the prefill and all 5 steps. The bound, 0.25 / 0.05, is ~4x / 5x the
// measurement: errors grow with depth and width, and a bug (wrong scale of one row, a wrong
// tail) moves logits by O(1), far beyond it.
TEST_CASE("int8 text GPT computes the dequantized model, drift from exact mode within the bound", "[unit][fast]") {
  at::NoGradGuard no_grad;
  const Drift d = text_drift(kInt8Plan);
  WARN("int8 text model, logits vs the dequantized model in fp32: max " << d.to_rounded << "; vs exact mode: max "
                                                                        << d.to_exact << ", mean " << d.mean_to_exact
                                                                        << ", same argmax " << d.top1_same << "/"
                                                                        << d.steps);
  CHECK(d.to_rounded <= 1e-4);
  CHECK(d.to_exact > 0);
  CHECK(d.to_exact <= 0.25);
  CHECK(d.mean_to_exact <= 0.05);
  CHECK(d.top1_same >= d.steps - 1);
}

TEST_CASE("int8 fine GPT: logits drift from exact mode within the bound", "[unit][fast]") {
  at::NoGradGuard no_grad;
  auto exact = load_fixture_fine();
  auto fast = load_fixture_fine();
  fast.convert_weights(bark::engine::fine_weight_plan(bark::Precision::Int8));
  const bark_test::Npz g((bark_test::fixtures_dir() / "golden/f0/fine_logits.npz").string());
  const at::Tensor codes = g["input_codes"].to(at::kInt).unsqueeze(0);  // (1, 1024, 8)
  double worst = 0, mean = 0, top1 = 0;
  for (int64_t pred = 1; pred < 8; ++pred) {
    const at::Tensor le = exact.forward(pred, codes)[0].slice(1, 0, 1024);
    const at::Tensor lf = fast.forward(pred, codes)[0].slice(1, 0, 1024);
    worst = std::max(worst, max_abs_diff(lf, le));
    mean += (lf - le).abs().mean().item<double>() / 7;
    top1 += lf.argmax(-1).eq(le.argmax(-1)).to(at::kDouble).mean().item<double>() / 7;
  }
  WARN("int8 fine model vs exact, 7 codebooks x 1024 positions: max abs logit diff " << worst << ", mean " << mean
                                                                                     << ", argmax agreement " << top1);
  CHECK(worst > 0);
  CHECK(worst <= 0.25);  // as for the text model (see above)
  CHECK(mean <= 0.05);
  CHECK(top1 >= 0.95);
}

TEST_CASE("fine fast variant: a short clip is one window of its own length, longer clips are unchanged",
          "[unit][fast]") {
  at::NoGradGuard no_grad;
  auto fine = load_fixture_fine();
  namespace gen = bark::generation;
  const auto coarse_codes = [](int64_t T) {
    gen::Codes c{2, T, {}};
    for (int64_t i = 0; i < 2 * T; ++i) c.data.push_back((i * 37 + 11) % 1024);
    return c;
  };
  gen::FineOptions fo;
  fo.temp = std::nullopt;  // argmax: deterministic
  fo.fast = true;
  // Short: the definition of the variant, computed here directly: the T real frames alone,
  // each codebook's argmax written back before the next is predicted.
  const gen::Codes shortc = coarse_codes(150);
  const gen::Codes out = gen::generate_fine(fine, shortc, nullptr, fo);
  at::Tensor in = at::full({1, 150, 8}, 1024, at::kInt);
  for (int64_t t = 0; t < 150; ++t) {
    for (int64_t r = 0; r < 2; ++r) in[0][t][r] = static_cast<int>(shortc.at(r, t));
  }
  for (int64_t nn = 2; nn < 8; ++nn) {
    in[0].select(1, nn).copy_(fine.forward(nn, in)[0].slice(1, 0, 1024).argmax(-1).to(at::kInt));
  }
  REQUIRE(out.rows == 8);
  REQUIRE(out.cols == 150);
  for (int64_t r = 0; r < 8; ++r) {
    for (int64_t t = 0; t < 150; ++t) REQUIRE(out.at(r, t) == in[0][t][r].item<int>());
  }
  fo.fast = false;  // upstream's padded window: a different (the exact) result
  CHECK(gen::generate_fine(fine, shortc, nullptr, fo).data != out.data);
  // A clip longer than a window has no padding: both variants are the same computation.
  const gen::Codes longc = coarse_codes(1100);
  const gen::Codes exact_long = gen::generate_fine(fine, longc, nullptr, fo);
  fo.fast = true;
  CHECK(gen::generate_fine(fine, longc, nullptr, fo).data == exact_long.data);
}

TEST_CASE("Pipeline with precision fp16 and int8 generates valid audio, tokens as close to exact mode as measured",
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
  const auto re = exact.generate_audio_full("Hello, this is a test of the fast mode.", g);
  for (const bark::Precision p : {bark::Precision::Fp16, bark::Precision::Int8}) {
    INFO(bark::precision_name(p));
    o.precision = p;
    bark::Pipeline fast(o);
    const auto rf = fast.generate_audio_full("Hello, this is a test of the fast mode.", g);
    const auto& se = re.full.semantic_prompt;
    const auto& sf = rf.full.semantic_prompt;
    REQUIRE_FALSE(sf.empty());
    for (int64_t t : sf) CHECK((t >= 0 && t < 10'000));
    CHECK(rf.full.coarse_prompt.n_codebooks == 2);
    CHECK(rf.full.fine_prompt.n_codebooks == 8);
    CHECK(rf.full.fine_prompt.n_frames == rf.full.coarse_prompt.n_frames);
    for (int64_t v : rf.full.fine_prompt.data) REQUIRE((v >= 0 && v < 1024));
    CHECK(rf.audio.samples.size() == static_cast<size_t>(rf.full.fine_prompt.n_frames * 320));
    for (float v : rf.audio.samples) REQUIRE(std::isfinite(v));
    size_t same_prefix = 0;
    while (same_prefix < std::min(se.size(), sf.size()) && se[same_prefix] == sf[same_prefix]) ++same_prefix;
    WARN(bark::precision_name(p) << " vs exact, seed 0: first " << same_prefix << " of " << se.size() << " / "
                                 << sf.size() << " semantic tokens identical");
  }
  CHECK(bark::parse_precision("FP16") == bark::Precision::Fp16);
  CHECK(bark::parse_precision("Int8") == bark::Precision::Int8);
  CHECK(std::string(bark::precision_name(bark::Precision::Fp32)) == "fp32");
  CHECK(std::string(bark::precision_name(bark::Precision::Int8)) == "int8");
  CHECK_THROWS_AS(bark::parse_precision("int4"), std::invalid_argument);
}

TEST_CASE("fast modes convert each weight as it is read: the same tensors as converting after an fp32 load",
          "[unit][fast]") {
  at::NoGradGuard no_grad;
  const auto path = (bark_test::fixtures_dir() / "models/f0/text.pt").string();
  for (const auto& plan : {kFp16Plan, kInt8Plan}) {
    auto after = load_fixture_gpt("text.pt");
    after.convert_weights(plan);

    auto ck = bark::io::open_bark_checkpoint(path);
    bark::models::GPT streamed(bark::io::read_gpt_config(ck));
    bark::io::read_weights(*ck.archive, ck.weights, streamed.named_parameters(), plan);
    CHECK(ck.weights.converted);
    streamed.load(ck.weights);
    const auto a = after.named_parameters(), b = streamed.named_parameters();
    REQUIRE(a.size() == b.size());
    for (size_t i = 0; i < a.size(); ++i) {
      INFO(a[i].first);
      REQUIRE(a[i].first == b[i].first);
      const at::Tensor &x = *a[i].second, &y = *b[i].second;
      REQUIRE(x.scalar_type() == y.scalar_type());
      if (x.scalar_type() == at::kQInt8) {
        CHECK(at::equal(x.int_repr(), y.int_repr()));
        CHECK(at::equal(x.q_per_channel_scales(), y.q_per_channel_scales()));
      } else {
        CHECK(at::equal(x, y));
      }
      // a converted weight no longer aliases a file storage: only its own bytes are kept
      if (x.scalar_type() != at::kFloat) CHECK(y.storage().nbytes() == static_cast<size_t>(y.numel() * y.element_size()));
    }
    CHECK(streamed.convert_weights(plan) == 0);  // nothing left to convert
  }
  // an exact-mode source never keeps fp16 / int8 tensors: a file's fp16 weight becomes fp32
  bark::models::TensorSource half_source;
  half_source.origin = "test";
  auto gpt = load_fixture_gpt("text.pt");
  for (const auto& [name, t] : gpt.named_parameters()) half_source.tensors.emplace_back(name, t->to(at::kHalf));
  bark::models::GPT from_half(gpt.config());
  from_half.load(half_source);
  for (const auto& [name, t] : from_half.named_parameters()) {
    INFO(name);
    if (!name.empty() && name.find(".attn.bias") == std::string::npos) CHECK(t->scalar_type() == at::kFloat);
  }
}
