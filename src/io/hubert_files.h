// Private: the voice-cloning model files.
//   HuBERT, Hugging Face layout: <dir>/config.json + <dir>/model.safetensors (preferred) or
//     <dir>/pytorch_model.bin (torch.save zip, read by the restricted unpickler). Weight norm of
//     the positional convolution as weight_g / weight_v or, from newer transformers,
//     parametrizations.weight.original0 / original1; a "hubert." prefix (HubertFor* heads) is
//     dropped. Only the keys are renamed here: the model takes names, not formats.
//   Quantizer: gitmylo's CustomTokenizer .pth (torch.save state dict); version 1 files carry a
//     zip member "<name>/.info" with JSON {input_size, hidden_size, output_size, version}.
#pragma once

#include <string>

#include "models/hubert.h"
#include "models/hubert_quantizer.h"
#include "models/parameters.h"

namespace bark::io {

struct HubertFiles {
  models::HubertConfig config;
  models::TensorSource weights;
};

// Reads <dir>/config.json and the weights. Throws std::runtime_error naming the file on anything
// missing, malformed or of an architecture this implementation does not compute (e.g. the
// "layer" feature-extractor norm of hubert-large).
HubertFiles load_hubert_files(const std::string& dir);
// Parses a HubertConfig from the text of a config.json (`origin` names it in errors).
models::HubertConfig parse_hubert_config(const std::string& json_text, const std::string& origin);

struct QuantizerFile {
  models::QuantizerConfig config;
  models::TensorSource weights;
};

// Reads a quantizer checkpoint; the version and sizes come from the tensor shapes and, when
// present, must agree with the .info member. Throws std::runtime_error naming the file.
QuantizerFile load_quantizer_file(const std::string& path);

}  // namespace bark::io
