#include "io/checkpoint.h"

#include <ATen/Functions.h>
#include <ATen/TensorOperators.h>

#include <algorithm>
#include <map>
#include <mutex>
#include <memory>
#include <set>
#include <sstream>
#include <stdexcept>

#include "io/torch_archive.h"
#include "io/zip.h"
#include "logging.h"

namespace bark::io {
namespace {

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

}  // namespace

// An opened torch.save archive: the zip, its member prefix and the unpickled data.pkl.
class TensorArchive {
 public:
  explicit TensorArchive(const std::string& path) : index(open_torch_archive(path)), zip(index.zip.get()) {}

  void check(const TensorRef& ref, const std::string& name) const { check_tensor_ref(index, ref, name); }

  // The tensor's data (its storage read once, shared by every view of it).
  at::Tensor tensor(const TensorRef& ref, const std::string& name) const {
    check(ref, name);
    for (int64_t s : ref.sizes) {
      if (s == 0) return at::empty(ref.sizes, at::TensorOptions().dtype(to_scalar_type(ref.storage.dtype)));
    }
    return storage(ref.storage).as_strided(ref.sizes, ref.strides, ref.storage_offset);
  }

  // Lets go of a storage read earlier (once no tensor of the model aliases it any more); a later
  // tensor of the same storage reads it again.
  void forget(const StorageRef& ref) const {
    std::lock_guard<std::mutex> lock(mutex_);
    storages_.erase(ref.key);
  }

  TorchArchive index;
  ZipReader* zip;  // index.zip
  const std::string& prefix() const { return index.prefix; }
  const PyValuePtr& root() const { return index.root; }
  // For each entry of the state dict read_state_dict returned: its key in the file and its ref.
  std::vector<std::pair<std::string, std::shared_ptr<TensorRef>>> refs;

 private:
  at::Tensor storage(const StorageRef& ref) const {
    std::lock_guard<std::mutex> lock(mutex_);
    auto it = storages_.find(ref.key);
    if (it != storages_.end()) {
      if (it->second.scalar_type() != to_scalar_type(ref.dtype) || it->second.numel() != ref.numel) {
        throw std::runtime_error("checkpoint '" + zip->path() + "': storage " + ref.key +
                                 " is referenced with two different types or sizes");
      }
      return it->second;
    }
    const ZipEntry& entry = zip->at(prefix() + "data/" + ref.key);
    const uint64_t nbytes = static_cast<uint64_t>(ref.numel) * element_size(ref.dtype);  // checked by check()
    at::Tensor t = at::empty({ref.numel}, at::TensorOptions().dtype(to_scalar_type(ref.dtype)));
    if (nbytes > 0) zip->read_range(entry, 0, t.data_ptr(), nbytes);
    storages_.emplace(ref.key, t);
    return t;
  }

