// The differences between libtorch 1.13 (Debian 12's libtorch-dev) and libtorch 2.x (pytorch.org,
// pip wheels) that bark's sources touch, in one place. Code outside this header spells no
// version-specific API and tests no TORCH_VERSION_* macro. docs/BUILDING.md: building against 2.x.
//
// What differs, and what to write instead:
//   - c10::optional is its own class in 1.13 (std::nullopt and std::optional do not convert to it)
//     and an alias of std::optional in recent 2.x (c10::nullopt only kept for compatibility there):
//     for an empty ATen optional argument write {} (e.g. at::multinomial(p, 1, false, {})), for a
//     value compat::to_c10(std::optional<T>).
//   - c10::Storage::data() returns void* in 1.13 and const void* in 2.x, which adds
//     mutable_data(): use compat::mutable_data(storage).
//   - Recent 2.x (2.15's TorchConfig.cmake adds cxx_std_20 to the torch target) compiles every
//     target that links torch as C++20: such code must be valid C++17 and C++20 (e.g. u8"" literals
//     are char8_t in C++20, implicit capture of this by [=] is deprecated).
// The same in both, no shim needed: c10::InferenceMode, at::NoGradGuard, at::linear, at::lstm,
// at::gelu(x, "tanh"), at::_weight_norm, Tensor::data_ptr<T>(), at::set_num_threads.
#pragma once

#include <optional>

#include <c10/core/Storage.h>
#include <c10/util/Optional.h>
#include <torch/version.h>  // TORCH_VERSION_MAJOR, TORCH_VERSION_MINOR (1.13 and 2.x)

// True when building against libtorch >= major.minor.
#define BARK_TORCH_VERSION_AT_LEAST(major, minor) \
  (TORCH_VERSION_MAJOR > (major) || (TORCH_VERSION_MAJOR == (major) && TORCH_VERSION_MINOR >= (minor)))

namespace bark::compat {

// std::optional -> the optional type ATen functions take (c10::optional).
template <class T>
c10::optional<T> to_c10(const std::optional<T>& value) {
  if (value.has_value()) return c10::optional<T>(*value);
  return {};
}

namespace detail {
template <class S>  // 2.x
auto mutable_data(const S& storage, int) -> decltype(storage.mutable_data()) {
  return storage.mutable_data();
}
template <class S>  // 1.13: data() is already void*
void* mutable_data(const S& storage, long) {
  return const_cast<void*>(static_cast<const void*>(storage.data()));
}
}  // namespace detail

// Writable pointer to a storage's bytes.
inline void* mutable_data(const c10::Storage& storage) { return detail::mutable_data(storage, 0); }

}  // namespace bark::compat
