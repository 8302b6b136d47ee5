// Private: loading Bark (torch.save) checkpoints and EnCodec state dicts without Python.
#pragma once

#include <ATen/core/Tensor.h>

#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "io/pickle.h"
#include "models/fine_gpt.h"
#include "models/gpt.h"
#include "models/parameters.h"
#include "models/weights.h"

namespace bark::io {

// An opened torch.save archive (the zip and its unpickled data.pkl); tensor data is read only
// when asked for. Defined in checkpoint.cpp.
class TensorArchive;

// A Bark checkpoint: {"model": state_dict, "model_args": {...}, "iter_num", "best_val_loss", ...}.
struct BarkCheckpoint {
  std::string path;
  PyValuePtr model_args;                // the "model_args" dict (vocab_size not yet fixed up)
  // "model" entries with the "_orig_mod." prefix removed. After open_bark_checkpoint: tensors
  // on the meta device with the declared shapes (no data); read_weights fills them.
  models::TensorSource weights;
  std::optional<double> best_val_loss;  // numpy float64 in the real files
  std::optional<int64_t> iter_num;
  std::shared_ptr<TensorArchive> archive;
};

// Opens a Bark checkpoint without reading any tensor data: data.pkl is unpickled and every
// tensor of the "model" entry is checked against its storage member (sizes, strides, offsets,
// member sizes, with checked arithmetic), so a file claiming more than it holds is refused
// before anything is allocated. Throws std::runtime_error naming the file.
BarkCheckpoint open_bark_checkpoint(const std::string& path);

// open_bark_checkpoint + every tensor of "model" read. Only the storages of the "model" entry
// are read: the optimizer state (2/3 of the real files) never is. Tensors sharing a storage in
// the file share memory here too (the fine model's tied embeddings).
BarkCheckpoint load_bark_checkpoint(const std::string& path);

// Reads the data of the tensors of `weights` named in `slots` whose declared shape is the
// slot's, each bounded by its declared size; the others stay meta tensors (not read), which
// load_parameters then reports as unexpected or mismatched. Tensors holding NaN or infinity
// are refused naming the file and the tensor. With a fast mode's `plan`, each tensor is
// converted (models::convert_weight) as soon as it is read and its fp32 data let go, so loading
// never holds the whole model in fp32 (weights.converted is then set).
void read_weights(const TensorArchive& archive, models::TensorSource& weights, const models::ParamSlots& slots,
                  const models::WeightPlan& plan = {});

// What every weight read from a file goes through (read_weights, the Hugging Face reader):
// NaN or infinity refused, checked in slices (std::runtime_error "<where> holds NaN ..."), and
// with a fast mode's plan the tensor in its planned format (a file's fp16 / bf16 widened first).
at::Tensor checked_weight(const std::string& name, at::Tensor data, const models::WeightPlan& plan,
                          const std::string& where);

// A file whose top-level object is a state dict (EnCodec's encodec_24khz-*.th): opened as by
// open_bark_checkpoint (meta tensors), or loaded whole.
struct StateDictFile {
  models::TensorSource weights;
  std::shared_ptr<TensorArchive> archive;
};
StateDictFile open_state_dict_file(const std::string& path);
models::TensorSource load_state_dict_file(const std::string& path);

// Upper bounds of what model_args may ask for: generous next to Bark's largest models
// (n_layer 24, n_embd 1024, block_size 1024, vocabularies up to 129,600), small enough that a
// hostile file cannot make the model ask for more memory than a machine has.
constexpr int64_t kMaxLayers = 128;
constexpr int64_t kMaxEmbd = 8192;
constexpr int64_t kMaxBlockSize = 8192;      // the causal mask is block_size^2 bytes
constexpr int64_t kMaxVocab = int64_t{1} << 20;
constexpr int64_t kMaxParameters = int64_t{1} << 32;  // 16 GiB of float32

// Refuses a config outside the bounds above (or n_embd not a multiple of n_head): throws
// std::runtime_error(what + ": " + the reason), e.g. what = "checkpoint 'x.pt': invalid model_args".
void check_gpt_config(const models::GPTConfig& config, const std::string& what);

// The model configs in a Bark checkpoint's model_args, with upstream _load_model's fix-up of
// the legacy `vocab_size`; implausible values are refused naming the file.
models::GPTConfig read_gpt_config(const BarkCheckpoint& checkpoint);
models::FineGPTConfig read_fine_config(const BarkCheckpoint& checkpoint);

// Integer / float / bool entry of a model_args dict; throws naming the file when absent.
int64_t arg_int(const PyValue& args, const std::string& key, const std::string& path);
std::optional<int64_t> arg_int_opt(const PyValue& args, const std::string& key);
std::optional<bool> arg_bool_opt(const PyValue& args, const std::string& key);

}  // namespace bark::io
