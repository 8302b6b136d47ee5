// [cli] tests of tools/bark_cli.cpp: they run the real bark-cli binary (BARK_BINARY_DIR/tools/bark-cli)
// with a clean environment, on the tiny fixture models of shared/fixtures/models/f0.
#include <catch2/catch.hpp>
#include <algorithm>
#include <cmath>
#include <cstring>
#include <filesystem>
#include <map>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "bark/wav.h"
#include "cli_helpers.h"
#include "io/npy.h"

namespace fs = std::filesystem;
using bark_test::RunResult;
using bark_test::run_cli;
using Catch::Matchers::Contains;
using Catch::Matchers::StartsWith;

namespace {

fs::path fixture_models() { return bark_test::fixtures_dir() / "models" / "f0"; }

// A model directory of symlinks to the fixture models, in the layout of the README (small models).
fs::path make_model_dir(const fs::path& root, bool with_prompts = true) {
  const fs::path dir = root / "models";
  fs::create_directories(dir);
  for (const char* name : {"text.pt", "coarse.pt", "fine.pt"}) fs::create_symlink(fixture_models() / name, dir / name);
  fs::create_symlink(fixture_models() / "codec.pt", dir / "encodec_24khz-d7cc33bc.th");
  fs::create_symlink(bark_test::vocab_path(), dir / "vocab.txt");
  if (with_prompts) fs::create_symlink(bark_test::assets_dir() / "prompts", dir / "prompts");
  return dir;
}

std::string fixture_text(const std::string& key) {
  const auto manifest = bark_test::slurp_text(bark_test::fixtures_dir() / "manifest.json");
  return nlohmann::json::parse(manifest).at("texts").at(key).get<std::string>();
}

void require_one_error_line(const RunResult& r, int exit_code, const std::string& needle) {
  INFO("stderr: " << r.err);
  CHECK(r.exit_code == exit_code);
  CHECK_THAT(r.err, StartsWith("error: "));
  CHECK(bark_test::count_lines(r.err) == 1);
  CHECK_THAT(r.err, Contains(needle));
  CHECK(r.out.empty());
}

struct WavInfo {
  uint16_t format = 0, channels = 0, bits = 0;
  uint32_t rate = 0;
  bool has_fact = false;
};

WavInfo wav_info(const fs::path& path) {
  const std::string b = bark_test::slurp_text(path);
  WavInfo info;
  REQUIRE(b.size() >= 12);
  REQUIRE(b.compare(0, 4, "RIFF") == 0);
  REQUIRE(b.compare(8, 4, "WAVE") == 0);
  auto u16 = [&](size_t at) { return static_cast<uint16_t>(uint8_t(b[at]) | uint8_t(b[at + 1]) << 8); };
  auto u32 = [&](size_t at) { return static_cast<uint32_t>(u16(at) | uint32_t(u16(at + 2)) << 16); };
  for (size_t at = 12; at + 8 <= b.size();) {
    const std::string id = b.substr(at, 4);
    const uint32_t size = u32(at + 4);
    if (id == "fmt ") {
      info.format = u16(at + 8);
      info.channels = u16(at + 10);
      info.rate = u32(at + 12);
      info.bits = u16(at + 22);
    }
    if (id == "fact") info.has_fact = true;
    at += 8 + size + (size & 1);
  }
  return info;
}

struct Generation {
  std::vector<int64_t> semantic, coarse, fine;
  std::vector<int64_t> coarse_shape, fine_shape;
};

Generation read_prompt(const fs::path& path, const char* semantic, const char* coarse, const char* fine) {
  const auto arrays = bark::io::read_npz(path.string());
  Generation g;
  g.semantic = arrays.at(semantic).to_int64();
  g.coarse = arrays.at(coarse).to_int64();
  g.fine = arrays.at(fine).to_int64();
  g.coarse_shape = arrays.at(coarse).shape;
  g.fine_shape = arrays.at(fine).shape;
  return g;
}

Generation read_saved(const fs::path& path) { return read_prompt(path, "semantic_prompt", "coarse_prompt", "fine_prompt"); }
Generation read_fixture(const std::string& name) {
  return read_prompt(bark_test::fixtures_dir() / "pipeline" / "f0" / name, "semantic", "coarse", "fine");
}

}  // namespace

TEST_CASE("bark-cli --help shows every option and copy-paste examples, --version the version", "[cli]") {
  const auto home = bark_test::unique_temp_dir("cli_help") / "home";
  auto help = run_cli({"--help"}, bark_test::clean_env(home));
  CHECK(help.exit_code == 0);
  CHECK(help.err.empty());
  for (const char* opt : {"TEXT", "--text-file", "-o,--output", "bark_generation.wav", "--voice", "--text-temp",
                          "--waveform-temp", "0.7", "--seed", "--model-dir", "BARK_MODEL_DIR", "--small", "--device",
                          "auto,cpu,cuda,mps", "--offload", "--threads", "--precision", "fp32", "--save-prompt", "--format", "pcm16,f32",
                          "--silent", "-v,--verbose", "--print-tokens", "--version", "download", "Examples:",
                          "bark-cli download", "--voice v2/en_speaker_6 -o"}) {
    CHECK_THAT(help.out, Contains(opt));
  }
  auto version = run_cli({"--version"}, bark_test::clean_env(home));
  CHECK(version.exit_code == 0);
  CHECK(version.out == "bark-cli 0.1.0\n");

  // Paths are PATH/DIR, not TEXT; every option shows its default; -1 is a random seed.
  for (const char* opt : {"--text-file PATH", "-o,--output,--output_filename PATH=bark_generation.wav", "--model-dir DIR",
                          "--save-prompt PATH.npz", "--voice,--history_prompt NAME|PATH.npz", "--threads N=0",
                          "--seed N=-1", "-1: random", "--text-temp,--text_temp T=0.7", "--fine-temp T=0.5",
                          "--top-k K", "--top-p P", "--min-eos-p P", "default: 0.2", "--max-duration S", "--output_dir DIR",
                          "--text", "SUNO_USE_SMALL_MODELS", "SUNO_OFFLOAD_CPU", "SUNO_ENABLE_MPS",
                          "bark-cli -- download", "Exit codes:"}) {
    CHECK_THAT(help.out, Contains(opt));
  }
  for (const char* line : {"--text-file TEXT", "--model-dir TEXT", "--save-prompt TEXT", "--output TEXT"}) {
    CHECK_THAT(help.out, !Contains(line));
  }
  // download --help ends with examples of download.
  auto dl = run_cli({"download", "--help"}, bark_test::clean_env(home));
  CHECK(dl.exit_code == 0);
  const auto examples = dl.out.rfind("Examples:");
  REQUIRE(examples != std::string::npos);
  CHECK_THAT(dl.out.substr(examples), Contains("bark-cli download --small") && Contains("bark-cli download --list") &&
                                          Contains("bark-cli download --only vocab,prompts"));
  CHECK(dl.out.find("--voice", examples) == std::string::npos);
}

