// bark-cli on Bark in the Hugging Face transformers layout (tests/hf_fixture.h): pointed at a
// snapshot with --model-dir, or finding it in the hub cache, it writes the same WAV, byte for
// byte, as from the original checkpoints.
#include <catch2/catch.hpp>

#include <string>

#include "cli_helpers.h"
#include "fixture_models.h"
#include "hf_fixture.h"

using Catch::Matchers::Contains;

TEST_CASE("bark-cli speaks from a Hugging Face snapshot as from the original checkpoints", "[cli][hf]") {
  const auto root = bark_test::unique_temp_dir("cli_hf");
  const auto hf = bark_test::hf_fixture_dir();
  const auto env = bark_test::clean_env(root / "home");
  const auto speak = [&](const std::vector<std::string>& where, const std::string& name,
                         const std::map<std::string, std::string>& e) {
    std::vector<std::string> args{"hello", "--seed", "0", "--voice", "v2/en_speaker_6", "--device", "cpu",
                                  "--threads", "1", "-o", (root / name).string()};
    args.insert(args.end(), where.begin(), where.end());
    const auto r = bark_test::run_cli(args, e);
    INFO(r.err);
    REQUIRE(r.exit_code == 0);
    return bark_test::slurp_text(root / name);
  };
  const std::string want = speak({"--small", "--model-dir", bark_test::fixture_model_dir()}, "original.wav", env);
  CHECK(speak({"--model-dir", (hf / "safetensors").string()}, "safetensors.wav", env) == want);
  CHECK(speak({"--model-dir", (hf / "bin").string()}, "bin.wav", env) == want);

  // no --model-dir: the hub cache's models--suno--bark-small (--small) is found
  auto cached = env;
  cached["HF_HUB_CACHE"] = bark_test::make_hf_hub_cache(root, hf / "safetensors").string();
  CHECK(speak({"--small"}, "cached.wav", cached) == want);
  // the large model is not there: the error names the hub cache among the places looked at
  const auto r = bark_test::run_cli({"hello", "-o", (root / "large.wav").string()}, cached);
  CHECK(r.exit_code == 1);
  CHECK_THAT(r.err, Contains("models--suno--bark/snapshots/* (Hugging Face hub cache)"));
}
