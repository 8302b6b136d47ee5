#include "server/audio_encode.h"

#include <sndfile.h>

#include <algorithm>
#include <cstring>
#include <stdexcept>

#include "bark/wav.h"

namespace bark::server {
namespace {

// libsndfile writes through these callbacks into a growing string (no temporary file).
struct Buffer {
  std::string data;
  sf_count_t pos = 0;
};

sf_count_t vio_length(void* user) { return static_cast<sf_count_t>(static_cast<Buffer*>(user)->data.size()); }
sf_count_t vio_seek(sf_count_t offset, int whence, void* user) {
  auto* b = static_cast<Buffer*>(user);
  sf_count_t base = whence == SEEK_SET ? 0 : whence == SEEK_CUR ? b->pos : static_cast<sf_count_t>(b->data.size());
  b->pos = std::max<sf_count_t>(0, base + offset);
  return b->pos;
}
sf_count_t vio_read(void* ptr, sf_count_t count, void* user) {
  auto* b = static_cast<Buffer*>(user);
  const sf_count_t n = std::max<sf_count_t>(0, std::min<sf_count_t>(count, static_cast<sf_count_t>(b->data.size()) - b->pos));
  if (n > 0) std::memcpy(ptr, b->data.data() + b->pos, static_cast<size_t>(n));
  b->pos += n;
  return n;
}
sf_count_t vio_write(const void* ptr, sf_count_t count, void* user) {
  auto* b = static_cast<Buffer*>(user);
  const size_t end = static_cast<size_t>(b->pos + count);
  if (b->data.size() < end) b->data.resize(end);
  std::memcpy(&b->data[static_cast<size_t>(b->pos)], ptr, static_cast<size_t>(count));
  b->pos += count;
  return count;
}
sf_count_t vio_tell(void* user) { return static_cast<Buffer*>(user)->pos; }

}  // namespace

std::optional<AudioFormat> parse_audio_format(const std::string& name) {
  if (name == "wav") return AudioFormat::Wav;
  if (name == "pcm") return AudioFormat::Pcm;
  if (name == "flac") return AudioFormat::Flac;
  if (name == "mp3") return AudioFormat::Mp3;
  if (name == "opus") return AudioFormat::Opus;
  return std::nullopt;
}

const char* content_type(AudioFormat format) {
  switch (format) {
    case AudioFormat::Wav: return "audio/wav";
    case AudioFormat::Pcm: return "audio/pcm";
    case AudioFormat::Flac: return "audio/flac";
    case AudioFormat::Mp3: return "audio/mpeg";
    case AudioFormat::Opus: return "audio/ogg";
  }
  return "application/octet-stream";
}

bool streams(AudioFormat format) { return format == AudioFormat::Wav || format == AudioFormat::Pcm; }

std::string stream_header(AudioFormat format) {
  return format == AudioFormat::Wav ? bark::wav_stream_header(24000, bark::WavFormat::Pcm16) : std::string();
}

std::string stream_samples(AudioFormat, const std::vector<float>& samples) {
  return bark::wav_encode_samples(samples, bark::WavFormat::Pcm16);  // pcm = the WAV data chunk's bytes
}

std::string encode(AudioFormat format, const std::vector<float>& samples, int sample_rate) {
  // a complete body (return_npz's JSON): a WAV with its real sizes, not the streaming header
  if (format == AudioFormat::Wav) {
    return bark::wav_header(sample_rate, bark::WavFormat::Pcm16, samples.size()) + stream_samples(format, samples);
  }
  if (format == AudioFormat::Pcm) return stream_samples(format, samples);
  SF_INFO info{};
  info.samplerate = sample_rate;
  info.channels = 1;
  switch (format) {
    case AudioFormat::Flac: info.format = SF_FORMAT_FLAC | SF_FORMAT_PCM_16; break;
    case AudioFormat::Mp3: info.format = SF_FORMAT_MPEG | SF_FORMAT_MPEG_LAYER_III; break;
    case AudioFormat::Opus: info.format = SF_FORMAT_OGG | SF_FORMAT_OPUS; break;
    default: break;
  }
  Buffer buffer;
  SF_VIRTUAL_IO vio{vio_length, vio_seek, vio_read, vio_write, vio_tell};
  SNDFILE* f = sf_open_virtual(&vio, SFM_WRITE, &info, &buffer);
  if (f == nullptr) throw std::runtime_error(std::string("audio encoder: ") + sf_strerror(nullptr));
  // libsndfile clips floats beyond +-1 for integer and lossy formats when asked to
  sf_command(f, SFC_SET_CLIPPING, nullptr, SF_TRUE);
  const sf_count_t written = sf_write_float(f, samples.data(), static_cast<sf_count_t>(samples.size()));
  const std::string err = written == static_cast<sf_count_t>(samples.size()) ? "" : sf_strerror(f);
  if (sf_close(f) != 0 && err.empty()) throw std::runtime_error("audio encoder: closing failed");
  if (!err.empty()) throw std::runtime_error("audio encoder: " + err);
  return buffer.data;
}

}  // namespace bark::server