// The fast paths never load libtorch (docs/CLI.md, "Start-up"): the dynamic loader's own log
// (LD_DEBUG=files) lists every library it opens.
TEST_CASE("bark-cli --version, --help, --print-tokens and download do not load libtorch", "[cli]") {
  const auto root = bark_test::unique_temp_dir("cli_startup");
  const auto dir = root / "vocab-only";
  fs::create_directories(dir);
  fs::create_symlink(bark_test::vocab_path(), dir / "vocab.txt");
  const std::vector<std::vector<std::string>> fast = {
      {"--version"}, {"--help"}, {"download", "--help"}, {"--print-tokens", "--model-dir", dir.string(), "Hello."},
      {"--print-segments", "--model-dir", dir.string(), "Hello. World."}, {"download", "--list"}};
  for (const auto& args : fast) {
    INFO(args.front() << " " << args.back());
    auto env = bark_test::clean_env(root / "home");
    env["LD_DEBUG"] = "files";
    const auto r = run_cli(args, env);
    CHECK(r.exit_code == 0);
    CHECK_THAT(r.err, Contains("calling init"));  // LD_DEBUG works here
    CHECK_THAT(r.err, !Contains("libtorch") && !Contains("libc10") && !Contains("libbark.so"));
  }
  // A generation does load it (in bark-cli-torch), and exits as before.
  auto env = bark_test::clean_env(root / "home");
  env["LD_DEBUG"] = "files";
  const auto gen = run_cli({"Hello.", "--model-dir", dir.string()}, env);
  CHECK(gen.exit_code == 1);
  CHECK_THAT(gen.err, Contains("libtorch"));
}

TEST_CASE("bark-cli usage errors exit 2 with one error line", "[cli]") {
  const auto root = bark_test::unique_temp_dir("cli_usage");
  bark_test::write_text(root / "t.txt", "hello");
  const std::vector<std::pair<std::vector<std::string>, std::string>> cases = {
      {{"hi", "--bogus"}, "--bogus"},
      {{"hi", "--device", "tpu"}, "--device: tpu not in {auto,cpu,cuda,mps}"},
      {{"hi", "--text-temp", "-1"}, "temperature must be a number >= 0.0001, got '-1'"},
      {{"hi", "--text-temp", "abc"}, "temperature must be a number >= 0.0001, got 'abc'"},
      {{"hi", "--waveform-temp", "0"}, "temperature must be a number >= 0.0001, got '0'"},
      {{"hi", "--waveform-temp", "nan"}, "temperature must be a number >= 0.0001"},
      {{"hi", "--text-temp", "1e-30"}, "temperature must be a number >= 0.0001, got '1e-30'"},
      {{"hi", "--fine-temp", "-0.5"}, "--fine-temp"},
      {{"hi", "--top-k", "0"}, "--top-k"},
      {{"hi", "--top-p", "0"}, "--top-p: must be a number in (0, 1], got '0'"},
      {{"hi", "--top-p", "1.5"}, "--top-p: must be a number in (0, 1]"},
      {{"hi", "--min-eos-p", "-0.1"}, "--min-eos-p: must be a number in [0, 1]"},
      {{"hi", "--threads", "100000"}, "--threads: must be 0 (the physical cores) or a number of threads up to"},
      {{"hi", "--seed", "18446744073709551616"}, "--seed: must be an integer from 0 to 18446744073709551615, or -1"},
      {{"hi", "--seed", "-2"}, "--seed: must be an integer from 0 to 18446744073709551615"},
      {{"hi", "--seed", "1.5"}, "--seed"},
      {{"hi", "-o", "out.mp3"}, "-o 'out.mp3': bark-cli writes WAV files only"},
      {{"hi", "--output_filename", "out.FLAC"}, "| ffmpeg -i - out.FLAC"},
      {{"hi", "--format", "mp3"}, "--format: mp3 not in {pcm16,f32}"},
      {{"hi", "--precision", "int4"}, "--precision: int4 not in {fp32,fp16,int8}"},
      {{"hi", "--threads", "-2"}, "--threads"},
      {{"hi", "--seed", "x"}, "--seed"},
      {{"hi", "--text-file", (root / "t.txt").string()}, "excludes"},
      {{"hi", "there"}, "there"},
      {{}, "no text: pass TEXT or --text-file PATH"},
  };
  for (const auto& [args, needle] : cases) {
    INFO("args: " << (args.empty() ? std::string("(none)") : args.back()));
    const auto r = run_cli(args, bark_test::clean_env(root / "home"));
    require_one_error_line(r, 2, needle);
    CHECK(r.err.size() < 300);  // CLI11's ranges of int64 printed 300 digits
  }
  // --threads -1: a short message, with the limit, no 300-digit range.
  const auto threads = run_cli({"hi", "--threads", "-1"}, bark_test::clean_env(root / "home"));
  require_one_error_line(threads, 2, "4 x the logical CPUs), got '-1'");
  CHECK(threads.err.size() < 200);
  // no converter advice where no converter makes the file
  const auto npz = run_cli({"hi", "-o", "same.npz"}, bark_test::clean_env(root / "home"));
  require_one_error_line(npz, 2, "(use a .wav name); a voice .npz is written by --save-prompt");
  CHECK(npz.err.find("ffmpeg") == std::string::npos);
  const auto txt = run_cli({"hi", "-o", "story.txt"}, bark_test::clean_env(root / "home"));
  require_one_error_line(txt, 2, "-o 'story.txt': bark-cli writes WAV files only (use a .wav name)");
  CHECK(txt.err.find("ffmpeg") == std::string::npos);
}

