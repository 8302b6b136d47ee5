// Voice / history prompts: Bark's .npz files with semantic_prompt, coarse_prompt, fine_prompt.
#pragma once

#include "bark/export.h"

#include <cstdint>
#include <string>

#include "bark/types.h"

namespace bark {

// The largest history prompt accepted (20 minutes of audio: 49.9 semantic tokens and 75 codec
// frames per second). Bark itself uses only the last 256 semantic tokens, 630 coarse and 512
// fine frames of a prompt; the bound keeps a hostile file from asking for gigabytes.
constexpr int64_t MAX_PROMPT_SEMANTIC_TOKENS = 60'000;
constexpr int64_t MAX_PROMPT_FRAMES = 90'000;

// Reads a history prompt .npz (as written by numpy, upstream Bark or save_history_prompt).
// Accepts any integer dtype, C or Fortran order, stored or deflated zip members. Only the
// members semantic_prompt.npy, coarse_prompt.npy and fine_prompt.npy are read, each refused
// before it is inflated when its header declares more than the limits above.
// Throws, naming the file, std::runtime_error when it cannot be opened (missing, no permission,
// a directory) and std::invalid_argument for anything wrong with its content (not a zip,
// truncated, corrupt members, not npy, missing arrays, non-integer dtype, shapes, values or
// sizes outside what Bark accepts).
BARK_API HistoryPrompt load_history_prompt(const std::string& path);

// Writes `prompt` as an uncompressed .npz (np.savez layout; int64 semantic, int64 codes) that
// numpy and upstream Bark load unchanged. Written to a temporary file and renamed on success.
BARK_API void save_history_prompt(const std::string& path, const HistoryPrompt& prompt);

// Checks a prompt as upstream generation.py asserts do: 1-D non-empty semantic in [0, 10000),
// coarse 2 x M and fine 8 x M in [0, 1024). Throws std::invalid_argument with the reason.
// The same from / to the bytes of a .npz (an upload, a response body), in memory. parse throws
// std::invalid_argument for anything malformed, naming it `name`.
BARK_API HistoryPrompt parse_history_prompt(const std::string& npz_bytes, const std::string& name = "uploaded .npz");
BARK_API std::string serialize_history_prompt(const HistoryPrompt& prompt);

BARK_API void validate_history_prompt(const HistoryPrompt& prompt);

}  // namespace bark
