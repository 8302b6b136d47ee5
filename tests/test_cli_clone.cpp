// [cli] tests of `bark-cli clone`: a recording -> a voice .npz (tiny seeded HuBERT and quantizer
// from scripts/clone_reference.py --kinds tiny, the fixture EnCodec), the tokens and codes those
// of the Python recipe on the same models, then speech in that voice with the fixture TTS
// models; and the advice, refusals and warnings a user sees.
#include <catch2/catch.hpp>
#include <unistd.h>

#include <cmath>
#include <cstdlib>
#include <filesystem>
#include <string>
#include <thread>
#include <vector>

#include "bark/audio_file.h"
#include "bark/history_prompt.h"
#include "bark/voice_cloner.h"
#include "bark/wav.h"
#include "cli_helpers.h"
#include "io/npy.h"

namespace fs = std::filesystem;
using bark_test::run_cli;
using Catch::Matchers::Contains;
using Catch::Matchers::StartsWith;

namespace {

fs::path fixture_models() { return bark_test::fixtures_dir() / "models" / "f0"; }

// scripts/clone_reference.py --kinds tiny, once per process.
fs::path tiny_reference() {
  static fs::path dir;
  if (!dir.empty()) return dir / "tiny";
  dir = bark_test::unique_temp_dir("cli_clone_ref");
  const std::string python = bark_test::reference_python();
  std::error_code ec;
  if (python.empty() || !fs::exists(python, ec)) FAIL("the reference venv's python is missing: '" << python << "'");
  const std::string cmd = "OMP_NUM_THREADS=1 " + bark_test::shell_quote(python) + " " +
                          bark_test::shell_quote((bark_test::source_dir() / "scripts" / "clone_reference.py").string()) +
                          " --kinds tiny --models " + bark_test::shell_quote(fixture_models().string()) + " --out " +
                          bark_test::shell_quote(dir.string()) + " > " + bark_test::shell_quote((dir / "log").string()) +
                          " 2>&1";
  if (std::system(cmd.c_str()) != 0) FAIL("scripts/clone_reference.py failed: " << bark_test::slurp_text(dir / "log"));
  return dir / "tiny";
}

// TTS fixture models (small names) + the tiny voice-cloning models, in the documented layout.
fs::path clone_model_dir(const fs::path& root) {
  const fs::path dir = root / "models";
  fs::create_directories(dir);
  for (const char* name : {"text.pt", "coarse.pt", "fine.pt"}) fs::create_symlink(fixture_models() / name, dir / name);
  fs::create_symlink(fixture_models() / "codec.pt", dir / "encodec_24khz-d7cc33bc.th");
  fs::create_symlink(bark_test::vocab_path(), dir / "vocab.txt");
  fs::create_symlink(tiny_reference() / "hubert_st", dir / "hubert-base-ls960");
  fs::create_symlink(tiny_reference() / "quantizer_v0.pth", dir / "quantifier_hubert_base_ls960_14.pth");
  return dir;
}

void write_noise(const fs::path& path, double seconds, int rate) {
  bark::Audio a;
  a.sample_rate = rate;
  for (int i = 0; i < static_cast<int>(seconds * rate); ++i) a.samples.push_back(0.3f * std::sin(0.05f * static_cast<float>(i)));
  bark::write_wav(path.string(), a);
}

void require_one_error_line(const bark_test::RunResult& r, int exit_code, const std::string& needle) {
  INFO("stderr: " << r.err);
  CHECK(r.exit_code == exit_code);
  CHECK_THAT(r.err, StartsWith("error: "));
  CHECK(bark_test::count_lines(r.err) == 1);
  CHECK_THAT(r.err, Contains(needle));
}

}  // namespace

TEST_CASE("bark-cli clone makes a voice from a FLAC recording and bark-cli speaks with it", "[cli]") {
  const fs::path root = bark_test::unique_temp_dir("cli_clone");
  const fs::path models = clone_model_dir(root);
  const auto env = bark_test::clean_env(root / "home");
  const fs::path voice = root / "me.npz";
  auto r = run_cli({"clone", (tiny_reference() / "recording.flac").string(), "-o", voice.string(), "--model-dir",
                    models.string()},
                   env);
  INFO(r.err);
  REQUIRE(r.exit_code == 0);
  CHECK_THAT(r.err, Contains("about 10 s of one speaker"));
  CHECK_THAT(r.err, Contains("saved " + voice.string()));
  const bark::HistoryPrompt p = bark::load_history_prompt(voice.string());

  // the same tokens and codes as the Python recipe on the same models (up to the start trimmed
  // for Bark's coarse/semantic ratio)
  const auto ref = bark::io::read_npz((tiny_reference() / "models.npz").string());
  const auto tokens = ref.at("tokens_v0").to_int64();
  const auto codes = ref.at("codes").to_int64();  // (8, T)
  const size_t n_sem = p.semantic_prompt.size();
  REQUIRE(n_sem <= tokens.size());
  REQUIRE(n_sem + 2 >= tokens.size());
  CHECK(std::vector<int64_t>(tokens.end() - static_cast<std::ptrdiff_t>(n_sem), tokens.end()) == p.semantic_prompt);
  const int64_t T_ref = static_cast<int64_t>(codes.size() / 8), T = p.fine_prompt.n_frames;
  REQUIRE(T <= T_ref);
  int64_t n_diff = 0;
  for (int64_t q = 0; q < 8; ++q) {
    for (int64_t t = 0; t < T; ++t) n_diff += p.fine_prompt.at(q, t) != codes[static_cast<size_t>(q * T_ref + T_ref - T + t)];
  }
  CHECK(n_diff == 0);
  CHECK(std::round(static_cast<double>(T) / static_cast<double>(n_sem) * 10) / 10 == 1.5);

  // then speak in that voice
  const fs::path wav = root / "hi.wav";
  auto say = run_cli({"Hello there.", "--voice", voice.string(), "--small", "--model-dir", models.string(), "--seed", "3",
                      "-o", wav.string()},
                     env);
  INFO(say.err);
  REQUIRE(say.exit_code == 0);
  const bark::Audio audio = bark::read_wav(wav.string());
  CHECK(audio.sample_rate == 24000);
  CHECK(audio.samples.size() > 0);
}

