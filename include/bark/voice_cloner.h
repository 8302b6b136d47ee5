// Voice cloning: a history prompt (.npz voice) from a recording of someone speaking.
//
//   bark::VoiceCloner cloner({/*model_dir=*/"models"});
//   bark::save_history_prompt("me.npz", cloner.clone(bark::read_audio("me.flac")));
//   // then: GenerationOptions::voice = "me.npz"
//
// The method of gitmylo's bark-voice-cloning-HuBERT-quantizer (docs/CLONING.md): semantic tokens
// from HuBERT-base layer-9 features through a trained quantizer (LSTM + Linear), acoustic codes
// from the EnCodec 24 kHz encoder at 6 kbps. The models are separate from the TTS models of a
// Pipeline and are loaded on the first clone().
#pragma once

#include "bark/export.h"

#include <memory>
#include <string>

#include "bark/options.h"
#include "bark/types.h"

namespace bark {

class VoiceClonerImpl;

struct VoiceClonerOptions {
  // Directory with hubert-base-ls960/, quantifier_hubert_base_ls960_14.pth and the EnCodec
  // weights (README, "Model directory"). Empty: $BARK_MODEL_DIR, then ~/.cache/bark-cpp; the
  // EnCodec weights are also found in torch hub's cache, as for Pipeline.
  std::string model_dir;
  // HuBERT directory (config.json + model.safetensors or pytorch_model.bin); empty:
  // <model dir>/hubert-base-ls960.
  std::string hubert_dir;
  // Quantizer checkpoint (version 0 or 1, any language's); empty:
  // <model dir>/quantifier_hubert_base_ls960_14.pth.
  std::string quantizer_path;
  // Device to run on (Auto: CUDA if available, else CPU).
  Device device = Device::Auto;
  // Intra-op CPU threads, applied when the cloner is constructed; 0 = physical cores, -1 = leave
  // the process's setting alone (e.g. beside a Pipeline that set it).
  int num_threads = -1;
};

// Samples shorter than this are refused: too little speech for a voice.
constexpr double CLONE_MIN_SECONDS = 2.0;
// Bark conditions on the end of a prompt only (generation.py: the last 256 semantic tokens, ~5 s;
// the last 512 fine frames, ~7 s); longer samples work but only their end matters. Front ends
// warn above this.
constexpr double CLONE_ADVISED_MAX_SECONDS = 30.0;

class BARK_API VoiceCloner {
 public:
  // Loads nothing: files are looked up and read on the first clone() (or load()).
  explicit VoiceCloner(const VoiceClonerOptions& options = {});
  ~VoiceCloner();
  VoiceCloner(VoiceCloner&&) noexcept;
  VoiceCloner& operator=(VoiceCloner&&) noexcept;

  // Loads the three models now; throws std::runtime_error naming every missing or bad file.
  void load() const;

  // A recording (mono, any sample rate) -> a history prompt: semantic_prompt (50 Hz tokens),
  // fine_prompt (8 x 75 Hz codes) and coarse_prompt (its first 2 rows), trimmed at the start so
  // that upstream Bark's coarse/semantic length check (ratio 1.5) holds. Throws
  // std::invalid_argument for samples under CLONE_MIN_SECONDS or with non-finite samples.
  // Thread-safe: concurrent calls share the read-only models.
  HistoryPrompt clone(const Audio& sample) const;

 private:
  std::unique_ptr<VoiceClonerImpl> impl_;
};

}  // namespace bark
