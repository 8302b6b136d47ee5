// Reading audio files of any common format (libsndfile): for voice samples to clone.
#pragma once

#include "bark/export.h"

#include <string>

#include "bark/types.h"

namespace bark {

// Reads WAV, FLAC, MP3, OGG (Vorbis, Opus), AIFF and the other formats of the system's
// libsndfile, at the file's own sample rate; channels are averaged to mono, integer samples
// scaled to [-1, 1). Throws std::runtime_error naming the file when it cannot be opened or
// decoded (unknown format, truncated, zero channels, absurd sizes), std::invalid_argument when
// a sample is NaN or infinite. Files longer than an hour are refused (they are never a voice
// sample and would take gigabytes).
BARK_API Audio read_audio(const std::string& path);

}  // namespace bark