TEST_CASE("bark-cli clone: too short refused, long warned, missing models and bad output named", "[cli]") {
  const fs::path root = bark_test::unique_temp_dir("cli_clone_errors");
  const auto env = bark_test::clean_env(root / "home");
  write_noise(root / "short.wav", 1.5, 16000);
  require_one_error_line(run_cli({"clone", (root / "short.wav").string(), "-o", (root / "v.npz").string()}, env), 2,
                         "1.50 s long: too short to clone (at least 2 s)");
  CHECK_FALSE(fs::exists(root / "v.npz"));
  require_one_error_line(run_cli({"clone", (root / "none.flac").string(), "-o", (root / "v.npz").string()}, env), 1,
                         "cannot read it");
  write_noise(root / "ok.wav", 3.0, 22050);
  require_one_error_line(run_cli({"clone", (root / "ok.wav").string(), "-o", (root / "v.wav").string()}, env), 2,
                         "must end with .npz");
  require_one_error_line(run_cli({"clone", (root / "ok.wav").string(), "-o", (root / "nodir" / "v.npz").string()}, env),
                         1, "is missing or not writable");
  // a thread count beyond 4 per logical CPU is a typo, refused before anything starts (99999
  // threads once brought the machine to a load of 149)
  require_one_error_line(run_cli({"clone", (root / "ok.wav").string(), "-o", (root / "v.npz").string(), "--threads",
                                  "99999"},
                                 env),
                         2, "--threads: must be 0 (the physical cores) or a number of threads up to");
  // no voice-cloning models anywhere: what is missing, where it was looked for, how to get it
  const auto missing = run_cli({"clone", (root / "ok.wav").string(), "-o", (root / "v.npz").string(), "--model-dir",
                                (root / "empty").string()},
                               env);
  require_one_error_line(missing, 1, "bark-cli download --only clone");
  CHECK_THAT(missing.err, Contains((root / "empty" / "hubert-base-ls960").string()));
  CHECK_FALSE(fs::exists(root / "v.npz"));

  // above 30 s: a warning, and the voice is still made
  const fs::path models = clone_model_dir(root);
  write_noise(root / "long.wav", 31.0, 16000);
  const auto r = run_cli({"clone", (root / "long.wav").string(), "-o", (root / "long.npz").string(), "--model-dir",
                          models.string()},
                         env);
  INFO(r.err);
  CHECK(r.exit_code == 0);
  CHECK_THAT(r.err, Contains("warning: ") && Contains("31.0 s long") && Contains("last ~7 s"));
  CHECK(fs::exists(root / "long.npz"));
}

TEST_CASE("VoiceCloner: one cloner, concurrent clone calls, the same voice as a lone call", "[cli]") {
  const fs::path root = bark_test::unique_temp_dir("clone_threads");
  bark::VoiceClonerOptions o;
  o.model_dir = clone_model_dir(root).string();
  o.device = bark::Device::Cpu;
  const bark::VoiceCloner cloner(o);  // loads on the first call, which here races with two others
  const bark::Audio sample = bark::read_audio((tiny_reference() / "recording.flac").string());
  std::vector<bark::HistoryPrompt> results(3);
  std::vector<std::string> errors(3);
  std::vector<std::thread> threads;
  for (size_t i = 0; i < results.size(); ++i) {
    threads.emplace_back([&, i] {
      try {
        results[i] = cloner.clone(sample);
      } catch (const std::exception& e) {
        errors[i] = e.what();
      }
    });
  }
  for (auto& t : threads) t.join();
  const bark::HistoryPrompt alone = bark::VoiceCloner(o).clone(sample);
  for (size_t i = 0; i < results.size(); ++i) {
    INFO("thread " << i << ": " << errors[i]);
    REQUIRE(errors[i].empty());
    CHECK(results[i].semantic_prompt == alone.semantic_prompt);
    CHECK(results[i].fine_prompt.data == alone.fine_prompt.data);
    CHECK(results[i].coarse_prompt.data == alone.coarse_prompt.data);
  }
}
