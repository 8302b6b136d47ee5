// bark::Pipeline: text -> 24 kHz speech, a port of suno-ai/bark's bark/api.py.
//
//   #include <bark/bark.h>
//
//   bark::PipelineOptions opts;
//   opts.model_dir = "/models/bark";          // text_2.pt, coarse_2.pt, fine_2.pt, encodec, vocab.txt
//   bark::Pipeline pipe(opts);
//   bark::GenerationOptions gen;
//   gen.voice = "v2/en_speaker_6";
//   gen.seed = 0;
//   bark::write_wav("out.wav", pipe.generate_audio("Hello, my dog is cute [laughs]", gen));
//
// Not thread-safe: use one Pipeline per thread. Models load lazily on first use (or preload()).
#pragma once

#include <memory>
#include <string>
#include <utility>

#include "bark/options.h"
#include "bark/types.h"

namespace bark {

class PipelineImpl;

struct GenerationResult {
  FullGeneration full;  // semantic, coarse and fine tokens (usable as a history prompt)
  Audio audio;
};

class Pipeline {
 public:
  explicit Pipeline(const PipelineOptions& options = {});
  ~Pipeline();
  Pipeline(Pipeline&&) noexcept;
  Pipeline& operator=(Pipeline&&) noexcept;

  // Loads every sub-model now instead of on first use.
  void preload();

  // api.py generate_audio: text -> audio. Throws std::invalid_argument on bad input
  // (empty text, unknown voice, invalid option) and std::runtime_error on missing/corrupt files.
  Audio generate_audio(const std::string& text, const GenerationOptions& options = {});
  // Same, with output_full=True: also returns the tokens of every stage.
  GenerationResult generate_audio_full(const std::string& text, const GenerationOptions& options = {});

  // api.py text_to_semantic.
  SemanticTokens text_to_semantic(const std::string& text, const GenerationOptions& options = {});

  // api.py semantic_to_waveform (coarse -> fine -> codec).
  Audio semantic_to_waveform(const SemanticTokens& semantic, const GenerationOptions& options = {});
  GenerationResult semantic_to_waveform_full(const SemanticTokens& semantic,
                                             const GenerationOptions& options = {});

  // Lower-level stages (generation.py), seeded like the others when options.seed is set.
  CodebookTokens generate_coarse(const SemanticTokens& semantic, const GenerationOptions& options = {});
  CodebookTokens generate_fine(const CodebookTokens& coarse, const GenerationOptions& options = {});
  Audio codec_decode(const CodebookTokens& fine);

  // Tokenizer ids of `text` after Bark's whitespace normalisation (no offset, no truncation).
  std::vector<int64_t> tokenize(const std::string& text);

  // The device chosen for the GPT models.
  Device device() const;

 private:
  std::unique_ptr<PipelineImpl> impl_;
};

// api.py save_as_prompt: writes a full generation as a .npz history prompt.
void save_as_prompt(const std::string& path, const FullGeneration& full);

}  // namespace bark
