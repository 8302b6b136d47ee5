// Batched generation: the multi-row matrix-vector kernel, GPT::decode_step over ragged caches,
// and Pipeline::*_batch against the same requests run alone (fixture models, CPU). The upstream
// side is in test_parity_reference.cpp ("a batch of every upstream ... case") and
// test_parity_pipeline.cpp.
#include <ATen/Functions.h>
#include <ATen/Parallel.h>
#include <ATen/TensorOperators.h>
#include <catch2/catch.hpp>

#include <atomic>
#include <cmath>
#include <cstring>
#include <string>
#include <thread>
#include <vector>

#include "bark/bark.h"
#include "fixture_models.h"
#include "models/gpt.h"
#include "models/matvec.h"
#include "test_common.h"

namespace {

bool same_bits(const at::Tensor& a, const at::Tensor& b) {
  const at::Tensor x = a.contiguous(), y = b.contiguous();
  return x.sizes() == y.sizes() &&
         std::memcmp(x.data_ptr<float>(), y.data_ptr<float>(), static_cast<size_t>(x.numel()) * sizeof(float)) == 0;
}

struct ThreadsGuard {
  int saved = at::get_num_threads();
  ~ThreadsGuard() { at::set_num_threads(saved); }
};

bark::models::GPT random_gpt(int64_t n_layer, int64_t n_head, int64_t n_embd, bool bias) {
  bark::models::GPTConfig c;
  c.n_layer = n_layer;
  c.n_head = n_head;
  c.n_embd = n_embd;
  c.block_size = 256;
  c.input_vocab_size = 300;
  c.output_vocab_size = 280;
  c.bias = bias;
  bark::models::GPT gpt(c);
  bark::models::TensorSource src;
  src.origin = "random";
  for (auto& [name, t] : gpt.named_parameters()) {
    at::Tensor w = at::empty(t->sizes(), at::kFloat);
    if (name.find("ln_") != std::string::npos) {
      w.uniform_(0.5, 1.5);
    } else {
      w.normal_(0.0, 0.2);
    }
    src.tensors.emplace_back(name, w);
  }
  gpt.load(src);
  return gpt;
}

bark::GenerationOptions quiet(uint64_t seed) {
  bark::GenerationOptions o;
  o.seed = seed;
  o.silent = true;
  o.max_gen_duration_s = 1.5;  // the fixture models would otherwise speak ~15 s
  return o;
}

void check_same(const bark::GenerationResult& a, const bark::GenerationResult& b) {
  CHECK(a.full.semantic_prompt == b.full.semantic_prompt);
  CHECK(a.full.coarse_prompt.data == b.full.coarse_prompt.data);
  CHECK(a.full.fine_prompt.data == b.full.fine_prompt.data);
  CHECK(a.audio.samples == b.audio.samples);
}

}  // namespace

TEST_CASE("matvec_rows: fp64-accurate, and a row's bits do not depend on the rows beside it or the threads",
          "[unit][batch]") {
  ThreadsGuard guard;
  at::manual_seed(3);
  for (int64_t in : {16, 37, 768}) {
    for (int64_t out : {1, 7, 130}) {
      const at::Tensor w = at::randn({out, in});
      const at::Tensor b = at::randn({out});
      const at::Tensor x = at::randn({9, in});
      at::set_num_threads(1);
      const at::Tensor all = bark::models::matvec_rows(x, w, b);
      // fp64 reference
      const at::Tensor ref = at::addmm(b.to(at::kDouble), x.to(at::kDouble), w.to(at::kDouble).t());
      const double err = at::sub(all.to(at::kDouble), ref).abs().max().item<double>();
      INFO("in " << in << ", out " << out << ": max abs error " << err);
      CHECK(err < 1e-5 * std::sqrt(static_cast<double>(in)));
      for (int64_t r = 0; r < 9; ++r) {
        CHECK(same_bits(bark::models::matvec_rows(x[r], w, b), all[r]));
        CHECK(same_bits(bark::models::matvec_rows(x.slice(0, r, std::min<int64_t>(9, r + 2)), w, b)[0], all[r]));
      }
      at::set_num_threads(2);
      CHECK(same_bits(bark::models::matvec_rows(x, w, b), all));
    }
  }
}

