#include <ATen/CPUGeneratorImpl.h>

#include "engine/generator_impl.h"

namespace bark {

GeneratorImpl::GeneratorImpl(uint64_t seed)
    // CPUGeneratorImpl(seed) starts exactly where torch.manual_seed(seed) puts the default
    // generator: mt19937 seeded with `seed`, no cached normal samples.
    : seed_(seed), cpu_(at::make_generator<at::CPUGeneratorImpl>(seed)) {}

uint64_t GeneratorImpl::seed() const {
  std::lock_guard<std::mutex> lock(mutex_);
  return seed_;
}

void GeneratorImpl::manual_seed(uint64_t seed) {
  std::lock_guard<std::mutex> lock(mutex_);
  seed_ = seed;
  {
    std::lock_guard<std::mutex> gen_lock(cpu_.mutex());
    cpu_.set_current_seed(seed);
  }
  device_state_ = at::Tensor();
}

std::mutex& GeneratorImpl::device_mutex() {
  static std::mutex m;
  return m;
}

void GeneratorImpl::restore_device_state(at::Generator& device_default) {
  std::lock_guard<std::mutex> lock(mutex_);
  std::lock_guard<std::mutex> gen_lock(device_default.mutex());
  if (device_state_.defined()) device_default.set_state(device_state_);
  else device_default.set_current_seed(seed_);
}

void GeneratorImpl::save_device_state(const at::Generator& device_default) {
  std::lock_guard<std::mutex> lock(mutex_);
  at::Generator g = device_default;
  std::lock_guard<std::mutex> gen_lock(g.mutex());
  device_state_ = g.get_state();
}

Generator::Generator(uint64_t seed) : impl_(std::make_shared<GeneratorImpl>(seed)) {}

uint64_t Generator::seed() const { return impl_->seed(); }
void Generator::manual_seed(uint64_t seed) { impl_->manual_seed(seed); }

}  // namespace bark
