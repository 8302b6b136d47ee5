// bark-cli --lines: every non-empty line of a text file is its own request, spoken in batches
// through Pipeline::generate_audio_batch and written to DIR/0001.wav, DIR/0002.wav, ...
#pragma once

#include <algorithm>
#include <cstdint>
#include <functional>
#include <optional>
#include <sstream>
#include <string>
#include <vector>

#include "bark/bark.h"

namespace bark::tools {

struct LinesJob {
  std::string text;              // the whole input
  std::string out_dir;           // created when missing
  SpeechOptions speech;          // voice, temperatures, split settings... (seed: see `seed`)
  std::optional<uint64_t> seed;  // line i (1-based) uses seed + i - 1; unset: a random base
  int max_batch = 8;
  WavFormat format = WavFormat::Pcm16;
  bool silent = false;
  std::function<bool()> interrupted;  // true: stop (SIGINT / SIGTERM)
};

// The requests: the non-empty lines, in order. Torch-free (bark-cli's front uses it for
// --print-segments).
inline std::vector<std::string> request_lines(const std::string& text) {
  const auto blank = [](const std::string& s) {
    return std::all_of(s.begin(), s.end(),
                       [](unsigned char c) { return c == ' ' || c == '\t' || c == '\r' || c == '\f' || c == '\v'; });
  };
  std::vector<std::string> lines;
  std::istringstream in(text);
  std::string line;
  while (std::getline(in, line)) {
    if (!blank(line)) lines.push_back(line);
  }
  return lines;
}

// Line `index` (0-based) of `count`: 0001.wav, ... (at least 4 digits, more for more lines).
inline std::string line_file_name(size_t index, size_t count) {
  const size_t width = std::max<size_t>(4, std::to_string(count).size());
  std::string n = std::to_string(index + 1);
  return std::string(width - std::min(width, n.size()), '0') + n + ".wav";
}

// Speaks every line; returns the exit code (0 all written, 1 some line failed, 130 interrupted).
// Throws std::invalid_argument for a bad DIR or an input without lines.
int speak_lines(const Pipeline& pipe, const LinesJob& job);

}  // namespace bark::tools
