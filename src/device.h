// Private: device choice (generation.py _grab_best_device) as pure logic, so that it is
// testable on machines without a GPU.
#pragma once

#include <stdexcept>
#include <string>

#include "bark/options.h"

namespace bark {

struct DeviceAvailability {
  bool cuda = false;
  bool mps = false;
};

struct DeviceChoice {
  Device models = Device::Cpu;  // the GPT models
  Device codec = Device::Cpu;   // EnCodec (stays on the CPU under MPS, as upstream)
};

// Auto: CUDA if present, else MPS when enable_mps and present, else CPU. An explicit device
// that is not available throws std::runtime_error saying so.
inline DeviceChoice choose_device(Device requested, bool enable_mps, const DeviceAvailability& available) {
  Device d = requested;
  if (d == Device::Auto) {
    d = available.cuda ? Device::Cuda : (enable_mps && available.mps ? Device::Mps : Device::Cpu);
  } else if (d == Device::Cuda && !available.cuda) {
    throw std::runtime_error("device 'cuda' requested but CUDA is not available (this libtorch build has no "
                             "CUDA support or no GPU was found); use --device cpu or auto");
  } else if (d == Device::Mps && !available.mps) {
    throw std::runtime_error("device 'mps' requested but Apple MPS is not available; use --device cpu or auto");
  }
  return {d, d == Device::Mps ? Device::Cpu : d};
}

}  // namespace bark
