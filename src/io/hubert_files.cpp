#include "io/hubert_files.h"

#include <ATen/core/Tensor.h>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <sstream>
#include <stdexcept>

#include "io/checkpoint.h"
#include "io/safetensors.h"
#include "io/zip.h"

namespace bark::io {
namespace fs = std::filesystem;
namespace {

std::string one_line(std::string s) {
  std::replace(s.begin(), s.end(), '\n', ' ');
  return s;
}

const at::Tensor* find(const models::TensorSource& s, const std::string& name) {
  for (const auto& [k, t] : s.tensors) {
    if (k == name) return &t;
  }
  return nullptr;
}

bool ends_with(const std::string& s, const std::string& suffix) {
  return s.size() >= suffix.size() && s.compare(s.size() - suffix.size(), suffix.size(), suffix) == 0;
}

}  // namespace

models::HubertConfig parse_hubert_config(const std::string& text, const std::string& origin) {
  const auto fail = [&](const std::string& why) { return std::runtime_error(origin + ": " + why); };
  nlohmann::json j;
  try {
    j = nlohmann::json::parse(text);
  } catch (const nlohmann::json::exception& e) {
    throw fail("not valid JSON (" + one_line(e.what()) + ")");
  }
  if (!j.is_object()) throw fail("not a JSON object");
  models::HubertConfig c;
  const auto get_int = [&](const char* key, int64_t& out, int64_t lo, int64_t hi) {
    const auto it = j.find(key);
    if (it == j.end()) return;  // transformers' default
    if (!it->is_number_integer() || it->get<int64_t>() < lo || it->get<int64_t>() > hi) {
      throw fail(std::string("'") + key + "' must be an integer in [" + std::to_string(lo) + ", " + std::to_string(hi) + "]");
    }
    out = it->get<int64_t>();
  };
  const auto get_list = [&](const char* key, std::vector<int64_t>& out) {
    const auto it = j.find(key);
    if (it == j.end()) return;
    if (!it->is_array() || it->empty() || it->size() > 32) throw fail(std::string("'") + key + "' must be a list of 1 to 32 integers");
    out.clear();
    for (const auto& v : *it) {
      if (!v.is_number_integer() || v.get<int64_t>() < 1 || v.get<int64_t>() > 65536) {
        throw fail(std::string("'") + key + "' entries must be integers in [1, 65536]");
      }
      out.push_back(v.get<int64_t>());
    }
  };
  const auto get_bool = [&](const char* key, bool& out) {
    const auto it = j.find(key);
    if (it == j.end()) return;
    if (!it->is_boolean()) throw fail(std::string("'") + key + "' must be true or false");
    out = it->get<bool>();
  };
  const auto require_string = [&](const char* key, const char* expected, const char* why) {
    const auto it = j.find(key);
    if (it == j.end()) return;
    if (!it->is_string() || it->get<std::string>() != expected) {
      throw fail(std::string("'") + key + "' is " + it->dump() + "; only \"" + expected + "\" is supported (" + why + ")");
    }
  };
  if (const auto it = j.find("model_type"); it != j.end() && (!it->is_string() || it->get<std::string>() != "hubert")) {
    throw fail("model_type is " + it->dump() + ", expected \"hubert\" (facebook/hubert-base-ls960)");
  }
  get_int("hidden_size", c.hidden_size, 1, 16384);
  get_int("num_hidden_layers", c.num_hidden_layers, 1, 256);
  get_int("num_attention_heads", c.num_attention_heads, 1, 1024);
  get_int("intermediate_size", c.intermediate_size, 1, 262144);
  get_list("conv_dim", c.conv_dim);
  get_list("conv_kernel", c.conv_kernel);
  get_list("conv_stride", c.conv_stride);
  get_bool("conv_bias", c.conv_bias);
  get_int("num_conv_pos_embeddings", c.num_conv_pos_embeddings, 1, 4096);
  get_int("num_conv_pos_embedding_groups", c.num_conv_pos_embedding_groups, 1, 16384);
  get_bool("feat_proj_layer_norm", c.feat_proj_layer_norm);
  if (const auto it = j.find("layer_norm_eps"); it != j.end()) {
    if (!it->is_number() || !(it->get<double>() > 0) || it->get<double>() > 1) throw fail("'layer_norm_eps' must be in (0, 1]");
    c.layer_norm_eps = it->get<double>();
  }
  require_string("feat_extract_norm", "group", "hubert-base; hubert-large's \"layer\" norm is not implemented");
  require_string("hidden_act", "gelu", "the activation of hubert-base");
  require_string("feat_extract_activation", "gelu", "the activation of hubert-base");
  bool stable = false;
  get_bool("do_stable_layer_norm", stable);
  if (stable) throw fail("do_stable_layer_norm (pre-norm, hubert-large) is not implemented; use hubert-base-ls960");
  if (c.conv_dim.size() != c.conv_kernel.size() || c.conv_dim.size() != c.conv_stride.size()) {
    throw fail("conv_dim, conv_kernel and conv_stride must have the same length");
  }
  if (c.hidden_size % c.num_attention_heads != 0) throw fail("hidden_size is not a multiple of num_attention_heads");
  if (c.hidden_size % c.num_conv_pos_embedding_groups != 0) {
    throw fail("hidden_size is not a multiple of num_conv_pos_embedding_groups");
  }
  return c;
}

HubertFiles load_hubert_files(const std::string& dir) {
  const fs::path d(dir);
  std::error_code ec;
  if (!fs::is_directory(d, ec)) {
    throw std::runtime_error("HuBERT directory '" + dir + "' does not exist (expected config.json and "
                             "model.safetensors or pytorch_model.bin from facebook/hubert-base-ls960)");
  }
  const fs::path config_path = d / "config.json";
  std::ifstream f(config_path, std::ios::binary);
  if (!f) throw std::runtime_error("HuBERT directory '" + dir + "': no config.json");
  std::stringstream ss;
  ss << f.rdbuf();
  HubertFiles out;
  out.config = parse_hubert_config(ss.str(), "HuBERT config '" + config_path.string() + "'");
  const fs::path st = d / "model.safetensors", bin = d / "pytorch_model.bin";
  models::TensorSource raw;
  if (fs::is_regular_file(st, ec)) {
    raw = load_safetensors(st.string());
  } else if (fs::is_regular_file(bin, ec)) {
    raw = load_state_dict_file(bin.string());
  } else {
    throw std::runtime_error("HuBERT directory '" + dir + "': neither model.safetensors nor pytorch_model.bin");
  }
  out.weights.origin = raw.origin;
  for (auto& [name, t] : raw.tensors) {
    std::string n = name;
    if (n.compare(0, 7, "hubert.") == 0) n = n.substr(7);
    else if (n.compare(0, 8, "encoder.") != 0 && n.compare(0, 18, "feature_extractor.") != 0 &&
             n.compare(0, 19, "feature_projection.") != 0 && n != "masked_spec_embed") {
      continue;  // a head of HubertForCTC & co. (lm_head.*): not part of the base model
    }
    for (const auto& [from, to] : {std::pair<std::string, std::string>{"parametrizations.weight.original0", "weight_g"},
                                   {"parametrizations.weight.original1", "weight_v"}}) {
      if (ends_with(n, from)) n = n.substr(0, n.size() - from.size()) + to;
    }
    out.weights.tensors.emplace_back(n, std::move(t));
  }
  return out;
}

QuantizerFile load_quantizer_file(const std::string& path) {
  const std::string origin = "quantizer '" + path + "'";
  const auto fail = [&](const std::string& why) { return std::runtime_error(origin + ": " + why); };
  QuantizerFile out;
  out.weights = load_state_dict_file(path);
  out.weights.origin = origin;
  models::QuantizerConfig& c = out.config;
  const at::Tensor* ih0 = find(out.weights, "lstm.weight_ih_l0");
  const at::Tensor* hh0 = find(out.weights, "lstm.weight_hh_l0");
  const at::Tensor* fc = find(out.weights, "fc.weight");
  const at::Tensor* inter = find(out.weights, "intermediate.weight");
  if (ih0 == nullptr || hh0 == nullptr || fc == nullptr || ih0->dim() != 2 || hh0->dim() != 2 || fc->dim() != 2) {
    throw fail("no lstm.weight_ih_l0 / lstm.weight_hh_l0 / fc.weight matrices (expected a "
               "bark-voice-cloning-HuBERT-quantizer checkpoint, e.g. quantifier_hubert_base_ls960_14.pth)");
  }
  c.hidden_size = hh0->size(1);
  c.input_size = ih0->size(1);
  c.output_size = fc->size(0);
  c.version = inter != nullptr ? 1 : 0;
  if (inter != nullptr) {
    if (inter->dim() != 2) throw fail("intermediate.weight is not a matrix");
    c.intermediate_size = inter->size(0);
  }
  c.num_layers = 0;
  while (find(out.weights, "lstm.weight_ih_l" + std::to_string(c.num_layers)) != nullptr && c.num_layers < 16) ++c.num_layers;
  if (c.hidden_size <= 0 || c.input_size <= 0 || c.output_size <= 0) throw fail("empty weight matrices");
  // version 1 files say what they are in <name>/.info
  ZipReader zip(path);
  for (const auto& e : zip.entries()) {
    if (!ends_with(e.name, "/.info")) continue;
    const auto bytes = zip.read(e, 1 << 16);
    nlohmann::json info;
    try {
      info = nlohmann::json::parse(bytes.begin(), bytes.end());
    } catch (const nlohmann::json::exception& ex) {
      throw fail(e.name + " is not valid JSON (" + one_line(ex.what()) + ")");
    }
    const auto check = [&](const char* key, int64_t have) {
      const auto it = info.find(key);
      if (it == info.end()) return;
      if (!it->is_number_integer() || it->get<int64_t>() != have) {
        throw fail(e.name + " says " + key + " = " + it->dump() + " but the weights have " + std::to_string(have));
      }
    };
    if (!info.is_object()) throw fail(e.name + " is not a JSON object");
    check("input_size", c.input_size);
    check("hidden_size", c.hidden_size);
    check("output_size", c.output_size);
    check("version", c.version);
    break;
  }
  return out;
}

}  // namespace bark::io
