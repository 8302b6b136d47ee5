// [cli] hostile inputs and outputs of bark-cli (issue 17): refused up front, one line each,
// consistent exit codes, nothing replaced that is not ours.
#include <sys/stat.h>

#include <catch2/catch.hpp>

#include <filesystem>
#include <string>
#include <vector>

#include "cli_helpers.h"
#include "file_helpers.h"

namespace fs = std::filesystem;
using bark_test::RunResult;
using bark_test::run_cli;
using Catch::Matchers::Contains;
using Catch::Matchers::StartsWith;

namespace {
// The reference Python, run in `dir` (its relative file names land there).
int run_python_in(const std::string& code, const std::filesystem::path& dir) {
  return bark_test::run_python("import os\nos.chdir(r'" + dir.string() + "')\n" + code, dir);
}


fs::path fixture_models() { return bark_test::fixtures_dir() / "models" / "f0"; }

// The small-model layout of the README, as symlinks to the fixtures.
fs::path model_dir(const fs::path& root) {
  const fs::path dir = root / "models";
  fs::create_directories(dir);
  for (const char* name : {"text.pt", "coarse.pt", "fine.pt"}) fs::create_symlink(fixture_models() / name, dir / name);
  fs::create_symlink(fixture_models() / "codec.pt", dir / "encodec_24khz-d7cc33bc.th");
  fs::create_symlink(bark_test::vocab_path(), dir / "vocab.txt");
  fs::create_symlink(bark_test::assets_dir() / "prompts", dir / "prompts");
  return dir;
}

void one_error_line(const RunResult& r, int exit_code, const std::string& needle) {
  INFO("stderr: " << r.err);
  CHECK(r.exit_code == exit_code);
  CHECK_THAT(r.err, StartsWith("error: "));
  CHECK(bark_test::count_lines(r.err) == 1);
  CHECK_THAT(r.err, Contains(needle));
  CHECK_THAT(r.err, !Contains("c10::Error") && !Contains("Exception raised from") && !Contains("std::bad_alloc"));
}

}  // namespace

TEST_CASE("bark-cli: empty and clashing output paths are refused before any model loads", "[cli][hostile]") {
  const auto root = bark_test::unique_temp_dir("cli_hostile_out");
  const auto dir = model_dir(root);
  const auto env = bark_test::clean_env(root / "home");
  one_error_line(run_cli({"Hi.", "--small", "--model-dir", dir.string(), "-o", ""}, env), 2, "-o: empty path");
  one_error_line(run_cli({"Hi.", "--small", "--model-dir", dir.string(), "-o", (root / "o.wav").string(),
                          "--save-prompt", ""},
                         env),
                 2, "--save-prompt: empty path");
  // the same file: by name the .wav / .npz rules already refuse it; through a symlink the prompt
  // would replace the audio
  const auto same = (root / "x.npz").string();
  one_error_line(run_cli({"Hi.", "--small", "--model-dir", dir.string(), "-o", same, "--save-prompt", same}, env), 2,
                 "WAV files only");
  fs::create_symlink(root / "x.npz", root / "link.wav");
  one_error_line(run_cli({"Hi.", "--small", "--model-dir", dir.string(), "-o", (root / "link.wav").string(),
                          "--save-prompt", same},
                         env),
                 2, "same file");
  CHECK_FALSE(fs::exists(root / "x.npz"));
  CHECK_FALSE(fs::exists(root / "o.wav"));
}

TEST_CASE("bark-cli: endless or huge text files are refused without reading them all", "[cli][hostile]") {
  const auto root = bark_test::unique_temp_dir("cli_hostile_text");
  const auto dir = model_dir(root);
  const auto env = bark_test::clean_env(root / "home");
  // /dev/zero never ends: before the limit bark-cli read it until memory ran out
  one_error_line(run_cli({"--text-file", "/dev/zero", "--small", "--model-dir", dir.string(), "-o",
                          (root / "o.wav").string()},
                         env),
                 2, "larger than 16 MiB");
  // a sparse 1 GiB file
  {
    std::ofstream f(root / "big.txt");
  }
  fs::resize_file(root / "big.txt", uint64_t{1} << 30);
  one_error_line(run_cli({"--text-file", (root / "big.txt").string(), "--print-tokens", "--model-dir", dir.string()},
                         env),
                 2, "larger than 16 MiB");
  one_error_line(run_cli({"--text-file", root.string(), "--print-tokens", "--model-dir", dir.string()}, env), 1,
                 "is a directory");
  CHECK_FALSE(fs::exists(root / "o.wav"));
}

TEST_CASE("bark-cli: text of control characters only is refused like empty text", "[cli][hostile]") {
  const auto root = bark_test::unique_temp_dir("cli_hostile_ctrl");
  const auto dir = model_dir(root);
  const auto env = bark_test::clean_env(root / "home");
  for (const std::string text : {std::string("\x01\x02\x7f"), std::string("\x1b\x07\x08")}) {
    one_error_line(run_cli({text, "--small", "--model-dir", dir.string(), "-o", (root / "o.wav").string()}, env), 2,
                   "text is empty");
    one_error_line(run_cli({text, "--small", "--split", "none", "--model-dir", dir.string(), "-o",
                            (root / "o.wav").string()},
                           env),
                   2, "text is empty");
  }
  CHECK_FALSE(fs::exists(root / "o.wav"));
}

