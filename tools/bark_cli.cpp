// bark-cli: text -> 24 kHz speech with Bark, and `bark-cli download` for the model files.
// Thin by design: options fill PipelineOptions / GenerationOptions; all model logic is in libbark.
// Exit codes: 0 ok, 2 usage or invalid input (std::invalid_argument), 1 anything else.
#include <unistd.h>

#include <CLI/CLI.hpp>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <iterator>
#include <memory>
#include <stdexcept>
#include <string>

#include "bark/bark.h"
#include "download/download_command.h"
#include "download/progress.h"

namespace {

constexpr const char* EXAMPLES = R"(
Examples:
  bark-cli download                  # large models, EnCodec, vocab, voices -> ~/.cache/bark-cpp
  bark-cli "Hello, my dog is cute [laughs]" --voice v2/en_speaker_6 -o dog.wav
  echo "♪ In the jungle ♪" | bark-cli --text-file - --small --seed 42 -o jungle.wav
  bark-cli "Hi there." --seed 0 --save-prompt hi.npz --format f32 -o hi.wav
  bark-cli "And again." --voice hi.npz -o again.wav      # reuse a saved voice
  bark-cli --print-tokens "Hello, world!"                # tokenizer ids; loads no model
)";

void print_error(const std::string& what) {
  std::string line = what;
  for (char& c : line) c = c == '\n' ? ' ' : c;
  std::fprintf(stderr, "error: %s\n", line.c_str());
}

std::string read_text(const std::string& path) {
  std::ifstream file;
  std::istream* in = &std::cin;
  if (path != "-") {
    file.open(path, std::ios::binary);
    if (!file) throw std::runtime_error("cannot read text file '" + path + "'");
    in = &file;
  }
  std::string text((std::istreambuf_iterator<char>(*in)), std::istreambuf_iterator<char>());
  if (in->bad()) throw std::runtime_error("error reading text from '" + path + "'");
  return text;
}

// Fails before any model loads when `path` could not be written at the end.
void check_writable(const std::string& path) {
  namespace fs = std::filesystem;
  const fs::path dir = fs::path(path).has_parent_path() ? fs::path(path).parent_path() : fs::path(".");
  std::error_code ec;
  if (fs::is_directory(path, ec)) throw std::runtime_error("cannot write '" + path + "': it is a directory");
  if (!fs::is_directory(dir, ec) || ::access(dir.c_str(), W_OK) != 0) {
    throw std::runtime_error("cannot write '" + path + "': directory '" + dir.string() + "' is missing or not writable");
  }
}

