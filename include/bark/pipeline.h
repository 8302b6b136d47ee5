// bark::Pipeline: text -> 24 kHz speech, a port of suno-ai/bark's bark/api.py.
//
//   #include <bark/bark.h>
//
//   bark::PipelineOptions opts;
//   opts.model_dir = "/models/bark";          // text_2.pt, coarse_2.pt, fine_2.pt, encodec, vocab.txt
//   const bark::Pipeline pipe(opts);
//   bark::GenerationOptions gen;
//   gen.voice = "v2/en_speaker_6";
//   gen.seed = 0;
//   bark::write_wav("out.wav", pipe.generate_audio("Hello, my dog is cute [laughs]", gen));
//
// Thread safety: one Pipeline may be used by any number of threads at once. The weights are
// loaded once (lazily on first use, or by preload()) and only read by calls; every call has its
// own sampling generator, KV caches and buffers, so the same seed gives the same tokens whatever
// else runs at the same time (examples/concurrent_bark.cpp). Exception: with offload_cpu on a
// GPU, calls are serialised (models move between devices).
//
// Errors: std::invalid_argument for bad input (empty text, unknown voice, invalid option, a
// malformed voice .npz), std::runtime_error for the environment (missing or corrupt files, out of
// memory, a failing tensor operation: one line, no backtrace) with bark::ModelFilesMissing
// (bark/errors.h) for missing model files and voice presets, bark::Cancelled when on_progress returned false,
// std::logic_error on a moved-from Pipeline. An exception thrown by on_progress propagates as is.
#pragma once

#include <exception>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "bark/export.h"
#include "bark/options.h"
#include "bark/speech.h"
#include "bark/types.h"

namespace bark {

class PipelineImpl;

struct GenerationResult {
  FullGeneration full;  // semantic, coarse and fine tokens (usable as a history prompt)
  Audio audio;
  // Percentage of the text's tokens beyond Bark's 256 that were dropped, as upstream does
  // ("lopping of last N%"); 0 when the whole text was read. generate_speech splits instead.
  double text_dropped_percent = 0.0;
};

// One request of a batch: its own text and options (voice or history prompt, seed or
// generator, temperatures, top-k/p, on_progress, ...), exactly as for generate_audio_full.
struct BatchRequest {
  std::string text;
  GenerationOptions options;
};

// One request of semantic_to_waveform_batch.
struct SemanticRequest {
  SemanticTokens semantic;
  GenerationOptions options;
};

// A request's outcome: its result, or the exception that ended it (std::invalid_argument for
// its bad input, bark::Cancelled when its on_progress returned false, ...); an error in one
// request never affects the others. `result` is filled as far as the call goes
// (text_to_semantic_batch: only full.semantic_prompt).
struct BatchResult {
  GenerationResult result;
  std::exception_ptr error;
  bool ok() const { return !error; }
};

struct BatchOptions {
  // Most sequences decoded together. The semantic and coarse stages keep up to this many
  // requests in flight and give a finished request's place to the next one; each decoding step
  // then reads the weights once for all of them (docs/PERFORMANCE.md: throughput vs batch size).
  int max_batch = 8;
};

class BARK_API Pipeline {
 public:
  // Chooses the device and applies num_threads; loads nothing yet.
  explicit Pipeline(const PipelineOptions& options = {});
  ~Pipeline();
  Pipeline(Pipeline&&) noexcept;
  Pipeline& operator=(Pipeline&&) noexcept;

  // Loads every sub-model now instead of on first use.
  void preload() const;

  // api.py generate_audio: text -> audio.
  Audio generate_audio(const std::string& text, const GenerationOptions& options = {}) const;
  // Same, with output_full=True: also returns the tokens of every stage.
  GenerationResult generate_audio_full(const std::string& text, const GenerationOptions& options = {}) const;

  // Batched generate_audio_full: one result per request, in order. Every request samples from
  // its own generator, so its tokens and audio are exactly those generate_audio_full gives it
  // alone (same seed => same result, whatever else is in the batch). The semantic and coarse
  // stages decode the requests together (CPU); the fine stage and the codec run them one after
  // the other (they are matrix-matrix work already). On a GPU the requests run one by one.
  std::vector<BatchResult> generate_audio_batch(const std::vector<BatchRequest>& requests,
                                                const BatchOptions& batch = {}) const;
  // Batched text_to_semantic (result.full.semantic_prompt) and semantic_to_waveform_full.
  std::vector<BatchResult> text_to_semantic_batch(const std::vector<BatchRequest>& requests,
                                                  const BatchOptions& batch = {}) const;
  std::vector<BatchResult> semantic_to_waveform_batch(const std::vector<SemanticRequest>& requests,
                                                      const BatchOptions& batch = {}) const;

  // Long-form: any length of text in segments, one voice, streamed (bark/speech.h).
  SpeechResult generate_speech(const std::string& text, const SpeechOptions& options = {}) const;
  // The segments generate_speech would speak, in order (loads only the vocab).
  std::vector<std::string> split_text(const std::string& text, size_t max_segment_chars = 150) const;

  // api.py text_to_semantic.
  SemanticTokens text_to_semantic(const std::string& text, const GenerationOptions& options = {}) const;

  // api.py semantic_to_waveform (coarse -> fine -> codec).
  Audio semantic_to_waveform(const SemanticTokens& semantic, const GenerationOptions& options = {}) const;
  GenerationResult semantic_to_waveform_full(const SemanticTokens& semantic,
                                             const GenerationOptions& options = {}) const;

  // Lower-level stages (generation.py), seeded like the others.
  CodebookTokens generate_coarse(const SemanticTokens& semantic, const GenerationOptions& options = {}) const;
  CodebookTokens generate_fine(const CodebookTokens& coarse, const GenerationOptions& options = {}) const;
  // EnCodec decoding of (n <= 8 codebooks, T) codes -> T * 320 samples at 24 kHz.
  Audio codec_decode(const CodebookTokens& fine) const;

  // A voice as generation uses it: a preset name ("v2/en_speaker_6", found in the model
  // directory's prompts/) or a .npz path, loaded and validated.
  HistoryPrompt load_voice(const std::string& voice) const;

  // The voice presets found in the model directory ("announcer", "v2/en_speaker_6", ...), sorted.
  std::vector<std::string> voices() const;

  // Tokenizer ids of `text` after Bark's whitespace normalisation (no offset, no truncation).
  std::vector<int64_t> tokenize(const std::string& text) const;

  // The device chosen for the GPT models.
  Device device() const;

 private:
  const PipelineImpl& impl() const;
  std::unique_ptr<PipelineImpl> impl_;
};

// api.py save_as_prompt: writes a full generation as a .npz history prompt.
BARK_API void save_as_prompt(const std::string& path, const FullGeneration& full);

}  // namespace bark
