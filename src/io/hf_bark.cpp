#include "io/hf_bark.h"

#include <ATen/Functions.h>

#include <algorithm>
#include <cctype>
#include <cmath>
#include <filesystem>
#include <fstream>
#include <map>
#include <nlohmann/json.hpp>
#include <set>
#include <sstream>
#include <stdexcept>
#include <utility>

#include "bark/errors.h"
#include "bark/history_prompt.h"
#include "io/checkpoint.h"
#include "io/npy.h"
#include "io/safetensors.h"
#include "model_files.h"

namespace fs = std::filesystem;
using nlohmann::json;

namespace bark::io {
namespace {

json read_json(const std::string& path, const std::string& what) {
  std::ifstream in(path, std::ios::binary);
  if (!in) throw std::runtime_error(what + " '" + path + "': cannot open");
  std::ostringstream ss;
  ss << in.rdbuf();
  try {
    return json::parse(ss.str());
  } catch (const json::exception& e) {
    std::string msg = e.what();
    std::replace(msg.begin(), msg.end(), '\n', ' ');
    throw std::runtime_error(what + " '" + path + "' is not valid JSON (" + msg + ")");
  }
}

// One sub-config of config.json, with transformers' defaults for absent fields.
class SubConfig {
 public:
  SubConfig(const json& root, const char* key, const std::string& path) : key_(key), path_(path) {
    const auto it = root.find(key);
    if (it == root.end() || !it->is_object()) {
      throw std::runtime_error("config.json '" + path + "': no object '" + key +
                               "' (expected a transformers BarkConfig, as in suno/bark)");
    }
    j_ = &*it;
  }
  int64_t integer(const char* name, int64_t fallback) const {
    const auto it = j_->find(name);
    if (it == j_->end() || it->is_null()) return fallback;
    if (!it->is_number_integer()) throw bad(name, "is not an integer");
    return it->get<int64_t>();
  }
  bool boolean(const char* name, bool fallback) const {
    const auto it = j_->find(name);
    if (it == j_->end() || it->is_null()) return fallback;
    if (!it->is_boolean()) throw bad(name, "is not true or false");
    return it->get<bool>();
  }
  std::string string(const char* name, const std::string& fallback) const {
    const auto it = j_->find(name);
    if (it == j_->end() || it->is_null()) return fallback;
    if (!it->is_string()) throw bad(name, "is not a string");
    return it->get<std::string>();
  }
  std::vector<int64_t> integers(const char* name, std::vector<int64_t> fallback) const {
    const auto it = j_->find(name);
    if (it == j_->end() || it->is_null()) return fallback;
    std::vector<int64_t> out;
    if (!it->is_array()) throw bad(name, "is not a list of integers");
    for (const auto& v : *it) {
      if (!v.is_number_integer()) throw bad(name, "is not a list of integers");
      out.push_back(v.get<int64_t>());
    }
    return out;
  }
  double number(const char* name, double fallback) const {
    const auto it = j_->find(name);
    if (it == j_->end() || it->is_null()) return fallback;
    if (!it->is_number()) throw bad(name, "is not a number");
    return it->get<double>();
  }
  std::runtime_error bad(const std::string& name, const std::string& why) const {
    return std::runtime_error("config.json '" + path_ + "': " + key_ + "." + name + " " + why);
  }
  const std::string& where() const { return key_; }

