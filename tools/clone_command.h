// The `clone` subcommand: a voice (.npz history prompt) from a recording (README "Voice
// cloning", docs/CLONING.md). Kept out of bark_cli.cpp so that it stays thin; the work is
// bark::read_audio + bark::VoiceCloner + bark::save_history_prompt.
#pragma once

#include <unistd.h>

#include <CLI/CLI.hpp>
#include <cstdio>
#include <filesystem>
#include <stdexcept>
#include <string>

#include "bark/audio_file.h"
#include "bark/history_prompt.h"
#include "bark/voice_cloner.h"
#include "cli/cli_helpers.h"

namespace bark::tools {

struct CloneCommandOptions {
  std::string sample, output, model_dir, hubert, quantizer, device = "auto";
  int threads = 0;
  bool silent = false;
};

constexpr const char* CLONE_ADVICE =
    "Best sample: about 10 s of one speaker, clean (no music, noise or other voices), ending at the end of a sentence.";

inline CLI::App* add_clone_command(CLI::App& app, CloneCommandOptions& o) {
  auto* c = app.add_subcommand("clone", "Make a voice (.npz) from a recording, for --voice");
  c->footer(std::string("\n") + CLONE_ADVICE +
            "\nModels (bark-cli download --only clone): <model-dir>/hubert-base-ls960/{config.json, "
            "model.safetensors | pytorch_model.bin}, <model-dir>/quantifier_hubert_base_ls960_14.pth, and EnCodec."
            "\nExample:\n  bark-cli clone me.flac -o me.npz && bark-cli \"Hello.\" --voice me.npz -o hi.wav\n");
  c->add_option("SAMPLE", o.sample, "Recording of the voice: WAV, FLAC, MP3, OGG (any rate; channels are mixed)")->required();
  c->add_option("-o,--output", o.output, "The voice to write (.npz)")->required();
  c->add_option("--model-dir", o.model_dir, "Model directory (default: $BARK_MODEL_DIR, then ~/.cache/bark-cpp)");
  c->add_option("--hubert", o.hubert, "HuBERT directory (default: <model-dir>/hubert-base-ls960)");
  c->add_option("--quantizer", o.quantizer,
                "Quantizer checkpoint, e.g. a language-specific one (default: <model-dir>/quantifier_hubert_base_ls960_14.pth)");
  c->add_option("--device", o.device, "auto, cpu or cuda")->capture_default_str()
      ->check(CLI::IsMember({"auto", "cpu", "cuda"}, CLI::ignore_case));
  c->add_option("--threads", o.threads, "CPU threads (0 = physical cores)")->check(bark::cli::THREADS);
  c->add_flag("--silent", o.silent, "No advice or report lines (errors still go to stderr)");
  return c;
}

// Returns the exit code; throws std::invalid_argument (bad input: exit 2) or std::runtime_error.
inline int run_clone(const CloneCommandOptions& o) {
  const std::string npz = ".npz";
  if (o.output.size() < npz.size() || o.output.compare(o.output.size() - npz.size(), npz.size(), npz) != 0) {
    throw std::invalid_argument("clone -o: the voice file must end with .npz, got '" + o.output + "'");
  }
  {  // before the models load: the voice could not be written at the end
    namespace fs = std::filesystem;
    const fs::path dir = fs::path(o.output).has_parent_path() ? fs::path(o.output).parent_path() : fs::path(".");
    std::error_code ec;
    if (!fs::is_directory(dir, ec) || ::access(dir.c_str(), W_OK) != 0) {
      throw std::runtime_error("cannot write '" + o.output + "': directory '" + dir.string() + "' is missing or not writable");
    }
  }
  const Audio sample = read_audio(o.sample);
  const double seconds = sample.duration_seconds();
  if (seconds < CLONE_MIN_SECONDS) {
    char buf[256];
    std::snprintf(buf, sizeof buf, "'%s' is %.2f s long: too short to clone (at least %.0f s). %s", o.sample.c_str(),
                  seconds, CLONE_MIN_SECONDS, CLONE_ADVICE);
    throw std::invalid_argument(buf);
  }
  if (seconds > CLONE_ADVISED_MAX_SECONDS) {
    std::fprintf(stderr, "warning: '%s' is %.1f s long; Bark is conditioned on the last ~7 s of a voice only. "
                         "Cut the sample to about 10 s of clean speech for the best result.\n",
                 o.sample.c_str(), seconds);
  }
  VoiceClonerOptions options;
  options.model_dir = o.model_dir;
  options.hubert_dir = o.hubert;
  options.quantizer_path = o.quantizer;
  options.device = parse_device(o.device);
  options.num_threads = o.threads;
  const VoiceCloner cloner(options);
  HistoryPrompt voice;
  try {
    voice = cloner.clone(sample);
  } catch (const std::runtime_error& e) {
    const std::string what = e.what();
    if (what.find("not found") != std::string::npos) {
      throw std::runtime_error(what + " (bark-cli download --only clone fetches them; or pass --hubert / --quantizer)");
    }
    throw;
  }
  save_history_prompt(o.output, voice);
  if (!o.silent) {
    std::fprintf(stderr, "saved %s (%.2f s of audio -> %zu semantic tokens, %lld code frames); use it with: "
                         "bark-cli \"...\" --voice %s\n",
                 o.output.c_str(), seconds, voice.semantic_prompt.size(),
                 static_cast<long long>(voice.fine_prompt.n_frames), o.output.c_str());
    std::fprintf(stderr, "%s\n", CLONE_ADVICE);
  }
  return 0;
}

}  // namespace bark::tools
