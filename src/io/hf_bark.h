// Private: Bark in the Hugging Face transformers layout (the suno/bark and suno/bark-small repos
// as BarkModel.save_pretrained writes them):
//
//   config.json                      BarkConfig: semantic_config, coarse_acoustics_config,
//                                    fine_acoustics_config, codec_config (EnCodec)
//   model.safetensors                every sub-model's weights, or pytorch_model.bin (torch zip
//                                    pickle), or shards listed by model.safetensors.index.json /
//                                    pytorch_model.bin.index.json
//   speaker_embeddings_path.json     voice presets: {name: {semantic_prompt: "x.npy", ...}}
//   vocab.txt                        bert-base-multilingual-cased
//
// The reader maps transformers' names to the upstream checkpoints' (modeling_bark.py /
// convert_suno_to_hf.py, modeling_encodec.py / convert_encodec_checkpoint_to_pytorch.py), so
// the models load from it exactly as from text_2.pt, coarse_2.pt, fine_2.pt and
// encodec_24khz-d7cc33bc.th:
//
//   semantic.layers.N.attn.att_proj.weight   transformer.h.N.attn.c_attn.weight   (text model)
//   coarse_acoustics.input_embeds_layer      transformer.wte                      (coarse model)
//   fine_acoustics.input_embeds_layers.N     transformer.wtes.N; lm_heads.N is tied to N + 1
//   codec_model.decoder.layers.3.conv.weight_g   decoder.model.3.convtr.convtr.weight_g
//
// The causal-mask buffers (`*.attn.bias`, bool) are never read. Generation settings
// (generation_config.json) are not read: bark-cpp keeps upstream Bark's defaults.
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "bark/types.h"
#include "models/fine_gpt.h"
#include "models/gpt.h"
#include "models/parameters.h"
#include "models/weights.h"

namespace bark::io {

// The sub-models of a BarkModel.
enum class BarkPart { Semantic, Coarse, Fine, Codec };
// "semantic", "coarse_acoustics", "fine_acoustics", "codec_model": the name prefix in the weights.
const char* hf_prefix(BarkPart part);

// What config.json says, as our model configs. Absent fields take transformers' defaults (as
// save_pretrained leaves out default values).
struct HfBarkConfig {
  std::string path;  // config.json
  models::GPTConfig semantic, coarse;
  models::FineGPTConfig fine;
  // codec_config: the decoder's transposed convolutions are at these decoder.layers indices
  // (EncodecDecoder: conv, LSTM, then per upsampling ratio ELU, conv-transpose, residual blocks).
  std::vector<int64_t> codec_upsample_layers;
};

// Reads and checks config.json. Throws std::runtime_error, one line naming the file, for
// malformed JSON, a model_type other than "bark", implausible sizes (the bounds of
// io/checkpoint.h) and a codec Bark cannot serve (only EnCodec 24 kHz, as facebook/encodec_24khz).
HfBarkConfig read_hf_bark_config(const std::string& path);

// transformers name of one sub-model (without its prefix) -> the upstream checkpoint name; a
// name it does not know is returned unchanged (load_parameters then reports it as unexpected).
std::string hf_to_upstream_name(BarkPart part, const std::string& name, const HfBarkConfig& config);

// The weights of one sub-model, renamed to upstream names, opened from `weights_path`
// (model.safetensors, pytorch_model.bin, or a *.index.json naming shards of either).
// After open_hf_bark_part, `weights` holds every tensor of the part with its declared shape:
// safetensors tensors are mapped (read when touched), pytorch_model.bin ones are meta tensors
// until read(). The fine model's lm_heads missing from the file (safetensors drops tied
// tensors) are listed as the tied input_embeds_layers they are.
class HfBarkPart {
 public:
  HfBarkPart();
  ~HfBarkPart();
  HfBarkPart(HfBarkPart&&) noexcept;
  HfBarkPart& operator=(HfBarkPart&&) noexcept;

  models::TensorSource weights;
  // Reads the tensors named in `slots` whose declared shape is the slot's (the others are left
  // for load_parameters to report). Tensors holding NaN or infinity are refused naming the file.
  // With a fast mode's `plan`, each is converted as soon as it is read (as io::read_weights does).
  void read(const models::ParamSlots& slots, const models::WeightPlan& plan = {});

 private:
  friend HfBarkPart open_hf_bark_part(const std::string&, BarkPart, const HfBarkConfig&);
  struct Impl;
  std::unique_ptr<Impl> impl_;
};
HfBarkPart open_hf_bark_part(const std::string& weights_path, BarkPart part, const HfBarkConfig& config);

// The voice presets of a speaker_embeddings_path.json that are allowed preset names (model_files.h
// is_allowed_prompt) and have all three .npy files, sorted.
std::vector<std::string> hf_voice_names(const std::string& speaker_embeddings_json);

// A voice preset from speaker_embeddings_path.json: its three .npy files (relative to the
// json's directory, as on the hub) read and checked like a .npz prompt. Throws
// bark::ModelFilesMissing when the preset or one of its files is absent (naming the paths),
// std::invalid_argument for bad content.
HistoryPrompt load_hf_voice(const std::string& speaker_embeddings_json, const std::string& voice);

}  // namespace bark::io
