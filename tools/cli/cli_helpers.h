// bark-cli's option checks and messages (tools/bark_cli.cpp stays the flow; these are the rules).
// Header-only: compiled into both bark-cli and bark-cli-torch.
#pragma once

#include <CLI/CLI.hpp>
#include <algorithm>
#include <cctype>
#include <charconv>
#include <cmath>
#include <cstdlib>
#include <filesystem>
#include <iterator>
#include <optional>
#include <stdexcept>
#include <string>

#include "bark/errors.h"
#include "bark/options.h"

namespace bark::cli {

// A whole-string number, or false.
inline bool parse_double(const std::string& s, double* v) {
  try {
    size_t n = 0;
    *v = std::stod(s, &n);
    return n == s.size();
  } catch (const std::exception&) {
    return false;
  }
}

// Temperatures: finite and >= bark::MIN_TEMPERATURE (upstream divides the logits by them; the
// library checks the same, for its other callers).
inline const CLI::Validator TEMPERATURE([](std::string& s) -> std::string {
  double v = 0;
  if (parse_double(s, &v) && std::isfinite(v) && v >= bark::MIN_TEMPERATURE) return "";
  return "temperature must be a number >= 0.0001, got '" + s + "'";
}, "");

// A probability: in (0, 1] (`zero_ok` false) or [0, 1].
inline CLI::Validator probability(bool zero_ok) {
  return CLI::Validator([=](std::string& s) -> std::string {
    double v = 0;
    if (parse_double(s, &v) && (zero_ok ? v >= 0 : v > 0) && v <= 1) return "";
    return std::string("must be a number in ") + (zero_ok ? "[0, 1]" : "(0, 1]") + ", got '" + s + "'";
  }, "");
}

// --threads: 0 (physical cores) up to bark::max_num_threads() (4 x logical CPUs).
inline const CLI::Validator THREADS([](std::string& s) -> std::string {
  int v = -1;
  const auto [end, ec] = std::from_chars(s.data(), s.data() + s.size(), v);
  if (ec == std::errc() && end == s.data() + s.size() && v >= 0 && v <= bark::max_num_threads()) return "";
  return "must be 0 (the physical cores) or a number of threads up to " + std::to_string(bark::max_num_threads()) +
         " (4 x the logical CPUs), got '" + s + "'";
}, "");

// --seed: 0 .. 2^64-1, or -1 for a random seed; never clamped.
inline std::optional<uint64_t> parse_seed(const std::string& s) {
  if (s == "-1") return std::nullopt;
  uint64_t v = 0;
  const auto [end, ec] = std::from_chars(s.data(), s.data() + s.size(), v);
  if (s.empty() || ec != std::errc() || end != s.data() + s.size()) {
    throw std::invalid_argument("--seed: must be an integer from 0 to 18446744073709551615, or -1 for a random "
                                "seed, got '" + s + "'");
  }
  return v;
}

// Upstream's SUNO_* switches (generation.py: os.environ.get(name, False), so any non-empty value
// is on there): on unless unset, empty, "0", "false", "no" or "off" (which upstream would take
// as on, surely not what was meant).
inline bool env_switch(const char* name) {
  const char* v = std::getenv(name);
  if (v == nullptr) return false;
  std::string s(v);
  for (char& c : s) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return !(s.empty() || s == "0" || s == "false" || s == "no" || s == "off");
}

// -o: bark-cli writes WAV; another audio extension would be a WAV under a wrong name.
inline void check_wav_extension(const std::string& path) {
  const std::string ext = std::filesystem::path(path).extension().string();
  std::string lower = ext;
  for (char& c : lower) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  if (lower.empty() || lower == ".wav" || lower == ".wave") return;
  const std::string base = "-o '" + path + "': bark-cli writes WAV files only (use a .wav name)";
  // the converter hint only where a converter makes that kind of file (not for .npz, .txt, ...)
  static const char* const kAudio[] = {".mp3", ".flac", ".ogg", ".oga", ".opus", ".m4a", ".aac", ".aif",
                                       ".aiff", ".wma", ".webm", ".mka", ".caf", ".au", ".w64"};
  if (std::find(std::begin(kAudio), std::end(kAudio), lower) == std::end(kAudio)) {
    throw std::invalid_argument(base + (lower == ".npz" ? "; a voice .npz is written by --save-prompt" : ""));
  }
  throw std::invalid_argument(base + "; for " + lower.substr(1) +
                              ", pipe the WAV to a converter: bark-cli ... -o - | ffmpeg -i - out" + ext);
}

// The advice the library leaves to its front ends: how to get what is missing.
inline std::string download_advice(const bark::ModelFilesMissing& e, const std::string& model_dir_option) {
  std::string command = "bark-cli download";
  if (e.use_small) command += " --small";
  if (!model_dir_option.empty()) {
    const bool plain = model_dir_option.find_first_of(" \t'\"$\\`!*?;&|<>()") == std::string::npos;
    std::string quoted = "'";
    for (char c : model_dir_option) quoted += c == '\'' ? std::string("'\\''") : std::string(1, c);
    command += " --model-dir " + (plain ? model_dir_option : quoted + "'");
  }
  const bool prompts_only = e.groups.size() == 1 && e.groups[0] == "prompts";
  std::string advice;
  if (e.small_models_present) advice += "; the small models are there: add --small to use them";
  std::string only = command + " --only ";
  for (size_t i = 0; i < e.groups.size(); ++i) only += (i ? "," : "") + e.groups[i];
  const std::string it = e.files.size() > 1 ? "them" : "it";
  if (prompts_only) return advice + "; get the voice presets with `" + only + "`";
  advice += "; get " + it + " with `" + (e.groups.size() < 3 ? only + "` (everything: `" + command + "`)" : command + "`");
  return advice + ", or point --model-dir or $BARK_MODEL_DIR at a directory that has " + it;
}

}  // namespace bark::cli
