#include "io/checkpoint.h"

#include <ATen/Functions.h>
#include <ATen/TensorOperators.h>

#include <map>
#include <memory>
#include <set>
#include <sstream>
#include <stdexcept>

#include "io/zip.h"
#include "logging.h"

namespace bark::io {
namespace {

constexpr uint64_t kMaxPickleBytes = uint64_t{1} << 30;  // data.pkl is KBs..MBs in real files

at::ScalarType to_scalar_type(StorageDType dtype) {
  switch (dtype) {
    case StorageDType::Float32: return at::kFloat;
    case StorageDType::Float64: return at::kDouble;
    case StorageDType::Float16: return at::kHalf;
    case StorageDType::BFloat16: return at::kBFloat16;
    case StorageDType::Int64: return at::kLong;
    case StorageDType::Int32: return at::kInt;
    case StorageDType::Int16: return at::kShort;
    case StorageDType::Int8: return at::kChar;
    case StorageDType::UInt8: return at::kByte;
    case StorageDType::Bool: return at::kBool;
  }
  return at::kFloat;
}

// An opened torch.save archive: the zip, its member prefix and the unpickled data.pkl.
struct Archive {
  std::unique_ptr<ZipReader> zip;
  std::string prefix;  // "<archive>/"
  PyValuePtr root;
  std::map<std::string, at::Tensor> storages;  // read so far, by key

  explicit Archive(const std::string& path) {
    try {
      zip = std::make_unique<ZipReader>(path);
    } catch (const std::exception& e) {
      throw std::runtime_error(std::string(e.what()) +
                               " (expected a PyTorch checkpoint: a torch.save zip archive)");
    }
    const ZipEntry* pkl = nullptr;
    for (const auto& e : zip->entries()) {
      const std::string suffix = "data.pkl";
      if (e.name.size() >= suffix.size() && e.name.compare(e.name.size() - suffix.size(), suffix.size(), suffix) == 0 &&
          e.name.find('/') == e.name.size() - suffix.size() - 1) {
        pkl = &e;
        break;
      }
    }
    if (pkl == nullptr) {
      throw std::runtime_error("checkpoint '" + path +
                               "': no <name>/data.pkl member (not a torch.save archive; legacy "
                               "non-zip torch files are not supported, re-save with torch >= 1.6)");
    }
    prefix = pkl->name.substr(0, pkl->name.size() - std::string("data.pkl").size());
    if (const ZipEntry* bo = zip->find(prefix + "byteorder")) {
      const auto data = zip->read(*bo, 16);
      if (std::string(data.begin(), data.end()) != "little") {
        throw std::runtime_error("checkpoint '" + path + "': big-endian checkpoints are not supported");
      }
    }
    const auto bytes = zip->read(*pkl, kMaxPickleBytes);
    root = unpickle(bytes.data(), bytes.size(), "checkpoint '" + path + "'");
  }

  at::Tensor storage(const StorageRef& ref) {
    auto it = storages.find(ref.key);
    if (it != storages.end()) {
      if (it->second.scalar_type() != to_scalar_type(ref.dtype) || it->second.numel() != ref.numel) {
        throw std::runtime_error("checkpoint '" + zip->path() + "': storage " + ref.key +
                                 " is referenced with two different types or sizes");
      }
      return it->second;
    }
    const ZipEntry& entry = zip->at(prefix + "data/" + ref.key);
    const uint64_t nbytes = static_cast<uint64_t>(ref.numel) * element_size(ref.dtype);
    if (ref.numel < 0 || nbytes / element_size(ref.dtype) != static_cast<uint64_t>(ref.numel) ||
        entry.uncompressed_size != nbytes) {
      throw std::runtime_error("checkpoint '" + zip->path() + "': storage " + ref.key + " should hold " +
                               std::to_string(ref.numel) + " " + dtype_name(ref.dtype) + " values (" +
                               std::to_string(nbytes) + " bytes) but its member has " +
                               std::to_string(entry.uncompressed_size) + " bytes (file truncated or corrupt)");
    }
    at::Tensor t = at::empty({ref.numel}, at::TensorOptions().dtype(to_scalar_type(ref.dtype)));
    if (nbytes > 0) zip->read_range(entry, 0, t.data_ptr(), nbytes);
    storages.emplace(ref.key, t);
    return t;
  }