  mutable std::mutex mutex_;
  mutable std::map<std::string, at::Tensor> storages_;  // read so far, by key
};

namespace {

// The state dict `dict` as meta tensors of the declared shapes (nothing read); the refs go to
// archive.refs in the same order.
models::TensorSource declare_state_dict(TensorArchive& archive, const PyValue& dict, const std::string& path,
                                        const std::string& strip) {
  if (dict.kind != PyValue::Kind::Dict) {
    throw std::runtime_error("checkpoint '" + path + "': expected a state dict, found " + dict.type_name());
  }
  models::TensorSource out;
  out.origin = "checkpoint '" + path + "'";
  out.tensors.reserve(dict.entries.size());
  archive.refs.clear();
  for (const auto& [k, v] : dict.entries) {
    if (k->kind != PyValue::Kind::String) {
      throw std::runtime_error("checkpoint '" + path + "': state dict key is a " + k->type_name());
    }
    if (v->kind != PyValue::Kind::Tensor) {
      throw std::runtime_error("checkpoint '" + path + "': state dict entry '" + k->s + "' is a " + v->type_name() +
                               ", not a tensor");
    }
    archive.check(*v->tensor, k->s);
    std::string name = k->s;
    if (!strip.empty() && name.compare(0, strip.size(), strip) == 0) name = name.substr(strip.size());
    out.tensors.emplace_back(name, models::unloaded(v->tensor->sizes));
    archive.refs.emplace_back(k->s, v->tensor);
  }
  return out;
}

// True when a floating-point tensor holds no NaN or infinity. Checked in slices of 1M values:
// at::isfinite on a whole tensor allocates an fp32 copy and two bool masks of it, which for the
// 531 MB token embedding of text_2.pt more than doubled the peak memory of loading.
bool all_finite(const at::Tensor& t) {
  if (!t.is_floating_point() || t.numel() == 0) return true;
  const at::Tensor flat = t.reshape({-1});  // a view: the tensors of a checkpoint are contiguous
  constexpr int64_t kSlice = int64_t{1} << 20;
  for (int64_t i = 0; i < flat.numel(); i += kSlice) {
    if (!at::isfinite(flat.narrow(0, i, std::min(kSlice, flat.numel() - i))).all().item<bool>()) return false;
  }
  return true;
}

void read_all(const TensorArchive& archive, models::TensorSource& weights) {
  for (size_t i = 0; i < weights.tensors.size(); ++i) {
    weights.tensors[i].second = archive.tensor(*archive.refs.at(i).second, archive.refs[i].first);
  }
}

}  // namespace

void read_weights(const TensorArchive& archive, models::TensorSource& weights, const models::ParamSlots& slots,
                  const models::WeightPlan& plan) {
  const bool convert = plan.linear != models::WeightFormat::Fp32 || plan.embedding != models::WeightFormat::Fp32;
  std::map<std::string, const at::Tensor*> wanted;
  for (const auto& [name, slot] : slots) wanted[name] = slot;
  if (weights.tensors.size() != archive.refs.size()) {
    throw std::logic_error("read_weights: the weights do not come from this archive");
  }
  for (size_t i = 0; i < weights.tensors.size(); ++i) {
    auto& [name, t] = weights.tensors[i];
    const auto it = wanted.find(name);
    if (it == wanted.end() || !t.is_meta() || t.sizes() != it->second->sizes()) continue;
    const at::Tensor data = archive.tensor(*archive.refs[i].second, archive.refs[i].first);
    t = checked_weight(name, data, plan, "checkpoint '" + archive.zip->path() + "': tensor '" + archive.refs[i].first + "'");
    if (!t.is_alias_of(data)) archive.forget(archive.refs[i].second->storage);
  }
  if (convert) weights.converted = true;
}

at::Tensor checked_weight(const std::string& name, at::Tensor data, const models::WeightPlan& plan,
                          const std::string& where) {
  if (!all_finite(data)) throw std::runtime_error(where + " holds NaN or infinite values (corrupt weights)");
  if (models::planned_format(name, plan) == models::WeightFormat::Fp32) return data;
  // a file's fp16 / bf16 weight is widened first, as load_parameters would
  if (data.scalar_type() != at::kFloat && data.is_floating_point()) data = data.to(at::kFloat);
  return models::convert_weight(name, data, plan);
}

BarkCheckpoint open_bark_checkpoint(const std::string& path) {
  auto archive = std::make_shared<TensorArchive>(path);
  const PyValue& root = *archive->root();
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
  ck.weights = declare_state_dict(*archive, *model, path, "_orig_mod.");
  if (const PyValue* loss = root.get("best_val_loss"); loss != nullptr && loss->is_number()) {
    ck.best_val_loss = loss->as_double();
  }
  if (const PyValue* it = root.get("iter_num"); it != nullptr && it->kind == PyValue::Kind::Int) ck.iter_num = it->i;
  ck.archive = std::move(archive);
  return ck;
}

BarkCheckpoint load_bark_checkpoint(const std::string& path) {
  BarkCheckpoint ck = open_bark_checkpoint(path);
  read_all(*ck.archive, ck.weights);
  return ck;
}

StateDictFile open_state_dict_file(const std::string& path) {
  auto archive = std::make_shared<TensorArchive>(path);
  const PyValue& root = *archive->root();
  // Some tools wrap the weights: {"state_dict": ...} or {"model": ...}.
  const PyValue* dict = &root;
  if (const PyValue* inner = root.get("state_dict"); inner != nullptr) dict = inner;
  StateDictFile f;
  f.weights = declare_state_dict(*archive, *dict, path, "");
  f.archive = std::move(archive);
  return f;
}

models::TensorSource load_state_dict_file(const std::string& path) {
  StateDictFile f = open_state_dict_file(path);
  read_all(*f.archive, f.weights);
  return std::move(f.weights);
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
  check_gpt_config(c, "checkpoint '" + path + "': invalid model_args");
  return c;
}

}  // namespace

void check_gpt_config(const models::GPTConfig& c, const std::string& what) {
  const auto bad = [&](const std::string& why) { return std::runtime_error(what + ": " + why); };
  const auto within = [&](const char* key, int64_t v, int64_t hi) {
    if (v <= 0 || v > hi) {
      throw bad(std::string(key) + " = " + std::to_string(v) + " (allowed: 1.." + std::to_string(hi) + ")");
    }
  };
  within("n_layer", c.n_layer, kMaxLayers);
  within("n_embd", c.n_embd, kMaxEmbd);
  within("n_head", c.n_head, c.n_embd);
  within("block_size", c.block_size, kMaxBlockSize);
  within("input_vocab_size", c.input_vocab_size, kMaxVocab);
  within("output_vocab_size", c.output_vocab_size, kMaxVocab);
  if (c.n_embd % c.n_head != 0) {
    throw bad("n_embd = " + std::to_string(c.n_embd) + " is not a multiple of n_head = " + std::to_string(c.n_head));
  }
  // embeddings, 12 n_embd^2 per layer, the head: bounded above so that nothing overflows
  const int64_t params = (c.input_vocab_size + c.output_vocab_size + c.block_size) * c.n_embd +
                         c.n_layer * 12 * c.n_embd * c.n_embd;
  if (params > kMaxParameters) {
    throw bad("a model of " + std::to_string(params) + " parameters (more than " + std::to_string(kMaxParameters) +
              "; Bark's largest has about 4e8)");
  }
}

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
