// Private: the four stages of bark/generation.py on loaded models. Sampling calls mirror
// upstream's exactly (shapes, order, dtypes, which slice gets the softmax), so that the call's
// generator is consumed as torch's default one is in Python: same seed + same torch build =>
// same tokens. The models are only read: any number of stages may run at once on one model.
#pragma once

#include <ATen/core/Generator.h>
#include <ATen/core/Tensor.h>

#include <cstdint>
#include <exception>
#include <functional>
#include <optional>
#include <string>
#include <vector>

#include "models/encodec.h"
#include "models/fine_gpt.h"
#include "models/gpt.h"
#include "python_round.h"

namespace bark::generation {

// Called with (done, total) after every decoding step (units: see bark::Progress); it may
// throw to stop the stage (bark::Cancelled).
using StepProgress = std::function<void(int64_t done, int64_t total)>;

struct SamplingOptions {
  double temp = 0.7;
  std::optional<int64_t> top_k;
  std::optional<double> top_p;
  // The call's generator for torch.multinomial (undefined: torch's default generator).
  at::Generator generator;
};

// Upstream's in-loop filtering: top_p with numpy semantics on the CPU, then top_k.
// `logits` is a 1-D float tensor, modified in place semantics as upstream (returns the result).
at::Tensor filter_logits(at::Tensor logits, const SamplingOptions& options);

// A row's outcome in a batched stage: its value, or the exception that ended it (its progress
// callback's bark::Cancelled, a failure); the other rows of the batch go on.
template <class T>
struct RowResult {
  T value;
  std::exception_ptr error;
};

// Where a batched stage's time went (optional output of the *_batch functions).
struct BatchStats {
  double full_forward_seconds = 0;  // prefills (and every step of rows without a KV cache)
  double decode_seconds = 0;        // batched KV-cached steps (GPT::decode_step)
  int64_t full_forwards = 0;        // their counts
  int64_t decode_steps = 0;
  int64_t decoded_tokens = 0;       // rows x steps of the batched steps
};

struct SemanticOptions {
  SamplingOptions sampling;
  std::optional<double> min_eos_p = 0.2;
  std::optional<double> max_gen_duration_s;
  bool allow_early_stop = true;
  bool use_kv_caching = false;
  StepProgress progress;
};

// generate_text_semantic after tokenization: `encoded_text` holds the 256 ids already offset
// and padded; `semantic_history` the prompt's semantic tokens (may be null). Returns tokens.
std::vector<int64_t> generate_text_semantic(const models::GPT& model, const std::vector<int64_t>& encoded_text,
                                            const std::vector<int64_t>* semantic_history,
                                            const SemanticOptions& options);

struct SemanticJob {
  std::vector<int64_t> encoded_text;                   // 256 ids, offset and padded
  const std::vector<int64_t>* history = nullptr;       // the prompt's semantic tokens, or null
  SemanticOptions options;                             // each row its own sampling and generator
};

// generate_text_semantic for many sequences: up to `max_batch` rows at a time, whose KV-cached
// decoding steps run as one GPT::decode_step (each weight read once for all rows); a finished
// row's place goes to the next job. Each job's tokens are exactly those it gets alone.
std::vector<RowResult<std::vector<int64_t>>> generate_text_semantic_batch(const models::GPT& model,
                                                                          const std::vector<SemanticJob>& jobs,
                                                                          int64_t max_batch, BatchStats* stats = nullptr);

struct CoarseOptions {
  SamplingOptions sampling;
  int64_t max_coarse_history = 630;
  int64_t sliding_window_len = 60;
  bool use_kv_caching = false;
  StepProgress progress;
};

// Row-major (rows, cols) integer matrix on the host.
struct Codes {
  int64_t rows = 0, cols = 0;
  std::vector<int64_t> data;
  int64_t at(int64_t r, int64_t c) const { return data[static_cast<size_t>(r * cols + c)]; }
};

struct History {
  std::vector<int64_t> semantic;  // (n,)
  Codes coarse;                   // (2, m)
  Codes fine;                     // (8, m)
};

// generate_coarse: semantic tokens -> (2, n_frames) coarse codes.
Codes generate_coarse(const models::GPT& model, const std::vector<int64_t>& semantic, const History* history,
                      const CoarseOptions& options);

struct CoarseJob {
  const std::vector<int64_t>* semantic = nullptr;  // the semantic tokens to voice
  const History* history = nullptr;                // or null
  CoarseOptions options;
};

// generate_coarse for many sequences, batched as generate_text_semantic_batch.
std::vector<RowResult<Codes>> generate_coarse_batch(const models::GPT& model, const std::vector<CoarseJob>& jobs,
                                                    int64_t max_batch, BatchStats* stats = nullptr);

struct FineOptions {
  std::optional<double> temp = 0.5;  // nullopt: argmax
  // Fast variant: a clip shorter than the 1024-frame window is run as a window of its own length
  // (history + real frames) instead of being padded to 1024 frames whose padding is computed and
  // sampled too. Different tokens from upstream's.
  bool fast = false;
  at::Generator generator;           // as SamplingOptions::generator
  StepProgress progress;
};

// generate_fine: (n_coarse, T) codes -> (8, T) codes.
Codes generate_fine(const models::FineGPT& model, const Codes& coarse, const History* history,
                    const FineOptions& options);

// codec_decode: (8, T) codes -> T * hop samples.
std::vector<float> codec_decode(const models::Encodec& codec, const Codes& fine);

using bark::py_round;  // src/python_round.h

}  // namespace bark::generation
