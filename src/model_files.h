// Private: the model directory contract (README, "Model directory"). Where the checkpoints,
// the EnCodec weights, the vocab and the voice presets are looked for, and what the error says
// when one is missing. Torch-free.
//
//   <model-dir>/text_2.pt coarse_2.pt fine_2.pt   large models (default)
//   <model-dir>/text.pt coarse.pt fine.pt         small models (use_small)
//   <model-dir>/encodec_24khz-d7cc33bc.th         EnCodec 24 kHz
//   <model-dir>/vocab.txt                         bert-base-multilingual-cased vocab
//   <model-dir>/prompts/v2/en_speaker_6.npz ...   voice presets, as in suno-ai/bark
//
// Model directories, in order: the model_dir option (--model-dir / PipelineOptions::model_dir),
// $BARK_MODEL_DIR, the default cache $XDG_CACHE_HOME/bark-cpp (~/.cache/bark-cpp). A file missing
// from all of them is taken from a Python install's download where one exists: Suno's cache
// $XDG_CACHE_HOME/suno/bark_v0 for the checkpoints, torch hub's $TORCH_HOME/hub/checkpoints for
// EnCodec, the Hugging Face hub cache for the vocab. Unset or empty variables are skipped.
//
// Bark in the Hugging Face transformers layout (io/hf_bark.h: config.json + model.safetensors or
// pytorch_model.bin) is used for the models and the codec when a model directory holds it
// (--model-dir may name a snapshot directory) and none before it holds our checkpoints, or when
// our checkpoints are found nowhere and the hub cache ($HF_HUB_CACHE, $HF_HOME/hub,
// ~/.cache/huggingface/hub) has models--suno--bark (large) / models--suno--bark-small (small):
// the snapshot refs/main names, else the newest.
//
//   auto files = bark::locate_model_files(options.model_dir, options.use_small);
//   auto gpt = load_checkpoint(files.text);  // every needed path is an existing regular file
#pragma once

#include <string>
#include <vector>

namespace bark {

constexpr const char* ENCODEC_FILE_NAME = "encodec_24khz-d7cc33bc.th";  // encodec/model.py
constexpr const char* VOCAB_FILE_NAME = "vocab.txt";
constexpr const char* PROMPTS_DIR_NAME = "prompts";

enum class ModelFile { Text, Coarse, Fine, Codec, Vocab };

// File name inside a model directory: "text_2.pt" / "text.pt" (small), ENCODEC_FILE_NAME, ...
std::string model_file_name(ModelFile file, bool use_small);
// For messages: "Bark text model (large)", "EnCodec 24 kHz weights", ...
std::string model_file_description(ModelFile file, bool use_small);

// A place where a file may be, and why it is looked at ("--model-dir", "$BARK_MODEL_DIR",
// "default cache", "Python Bark cache", ...).
struct FileCandidate {
  std::string path;
  std::string origin;
};

// Model directories in search order (they need not exist). model_dir_option may be empty.
std::vector<FileCandidate> model_search_dirs(const std::string& model_dir_option);

// Where `bark-cli download` puts files: the first of model_dir_option, $BARK_MODEL_DIR and the
// default cache. Throws std::runtime_error if none can be determined (no $HOME).
std::string download_dir(const std::string& model_dir_option);

// Every place `file` is looked for, in order: each model directory, then the Python caches.
// For the vocab, existing Hugging Face snapshots are listed (or the snapshot pattern if none).
std::vector<FileCandidate> model_file_candidates(ModelFile file, const std::string& model_dir_option,
                                                 bool use_small);

// The first candidate that is an existing regular file (symlinks followed), or "".
std::string find_model_file(ModelFile file, const std::string& model_dir_option, bool use_small);

// Which files locate_model_files must find; the others are filled in when found, else left "".
struct ModelFileNeeds {
  bool text = true;
  bool coarse = true;
  bool fine = true;
  bool codec = true;
  bool vocab = true;
};

struct ModelFiles {
  std::string text, coarse, fine, codec, vocab;
  // The first model directory that has a prompts/ subdirectory; if none does, the prompts/
  // path of the first model directory (it does not exist; resolve_voice then says so).
  std::string prompts_dir;
  // The Hugging Face layout, when the models come from it: its config.json (text, coarse, fine
  // and codec then all name its weights file: model.safetensors, pytorch_model.bin or an
  // *.index.json), else "".
  std::string hf_config;
  // Its speaker_embeddings_path.json, when voice presets come from it (it exists and no model
  // directory has a prompts/ subdirectory), else "".
  std::string hf_voices;
};

// The hub repository of Bark's transformers port: "suno/bark" or "suno/bark-small".
std::string hf_bark_repo(bool use_small);
// The weights file of a directory holding Bark in the transformers layout (config.json and
// model.safetensors, pytorch_model.bin or their *.index.json, in that order of preference), or
// "" when it holds no such thing.
std::string hf_bark_weights(const std::string& dir);
// The hub cache's snapshot directories of hf_bark_repo(use_small): refs/main's first, then the
// others newest first. Empty when there is none.
std::vector<std::string> hf_bark_snapshots(bool use_small);

// Finds the files of one model size. Throws bark::ModelFilesMissing (bark/errors.h), on one
// line, naming every missing needed file and every path it was looked for at; front ends add
// how to get them.
ModelFiles locate_model_files(const std::string& model_dir_option, bool use_small,
                              const ModelFileNeeds& need = {});

// Only the vocab (enough for tokenizing). Throws like locate_model_files.
std::string locate_vocab(const std::string& model_dir_option);

// Upstream generation.py ALLOWED_PROMPTS: "announcer", "{lang}_speaker_{0-9}" and
// "v2/{lang}_speaker_{0-9}" for en de es fr hi it ja ko pl pt ru tr zh.
bool is_allowed_prompt(const std::string& name);
std::vector<std::string> allowed_prompts();

// Voice -> .npz path. (With ModelFiles::hf_voices set, presets come from io::load_hf_voice.) A voice ending in ".npz" is a path and must be an existing file; anything
// else must be an allowed preset name present as <prompts_dir>/<name>.npz. Empty -> "".
// Throws std::invalid_argument for an unknown name (with examples of valid ones),
// bark::ModelFilesMissing for a preset whose file is missing (with the path and model directory),
// std::runtime_error for a missing .npz path.
std::string resolve_voice(const std::string& voice, const std::string& prompts_dir);

}  // namespace bark
