// Plain data types exchanged with the bark library. No torch, no spdlog.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

namespace bark {

// Mono audio. Bark always produces 24 kHz.
struct Audio {
  std::vector<float> samples;  // nominally in [-1, 1]
  int sample_rate = 24'000;

  double duration_seconds() const {
    return sample_rate > 0 ? static_cast<double>(samples.size()) / sample_rate : 0.0;
  }
};

// Semantic tokens, values in [0, 10'000).
using SemanticTokens = std::vector<int64_t>;

// EnCodec codebook indices, row-major (n_codebooks, n_frames), values in [0, 1024).
struct CodebookTokens {
  int64_t n_codebooks = 0;
  int64_t n_frames = 0;
  std::vector<int64_t> data;

  int64_t at(int64_t codebook, int64_t frame) const { return data[codebook * n_frames + frame]; }
  bool empty() const { return data.empty(); }
};

// A full generation, usable as a history prompt (bark `output_full=True`).
// Field names match the keys of Bark's .npz voice prompts.
struct FullGeneration {
  SemanticTokens semantic_prompt;  // (n_semantic,)
  CodebookTokens coarse_prompt;    // (2, n_frames)
  CodebookTokens fine_prompt;      // (8, n_frames)
};

using HistoryPrompt = FullGeneration;

}  // namespace bark
