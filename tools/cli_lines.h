// bark-cli --lines: every non-empty line of a text file is its own request, spoken in batches
// through Pipeline::generate_audio_batch and written to DIR/0001.wav, DIR/0002.wav, ...
#pragma once

#include <cstdint>
#include <functional>
#include <optional>
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

// The requests: the non-empty lines (after whitespace clean-up), in order.
std::vector<std::string> request_lines(const std::string& text);

// Speaks every line; returns the exit code (0 all written, 1 some line failed, 130 interrupted).
// Throws std::invalid_argument for a bad DIR or an input without lines.
int speak_lines(const Pipeline& pipe, const LinesJob& job);

}  // namespace bark::tools
