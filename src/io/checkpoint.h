// Private: loading Bark (torch.save) checkpoints and EnCodec state dicts without Python.
#pragma once

#include <ATen/core/Tensor.h>

#include <functional>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "io/pickle.h"
#include "models/fine_gpt.h"
#include "models/gpt.h"
#include "models/parameters.h"

namespace bark::io {


// A Bark checkpoint: {"model": state_dict, "model_args": {...}, "iter_num", "best_val_loss", ...}.
struct BarkCheckpoint {
  std::string path;
  PyValuePtr model_args;                // the "model_args" dict (vocab_size not yet fixed up)
  models::TensorSource weights;         // "model" entries with the "_orig_mod." prefix removed
  std::optional<double> best_val_loss;  // numpy float64 in the real files
  std::optional<int64_t> iter_num;
};

// Loads a Bark checkpoint. Only the storages of the "model" entry are read: the optimizer
// state (2/3 of the real files) is never loaded. Tensors sharing a storage in the file share
// memory here too (the fine model's tied embeddings). Throws std::runtime_error naming the file.
BarkCheckpoint load_bark_checkpoint(const std::string& path);

// Loads a file whose top-level object is a state dict (EnCodec's encodec_24khz-*.th).
models::TensorSource load_state_dict_file(const std::string& path);

// The model configs in a Bark checkpoint's model_args, with upstream _load_model's fix-up of
// the legacy `vocab_size`; implausible values are refused naming the file.
models::GPTConfig read_gpt_config(const BarkCheckpoint& checkpoint);
models::FineGPTConfig read_fine_config(const BarkCheckpoint& checkpoint);

// Integer / float / bool entry of a model_args dict; throws naming the file when absent.
int64_t arg_int(const PyValue& args, const std::string& key, const std::string& path);
std::optional<int64_t> arg_int_opt(const PyValue& args, const std::string& key);
std::optional<bool> arg_bool_opt(const PyValue& args, const std::string& key);

}  // namespace bark::io
