// bark::read_audio through libsndfile (Debian libsndfile1-dev): one decoder for every container.
#include "bark/audio_file.h"

#include <sndfile.h>

#include <cmath>
#include <memory>
#include <stdexcept>
#include <string>
#include <vector>

namespace bark {
namespace {

constexpr int kMaxChannels = 256;
constexpr int kMaxSampleRate = 768'000;
constexpr double kMaxSeconds = 3600.0;

struct SndfileCloser {
  void operator()(SNDFILE* f) const { sf_close(f); }
};

}  // namespace

Audio read_audio(const std::string& path) {
  const std::string where = "audio file '" + path + "'";
  SF_INFO info{};
  std::unique_ptr<SNDFILE, SndfileCloser> file(sf_open(path.c_str(), SFM_READ, &info));
  if (!file) {
    throw std::runtime_error(where + ": cannot read it (" + sf_strerror(nullptr) +
                             "; WAV, FLAC, MP3, OGG/Vorbis/Opus and AIFF are supported)");
  }
  if (info.channels <= 0 || info.channels > kMaxChannels) {
    throw std::runtime_error(where + ": " + std::to_string(info.channels) + " channels");
  }
  if (info.samplerate <= 0 || info.samplerate > kMaxSampleRate) {
    throw std::runtime_error(where + ": sample rate " + std::to_string(info.samplerate) + " Hz");
  }
  // info.frames is what the header claims: a hint for reserve() only, never trusted for sizes.
  const auto max_frames = static_cast<sf_count_t>(kMaxSeconds * info.samplerate);
  Audio audio;
  audio.sample_rate = info.samplerate;
  if (info.frames > 0 && info.frames <= max_frames) audio.samples.reserve(static_cast<size_t>(info.frames));
  const sf_count_t chunk = 16384;
  std::vector<float> buf(static_cast<size_t>(chunk * info.channels));
  for (;;) {
    const sf_count_t n = sf_readf_float(file.get(), buf.data(), chunk);
    if (n <= 0) break;
    for (sf_count_t i = 0; i < n; ++i) {
      // encodec.utils.convert_audio: wav.mean(0) over the channels
      float sum = 0.0f;
      for (int c = 0; c < info.channels; ++c) sum += buf[static_cast<size_t>(i * info.channels + c)];
      audio.samples.push_back(info.channels == 1 ? sum : sum / static_cast<float>(info.channels));
    }
    if (static_cast<sf_count_t>(audio.samples.size()) > max_frames) {
      throw std::runtime_error(where + ": longer than an hour; cut the part to use (about 10 s) first");
    }
  }
  if (sf_error(file.get()) != SF_ERR_NO_ERROR) {
    throw std::runtime_error(where + ": decoding failed after " + std::to_string(audio.samples.size()) + " frames (" +
                             sf_strerror(file.get()) + ")");
  }
  if (audio.samples.empty()) throw std::runtime_error(where + ": no audio samples (empty or truncated file)");
  for (size_t i = 0; i < audio.samples.size(); ++i) {
    if (!std::isfinite(audio.samples[i])) {
      throw std::invalid_argument(where + ": sample " + std::to_string(i) + " is NaN or infinite");
    }
  }
  return audio;
}

}  // namespace bark
