#include "models/parameters.h"

#include <ATen/Functions.h>

#include <map>
#include <set>
#include <sstream>
#include <stdexcept>

namespace bark::models {

at::Tensor unloaded(at::IntArrayRef sizes) {
  return at::empty(sizes, at::TensorOptions().dtype(at::kFloat).device(at::kMeta));
}

void load_parameters(const ParamSlots& slots, const TensorSource& source,
                     const std::function<bool(const std::string&)>& ignore) {
  std::map<std::string, const at::Tensor*> by_name;
  for (const auto& [name, t] : source.tensors) by_name[name] = &t;
  std::vector<std::string> missing, mismatched;
  std::set<std::string> used;
  for (const auto& [name, slot] : slots) {
    auto it = by_name.find(name);
    if (it == by_name.end()) {
      if (!ignore || !ignore(name)) missing.push_back(name);
      continue;
    }
    used.insert(name);
    const at::Tensor& src = *it->second;
    if (src.sizes() != slot->sizes()) {
      std::ostringstream os;
      os << name << " (file " << src.sizes() << ", model " << slot->sizes() << ")";
      mismatched.push_back(os.str());
      continue;
    }
    if (source.converted && (src.scalar_type() == at::kHalf || src.scalar_type() == at::kQInt8)) {
      *slot = src;  // a fast mode's weight, converted as it was read
      continue;
    }
    if (!src.is_floating_point()) {
      mismatched.push_back(name + " (not a floating-point tensor)");
      continue;
    }
    // Straight into place: the file's float32 storage is the parameter (no zero-filled model
    // tensor, no second copy); anything else is converted once.
    *slot = src.scalar_type() == at::kFloat ? src.contiguous() : src.to(at::kFloat).contiguous();
  }
  std::vector<std::string> unexpected;
  for (const auto& [name, t] : source.tensors) {
    if (used.count(name) == 0 && (!ignore || !ignore(name))) unexpected.push_back(name);
  }
  if (missing.empty() && unexpected.empty() && mismatched.empty()) return;
  std::string msg = source.origin + " does not match the model:";
  const auto list = [&](const char* what, const std::vector<std::string>& names) {
    if (names.empty()) return;
    msg += std::string("\n  ") + what + " (" + std::to_string(names.size()) + "):";
    // a file built for another model may miss thousands: the first ones say enough
    constexpr size_t kShown = 12;
    for (size_t i = 0; i < names.size() && i < kShown; ++i) msg += " " + names[i];
    if (names.size() > kShown) msg += " ... and " + std::to_string(names.size() - kShown) + " more";
  };
  list("missing keys", missing);
  list("unexpected keys", unexpected);
  list("shape mismatches", mismatched);
  throw std::runtime_error(msg);
}

void move_parameters(const ParamSlots& slots, const at::Device& device) {
  for (const auto& [name, t] : slots) {
    if (t->defined() && t->device() != device) *t = t->to(device);
  }
}

int64_t count_parameters(const ParamSlots& slots) {
  std::set<const void*> seen;
  int64_t n = 0;
  for (const auto& [name, t] : slots) {
    if (!t->defined()) continue;
    const void* key = t->is_meta() ? static_cast<const void*>(t) : t->data_ptr();
    if (seen.insert(key).second) n += t->numel();
  }
  return n;
}

}  // namespace bark::models