// Temperatures: finite and > 0 (upstream divides the logits by them).
const CLI::Validator POSITIVE_TEMP([](std::string& s) -> std::string {
  try {
    size_t n = 0;
    const double v = std::stod(s, &n);
    if (n == s.size() && std::isfinite(v) && v > 0) return "";
  } catch (const std::exception&) {
  }
  return "temperature must be a number > 0, got '" + s + "'";
}, "TEMP>0");

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"bark-cli: text to speech with Suno's Bark, in C++", "bark-cli"};
  app.footer(EXAMPLES);
  app.set_version_flag("--version", std::string("bark-cli ") + bark::version());
  bark::PipelineOptions pipe_opts;
  bark::GenerationOptions gen;
  std::string text, text_file, output = "bark_generation.wav", device = "auto", save_prompt, format = "pcm16";
  std::string precision = "fp32";
  uint64_t seed = 0;
  bool silent = false, print_tokens = false;
  int verbose = 0;
  auto* text_opt = app.add_option("TEXT", text, "Text to speak (UTF-8); [laughs], [music], ♪ ... ♪ work as in Bark");
  app.add_option("--text-file", text_file, "Read the text from PATH ('-' = stdin)")->excludes(text_opt);
  app.add_option("-o,--output", output, "Output WAV file (24 kHz mono)")->capture_default_str();
  app.add_option("--voice", gen.voice, "Voice preset (v2/en_speaker_6, announcer, ...) or history prompt PATH.npz");
  app.add_option("--text-temp", gen.text_temp, "Temperature of the semantic stage")->capture_default_str()->check(POSITIVE_TEMP);
  app.add_option("--waveform-temp", gen.waveform_temp, "Temperature of the coarse stage")->capture_default_str()->check(POSITIVE_TEMP);
  app.add_option("--seed", seed, "Seed for all sampling: same seed, same device -> same audio (default: random)");
  app.add_option("--model-dir", pipe_opts.model_dir, "Model directory (default: $BARK_MODEL_DIR, then ~/.cache/bark-cpp)");
  app.add_flag("--small", pipe_opts.use_small, "Use the small models (text.pt, coarse.pt, fine.pt)");
  app.add_option("--device", device, "auto, cpu, cuda or mps")->capture_default_str()
      ->check(CLI::IsMember({"auto", "cpu", "cuda", "mps"}, CLI::ignore_case));
  app.add_flag("--offload", pipe_opts.offload_cpu, "Keep idle models on the CPU (less GPU memory)");
  app.add_option("--threads", pipe_opts.num_threads, "CPU threads (0 = physical cores)")->check(CLI::NonNegativeNumber);
  app.add_option("--precision", precision,
                 "fp32: exact, same tokens as upstream Bark; fp16: faster, drifts (docs/PERFORMANCE.md)")
      ->capture_default_str()->check(CLI::IsMember({"fp32", "fp16"}, CLI::ignore_case));
  app.add_option("--save-prompt", save_prompt, "Also save the generation as a history prompt PATH.npz");
  app.add_option("--format", format, "WAV sample format: pcm16 or f32")->capture_default_str()
      ->check(CLI::IsMember({"pcm16", "f32"}));
  app.add_flag("--silent", silent, "No progress bars or info lines (errors still go to stderr)");
  app.add_flag("-v,--verbose", verbose, "More logging (-vv: trace)");
  app.add_flag("--print-tokens", print_tokens, "Print the text's tokenizer ids on one line and exit");

  bark::tools::DownloadOptions dl_opts;
  auto* dl = bark::tools::add_download_command(app, dl_opts, silent);

  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    if (e.get_exit_code() == 0) return app.exit(e);  // --help, --version
    print_error(std::string(e.what()) + " (see bark-cli --help)");
    return 2;
  }

  try {
    // The library says only warnings by default; the CLI shows its per-stage lines too.
    if (verbose > 0) bark::set_log_level(verbose > 1 ? bark::LogLevel::Trace : bark::LogLevel::Debug);
    else if (silent) bark::set_log_level(bark::LogLevel::Warn);
    else if (std::getenv("BARK_LOG_LEVEL") == nullptr) bark::set_log_level(bark::LogLevel::Info);
    const bool bars = !silent && bark::tools::stderr_is_tty();
    if (dl->parsed()) {
      if (dl_opts.model_dir.empty()) dl_opts.model_dir = pipe_opts.model_dir;  // `bark-cli --model-dir D download`
      dl_opts.small = dl_opts.small || pipe_opts.use_small;
      dl_opts.progress = bars;
      dl_opts.silent = silent;
      bark::tools::run_download(dl_opts);
      return 0;
    }
    if (!text_file.empty()) text = read_text(text_file);
    else if (text_opt->count() == 0) throw std::invalid_argument("no text: pass TEXT or --text-file PATH (see bark-cli --help)");
    pipe_opts.device = bark::parse_device(device);
    pipe_opts.precision = bark::parse_precision(precision);
    if (print_tokens) {
      bark::Pipeline pipe(pipe_opts);
      std::string line;
      for (int64_t id : pipe.tokenize(text)) line += (line.empty() ? "" : " ") + std::to_string(id);
      std::printf("%s\n", line.c_str());
      return 0;
    }
    check_writable(output);
    if (!save_prompt.empty()) check_writable(save_prompt);
    if (app.count("--seed") > 0) gen.seed = seed;
    gen.silent = silent;
    std::unique_ptr<bark::tools::ProgressBar> bar;
    std::string bar_stage;
    gen.on_progress = [&](const bark::Progress& p) {
      if (!bars) return true;
      const std::string stage = bark::stage_name(p.stage);
      if (stage != bar_stage) bar = std::make_unique<bark::tools::ProgressBar>(bar_stage = stage, true);
      bar->update(p.done, p.total);
      return true;
    };
    const bark::Pipeline pipe(pipe_opts);
    bark::GenerationResult result;
    if (save_prompt.empty()) result.audio = pipe.generate_audio(text, gen);
    else result = pipe.generate_audio_full(text, gen);
    bar.reset();
    bark::write_wav(output, result.audio, format == "f32" ? bark::WavFormat::Float32 : bark::WavFormat::Pcm16);
    if (!save_prompt.empty()) bark::save_as_prompt(save_prompt, result.full);
    if (!silent) std::fprintf(stderr, "saved %s (%.2f s of audio)\n", output.c_str(), result.audio.duration_seconds());
    return 0;
  } catch (const std::invalid_argument& e) {
    print_error(e.what());
    return 2;
  } catch (const std::exception& e) {
    print_error(e.what());
    return 1;
  } catch (...) {
    print_error("unknown exception");
    return 1;
  }
}