 private:
  const json* j_ = nullptr;
  std::string key_, path_;
};

// BarkSubModelConfig -> our GPTConfig (configuration_bark.py defaults).
models::GPTConfig gpt_config(const SubConfig& c, const std::string& path) {
  models::GPTConfig g;
  g.block_size = c.integer("block_size", 1024);
  g.input_vocab_size = c.integer("input_vocab_size", 10'048);
  g.output_vocab_size = c.integer("output_vocab_size", 10'048);
  g.n_layer = c.integer("num_layers", 12);
  g.n_head = c.integer("num_heads", 12);
  g.n_embd = c.integer("hidden_size", 768);
  g.bias = c.boolean("bias", true);
  check_gpt_config(g, "config.json '" + path + "': invalid " + c.where());
  return g;
}

// The codec Bark decodes with: EnCodec 24 kHz (facebook/encodec_24khz, configuration_encodec.py
// defaults); the widths, LSTM depth and codebook count follow from the weights' shapes.
std::vector<int64_t> check_codec_config(const SubConfig& c) {
  const auto expect = [&](const char* name, const auto& got, const auto& want, const std::string& shown) {
    if (got != want) throw c.bad(name, "is " + shown + ": bark-cpp serves EnCodec 24 kHz only (as facebook/encodec_24khz)");
  };
  const std::string type = c.string("model_type", "encodec");
  expect("model_type", type, std::string("encodec"), "'" + type + "'");
  const auto integer = [&](const char* name, int64_t fallback, int64_t want) {
    const int64_t v = c.integer(name, fallback);
    expect(name, v, want, std::to_string(v) + ", expected " + std::to_string(want));
  };
  integer("sampling_rate", 24'000, 24'000);
  integer("audio_channels", 1, 1);
  integer("num_residual_layers", 1, 1);
  integer("kernel_size", 7, 7);
  integer("last_kernel_size", 7, 7);
  integer("residual_kernel_size", 3, 3);
  integer("dilation_growth_rate", 2, 2);
  integer("compress", 2, 2);
  integer("codebook_size", 1024, 1024);
  const std::string norm = c.string("norm_type", "weight_norm");
  expect("norm_type", norm, std::string("weight_norm"), "'" + norm + "', expected 'weight_norm'");
  const std::string pad = c.string("pad_mode", "reflect");
  expect("pad_mode", pad, std::string("reflect"), "'" + pad + "', expected 'reflect'");
  expect("use_causal_conv", c.boolean("use_causal_conv", true), true, "false");
  expect("use_conv_shortcut", c.boolean("use_conv_shortcut", true), true, "false");
  expect("normalize", c.boolean("normalize", false), false, "true");
  const std::vector<int64_t> ratios = c.integers("upsampling_ratios", {8, 5, 4, 2});
  expect("upsampling_ratios", ratios, std::vector<int64_t>{8, 5, 4, 2}, "not [8, 5, 4, 2]");
  // EncodecDecoder.layers: 0 conv, 1 LSTM, then per ratio ELU, conv-transpose, residual block(s)
  std::vector<int64_t> upsample;
  int64_t i = 2;
  for (size_t r = 0; r < ratios.size(); ++r) {
    upsample.push_back(i + 1);
    i += 2 + 1;  // ELU, conv-transpose, one residual block
  }
  return upsample;
}

bool ends_with(const std::string& s, const std::string& suffix) {
  return s.size() >= suffix.size() && s.compare(s.size() - suffix.size(), suffix.size(), suffix) == 0;
}

bool starts_with(const std::string& s, const std::string& prefix) { return s.compare(0, prefix.size(), prefix) == 0; }

// "layers.12.rest" -> (12, "rest"); false when `s` does not start with `head` + an index + ".".
bool split_index(const std::string& s, const std::string& head, int64_t* index, std::string* rest) {
  if (!starts_with(s, head)) return false;
  size_t pos = head.size(), end = pos;
  while (end < s.size() && std::isdigit(static_cast<unsigned char>(s[end]))) ++end;
  if (end == pos || end - pos > 9 || end >= s.size() || s[end] != '.') return false;
  *index = std::stoll(s.substr(pos, end - pos));
  *rest = s.substr(end + 1);
  return true;
}

// modeling_bark.py BarkBlock member -> model.py Block member (convert_suno_to_hf.py, reversed).
std::string block_member(const std::string& rest) {
  static const std::pair<const char*, const char*> kMap[] = {
      {"layernorm_1.", "ln_1."},          {"layernorm_2.", "ln_2."},          {"attn.att_proj.", "attn.c_attn."},
      {"attn.out_proj.", "attn.c_proj."}, {"mlp.in_proj.", "mlp.c_fc."},      {"mlp.out_proj.", "mlp.c_proj."},
  };
  for (const auto& [hf, up] : kMap) {
    if (starts_with(rest, hf)) return up + rest.substr(std::string(hf).size());
  }
  return rest;  // attn.bias (the causal mask) and anything unknown
}

// An EnCodec parameter of a weight-normed conv: weight_g / weight_v, also under torch >= 2.1's
// parametrization names (transformers uses nn.utils.parametrizations.weight_norm there).
std::string conv_member(const std::string& rest) {
  if (rest == "parametrizations.weight.original0") return "weight_g";
  if (rest == "parametrizations.weight.original1") return "weight_v";
  return rest;
}

std::string codec_name(const std::string& name, const HfBarkConfig& config) {
  int64_t n = 0;
  std::string rest;
  if (split_index(name, "quantizer.layers.", &n, &rest) && starts_with(rest, "codebook.")) {
    return "quantizer.vq.layers." + std::to_string(n) + "._codebook." + rest.substr(9);
  }
  for (const std::string side : {"encoder", "decoder"}) {
    if (!split_index(name, side + ".layers.", &n, &rest)) continue;
    const std::string head = side + ".model." + std::to_string(n) + ".";
    if (starts_with(rest, "lstm.")) return head + rest;
    if (starts_with(rest, "conv.")) {
      const bool transposed = side == "decoder" && std::count(config.codec_upsample_layers.begin(),
                                                              config.codec_upsample_layers.end(), n) > 0;
      return head + (transposed ? "convtr.convtr." : "conv.conv.") + conv_member(rest.substr(5));
    }
    int64_t j = 0;
    std::string member;
    if (split_index(rest, "block.", &j, &member) && starts_with(member, "conv.")) {
      return head + "block." + std::to_string(j) + ".conv.conv." + conv_member(member.substr(5));
    }
    if (starts_with(rest, "shortcut.conv.")) return head + "shortcut.conv.conv." + conv_member(rest.substr(14));
  }
  return name;
}

}  // namespace

const char* hf_prefix(BarkPart part) {
  switch (part) {
    case BarkPart::Semantic: return "semantic";
    case BarkPart::Coarse: return "coarse_acoustics";
    case BarkPart::Fine: return "fine_acoustics";
    case BarkPart::Codec: return "codec_model";
  }
  return "";
}

HfBarkConfig read_hf_bark_config(const std::string& path) {
  const json root = read_json(path, "config.json");
  if (!root.is_object()) throw std::runtime_error("config.json '" + path + "': not a JSON object");
  const auto type = root.find("model_type");
  const std::string model_type = type != root.end() && type->is_string() ? type->get<std::string>() : "";
  if (model_type != "bark") {
    throw std::runtime_error("config.json '" + path + "': model_type is '" + model_type +
                             "', expected 'bark' (a transformers BarkModel such as suno/bark or suno/bark-small)");
  }
  HfBarkConfig c;
  c.path = path;
  c.semantic = gpt_config(SubConfig(root, "semantic_config", path), path);
  c.coarse = gpt_config(SubConfig(root, "coarse_acoustics_config", path), path);
  const SubConfig fine(root, "fine_acoustics_config", path);
  static_cast<models::GPTConfig&>(c.fine) = gpt_config(fine, path);
  c.fine.n_codes_total = fine.integer("n_codes_total", 8);
  c.fine.n_codes_given = fine.integer("n_codes_given", 1);
  if (c.fine.n_codes_total < 2 || c.fine.n_codes_total > 64 || c.fine.n_codes_given < 1 ||
      c.fine.n_codes_given >= c.fine.n_codes_total) {
    throw fine.bad("n_codes_total", "/ n_codes_given are " + std::to_string(c.fine.n_codes_total) + " / " +
                                        std::to_string(c.fine.n_codes_given) + " (expected 8 / 1)");
  }
  // model_fine.py ties lm_heads[i] to wtes[i + 1]; an untied fine model is not Bark's.
  if (!fine.boolean("tie_word_embeddings", true)) {
    throw fine.bad("tie_word_embeddings", "is false: Bark's fine model ties lm_heads to input_embeds_layers");
  }
  if (c.fine.input_vocab_size != c.fine.output_vocab_size) {
    throw fine.bad("input_vocab_size", "differs from output_vocab_size (the tied fine model needs them equal)");
  }
  c.codec_upsample_layers = check_codec_config(SubConfig(root, "codec_config", path));
  return c;
}

std::string hf_to_upstream_name(BarkPart part, const std::string& name, const HfBarkConfig& config) {
  if (part == BarkPart::Codec) return codec_name(name, config);
  int64_t n = 0;
  std::string rest;
  if (split_index(name, "layers.", &n, &rest)) return "transformer.h." + std::to_string(n) + "." + block_member(rest);
  if (split_index(name, "input_embeds_layers.", &n, &rest)) return "transformer.wtes." + std::to_string(n) + "." + rest;
  static const std::pair<const char*, const char*> kTop[] = {
      {"input_embeds_layer.", "transformer.wte."},
      {"position_embeds_layer.", "transformer.wpe."},
      {"layernorm_final.", "transformer.ln_f."},
  };
  for (const auto& [hf, up] : kTop) {
    if (starts_with(name, hf)) return up + name.substr(std::string(hf).size());
  }
  return name;  // lm_head.weight, lm_heads.N.weight: the same names
}

// ---------------------------------------------------------------------------------------------

struct HfBarkPart::Impl {
  // One weights file: a mapped safetensors file, or an opened torch zip whose state dict was
  // renamed in place (entries of other sub-models keep their transformers names, which never
  // match an upstream name, so read_weights leaves them alone).
  struct Shard {
    std::string path;
    bool zip = false;
    StateDictFile file;
  };
  // Where weights.tensors[i] comes from: (shard, index in its state dict), or a tied alias of
  // another entry (shard -1, index = that entry).
  struct Origin {
    int shard;
    size_t index;
  };
  std::vector<Shard> shards;
  std::vector<Origin> origins;
  std::vector<std::string> file_names;  // the transformers name of each entry (for errors)
};

HfBarkPart::HfBarkPart() : impl_(std::make_unique<Impl>()) {}
HfBarkPart::~HfBarkPart() = default;
HfBarkPart::HfBarkPart(HfBarkPart&&) noexcept = default;
HfBarkPart& HfBarkPart::operator=(HfBarkPart&&) noexcept = default;

namespace {

// The weights files `weights_path` stands for: itself, or the shards its index names (in the
// order of first appearance), beside it.
std::vector<std::string> weight_files(const std::string& weights_path) {
  if (!ends_with(weights_path, ".index.json")) return {weights_path};
  const json index = read_json(weights_path, "weights index");
  const auto map = index.find("weight_map");
  if (!index.is_object() || map == index.end() || !map->is_object()) {
    throw std::runtime_error("weights index '" + weights_path + "': no object 'weight_map'");
  }
  std::vector<std::string> files;
  const fs::path dir = fs::path(weights_path).parent_path();
  for (const auto& [name, file] : map->items()) {
    if (!file.is_string()) throw std::runtime_error("weights index '" + weights_path + "': '" + name + "' names no file");
    const std::string f = file.get<std::string>();
    if (f.empty() || f.find('/') != std::string::npos || f == "." || f == "..") {
      throw std::runtime_error("weights index '" + weights_path + "': shard name '" + f + "' is not a file name");
    }
    const std::string path = (dir / f).string();
    if (std::find(files.begin(), files.end(), path) == files.end()) files.push_back(path);
  }
  if (files.empty()) throw std::runtime_error("weights index '" + weights_path + "': weight_map is empty");
  return files;
}

}  // namespace

HfBarkPart open_hf_bark_part(const std::string& weights_path, BarkPart part, const HfBarkConfig& config) {
  HfBarkPart out;
  auto& impl = *out.impl_;
  const std::string prefix = std::string(hf_prefix(part)) + ".";
  const auto files = weight_files(weights_path);
  out.weights.origin = files.size() == 1 ? (ends_with(files[0], ".safetensors") ? "safetensors file '" : "checkpoint '") +
                                               files[0] + "' (" + hf_prefix(part) + ")"
                                         : "weights '" + weights_path + "' (" + hf_prefix(part) + ")";
  for (const auto& path : files) {
    HfBarkPart::Impl::Shard shard;
    shard.path = path;
    if (ends_with(path, ".safetensors")) {
      shard.file.weights = load_safetensors(path);
    } else {
      shard.zip = true;
      shard.file = open_state_dict_file(path);
    }
    const int s = static_cast<int>(impl.shards.size());
    auto& tensors = shard.file.weights.tensors;
    for (size_t i = 0; i < tensors.size(); ++i) {
      auto& [name, t] = tensors[i];
      if (!starts_with(name, prefix)) continue;
      const std::string hf_name = name;
      const std::string up = hf_to_upstream_name(part, name.substr(prefix.size()), config);
      // renamed in the shard too: read_weights matches the shard's names against the slots
      name = up;
      out.weights.tensors.emplace_back(up, t);
      impl.origins.push_back({s, i});
      impl.file_names.push_back(hf_name);
    }
    impl.shards.push_back(std::move(shard));
  }
  if (out.weights.tensors.empty()) {
    throw std::runtime_error(out.weights.origin + ": no tensor named '" + prefix +
                             "*' (expected the weights of a transformers BarkModel, as in suno/bark)");
  }
  if (part == BarkPart::Fine) {
    // modeling_bark.py BarkFineModel ties lm_heads[i] to input_embeds_layers[i + 1];
    // save_pretrained(safe_serialization=True) keeps only the latter.
    for (int64_t i = 0; i < config.fine.n_codes_total - config.fine.n_codes_given; ++i) {
      const std::string head = "lm_heads." + std::to_string(i) + ".weight";
      const std::string wte = "transformer.wtes." + std::to_string(i + 1) + ".weight";
      const auto& ts = out.weights.tensors;
      const auto find = [&](const std::string& n) {
        return std::find_if(ts.begin(), ts.end(), [&](const auto& e) { return e.first == n; });
      };
      if (find(head) != ts.end()) continue;
      const auto tied = find(wte);
      if (tied == ts.end()) continue;  // load_parameters reports both missing
      const size_t k = static_cast<size_t>(tied - ts.begin());
      out.weights.tensors.emplace_back(head, ts[k].second);
      impl.origins.push_back({-1, k});
      impl.file_names.push_back(impl.file_names[k]);
    }
  }
  return out;
}

void HfBarkPart::read(const models::ParamSlots& slots, const models::WeightPlan& plan) {
  auto& impl = *impl_;
  const bool convert = plan.linear != models::WeightFormat::Fp32 || plan.embedding != models::WeightFormat::Fp32;
  std::map<std::string, const at::Tensor*> wanted;
  for (const auto& [name, slot] : slots) wanted[name] = slot;
  for (auto& shard : impl.shards) {
    if (shard.zip) read_weights(*shard.file.archive, shard.file.weights, slots, plan);
  }
  for (size_t i = 0; i < weights.tensors.size(); ++i) {
    const auto& o = impl.origins[i];
    auto& [name, t] = weights.tensors[i];
    if (o.shard < 0) continue;
    const auto& shard = impl.shards[static_cast<size_t>(o.shard)];
    t = shard.file.weights.tensors[o.index].second;
    // read_weights checked the zip's tensors; the mapped safetensors ones are checked here
    // (in the fast modes the planned format straight from the mapping: its fp32 pages are not kept)
    const auto it = wanted.find(name);
    if (!shard.zip && it != wanted.end() && t.sizes() == it->second->sizes()) {
      t = checked_weight(name, t, plan, "safetensors file '" + shard.path + "': tensor '" + impl.file_names[i] + "'");
    }
  }
  if (convert) weights.converted = true;
  for (size_t i = 0; i < weights.tensors.size(); ++i) {
    if (impl.origins[i].shard < 0) weights.tensors[i].second = weights.tensors[impl.origins[i].index].second;
  }
}

// ---------------------------------------------------------------------------------------------

namespace {

constexpr const char* kPromptKeys[] = {"semantic_prompt", "coarse_prompt", "fine_prompt"};

// The three .npy paths of `voice` in the json, or empty when the json has no such entry.
std::vector<std::string> voice_files(const json& root, const std::string& json_path, const std::string& voice) {
  const auto it = root.find(voice);
  if (it == root.end() || !it->is_object()) return {};
  std::vector<std::string> out;
  const fs::path dir = fs::path(json_path).parent_path();
  for (const char* key : kPromptKeys) {
    const auto f = it->find(key);
    if (f == it->end() || !f->is_string()) {
      throw std::invalid_argument("speaker embeddings '" + json_path + "': voice '" + voice + "' has no '" + key + "'");
    }
    const fs::path rel = f->get<std::string>();
    for (const auto& part : rel) {
      if (part == "..") {
        throw std::invalid_argument("speaker embeddings '" + json_path + "': path '" + rel.string() +
                                    "' leaves the snapshot directory");
      }
    }
    if (rel.is_absolute()) {
      throw std::invalid_argument("speaker embeddings '" + json_path + "': path '" + rel.string() + "' is absolute");
    }
    out.push_back((dir / rel).string());
  }
  return out;
}

bool regular_file(const std::string& path) {
  std::error_code ec;
  return fs::is_regular_file(path, ec);
}

std::vector<int64_t> prompt_values(const std::string& path, const char* key, int64_t ndim, std::vector<int64_t>* shape) {
  NpyArray a;
  try {
    a = read_npy(path);
  } catch (const std::runtime_error& e) {
    throw std::invalid_argument(std::string("voice ") + key + ": " + e.what());
  }
  const size_t kind_pos = a.descr.find_first_not_of("<>|=");
  const char kind = kind_pos == std::string::npos ? '?' : a.descr[kind_pos];
  if (a.ndim() != ndim || (kind != 'i' && kind != 'u')) {
    throw std::invalid_argument("voice file '" + path + "': '" + key + "' must be a " + std::to_string(ndim) +
                                "-D integer array, got " + a.describe());
  }
  *shape = a.shape;
  try {
    return a.to_int64();
  } catch (const std::exception& e) {
    throw std::invalid_argument("voice file '" + path + "': " + e.what());
  }
}

}  // namespace

std::vector<std::string> hf_voice_names(const std::string& speaker_embeddings_json) {
  json root;
  try {
    root = read_json(speaker_embeddings_json, "speaker embeddings");
  } catch (const std::exception&) {
    return {};
  }
  std::vector<std::string> out;
  if (!root.is_object()) return out;
  for (const auto& [name, entry] : root.items()) {
    if (!entry.is_object() || !is_allowed_prompt(name)) continue;
    try {
      const auto files = voice_files(root, speaker_embeddings_json, name);
      if (std::all_of(files.begin(), files.end(), regular_file)) out.push_back(name);
    } catch (const std::invalid_argument&) {
    }
  }
  std::sort(out.begin(), out.end());
  return out;
}

HistoryPrompt load_hf_voice(const std::string& speaker_embeddings_json, const std::string& voice) {
  const json root = read_json(speaker_embeddings_json, "speaker embeddings");
  if (!root.is_object()) {
    throw std::runtime_error("speaker embeddings '" + speaker_embeddings_json + "': not a JSON object");
  }
  const std::string model_dir = fs::path(speaker_embeddings_json).parent_path().string();
  const auto files = voice_files(root, speaker_embeddings_json, voice);
  if (files.empty()) {
    throw ModelFilesMissing("voice preset '" + voice + "' not found: not in " + speaker_embeddings_json +
                                " (model directory " + model_dir + ")",
                            model_dir, {"prompts/" + voice + ".npz"}, {"prompts"}, /*use_small=*/false,
                            /*small_models_present=*/false);
  }
  std::vector<std::string> missing;
  for (const auto& f : files) {
    if (!regular_file(f)) missing.push_back(f);
  }
  if (!missing.empty()) {
    std::string list;
    for (const auto& m : missing) list += (list.empty() ? "" : ", ") + m;
    throw ModelFilesMissing("voice preset '" + voice + "' not found: no file " + list + " (model directory " +
                                model_dir + ", listed in speaker_embeddings_path.json)",
                            model_dir, {"prompts/" + voice + ".npz"}, {"prompts"}, /*use_small=*/false,
                            /*small_models_present=*/false);
  }
  HistoryPrompt prompt;
  std::vector<int64_t> shape;
  prompt.semantic_prompt = prompt_values(files[0], kPromptKeys[0], 1, &shape);
  for (int k = 1; k < 3; ++k) {
    CodebookTokens& t = k == 1 ? prompt.coarse_prompt : prompt.fine_prompt;
    t.data = prompt_values(files[static_cast<size_t>(k)], kPromptKeys[k], 2, &shape);
    t.n_codebooks = shape[0];
    t.n_frames = shape[1];
  }
  try {
    validate_history_prompt(prompt);
  } catch (const std::invalid_argument& e) {
    throw std::invalid_argument("voice '" + voice + "' (" + speaker_embeddings_json + "): " + e.what());
  }
  return prompt;
}

}  // namespace bark::io
