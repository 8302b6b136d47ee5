// Progress reports and cancellation of a generation.
#pragma once

#include <cstddef>
#include <cstdint>
#include <functional>
#include <stdexcept>
#include <string>

#include "bark/export.h"

namespace bark {

// The stages of a generation, in the order they run.
enum class Stage { Semantic, Coarse, Fine, Codec };

// "semantic", "coarse", "fine", "codec".
BARK_API const char* stage_name(Stage stage);

// Where a stage is. Units per stage:
//   Semantic: semantic tokens generated; `total` is the most the stage may generate (768, or
//             what max_gen_duration_s allows), and becomes `done` when it stops early.
//   Coarse:   coarse frames (75 per second of audio) completed; total = frames to generate.
//   Fine:     frames whose 8 codebooks are all final; total = frames. Reported after every
//             forward pass (one per codebook per window), so `done` may repeat.
//   Codec:    audio samples decoded (24 kHz); total = samples to decode.
// `done` never decreases within a stage; a stage ends with done == total.
struct Progress {
  Stage stage = Stage::Semantic;
  int64_t done = 0;
  int64_t total = 0;
  // Long-form (generate_speech): the segment being generated, 0-based, and how many there are.
  size_t segment = 0;
  size_t segment_count = 1;
};

// Called at least once per decoding step (one token, one forward pass) with the progress of the
// running stage. Return true to continue, false to stop the call: it then throws bark::Cancelled
// before the next step. An exception thrown by the callback propagates out of the call unchanged.
// Runs on the thread that made the call.
using ProgressCallback = std::function<bool(const Progress&)>;

// Thrown by a call whose progress callback returned false. The Pipeline stays usable.
class BARK_API Cancelled : public std::runtime_error {
 public:
  explicit Cancelled(const std::string& what = "generation cancelled") : std::runtime_error(what) {}
  ~Cancelled() override;
};

}  // namespace bark
