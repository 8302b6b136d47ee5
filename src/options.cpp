#include <algorithm>
#include <cctype>
#include <stdexcept>
#include <string>
#include <thread>

#include "bark/options.h"
#include "bark/speech.h"

namespace bark {

int max_num_threads() {
  const unsigned cpus = std::thread::hardware_concurrency();
  return 4 * static_cast<int>(cpus == 0 ? 1 : cpus);
}

Device parse_device(const std::string& name) {
  std::string n = name;
  std::transform(n.begin(), n.end(), n.begin(), [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  if (n == "auto") return Device::Auto;
  if (n == "cpu") return Device::Cpu;
  if (n == "cuda" || n == "gpu") return Device::Cuda;
  if (n == "mps") return Device::Mps;
  throw std::invalid_argument("unknown device '" + name + "' (expected auto, cpu, cuda or mps)");
}

const char* device_name(Device device) {
  switch (device) {
    case Device::Auto: return "auto";
    case Device::Cpu: return "cpu";
    case Device::Cuda: return "cuda";
    case Device::Mps: return "mps";
  }
  return "?";
}

Precision parse_precision(const std::string& name) {
  std::string n = name;
  std::transform(n.begin(), n.end(), n.begin(), [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  if (n == "fp32" || n == "float32" || n == "exact") return Precision::Fp32;
  if (n == "fp16" || n == "float16" || n == "half") return Precision::Fp16;
  if (n == "int8") return Precision::Int8;
  throw std::invalid_argument("unknown precision '" + name + "' (expected fp32, fp16 or int8)");
}

const char* precision_name(Precision precision) {
  switch (precision) {
    case Precision::Fp32: return "fp32";
    case Precision::Fp16: return "fp16";
    case Precision::Int8: return "int8";
  }
  return "?";
}

VoiceMode parse_voice_mode(const std::string& name) {
  std::string n = name;
  std::transform(n.begin(), n.end(), n.begin(), [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  if (n == "auto") return VoiceMode::Auto;
  if (n == "preset") return VoiceMode::Preset;
  if (n == "chain") return VoiceMode::Chain;
  throw std::invalid_argument("unknown voice mode '" + name + "' (expected auto, preset or chain)");
}

const char* voice_mode_name(VoiceMode mode) {
  switch (mode) {
    case VoiceMode::Auto: return "auto";
    case VoiceMode::Preset: return "preset";
    case VoiceMode::Chain: return "chain";
  }
  return "?";
}

}  // namespace bark
