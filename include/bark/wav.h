// RIFF/WAVE reading and writing for mono audio.
#pragma once

#include "bark/export.h"

#include <string>

#include "bark/types.h"

namespace bark {

enum class WavFormat {
  Pcm16,    // 16-bit signed PCM, samples clipped to [-1, 1] and rounded
  Float32,  // 32-bit IEEE float (WAVE_FORMAT_IEEE_FLOAT with a fact chunk)
};

// Writes mono audio. The file is written under a temporary name and renamed when complete,
// so a failure never leaves a truncated file at `path`. Throws std::runtime_error.
BARK_API void write_wav(const std::string& path, const Audio& audio, WavFormat format = WavFormat::Pcm16);

// Reads a WAV: PCM 8/16/24/32-bit, float 32/64-bit, WAVE_FORMAT_EXTENSIBLE; channels are
// averaged to mono. Throws std::runtime_error naming the file on corrupt input.
BARK_API Audio read_wav(const std::string& path);

}  // namespace bark