TEST_CASE("bark-cli without model files says what is missing, where it looked and how to get it", "[cli]") {
  const auto root = bark_test::unique_temp_dir("cli_missing");
  const auto home = root / "home";
  auto r = run_cli({"Hello there."}, bark_test::clean_env(home));
  require_one_error_line(r, 1, "error: missing model file");
  CHECK_THAT(r.err, Contains("vocab.txt (bert-base-multilingual-cased vocab) looked for at " +
                             (home / ".cache/bark-cpp/vocab.txt").string() + " (default cache), " +
                             (home / ".cache/huggingface/hub/models--bert-base-multilingual-cased").string()));
  CHECK_THAT(r.err, Contains("`bark-cli download"));

  // --small and --model-dir show up in the places and in the command; the output is untouched.
  const auto dir = root / "my models";
  fs::create_directories(dir);
  fs::create_symlink(bark_test::vocab_path(), dir / "vocab.txt");
  bark_test::write_text(root / "out.wav", "an existing good file");
  auto small = run_cli({"Hello there.", "--small", "--model-dir", dir.string(), "-o", (root / "out.wav").string()},
                       bark_test::clean_env(home));
  require_one_error_line(small, 1, "error: missing model files: text.pt (Bark text model, small) looked for at " +
                                       (dir / "text.pt").string() + " (--model-dir), " +
                                       (home / ".cache/bark-cpp/text.pt").string() + " (default cache), " +
                                       (home / ".cache/suno/bark_v0/text.pt").string() + " (Python Bark cache)");
  for (const char* name : {"coarse.pt", "fine.pt", "encodec_24khz-d7cc33bc.th"}) CHECK_THAT(small.err, Contains(name));
  CHECK_THAT(small.err, Contains((home / ".cache/torch/hub/checkpoints/encodec_24khz-d7cc33bc.th").string()));
  CHECK_THAT(small.err, Contains("get them with `bark-cli download --small --model-dir '" + dir.string() +
                                 "' --only models,codec`"));
  CHECK(small.err.find("vocab.txt") == std::string::npos);
  CHECK(bark_test::slurp_text(root / "out.wav") == "an existing good file");

  // $BARK_MODEL_DIR is searched like --model-dir.
  auto env = bark_test::clean_env(home);
  env["BARK_MODEL_DIR"] = (root / "env-models").string();
  auto by_env = run_cli({"Hello there."}, env);
  require_one_error_line(by_env, 1, (root / "env-models/vocab.txt").string() + " ($BARK_MODEL_DIR)");
  CHECK(by_env.err.find("--model-dir " + (root / "env-models").string()) == std::string::npos);
}

TEST_CASE("bark-cli reports a truncated checkpoint naming the file", "[cli]") {
  const auto root = bark_test::unique_temp_dir("cli_truncated");
  const auto dir = make_model_dir(root);
  fs::remove(dir / "text.pt");
  const std::string bytes = bark_test::slurp_text(fixture_models() / "text.pt");
  bark_test::write_text(dir / "text.pt", bytes.substr(0, bytes.size() / 3));
  auto r = run_cli({"Hello there.", "--small", "--model-dir", dir.string(), "-o", (root / "o.wav").string()},
                   bark_test::clean_env(root / "home"));
  require_one_error_line(r, 1, (dir / "text.pt").string());
  CHECK_FALSE(fs::exists(root / "o.wav"));
}

TEST_CASE("bark-cli rejects bad text and voices before generating", "[cli]") {
  const auto root = bark_test::unique_temp_dir("cli_inputs");
  const auto dir = make_model_dir(root);
  const auto env = bark_test::clean_env(root / "home");
  auto run = [&](std::vector<std::string> args, const std::string& input = "") {
    for (const std::string& a : {std::string("--small"), std::string("--model-dir"), dir.string(), std::string("-o"),
                                 (root / "o.wav").string()}) {
      args.push_back(a);
    }
    return run_cli(args, env, input);
  };
  require_one_error_line(run({""}), 2, "text is empty");
  require_one_error_line(run({" \t\n  "}), 2, "text is empty");
  require_one_error_line(run({"--text-file", "-"}, "   \n"), 2, "text is empty");
  require_one_error_line(run({"caf\xe9 au lait"}), 2, "UTF-8");
  require_one_error_line(run({"hi", "--voice", "v2/en_speaker_99"}), 2, "unknown voice 'v2/en_speaker_99'");
  require_one_error_line(run({"hi", "--voice", "klingon"}), 2, "v2/en_speaker_6");
  // Missing files exit 1, whether model, preset or .npz; anything wrong inside a .npz is invalid
  // input (2), from a broken zip to values Bark does not accept (docs/CLI.md, exit codes).
  require_one_error_line(run({"hi", "--voice", (root / "nope.npz").string()}), 1,
                         "voice file '" + (root / "nope.npz").string() + "' not found");
  bark_test::write_text(root / "corrupt.npz", "this is not a zip file");
  require_one_error_line(run({"hi", "--voice", (root / "corrupt.npz").string()}), 2, (root / "corrupt.npz").string());
  const std::string npz = bark_test::slurp_text(bark_test::assets_dir() / "prompts" / "announcer.npz");
  bark_test::write_text(root / "truncated.npz", npz.substr(0, npz.size() - 100));
  require_one_error_line(run({"hi", "--voice", (root / "truncated.npz").string()}), 2, (root / "truncated.npz").string());
  require_one_error_line(run({"--text-file", (root / "missing.txt").string()}), 1,
                         "cannot read text file '" + (root / "missing.txt").string() + "': No such file or directory");
  // A directory as the text file: its path, not libstdc++'s "basic_filebuf::underflow".
  require_one_error_line(run({"--text-file", root.string()}), 1,
                         "cannot read text file '" + root.string() + "': it is a directory");
  CHECK_FALSE(fs::exists(root / "o.wav"));

  // Presets need prompts/ in the model directory: the error names it, bark-cli says how to get them.
  const auto bare = make_model_dir(root / "bare", /*with_prompts=*/false);
  auto r = run_cli({"hi", "--small", "--model-dir", bare.string(), "--voice", "v2/en_speaker_6"}, env);
  require_one_error_line(r, 1, "voice preset 'v2/en_speaker_6' not found: no file " +
                                   (bare / "prompts/v2/en_speaker_6.npz").string() + " (model directory " +
                                   bare.string() + ")");
  CHECK_THAT(r.err, Contains("get the voice presets with `bark-cli download --model-dir " + bare.string() +
                             " --only prompts`"));
}

