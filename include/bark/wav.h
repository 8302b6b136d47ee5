// RIFF/WAVE reading and writing for mono audio.
#pragma once

#include "bark/export.h"

#include <cstdint>
#include <string>
#include <vector>

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
// Streaming WAV, for pipes and sockets where the length is not known in advance: the header
// (RIFF and data sizes 0xFFFFFFFF, which sox, ffmpeg and aplay read up to the end of the stream),
// then the samples of each chunk as they come. A stream is the header followed by the chunks.
BARK_API std::string wav_stream_header(int sample_rate, WavFormat format = WavFormat::Pcm16);
// The header of a complete WAV of `n_samples` samples (what write_wav writes before the data):
// written over a finished stream's header when the stream went to a seekable file.
BARK_API std::string wav_header(int sample_rate, WavFormat format, uint64_t n_samples);
BARK_API std::string wav_encode_samples(const std::vector<float>& samples, WavFormat format = WavFormat::Pcm16);

BARK_API Audio read_wav(const std::string& path);

}  // namespace bark