TEST_CASE("GPT::decode_step over ragged caches gives each row bit-for-bit its own forward", "[unit][batch]") {
  at::manual_seed(5);
  for (const bool bias : {false, true}) {
    const auto gpt = random_gpt(2, 2, 24, bias);
    // three sequences of different lengths, each prefilled in its own cache
    const std::vector<int64_t> lengths = {5, 11, 2};
    std::vector<bark::models::KVCache> alone, batched;
    std::vector<int64_t> last;
    for (int64_t len : lengths) {
      const at::Tensor ids = at::randint(0, 300, {1, len}, at::kLong);
      alone.push_back(gpt.make_cache(1, 64));
      batched.push_back(gpt.make_cache(1, 64));
      gpt.forward(ids, false, &alone.back());
      gpt.forward(ids, false, &batched.back());
      last.push_back(ids[0][len - 1].item<int64_t>());
    }
    for (int step = 0; step < 6; ++step) {
      std::vector<bark::models::KVCache*> caches;
      std::vector<std::pair<int64_t, int64_t>> ranges;
      for (size_t r = 0; r < lengths.size(); ++r) {
        caches.push_back(&batched[r]);
        ranges.emplace_back(r == 1 ? 100 : 0, r == 1 ? 200 : 280);  // two lm_head slices in one step
      }
      const auto logits = gpt.decode_step(last, caches, ranges);
      for (size_t r = 0; r < lengths.size(); ++r) {
        const at::Tensor single = gpt.forward(at::full({1, 1}, last[r], at::kLong), false, &alone[r], nullptr,
                                              ranges[r].first, ranges[r].second);
        INFO("row " << r << ", step " << step);
        CHECK(same_bits(single.view({-1}), logits[r]));
        CHECK(batched[r].length == alone[r].length);
        last[r] = (last[r] * 7 + step) % 280;
      }
    }
  }
}

TEST_CASE("generate_audio_batch: every row equals its own call, bad rows fail alone, max_batch refills",
          "[unit][batch]") {
  const bark::Pipeline pipe(bark_test::fixture_pipeline_options());
  std::vector<bark::BatchRequest> requests;
  const std::vector<std::string> texts = {"Hello there.", "A second, longer sentence with more words in it.",
                                          "Bonjour !", "Short."};
  for (size_t i = 0; i < texts.size(); ++i) {
    bark::GenerationOptions o = quiet(10 + i);
    if (i == 1) o.voice = "v2/en_speaker_6";
    if (i == 2) {
      o.top_k = 20;
      o.use_kv_caching = false;
    }
    if (i == 3) o.max_gen_duration_s = 0.5;
    requests.push_back({texts[i], o});
  }
  bark::BatchRequest bad_voice{"Hi.", quiet(1)};
  bad_voice.options.voice = "no/such_voice";
  requests.push_back(bad_voice);
  requests.push_back({"   ", quiet(2)});  // empty after clean-up
  bark::BatchRequest cancelled{"This one is cancelled in the coarse stage.", quiet(3)};
  cancelled.options.on_progress = [](const bark::Progress& p) { return p.stage != bark::Stage::Coarse || p.done < 3; };
  requests.push_back(cancelled);

  std::vector<bark::GenerationResult> singles;
  for (size_t i = 0; i < texts.size(); ++i) singles.push_back(pipe.generate_audio_full(requests[i].text, requests[i].options));

  for (int max_batch : {1, 2, 8}) {
    SECTION("max_batch " + std::to_string(max_batch)) {
      bark::BatchOptions b;
      b.max_batch = max_batch;
      const auto results = pipe.generate_audio_batch(requests, b);
      REQUIRE(results.size() == requests.size());
      for (size_t i = 0; i < texts.size(); ++i) {
        INFO("request " << i);
        REQUIRE(results[i].ok());
        check_same(results[i].result, singles[i]);
      }
      REQUIRE_FALSE(results[4].ok());
      CHECK_THROWS_WITH(std::rethrow_exception(results[4].error), Catch::Matchers::Contains("no/such_voice"));
      REQUIRE_FALSE(results[5].ok());
      CHECK_THROWS_AS(std::rethrow_exception(results[5].error), std::invalid_argument);
      REQUIRE_FALSE(results[6].ok());
      CHECK_THROWS_AS(std::rethrow_exception(results[6].error), bark::Cancelled);
      CHECK_FALSE(results[6].result.full.semantic_prompt.empty());  // it got that far
    }
  }
  bark::BatchOptions zero;
  zero.max_batch = 0;
  CHECK_THROWS_AS(pipe.generate_audio_batch(requests, zero), std::invalid_argument);
  CHECK(pipe.generate_audio_batch({}).empty());
}

TEST_CASE("text_to_semantic_batch then semantic_to_waveform_batch equal the single calls", "[unit][batch]") {
  const bark::Pipeline pipe(bark_test::fixture_pipeline_options());
  std::vector<bark::BatchRequest> requests = {{"One.", quiet(4)}, {"Two words.", quiet(5)}};
  const auto sem = pipe.text_to_semantic_batch(requests);
  REQUIRE(sem.size() == 2);
  std::vector<bark::SemanticRequest> wave;
  for (size_t i = 0; i < 2; ++i) {
    REQUIRE(sem[i].ok());
    CHECK(sem[i].result.full.semantic_prompt == pipe.text_to_semantic(requests[i].text, requests[i].options));
    wave.push_back({sem[i].result.full.semantic_prompt, requests[i].options});
  }
  const auto audio = pipe.semantic_to_waveform_batch(wave);
  for (size_t i = 0; i < 2; ++i) {
    REQUIRE(audio[i].ok());
    check_same(audio[i].result, pipe.semantic_to_waveform_full(wave[i].semantic, wave[i].options));
  }
}