TEST_CASE("bark-cli fails before generating when the output cannot be written", "[cli]") {
  const auto root = bark_test::unique_temp_dir("cli_unwritable");
  const auto dir = make_model_dir(root);
  const auto env = bark_test::clean_env(root / "home");
  auto missing_dir = run_cli({"hi", "--small", "--model-dir", dir.string(), "-o", (root / "no/such/dir/o.wav").string()}, env);
  require_one_error_line(missing_dir, 1, "cannot write '" + (root / "no/such/dir/o.wav").string() + "'");
  auto is_dir = run_cli({"hi", "--small", "--model-dir", dir.string(), "-o", root.string()}, env);
  require_one_error_line(is_dir, 1, "it is a directory");
  auto prompt = run_cli({"hi", "--small", "--model-dir", dir.string(), "-o", (root / "o.wav").string(), "--save-prompt",
                         (root / "nowhere/p.npz").string()},
                        env);
  require_one_error_line(prompt, 1, "cannot write '" + (root / "nowhere/p.npz").string() + "'");
  CHECK_FALSE(fs::exists(root / "o.wav"));
  if (::geteuid() != 0) {  // root ignores permissions
    fs::create_directories(root / "ro");
    fs::permissions(root / "ro", fs::perms::owner_read | fs::perms::owner_exec);
    auto ro = run_cli({"hi", "--small", "--model-dir", dir.string(), "-o", (root / "ro/o.wav").string()}, env);
    require_one_error_line(ro, 1, "not writable");
    fs::permissions(root / "ro", fs::perms::owner_all);
  }
}

TEST_CASE("bark-cli --print-tokens prints the tokenizer ids and needs only the vocab", "[cli]") {
  const auto root = bark_test::unique_temp_dir("cli_tokens");
  const auto dir = root / "vocab-only";
  fs::create_directories(dir);
  fs::create_symlink(bark_test::vocab_path(), dir / "vocab.txt");
  const auto golden =
      nlohmann::json::parse(bark_test::slurp_text(bark_test::fixtures_dir() / "tokenizer" / "tokenizer_golden.json"));
  int checked = 0;
  for (const auto& c : golden.at("cases")) {
    const auto name = c.at("name").get<std::string>();
    if (name != "en_plain" && name != "en_music") continue;
    std::string expected;
    for (const auto& id : c.at("bark_ids")) expected += (expected.empty() ? "" : " ") + std::to_string(id.get<int64_t>());
    auto r = run_cli({"--print-tokens", "--model-dir", dir.string(), c.at("text").get<std::string>()},
                     bark_test::clean_env(root / "home"));
    INFO(r.err);
    CHECK(r.exit_code == 0);
    CHECK(r.out == expected + "\n");
    ++checked;
  }
  CHECK(checked == 2);
  // Without a vocab: what is missing, and the command that fetches only it.
  auto none = run_cli({"--print-tokens", "hi"}, bark_test::clean_env(root / "home"));
  require_one_error_line(none, 1, "missing model file: vocab.txt");
  CHECK_THAT(none.err, Contains("`bark-cli download --only vocab`"));
}

TEST_CASE("bark-cli seeded run reproduces the upstream fixture tokens and waveform", "[cli]") {
  const auto root = bark_test::unique_temp_dir("cli_e2e");
  const auto dir = make_model_dir(root);
  const auto out = root / "out.wav", prompt = root / "full.npz";
  bark_test::write_text(out, "old");
  auto r = run_cli({fixture_text("t0"), "--small", "--model-dir", dir.string(), "--seed", "0", "--save-prompt",
                    prompt.string(), "--format", "f32", "-o", out.string(), "--device", "cpu", "--threads", "1"},
                   bark_test::clean_env(root / "home"));
  INFO(r.err);
  REQUIRE(r.exit_code == 0);
  CHECK(r.out.empty());
  CHECK_THAT(r.err, Contains("saved " + out.string()));

  const auto got = read_saved(prompt);
  const auto want = read_fixture("t0_none_seed0.npz");
  CHECK(got.semantic == want.semantic);
  CHECK(got.coarse_shape == want.coarse_shape);
  CHECK(got.coarse == want.coarse);
  CHECK(got.fine_shape == want.fine_shape);
  CHECK(got.fine == want.fine);

  const auto info = wav_info(out);
  CHECK(info.format == 3);  // WAVE_FORMAT_IEEE_FLOAT
  CHECK(info.bits == 32);
  CHECK(info.channels == 1);
  CHECK(info.rate == 24000);
  CHECK(info.has_fact);
  const auto audio = bark::read_wav(out.string());
  const auto wav = bark::io::read_npz((bark_test::fixtures_dir() / "pipeline/f0/t0_none_seed0.npz").string()).at("wav").to_float32();
  REQUIRE(audio.samples.size() == wav.size());
  double max_diff = 0;
  for (size_t i = 0; i < wav.size(); ++i) max_diff = std::max(max_diff, double(std::fabs(audio.samples[i] - wav[i])));
  INFO("max abs diff " << max_diff);
  CHECK(max_diff <= 1e-4);
}

