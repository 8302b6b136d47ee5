// Private: the state behind bark::Generator.
#pragma once

#include <ATen/core/Generator.h>
#include <ATen/core/Tensor.h>

#include <cstdint>
#include <mutex>

#include "bark/generator.h"

namespace bark {

class GeneratorImpl {
 public:
  explicit GeneratorImpl(uint64_t seed);

  // The CPU generator that every multinomial of a CPU call draws from (it locks itself).
  at::Generator cpu() const { return cpu_; }
  uint64_t seed() const;
  void manual_seed(uint64_t seed);

  // Non-CPU devices sample with the device's default generator (torch has no device-independent
  // way to make another). A call on such a device holds device_mutex() for its whole length,
  // restores this generator's device state into the default generator first (or seeds it, as
  // torch.manual_seed does) and saves it back after: calls sharing a Generator then see one
  // stream, as upstream's global generator gives.
  static std::mutex& device_mutex();
  void restore_device_state(at::Generator& device_default);
  void save_device_state(const at::Generator& device_default);

 private:
  mutable std::mutex mutex_;
  uint64_t seed_;
  at::Generator cpu_;
  at::Tensor device_state_;  // undefined until a device call used it
};

}  // namespace bark
