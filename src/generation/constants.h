// Private: constants of bark/generation.py, under their Python names.
#pragma once

#include <cstdint>
#include <stdexcept>
#include <string>
#include <vector>

namespace bark::generation {

constexpr double SEMANTIC_RATE_HZ = 49.9;
constexpr int64_t SEMANTIC_VOCAB_SIZE = 10'000;
constexpr int64_t CODEBOOK_SIZE = 1024;
constexpr int64_t N_COARSE_CODEBOOKS = 2;
constexpr int64_t N_FINE_CODEBOOKS = 8;
constexpr double COARSE_RATE_HZ = 75;
constexpr int64_t SAMPLE_RATE = 24'000;

constexpr int64_t TEXT_ENCODING_OFFSET = 10'048;
constexpr int64_t SEMANTIC_PAD_TOKEN = 10'000;
constexpr int64_t TEXT_PAD_TOKEN = 129'595;
constexpr int64_t SEMANTIC_INFER_TOKEN = 129'599;
constexpr int64_t COARSE_SEMANTIC_PAD_TOKEN = 12'048;
constexpr int64_t COARSE_INFER_TOKEN = 12'050;

constexpr int64_t MAX_SEMANTIC_STEPS = 768;  // generate_text_semantic n_tot_steps
constexpr int64_t FINE_WINDOW = 1024;        // generate_fine buffer length
constexpr int64_t FINE_STEP = 512;           // generate_fine window stride / max history

}  // namespace bark::generation

namespace bark::generation {

// The one check of token values (semantic tokens, codebook codes, history prompts): throws
// std::invalid_argument "<what>: value V at position I is outside [0, limit)" for the first value
// out of range. Upstream indexes embeddings with them, where a bad value is an IndexError.
inline void check_token_range(const std::vector<int64_t>& values, int64_t limit, const std::string& what) {
  for (size_t i = 0; i < values.size(); ++i) {
    if (values[i] < 0 || values[i] >= limit) {
      throw std::invalid_argument(what + ": value " + std::to_string(values[i]) + " at position " + std::to_string(i) +
                                  " is outside [0, " + std::to_string(limit) + ")");
    }
  }
}

}  // namespace bark::generation
