// Test helper: numpy arrays (.npz members) as ATen tensors.
#pragma once

#include <ATen/Functions.h>
#include <ATen/TensorOperators.h>

#include <map>
#include <string>
#include <vector>

#include "io/npy.h"

namespace bark_test {

inline at::Tensor to_tensor(const bark::io::NpyArray& a) {
  if (a.descr.find('f') != std::string::npos) {
    auto v = a.to_float32();
    return at::from_blob(v.data(), {static_cast<int64_t>(v.size())}, at::kFloat).clone().view(a.shape);
  }
  auto v = a.to_int64();
  return at::from_blob(v.data(), {static_cast<int64_t>(v.size())}, at::kLong).clone().view(a.shape);
}

struct Npz {
  std::map<std::string, bark::io::NpyArray> arrays;
  std::string path;
  explicit Npz(const std::string& p) : arrays(bark::io::read_npz(p)), path(p) {}
  at::Tensor operator[](const std::string& key) const {
    auto it = arrays.find(key);
    if (it == arrays.end()) throw std::runtime_error(path + ": no array '" + key + "'");
    return to_tensor(it->second);
  }
  bool has(const std::string& key) const { return arrays.count(key) != 0; }
};

inline double max_abs_diff(const at::Tensor& a, const at::Tensor& b) {
  return (a.to(at::kDouble) - b.to(at::kDouble)).abs().max().item<double>();
}

}  // namespace bark_test
