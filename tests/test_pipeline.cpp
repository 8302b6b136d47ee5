// bark::Pipeline behaviour on bad input, device choice, seeding and prompts (fixture models).
#include <catch2/catch.hpp>
#include <algorithm>
#include <thread>

#include <filesystem>
#include <fstream>

#include "bark/history_prompt.h"
#include "bark/pipeline.h"
#include "device.h"
#include "fixture_models.h"
#include "test_common.h"

using Catch::Matchers::Contains;

namespace {
bark::PipelineOptions fixture_options(int threads = 1) { return bark_test::fixture_pipeline_options(threads); }
bark::GenerationOptions quiet(uint64_t seed = 0) {
  bark::GenerationOptions o;
  o.seed = seed;
  o.silent = true;
  return o;
}
}  // namespace

TEST_CASE("device choice follows upstream _grab_best_device", "[unit][pipeline]") {
  using bark::Device;
  const auto choose = [](Device d, bool mps_enabled, bool cuda, bool mps) {
    return bark::choose_device(d, mps_enabled, {cuda, mps});
  };
  CHECK(choose(Device::Auto, false, false, false).models == Device::Cpu);
  CHECK(choose(Device::Auto, false, true, true).models == Device::Cuda);
  CHECK(choose(Device::Auto, false, false, true).models == Device::Cpu);  // MPS only when enabled
  CHECK(choose(Device::Auto, true, false, true).models == Device::Mps);
  CHECK(choose(Device::Auto, true, false, true).codec == Device::Cpu);    // encodec stays on CPU
  CHECK(choose(Device::Cuda, false, true, false).codec == Device::Cuda);
  CHECK_THROWS_WITH(choose(Device::Cuda, false, false, false), Contains("CUDA is not available"));
  CHECK_THROWS_WITH(choose(Device::Mps, true, false, false), Contains("MPS is not available"));
  CHECK(bark::parse_device("CPU") == Device::Cpu);
  CHECK_THROWS_AS(bark::parse_device("tpu"), std::invalid_argument);
  // no GPU on this machine: an explicit CUDA request fails at construction, clearly
  auto o = fixture_options();
  o.device = Device::Cuda;
  CHECK_THROWS_WITH(bark::Pipeline(o), Contains("cuda"));
}

TEST_CASE("bad text and options are refused with clear errors", "[unit][pipeline]") {
  bark::Pipeline pipe(fixture_options());
  CHECK_THROWS_WITH(pipe.generate_audio("", quiet()), Contains("text is empty"));
  CHECK_THROWS_WITH(pipe.generate_audio(" \t\n\u3000 ", quiet()), Contains("text is empty"));
  CHECK_THROWS_AS(pipe.generate_audio("caf\xC3", quiet()), std::invalid_argument);  // invalid UTF-8
  auto o = quiet();
  o.text_temp = 0;
  CHECK_THROWS_WITH(pipe.generate_audio("hi", o), Contains("text_temp"));
  o = quiet();
  o.waveform_temp = -1;
  CHECK_THROWS_WITH(pipe.generate_audio("hi", o), Contains("waveform_temp"));
  o = quiet();
  o.top_p = 1.5f;
  CHECK_THROWS_WITH(pipe.generate_audio("hi", o), Contains("top_p"));
  // Temperatures too small to sample (the logits / temp overflow): refused, for every caller.
  o = quiet();
  o.text_temp = 1e-30f;
  CHECK_THROWS_AS(pipe.generate_audio("hi", o), std::invalid_argument);
  CHECK_THROWS_WITH(pipe.generate_audio("hi", o), Contains("text_temp must be a finite number >= 0.0001") &&
                                                      Contains("got 1e-30"));
  o = quiet();
  o.fine_temp = 1e-6f;
  CHECK_THROWS_WITH(pipe.generate_audio("hi", o), Contains("fine_temp"));
  o = quiet();
  o.waveform_temp = bark::MIN_TEMPERATURE;  // the smallest accepted one samples (greedily)
  o.max_gen_duration_s = 0.2;
  CHECK_FALSE(pipe.generate_audio("hi", o).samples.empty());
  o = quiet();
  o.max_coarse_history = 700;
  CHECK_THROWS_WITH(pipe.generate_audio("hi", o), Contains("max_coarse_history"));
  o = quiet();
  o.voice = "v2/xx_speaker_1";
  CHECK_THROWS_AS(pipe.generate_audio("hi", o), std::invalid_argument);
  o.voice = "/nonexistent/voice.npz";
  CHECK_THROWS_WITH(pipe.generate_audio("hi", o), Contains("/nonexistent/voice.npz"));
}