TEST_CASE("bark-cli: model and voice files that exist but cannot be used are not called missing", "[cli][hostile]") {
  const auto root = bark_test::unique_temp_dir("cli_hostile_files");
  const auto env = bark_test::clean_env(root / "home");
  const auto out = (root / "o.wav").string();
  {
    const auto dir = model_dir(root / "a");
    fs::remove(dir / "text.pt");
    fs::create_directory(dir / "text.pt");
    const auto r = run_cli({"Hi.", "--small", "--model-dir", dir.string(), "-o", out}, env);
    one_error_line(r, 1, (dir / "text.pt").string() + " is a directory");
    CHECK_THAT(r.err, !Contains("missing"));
  }
  {
    const auto dir = model_dir(root / "b");
    fs::remove(dir / "encodec_24khz-d7cc33bc.th");
    REQUIRE(::mkfifo((dir / "encodec_24khz-d7cc33bc.th").c_str(), 0644) == 0);
    one_error_line(run_cli({"Hi.", "--small", "--model-dir", dir.string(), "-o", out}, env), 1, "a FIFO");
  }
  {
    const auto dir = model_dir(root / "c");
    fs::remove(dir / "fine.pt");
    fs::create_symlink(dir / "fine.pt", dir / "fine.pt");  // a link to itself
    one_error_line(run_cli({"Hi.", "--small", "--model-dir", dir.string(), "-o", out}, env), 1,
                   "symbolic link loop");
  }
  {
    const auto dir = model_dir(root / "d");
    bark_test::write_text(root / "d" / "plain", "x");
    one_error_line(run_cli({"Hi.", "--small", "--model-dir", (root / "d" / "plain").string(), "-o", out}, env), 1,
                   "not a directory");
    // A voice that cannot be opened is the environment's fault: exit 1, as a missing one (docs/CLI.md).
    fs::create_directory(root / "voice.npz");
    one_error_line(run_cli({"Hi.", "--small", "--model-dir", dir.string(), "--voice", (root / "voice.npz").string(),
                            "-o", out},
                           env),
                   1, "is a directory");
  }
  CHECK_FALSE(fs::exists(out));
}

TEST_CASE("bark-cli: every malformed voice file is exit 2, one line naming it", "[cli][hostile]") {
  const auto root = bark_test::unique_temp_dir("cli_hostile_voice");
  const auto dir = model_dir(root);
  const auto env = bark_test::clean_env(root / "home");
  const auto good = bark_test::slurp(bark_test::assets_dir() / "prompts" / "v2" / "en_speaker_1.npz");
  bark_test::spit(root / "text.npz", std::vector<uint8_t>(100, 'x'));                       // not a zip
  bark_test::spit(root / "cut.npz", std::vector<uint8_t>(good.begin(), good.begin() + 2000));  // truncated
  auto flipped = good;
  flipped[flipped.size() / 2] ^= 0xFF;  // a CRC mismatch
  bark_test::spit(root / "flip.npz", flipped);
  for (const char* name : {"text.npz", "cut.npz", "flip.npz"}) {
    const auto path = (root / name).string();
    one_error_line(run_cli({"Hi.", "--small", "--model-dir", dir.string(), "--voice", path, "-o",
                            (root / "o.wav").string()},
                           env),
                   2, path);
  }
}

TEST_CASE("bark-cli: hostile checkpoints are one line naming the file, never a torch backtrace", "[cli][hostile]") {
  const auto root = bark_test::unique_temp_dir("cli_hostile_ckpt");
  const auto env = bark_test::clean_env(root / "home");
  const auto src = (fixture_models() / "text.pt").string();
  REQUIRE(run_python_in("import torch\n"
                                "ck = torch.load('" + src + "', map_location='cpu')\n"
                                "ck['model']['_orig_mod.transformer.wte.weight'][7, 1] = float('inf')\n"
                                "torch.save(ck, 'inf.pt')\n"
                                "torch.save({'model': {}, 'model_args': dict(ck['model_args'], n_layer=1000, "
                                "n_embd=2048, n_head=16)}, 'layers.pt')\n"
                                "torch.save(dict(ck, model_args=dict(ck['model_args'], block_size=1 << 30)), "
                                "'block.pt')\n",
                                root) == 0);
  for (const char* name : {"inf.pt", "layers.pt", "block.pt"}) {
    const auto dir = model_dir(root / (std::string("m_") + name));
    fs::remove(dir / "text.pt");
    fs::copy_file(root / name, dir / "text.pt");
    one_error_line(run_cli({"Hi.", "--small", "--model-dir", dir.string(), "--seed", "0", "-o",
                            (root / "o.wav").string()},
                           env),
                   1, (dir / "text.pt").string());
  }
  CHECK_FALSE(fs::exists(root / "o.wav"));
}