TEST_CASE("bark-cli --precision fp16 writes a valid WAV and history prompt", "[cli]") {
  const auto root = bark_test::unique_temp_dir("cli_fp16");
  const auto dir = make_model_dir(root);
  const auto out = root / "fast.wav", prompt = root / "fast.npz";
  auto r = run_cli({fixture_text("t0"), "--small", "--model-dir", dir.string(), "--seed", "0", "--precision", "fp16",
                    "--save-prompt", prompt.string(), "-o", out.string(), "--device", "cpu", "--threads", "1"},
                   bark_test::clean_env(root / "home"));
  INFO(r.err);
  REQUIRE(r.exit_code == 0);
  const auto got = read_saved(prompt);
  REQUIRE_FALSE(got.semantic.empty());
  for (int64_t t : got.semantic) CHECK((t >= 0 && t < 10'000));
  REQUIRE(got.fine_shape.size() == 2);
  CHECK(got.fine_shape[0] == 8);
  const auto audio = bark::read_wav(out.string());
  CHECK(audio.sample_rate == 24000);
  CHECK(static_cast<int64_t>(audio.samples.size()) == got.fine_shape[1] * 320);
}

namespace {

// Runs bark-cli on the fixture models (small, one thread) writing <name>.wav and <name>.npz.
struct EffectRunner {
  fs::path root = bark_test::unique_temp_dir("cli_effects_" + std::to_string(count++));
  fs::path dir = make_model_dir(root);
  std::map<std::string, std::string> env = bark_test::clean_env(root / "home");
  static inline int count = 0;

  RunResult run(const std::string& name, std::vector<std::string> args, const std::string& input = "",
                const std::map<std::string, std::string>& extra_env = {}) {
    for (const std::string& a : {std::string("--small"), std::string("--threads"), std::string("1"), std::string("-o"),
                                 (root / (name + ".wav")).string(), std::string("--save-prompt"),
                                 (root / (name + ".npz")).string()}) {
      args.push_back(a);
    }
    auto e = env;
    for (const auto& [k, v] : extra_env) e[k] = v;
    auto r = run_cli(args, e, input);
    INFO(name << ": " << r.err);
    REQUIRE(r.exit_code == 0);
    return r;
  }
  Generation saved(const std::string& name) const { return read_saved(root / (name + ".npz")); }
};

}  // namespace

TEST_CASE("bark-cli --voice takes presets, .npz paths and saved generations, text from stdin, pcm16, --silent", "[cli]") {
  EffectRunner cli;
  const std::string t1 = fixture_text("t1");
  // A preset, with the model directory from $BARK_MODEL_DIR, with --offload (a no-op on the CPU).
  cli.run("voice", {t1, "--voice", "v2/en_speaker_6", "--seed", "0", "--offload"}, "",
          {{"BARK_MODEL_DIR", cli.dir.string()}});
  const auto want = read_fixture("t1_v2_en_speaker_6_seed0.npz");
  const auto voice = cli.saved("voice");
  CHECK(voice.semantic == want.semantic);
  CHECK(voice.coarse == want.coarse);
  CHECK(voice.fine == want.fine);

  // The same voice given as a path, the text from stdin, the default format; --silent: no output.
  auto quiet = cli.run("stdin", {"--text-file", "-", "--model-dir", cli.dir.string(), "--voice",
                                 (bark_test::assets_dir() / "prompts/v2/en_speaker_6.npz").string(), "--seed", "0",
                                 "--silent"},
                       t1);
  CHECK(quiet.err.empty());
  CHECK(quiet.out.empty());
  CHECK(cli.saved("stdin").fine == want.fine);
  const auto pcm = wav_info(cli.root / "stdin.wav");
  CHECK(pcm.format == 1);
  CHECK(pcm.bits == 16);
  CHECK(pcm.channels == 1);
  CHECK(pcm.rate == 24000);

  // A saved generation works as a voice (upstream's history_prompt).
  cli.run("again", {t1, "--seed", "3", "--model-dir", cli.dir.string(), "--voice", (cli.root / "voice.npz").string()});
}

TEST_CASE("bark-cli --seed and the temperatures change what is sampled, -v adds debug lines", "[cli]") {
  EffectRunner cli;
  const std::string t1 = fixture_text("t1");
  const auto want = read_fixture("t1_none_seed0.npz");
  auto plain = cli.run("plain", {t1, "--model-dir", cli.dir.string(), "--seed", "0", "-v"});
  CHECK(cli.saved("plain").semantic == want.semantic);
  CHECK(cli.saved("plain").fine == want.fine);
  for (const char* stage : {"semantic:", "coarse:", "fine:", "codec:"}) CHECK_THAT(plain.err, Contains(stage));
  CHECK_THAT(plain.err, Contains("debug"));
  CHECK(plain.err.find('\r') == std::string::npos);  // no progress bars when stderr is not a terminal

  cli.run("seed1", {t1, "--model-dir", cli.dir.string(), "--seed", "1"});
  CHECK(cli.saved("seed1").semantic != want.semantic);
  cli.run("ttemp", {t1, "--model-dir", cli.dir.string(), "--seed", "0", "--text-temp", "1.3"});
  CHECK(cli.saved("ttemp").semantic != want.semantic);
  // The coarse temperature leaves the semantic tokens alone and changes the codes.
  cli.run("wtemp", {t1, "--model-dir", cli.dir.string(), "--seed", "0", "--waveform-temp", "0.2"});
  CHECK(cli.saved("wtemp").semantic == want.semantic);
  CHECK(cli.saved("wtemp").coarse != want.coarse);
}

TEST_CASE("bark-cli draws progress bars on a terminal, and none with --silent", "[cli]") {
  EffectRunner cli;
  std::vector<std::string> args{fixture_text("t1"), "--small", "--threads", "1", "--model-dir", cli.dir.string(),
                                "--seed", "0", "-o", (cli.root / "tty.wav").string()};
  auto tty = bark_test::run_cli_in_pty(args, cli.env);
  if (tty.exit_code == -1) {
    WARN("util-linux `script` is not installed: cannot test on a terminal");
    return;
  }
  INFO(tty.out);
  REQUIRE(tty.exit_code == 0);
  for (const char* bar : {"\rsemantic [", "\rcoarse [", "\rfine [", "\rcodec ["}) CHECK_THAT(tty.out, Contains(bar));
  CHECK_THAT(tty.out, Contains("100%"));
  args.push_back("--silent");
  auto silent = bark_test::run_cli_in_pty(args, cli.env);
  CHECK(silent.exit_code == 0);
  CHECK(silent.out.find("semantic [") == std::string::npos);
  CHECK(silent.out.find("%") == std::string::npos);
  CHECK(silent.out.find("saved") == std::string::npos);
}

// ---- long-form text -------------------------------------------------------------------------

namespace {
// Six sentences: six segments at --max-segment-chars 45.
const std::string kStory =
    "The first sentence is about the sea. The second one talks of hills. A third sentence brings the rain. "
    "Then a fourth one says goodbye. The fifth is nearly the last. And the sixth closes the story.";
}  // namespace

TEST_CASE("bark-cli --print-segments prints the segments, one per line, and loads no model", "[cli][longform]") {
  const auto root = bark_test::unique_temp_dir("cli_segments");
  const auto dir = root / "vocab-only";
  fs::create_directories(dir);
  fs::create_symlink(bark_test::vocab_path(), dir / "vocab.txt");
  bark_test::write_text(root / "story.txt", kStory + "\n\nUn paragraphe en français. 你好，我叫苏诺。");
  auto r = run_cli({"--text-file", (root / "story.txt").string(), "--model-dir", dir.string(), "--print-segments",
                    "--max-segment-chars", "45"},
                   bark_test::clean_env(root / "home"));
  INFO(r.err);
  REQUIRE(r.exit_code == 0);
  CHECK(r.out ==
        "The first sentence is about the sea.\nThe second one talks of hills.\nA third sentence brings the rain.\n"
        "Then a fourth one says goodbye.\nThe fifth is nearly the last.\nAnd the sixth closes the story.\n"
        "Un paragraphe en français. 你好，我叫苏诺。\n");
  CHECK(r.err.empty());
  // what the other modes will speak: --split none is one generation of the whole text, --lines
  // one request per non-empty line (a long line in segments), each with the file it goes to
  bark_test::write_text(root / "lines.txt", "First line here. Second sentence.\n\n  Another line!\r\n   \nThird: yes.\n");
  const auto plan = [&](std::vector<std::string> extra) {
    std::vector<std::string> args = {"--text-file", (root / "lines.txt").string(), "--model-dir", dir.string(),
                                     "--print-segments", "--max-segment-chars", "20"};
    args.insert(args.end(), extra.begin(), extra.end());
    auto p = run_cli(args, bark_test::clean_env(root / "home"));
    INFO(p.err);
    CHECK(p.exit_code == 0);
    return p.out;
  };
  CHECK(plan({"--split", "none"}) == "First line here. Second sentence. Another line! Third: yes.\n");
  CHECK(plan({"--lines"}) == "0001.wav\tFirst line here.\n0001.wav\tSecond sentence.\n0002.wav\tAnother line!\n"
                             "0003.wav\tThird: yes.\n");
  CHECK(plan({"--lines", "--split", "none"}) ==
        "0001.wav\tFirst line here. Second sentence.\n0002.wav\tAnother line!\n0003.wav\tThird: yes.\n");
}

TEST_CASE("bark-cli speaks a long text in segments, -o - streams a WAV that sox reads", "[cli][longform]") {
  const auto root = bark_test::unique_temp_dir("cli_longform");
  const auto dir = make_model_dir(root);
  const auto env = bark_test::clean_env(root / "home");
  bark_test::write_text(root / "story.txt", kStory);
  const std::vector<std::string> common{"--text-file", (root / "story.txt").string(), "--small", "--threads", "1",
                                        "--model-dir", dir.string(), "--seed", "5", "--max-segment-chars", "45"};
  auto args = common;
  for (const std::string& a : {std::string("-o"), (root / "file.wav").string(), std::string("--save-prompt"),
                               (root / "last.npz").string()}) {
    args.push_back(a);
  }
  auto file = run_cli(args, env);
  INFO(file.err);
  REQUIRE(file.exit_code == 0);
  CHECK_THAT(file.err, Contains("6 segments"));
  CHECK_THAT(file.err, Contains("saved " + (root / "last.npz").string()));
  // the same run streamed to stdout, through sox
  const std::string cmd = bark_test::shell_quote(bark_test::cli_binary().string()) + " " + [&] {
    std::string a;
    for (const auto& s : common) a += bark_test::shell_quote(s) + " ";
    return a;
  }() + "-o - 2>" + bark_test::shell_quote((root / "stream.err").string()) + " | sox -t wav - -t wav " +
                          bark_test::shell_quote((root / "piped.wav").string()) + " 2>" +
                          bark_test::shell_quote((root / "sox.err").string());
  // exactly run_cli's environment (clean_env): variables such as OPENBLAS_CORETYPE choose other
  // BLAS kernels, whose float results differ
  std::string env_prefix = "env -i";
  for (const auto& [k, v] : env) env_prefix += " " + k + "=" + bark_test::shell_quote(v);
  for (const char* name : {"PATH", "LD_LIBRARY_PATH"}) {
    if (const char* v = std::getenv(name)) env_prefix += std::string(" ") + name + "=" + bark_test::shell_quote(v);
  }
  env_prefix += " ";
  REQUIRE(std::system((env_prefix + cmd).c_str()) == 0);
  INFO(bark_test::slurp_text(root / "stream.err") << bark_test::slurp_text(root / "sox.err"));
  // redirected to a file, the stream gets its real sizes back at the end
  const std::string redirect = env_prefix + bark_test::shell_quote(bark_test::cli_binary().string()) + " " + [&] {
    std::string a;
    for (const auto& x : common) a += bark_test::shell_quote(x) + " ";
    return a;
  }() + "-o - 2>/dev/null >" + bark_test::shell_quote((root / "redirected.wav").string());
  REQUIRE(std::system(redirect.c_str()) == 0);
  const auto a = bark::read_wav((root / "file.wav").string());
  CHECK(bark::read_wav((root / "redirected.wav").string()).samples == a.samples);
  CHECK(fs::file_size(root / "redirected.wav") == fs::file_size(root / "file.wav"));
  const auto b = bark::read_wav((root / "piped.wav").string());
  CHECK(b.sample_rate == 24000);
  CHECK(b.samples.size() > 6 * 24000 / 2);
  CHECK(a.samples == b.samples);
  // a terminal is never sent binary audio
  auto tty = bark_test::run_cli_in_pty({"Hi.", "--model-dir", dir.string(), "--small", "-o", "-"}, env);
  if (tty.exit_code != -1) {
    CHECK(tty.exit_code == 2);
    CHECK_THAT(tty.out, Contains("stdout is a terminal"));
  }
}

TEST_CASE("bark-cli --split none keeps upstream's single shot and says what was not spoken", "[cli][longform]") {
  const auto root = bark_test::unique_temp_dir("cli_split_none");
  const auto dir = make_model_dir(root);
  std::string text;
  for (int i = 0; i < 40; ++i) text += "This sentence is repeated to go well beyond Bark's limit. ";
  bark_test::write_text(root / "long.txt", text);
  auto r = run_cli({"--text-file", (root / "long.txt").string(), "--split", "none", "--small", "--threads", "1",
                    "--model-dir", dir.string(), "--seed", "1", "-o", (root / "o.wav").string()},
                   bark_test::clean_env(root / "home"));
  INFO(r.err);
  REQUIRE(r.exit_code == 0);
  CHECK_THAT(r.err, Contains("warning: the text is longer than Bark reads in one generation") &&
                        Contains("was not spoken") && Contains("--split none"));
  CHECK(fs::exists(root / "o.wav"));
}

TEST_CASE("bark-cli interrupted mid-text writes nothing and exits 130", "[cli][longform]") {
  const auto root = bark_test::unique_temp_dir("cli_interrupt");
  const auto dir = make_model_dir(root);
  std::string text;
  for (int i = 0; i < 30; ++i) text += "Sentence number " + std::to_string(i) + " of a long story. ";
  bark_test::write_text(root / "long.txt", text);
  // started in the background, SIGTERM once the first segment's semantic stage is logged (not
  // after a fixed delay: on a loaded machine start-up alone can take seconds)
  const std::string cmd = "HOME=" + bark_test::shell_quote((root / "home").string()) + " OMP_NUM_THREADS=1 " +
                          bark_test::shell_quote(bark_test::cli_binary().string()) + " --text-file " +
                          bark_test::shell_quote((root / "long.txt").string()) + " --small --threads 1 --model-dir " +
                          bark_test::shell_quote(dir.string()) + " --max-segment-chars 40 -o " +
                          bark_test::shell_quote((root / "o.wav").string()) + " 2>" +
                          bark_test::shell_quote((root / "err").string()) + " & pid=$!; for i in $(seq 1200); do grep -q 'semantic:' " +
                          bark_test::shell_quote((root / "err").string()) +
                          " && break; sleep 0.1; done; kill -TERM $pid; wait $pid; echo $? >" +
                          bark_test::shell_quote((root / "rc").string());
  REQUIRE(std::system(cmd.c_str()) == 0);
  INFO(bark_test::slurp_text(root / "err"));
  CHECK(bark_test::slurp_text(root / "rc") == "130\n");
  CHECK_THAT(bark_test::slurp_text(root / "err"), Contains("interrupted; nothing was written"));
  CHECK_FALSE(fs::exists(root / "o.wav"));
  for (const auto& e : fs::directory_iterator(root)) CHECK(e.path().filename().string().find(".tmp") == std::string::npos);
}

TEST_CASE("bark-cli -v shows the library's debug lines, --save-prompt needs .npz before any work", "[cli]") {
  const auto root = bark_test::unique_temp_dir("cli_verbose");
  const auto dir = make_model_dir(root);
  const auto env = bark_test::clean_env(root / "home");
  // the library's logger is the one bark-cli configures (no second copy in the executable)
  auto v = run_cli({"Hi.", "--small", "--threads", "1", "--model-dir", dir.string(), "--seed", "0", "--max-duration",
                    "0.5", "-v", "-o", (root / "v.wav").string()},
                   env);
  INFO(v.err);
  REQUIRE(v.exit_code == 0);
  CHECK_THAT(v.err, Contains("[debug] device: models on cpu"));
  CHECK_THAT(v.err, Contains("[info] semantic:"));
  auto bad = run_cli({"Hi.", "--small", "--model-dir", dir.string(), "--save-prompt", (root / "p.txt").string(), "-o",
                      (root / "o.wav").string()},
                     env);
  CHECK(bad.exit_code == 2);
  CHECK_THAT(bad.err, Contains("must end with .npz"));
  CHECK_FALSE(fs::exists(root / "o.wav"));  // refused before generating
}

TEST_CASE("bark-cli --lines writes one file per line, each the same as that line spoken alone", "[cli][batch]") {
  const auto root = bark_test::unique_temp_dir("cli_lines");
  const auto dir = make_model_dir(root);
  const auto env = bark_test::clean_env(root / "home");
  // three requests (blank lines skipped), one of them longer than one segment at 45 characters
  bark_test::write_text(root / "lines.txt",
                        "Hello there.\n\n   \nA second line, a little longer.\r\n"
                        "This third line is long enough for two segments. It has two sentences.\n");
  const std::vector<std::string> common{"--small", "--threads", "1", "--model-dir", dir.string(),
                                        "--max-duration", "1", "--max-segment-chars", "45"};
  auto args = common;
  for (const std::string& a : {std::string("--text-file"), (root / "lines.txt").string(), std::string("--lines"),
                               std::string("--seed"), std::string("7"), std::string("--max-batch"), std::string("2"),
                               std::string("-o"), (root / "out").string()}) {
    args.push_back(a);
  }
  const auto r = run_cli(args, env);
  INFO(r.err);
  REQUIRE(r.exit_code == 0);
  CHECK_THAT(r.err, Contains("3 lines"));
  for (const char* name : {"0001.wav", "0002.wav", "0003.wav"}) CHECK(fs::exists(root / "out" / name));
  CHECK_FALSE(fs::exists(root / "out" / "0004.wav"));
  // line i == bark-cli "<line i>" --seed 7 + i - 1
  const std::vector<std::string> lines = {"Hello there.", "A second line, a little longer.",
                                          "This third line is long enough for two segments. It has two sentences."};
  for (size_t i = 0; i < lines.size(); ++i) {
    auto one = common;
    for (const std::string& a : {lines[i], std::string("--seed"), std::to_string(7 + i), std::string("-o"),
                                 (root / ("alone" + std::to_string(i) + ".wav")).string()}) {
      one.push_back(a);
    }
    const auto alone = run_cli(one, env);
    INFO(alone.err);
    REQUIRE(alone.exit_code == 0);
    char name[16];
    std::snprintf(name, sizeof name, "%04zu.wav", i + 1);
    CHECK(bark_test::slurp_text(root / ("alone" + std::to_string(i) + ".wav")) ==
          bark_test::slurp_text(root / "out" / name));
  }
  // misuse: --lines without -o, with -o -, --max-batch without --lines, a file in the way
  auto no_out = common;
  for (const std::string& a : {std::string("--text-file"), (root / "lines.txt").string(), std::string("--lines")}) {
    no_out.push_back(a);
  }
  auto e1 = run_cli(no_out, env);
  CHECK(e1.exit_code == 2);
  CHECK_THAT(e1.err, Contains("--lines needs -o DIR"));
  auto e2 = run_cli({"Hi.", "--max-batch", "4", "--model-dir", dir.string(), "--small"}, env);
  CHECK(e2.exit_code == 2);
  CHECK_THAT(e2.err, Contains("--max-batch applies to --lines only"));
  bark_test::write_text(root / "afile", "x");
  auto in_the_way = no_out;
  in_the_way.push_back("-o");
  in_the_way.push_back((root / "afile").string());
  auto e3 = run_cli(in_the_way, env);
  CHECK(e3.exit_code == 2);
  CHECK_THAT(e3.err, Contains("not a directory"));
}

TEST_CASE("bark-cli speaks upstream Bark's options and environment", "[cli]") {
  EffectRunner cli;
  const std::string t1 = fixture_text("t1");
  // Ours.
  cli.run("ours", {t1, "--model-dir", cli.dir.string(), "--voice", "v2/en_speaker_6", "--seed", "4", "--text-temp",
                   "0.6", "--waveform-temp", "0.8"});
  // Upstream's spellings (bark/cli.py); --output_dir is created; no --small but $SUNO_USE_SMALL_MODELS.
  const auto out_dir = cli.root / "new" / "dir";
  auto env = cli.env;
  env["SUNO_USE_SMALL_MODELS"] = "True";
  auto r = run_cli({"--text", t1, "--output_dir", out_dir.string(), "--output_filename", "theirs.wav", "--history_prompt",
                    "v2/en_speaker_6", "--text_temp", "0.6", "--waveform_temp", "0.8", "--model-dir", cli.dir.string(),
                    "--seed", "4", "--threads", "1"},
                   env);
  INFO(r.err);
  REQUIRE(r.exit_code == 0);
  CHECK(bark_test::slurp_text(out_dir / "theirs.wav") == bark_test::slurp_text(cli.root / "ours.wav"));

  // $SUNO_USE_SMALL_MODELS=0 (or unset) means the large models: missing here, and the error says
  // the small ones are there.
  env["SUNO_USE_SMALL_MODELS"] = "0";
  auto large = run_cli({t1, "--model-dir", cli.dir.string(), "-o", (cli.root / "large.wav").string()}, env);
  require_one_error_line(large, 1, "missing model files: text_2.pt");
  CHECK_THAT(large.err, Contains("the small models are there: add --small to use them"));

  // --offload and $SUNO_OFFLOAD_CPU say they do nothing on the CPU.
  auto offload = cli.run("offload", {t1, "--model-dir", cli.dir.string(), "--seed", "4", "--offload", "--device", "cpu"});
  CHECK_THAT(offload.err, Contains("warning: --offload does nothing on the CPU"));
  auto suno_offload = cli.run("suno_offload", {t1, "--model-dir", cli.dir.string(), "--seed", "4"}, "",
                              {{"SUNO_OFFLOAD_CPU", "1"}});
  CHECK_THAT(suno_offload.err, Contains("warning: SUNO_OFFLOAD_CPU does nothing on the CPU"));
  CHECK(bark_test::slurp_text(cli.root / "suno_offload.wav") == bark_test::slurp_text(cli.root / "offload.wav"));
}

TEST_CASE("bark-cli --top-k, --top-p and --fine-temp reach the sampler, --save-prompt says what it wrote", "[cli]") {
  EffectRunner cli;
  const std::string t1 = fixture_text("t1");
  // --top-k 1 is greedy in the semantic and coarse stages and --fine-temp 0 in the fine stage: the
  // seed then no longer matters.
  auto a = cli.run("greedy1", {t1, "--model-dir", cli.dir.string(), "--seed", "1", "--top-k", "1", "--fine-temp", "0"});
  cli.run("greedy2", {t1, "--model-dir", cli.dir.string(), "--seed", "2", "--top-k", "1", "--fine-temp", "0"});
  CHECK(bark_test::slurp_text(cli.root / "greedy1.wav") == bark_test::slurp_text(cli.root / "greedy2.wav"));
  // A tiny nucleus is greedy too: the same tokens as --top-k 1.
  cli.run("nucleus", {t1, "--model-dir", cli.dir.string(), "--seed", "3", "--top-p", "0.0001", "--fine-temp", "0"});
  CHECK(cli.saved("nucleus").semantic == cli.saved("greedy1").semantic);
  CHECK(cli.saved("nucleus").fine == cli.saved("greedy1").fine);
  // Only --top-k 1: the fine stage still samples, with the seed.
  cli.run("k1_seed1", {t1, "--model-dir", cli.dir.string(), "--seed", "1", "--top-k", "1"});
  cli.run("k1_seed2", {t1, "--model-dir", cli.dir.string(), "--seed", "2", "--top-k", "1"});
  CHECK(cli.saved("k1_seed1").coarse == cli.saved("k1_seed2").coarse);
  CHECK(cli.saved("k1_seed1").fine != cli.saved("k1_seed2").fine);
  // --seed -1 is random: two runs differ.
  cli.run("random1", {t1, "--model-dir", cli.dir.string(), "--seed", "-1"});
  cli.run("random2", {t1, "--model-dir", cli.dir.string(), "--seed", "-1"});
  CHECK(cli.saved("random1").fine != cli.saved("random2").fine);

  const auto g = cli.saved("greedy1");
  const std::string report = "saved " + (cli.root / "greedy1.npz").string() + " (history prompt: " +
                             std::to_string(g.semantic.size()) + " semantic tokens, 2 x " +
                             std::to_string(g.coarse_shape.at(1)) + " coarse and 8 x " +
                             std::to_string(g.fine_shape.at(1)) + " fine codes)";
  CHECK_THAT(a.err, Contains(report));
}

TEST_CASE("bark-cli -- download speaks the word, BARK_LOG_LEVEL=bogus is warned about", "[cli]") {
  const auto root = bark_test::unique_temp_dir("cli_dashdash");
  const auto dir = root / "vocab-only";
  fs::create_directories(dir);
  fs::create_symlink(bark_test::vocab_path(), dir / "vocab.txt");
  const auto env = bark_test::clean_env(root / "home");
  const auto word = run_cli({"--print-tokens", "--model-dir", dir.string(), "--text", "download"}, env);
  REQUIRE(word.exit_code == 0);
  REQUIRE_FALSE(word.out.empty());
  const auto dashed = run_cli({"--print-tokens", "--model-dir", dir.string(), "--", "download"}, env);
  INFO(dashed.err);
  CHECK(dashed.exit_code == 0);
  CHECK(dashed.out == word.out);

  auto bogus_env = env;
  bogus_env["BARK_LOG_LEVEL"] = "bogus";
  const auto bogus = run_cli({"--print-tokens", "--model-dir", dir.string(), "hi"}, bogus_env);
  CHECK(bogus.exit_code == 0);
  CHECK_THAT(bogus.err, Contains("BARK_LOG_LEVEL='bogus' is not a log level"));
  bogus_env["BARK_LOG_LEVEL"] = "debug";
  CHECK_THAT(run_cli({"--print-tokens", "--model-dir", dir.string(), "hi"}, bogus_env).err, !Contains("not a log level"));
}

TEST_CASE("examples/hello_bark takes --small and turns the library's missing-files error into advice", "[cli]") {
  const auto program = bark_test::binary_dir() / "hello-bark";
  if (!fs::exists(program)) {
    WARN("hello-bark not built");
    return;
  }
  const auto root = bark_test::unique_temp_dir("hello_bark");
  const auto dir = make_model_dir(root);
  const auto env = bark_test::clean_env(root / "home");
  auto r = bark_test::run_program(program.string(), {"--small", "Hi.", dir.string()}, env, "", root);
  INFO(r.err);
  CHECK(r.exit_code == 0);
  CHECK_THAT(r.err, Contains("wrote hello.wav"));
  CHECK(bark::read_wav((root / "hello.wav").string()).samples.size() > 0);
  CHECK(r.err.find("bark-cli") == std::string::npos);
  // Without --small: the large models are missing, the small ones there.
  auto large = bark_test::run_program(program.string(), {"Hi.", dir.string()}, env, "", root);
  CHECK(large.exit_code == 1);
  CHECK_THAT(large.err, Contains("missing model files: text_2.pt") && Contains("try --small"));
  CHECK(large.err.find("bark-cli") == std::string::npos);
}