  at::Tensor tensor(const TensorRef& ref, const std::string& name) {
    const auto fail = [&](const std::string& why) {
      return std::runtime_error("checkpoint '" + zip->path() + "': tensor '" + name + "': " + why);
    };
    if (ref.storage_offset < 0) throw fail("negative storage offset");
    int64_t last = ref.storage_offset;  // highest element index touched
    bool empty = false;
    for (size_t d = 0; d < ref.sizes.size(); ++d) {
      if (ref.sizes[d] < 0 || ref.strides[d] < 0) throw fail("negative size or stride");
      if (ref.sizes[d] == 0) empty = true;
      if (ref.sizes[d] > (int64_t{1} << 40) || ref.strides[d] > (int64_t{1} << 40)) throw fail("absurd size or stride");
      last += (ref.sizes[d] - 1) * ref.strides[d];
    }
    at::Tensor st = storage(ref.storage);
    if (!empty && last >= ref.storage.numel) {
      throw fail("view reaches element " + std::to_string(last) + " of a storage of " +
                 std::to_string(ref.storage.numel));
    }
    if (empty) return at::empty(ref.sizes, st.options());
    return st.as_strided(ref.sizes, ref.strides, ref.storage_offset);
  }
};

models::TensorSource read_state_dict(Archive& archive, const PyValue& dict, const std::string& path,
                                     const std::string& strip) {
  if (dict.kind != PyValue::Kind::Dict) {
    throw std::runtime_error("checkpoint '" + path + "': expected a state dict, found " + dict.type_name());
  }
  models::TensorSource out;
  out.origin = "checkpoint '" + path + "'";
  out.tensors.reserve(dict.entries.size());
  for (const auto& [k, v] : dict.entries) {
    if (k->kind != PyValue::Kind::String) {
      throw std::runtime_error("checkpoint '" + path + "': state dict key is a " + k->type_name());
    }
    if (v->kind != PyValue::Kind::Tensor) {
      throw std::runtime_error("checkpoint '" + path + "': state dict entry '" + k->s + "' is a " + v->type_name() +
                               ", not a tensor");
    }
    std::string name = k->s;
    if (!strip.empty() && name.compare(0, strip.size(), strip) == 0) name = name.substr(strip.size());
    out.tensors.emplace_back(name, archive.tensor(*v->tensor, k->s));
  }
  return out;
}

}  // namespace

BarkCheckpoint load_bark_checkpoint(const std::string& path) {
  Archive archive(path);
  const PyValue& root = *archive.root;
  if (root.kind != PyValue::Kind::Dict) {
    throw std::runtime_error("checkpoint '" + path + "': top-level object is a " + root.type_name() +
                             ", expected a dict with 'model' and 'model_args' (a Bark checkpoint such as text_2.pt)");
  }
  const PyValue* model = root.get("model");
  const PyValue* args = root.get("model_args");
  if (model == nullptr || args == nullptr || args->kind != PyValue::Kind::Dict) {
    throw std::runtime_error("checkpoint '" + path +
                             "': missing 'model' or 'model_args' (expected a Bark checkpoint such as text_2.pt, "
                             "coarse_2.pt or fine_2.pt)");
  }
  BarkCheckpoint ck;
  ck.path = path;
  for (const auto& [k, v] : root.entries) {
    if (k->kind == PyValue::Kind::String && k->s == "model_args") ck.model_args = v;
  }
  ck.weights = read_state_dict(archive, *model, path, "_orig_mod.");
  if (const PyValue* loss = root.get("best_val_loss"); loss != nullptr && loss->is_number()) {
    ck.best_val_loss = loss->as_double();
  }
  if (const PyValue* it = root.get("iter_num"); it != nullptr && it->kind == PyValue::Kind::Int) ck.iter_num = it->i;
  return ck;
}

models::TensorSource load_state_dict_file(const std::string& path) {
  Archive archive(path);
  const PyValue& root = *archive.root;
  // Some tools wrap the weights: {"state_dict": ...} or {"model": ...}.
  const PyValue* dict = &root;
  if (const PyValue* inner = root.get("state_dict"); inner != nullptr) dict = inner;
  return read_state_dict(archive, *dict, path, "");
}

namespace {

models::GPTConfig gpt_config_from_args(const PyValue& args, const std::string& path) {
  models::GPTConfig c;
  // generation.py _load_model: old checkpoints carry one `vocab_size` for input and output.
  if (auto v = arg_int_opt(args, "input_vocab_size")) {
    c.input_vocab_size = *v;
    c.output_vocab_size = arg_int(args, "output_vocab_size", path);
  } else {
    c.input_vocab_size = c.output_vocab_size = arg_int(args, "vocab_size", path);
  }
  c.block_size = arg_int(args, "block_size", path);
  c.n_layer = arg_int(args, "n_layer", path);
  c.n_head = arg_int(args, "n_head", path);
  c.n_embd = arg_int(args, "n_embd", path);
  c.bias = arg_bool_opt(args, "bias").value_or(true);
  const auto bad = [&](const std::string& why) {
    return std::runtime_error("checkpoint '" + path + "': invalid model_args: " + why);
  };
  if (c.n_layer <= 0 || c.n_layer > 1000) throw bad("n_layer = " + std::to_string(c.n_layer));
  if (c.n_head <= 0 || c.n_embd <= 0 || c.n_embd % c.n_head != 0) {
    throw bad("n_embd = " + std::to_string(c.n_embd) + " is not a multiple of n_head = " + std::to_string(c.n_head));
  }
  if (c.n_embd > 65536 || c.block_size <= 0 || c.block_size > (1 << 20)) throw bad("absurd n_embd or block_size");
  if (c.input_vocab_size <= 0 || c.output_vocab_size <= 0 || c.input_vocab_size > (1 << 24) ||
      c.output_vocab_size > (1 << 24)) {
    throw bad("absurd vocabulary size");
  }
  return c;
}

}  // namespace

models::GPTConfig read_gpt_config(const BarkCheckpoint& checkpoint) {
  return gpt_config_from_args(*checkpoint.model_args, checkpoint.path);
}

models::FineGPTConfig read_fine_config(const BarkCheckpoint& checkpoint) {
  const PyValue& args = *checkpoint.model_args;
  const std::string& path = checkpoint.path;
  models::FineGPTConfig c;
  static_cast<models::GPTConfig&>(c) = gpt_config_from_args(args, path);
  c.n_codes_total = arg_int_opt(args, "n_codes_total").value_or(8);
  c.n_codes_given = arg_int_opt(args, "n_codes_given").value_or(1);
  if (c.n_codes_total < 2 || c.n_codes_total > 64 || c.n_codes_given < 1 || c.n_codes_given >= c.n_codes_total) {
    throw std::runtime_error("checkpoint '" + path + "': invalid n_codes_total / n_codes_given");
  }
  if (c.input_vocab_size != c.output_vocab_size) {
    throw std::runtime_error("checkpoint '" + path + "': the fine model ties lm_heads to wtes, so input and "
                             "output vocabularies must be equal");
  }
  return c;
}

std::optional<int64_t> arg_int_opt(const PyValue& args, const std::string& key) {
  const PyValue* v = args.get(key);
  if (v == nullptr || v->kind == PyValue::Kind::None) return std::nullopt;
  return v->as_int();
}

int64_t arg_int(const PyValue& args, const std::string& key, const std::string& path) {
  const PyValue* v = args.get(key);
  if (v == nullptr || !(v->kind == PyValue::Kind::Int || v->kind == PyValue::Kind::Bool)) {
    throw std::runtime_error("checkpoint '" + path + "': model_args has no integer '" + key + "'");
  }
  return v->as_int();
}

std::optional<bool> arg_bool_opt(const PyValue& args, const std::string& key) {
  const PyValue* v = args.get(key);
  if (v == nullptr || v->kind == PyValue::Kind::None) return std::nullopt;
  if (v->kind != PyValue::Kind::Bool && v->kind != PyValue::Kind::Int) {
    throw std::runtime_error("model_args '" + key + "' is a " + v->type_name() + ", expected a bool");
  }
  return v->as_int() != 0;
}

}  // namespace bark::io