TEST_CASE("PipelineOptions::max_batch: concurrent calls decode together and keep their own results",
          "[unit][batch]") {
  bark::PipelineOptions po = bark_test::fixture_pipeline_options();
  const bark::Pipeline sequential(po);
  po.max_batch = 4;
  po.batch_window_ms = 300;  // wide enough that the four threads always meet
  const bark::Pipeline coalescing(po);
  const std::vector<std::string> texts = {"One.", "Two, a longer one.", "Three!", "Four, the last."};
  std::vector<bark::GenerationResult> expected;
  for (size_t i = 0; i < texts.size(); ++i) expected.push_back(sequential.generate_audio_full(texts[i], quiet(20 + i)));

  std::atomic<int> batched{0};
  const bark::LogLevel saved = bark::get_log_level();
  bark::set_log_level(bark::LogLevel::Debug);
  bark::set_log_handler([&](bark::LogLevel, const std::string& message) {
    if (message.find("concurrent calls batched") != std::string::npos) ++batched;
  });
  std::vector<bark::GenerationResult> got(texts.size());
  std::vector<std::thread> threads;
  for (size_t i = 0; i < texts.size(); ++i) {
    threads.emplace_back([&, i] { got[i] = coalescing.generate_audio_full(texts[i], quiet(20 + i)); });
  }
  for (auto& t : threads) t.join();
  bark::set_log_handler({});
  bark::set_log_level(saved);
  CHECK(batched >= 2);  // the semantic and the coarse stage each ran at least one real batch
  for (size_t i = 0; i < texts.size(); ++i) {
    INFO("call " << i);
    check_same(got[i], expected[i]);
  }
  // a cancelled call leaves the batch alone
  bark::GenerationOptions stop = quiet(30);
  stop.on_progress = [](const bark::Progress& p) { return p.stage != bark::Stage::Semantic || p.done < 2; };
  CHECK_THROWS_AS(coalescing.generate_audio_full("Cancelled.", stop), bark::Cancelled);
  check_same(coalescing.generate_audio_full(texts[0], quiet(20)), expected[0]);
}

TEST_CASE("long-form max_batch: the same segments, tokens and audio as one segment at a time", "[unit][batch][longform]") {
  const bark::Pipeline pipe(bark_test::fixture_pipeline_options());
  const std::string story = "The first sentence is about the sea. The second one talks of hills. "
                            "A third sentence brings the rain. Then a fourth one says goodbye.";
  for (const auto& [mode, voice] : {std::pair<bark::VoiceMode, std::string>{bark::VoiceMode::Preset, "v2/en_speaker_6"},
                                    {bark::VoiceMode::Auto, ""}, {bark::VoiceMode::Chain, "announcer"}}) {
    bark::SpeechOptions so;
    so.generation = quiet(11);
    so.generation.max_gen_duration_s = 0.8;
    so.generation.voice = voice;
    so.voice_mode = mode;
    so.max_segment_chars = 40;
    so.silence_s = 0.1;
    std::vector<bark::AudioChunk> chunks;
    const auto one = pipe.generate_speech(story, so);
    REQUIRE(one.segments.size() == 4);
    so.max_batch = 3;
    so.on_audio = [&](const bark::AudioChunk& c) {
      chunks.push_back(c);
      return true;
    };
    const auto batched = pipe.generate_speech(story, so);
    INFO("voice mode " << bark::voice_mode_name(mode));
    REQUIRE(batched.segments.size() == one.segments.size());
    for (size_t i = 0; i < one.segments.size(); ++i) {
      CHECK(batched.segments[i].seed == one.segments[i].seed);
      CHECK(batched.segments[i].tokens.semantic_prompt == one.segments[i].tokens.semantic_prompt);
      CHECK(batched.segments[i].tokens.fine_prompt.data == one.segments[i].tokens.fine_prompt.data);
    }
    CHECK(batched.audio.samples == one.audio.samples);
    std::vector<float> joined;
    for (const auto& c : chunks) joined.insert(joined.end(), c.samples.begin(), c.samples.end());
    CHECK(joined == batched.audio.samples);
  }
  bark::SpeechOptions bad;
  bad.max_batch = 0;
  CHECK_THROWS_AS(pipe.generate_speech(story, bad), std::invalid_argument);
}