TEST_CASE("num_threads above 4 x the logical CPUs is refused", "[unit][pipeline]") {
  auto o = fixture_options();
  o.num_threads = bark::max_num_threads() + 1;
  CHECK_THROWS_AS(bark::Pipeline(o), std::invalid_argument);
  CHECK_THROWS_WITH(bark::Pipeline(o), Contains("num_threads must be at most " + std::to_string(bark::max_num_threads())));
  CHECK(bark::max_num_threads() == 4 * static_cast<int>(std::max(1u, std::thread::hardware_concurrency())));
  o.num_threads = 1;
  CHECK_NOTHROW(bark::Pipeline(o));
}

TEST_CASE("bad token inputs to the lower stages are refused", "[unit][pipeline]") {
  bark::Pipeline pipe(fixture_options());
  CHECK_THROWS_WITH(pipe.semantic_to_waveform({}, quiet()), Contains("empty"));
  CHECK_THROWS_WITH(pipe.semantic_to_waveform({1, 2, 10000}, quiet()), Contains("outside [0, 10000)"));
  bark::CodebookTokens bad{2, 3, {1, 2, 3}};  // data size does not match the shape
  CHECK_THROWS_AS(pipe.generate_fine(bad, quiet()), std::invalid_argument);
  bark::CodebookTokens eight{8, 2, std::vector<int64_t>(16, 5)};
  CHECK_THROWS_WITH(pipe.generate_fine(eight, quiet()), Contains("1..7 codebooks"));
  bark::CodebookTokens out_of_range{2, 2, {0, 1, 2, 1024}};
  CHECK_THROWS_WITH(pipe.generate_fine(out_of_range, quiet()), Contains("outside [0, 1024)"));
  CHECK_THROWS_AS(pipe.codec_decode({8, 1, std::vector<int64_t>(8, -1)}), std::invalid_argument);
}

TEST_CASE("in-memory history prompts are validated like upstream's asserts", "[unit][pipeline]") {
  bark::Pipeline pipe(fixture_options());
  auto o = quiet();
  bark::HistoryPrompt p;
  p.semantic_prompt = {1, 2, 3};
  p.coarse_prompt = {3, 1, {1, 2, 3}};  // 3 codebooks: wrong
  p.fine_prompt = {8, 1, std::vector<int64_t>(8, 0)};
  o.history_prompt = p;
  CHECK_THROWS_AS(pipe.generate_audio("hi", o), std::invalid_argument);
}

TEST_CASE("the same seed gives the same audio, the tokenizer needs no model", "[unit][pipeline]") {
  bark::Pipeline pipe(fixture_options());
  auto o = quiet(42);
  o.max_gen_duration_s = 0.5;
  const auto a = pipe.generate_audio_full("Hello there.", o);
  const auto b = pipe.generate_audio_full("Hello there.", o);
  CHECK(a.full.semantic_prompt == b.full.semantic_prompt);
  CHECK(a.full.fine_prompt.data == b.full.fine_prompt.data);
  CHECK(a.audio.samples == b.audio.samples);
  CHECK(a.audio.sample_rate == 24000);
  // 0.5 s cap: at most 25 semantic tokens (49.9 Hz)
  CHECK(a.full.semantic_prompt.size() <= 25);
  // fine frames = coarse frames, 320 samples per frame
  CHECK(a.audio.samples.size() == static_cast<size_t>(a.full.fine_prompt.n_frames * 320));

  // tokenize() only needs the vocab: a model dir holding nothing else is enough
  const auto dir = bark_test::temp_dir("vocab_only");
  std::filesystem::create_symlink(bark_test::vocab_path(), dir / "vocab.txt");
  bark::PipelineOptions vo;
  vo.model_dir = dir.string();
  vo.device = bark::Device::Cpu;
  bark::Pipeline vocab_only(vo);
  // "Hello" and "," are whole-word entries of bert-base-multilingual-cased
  const auto ids = vocab_only.tokenize("  Hello,\n world ");
  REQUIRE(ids.size() >= 3);
  CHECK_THROWS_WITH(vocab_only.generate_audio("hi", quiet()), Contains("text"));
}

TEST_CASE("save_as_prompt output is accepted back as a voice", "[unit][pipeline]") {
  bark::Pipeline pipe(fixture_options());
  auto o = quiet(3);
  o.max_gen_duration_s = 0.4;
  const auto r = pipe.generate_audio_full("Testing one two.", o);
  const auto dir = bark_test::temp_dir("save_prompt");
  CHECK_THROWS_WITH(bark::save_as_prompt((dir / "p.txt").string(), r.full), Contains(".npz"));
  const auto path = (dir / "p.npz").string();
  bark::save_as_prompt(path, r.full);
  const auto back = bark::load_history_prompt(path);
  CHECK(back.semantic_prompt == r.full.semantic_prompt);
  CHECK(back.coarse_prompt.data == r.full.coarse_prompt.data);
  CHECK(back.fine_prompt.data == r.full.fine_prompt.data);
  auto o2 = quiet(4);
  o2.voice = path;
  o2.max_gen_duration_s = 0.4;
  CHECK_FALSE(pipe.generate_audio("And again.", o2).samples.empty());
}
