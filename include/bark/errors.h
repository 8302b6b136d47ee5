// Typed errors of the library, for front ends that turn them into advice (the library itself
// never says which command to run: STYLE.md "The library does not talk to people").
#pragma once

#include <stdexcept>
#include <string>
#include <vector>

#include "bark/export.h"

namespace bark {

// Files of the model directory (checkpoints, EnCodec weights, vocab, voice presets) found in
// none of the places they are looked for. what() is one line: each missing file, every path it
// was looked for at; the members say the same for a program.
class BARK_API ModelFilesMissing : public std::runtime_error {
 public:
  ModelFilesMissing(const std::string& what, std::string model_dir, std::vector<std::string> files,
                    std::vector<std::string> groups, bool use_small, bool small_models_present);
  ~ModelFilesMissing() override;

  // The first model directory searched (PipelineOptions::model_dir, else $BARK_MODEL_DIR, else
  // the default cache): where a download puts the files.
  std::string model_dir;
  // The missing files, relative to a model directory: "text_2.pt", "prompts/v2/en_speaker_6.npz".
  std::vector<std::string> files;
  // Their groups in the download manifest (assets/models.json): "models", "codec", "vocab", "prompts".
  std::vector<std::string> groups;
  // The model size that was looked for (PipelineOptions::use_small).
  bool use_small = false;
  // The large models were looked for and are missing, but the small ones are all there.
  bool small_models_present = false;
};

}  // namespace bark
