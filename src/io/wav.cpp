// RIFF/WAVE reading and writing (include/bark/wav.h).
// Layout: Microsoft "Multimedia Programming Interface and Data Specifications 1.0" (RIFF, fmt,
// data) and the WAVE_FORMAT_IEEE_FLOAT / WAVE_FORMAT_EXTENSIBLE additions (fmt cbSize, fact).
#include "bark/wav.h"

#include <sys/stat.h>

#include <algorithm>
#include <cerrno>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <limits>
#include <stdexcept>
#include <vector>

#include "io/atomic_file.h"
#include "io/bytes.h"

namespace bark {
namespace {

using io::le16;
using io::le32;
using io::put16;
using io::put32;

constexpr uint16_t kFormatPcm = 1;
constexpr uint16_t kFormatFloat = 3;
constexpr uint16_t kFormatExtensible = 0xFFFE;

void put_tag(std::vector<uint8_t>& out, const char* tag) { out.insert(out.end(), tag, tag + 4); }


// PCM16 conversion: clip to [-1, 1] (NaN -> 0), scale by 32767 and round to nearest, ties
// away from zero (std::lround). The mapping is symmetric (+-1.0 -> +-32767; -32768 is never
// produced), so +1.0 stays representable without clipping, unlike scaling by 32768. The product
// is exact in double; ties occur only for x = +-(k + 0.5) / 32767 with float-representable x
// (e.g. +-0.5 -> +-16384). read_wav divides by 32768, as scipy/soundfile/sox do.
int16_t to_pcm16(float x) {
  if (!(x == x)) return 0;  // NaN
  const float c = std::min(1.0f, std::max(-1.0f, x));
  return static_cast<int16_t>(std::lround(static_cast<double>(c) * 32767.0));
}

std::string tag_text(const uint8_t* p) {
  std::string s;
  for (int i = 0; i < 4; ++i) {
    const char c = static_cast<char>(p[i]);
    s += (c >= 32 && c < 127) ? c : '?';
  }
  return s;
}

}  // namespace

namespace {

// RIFF/WAVE header for n samples; `streaming`: sizes unknown, set to 0xFFFFFFFF (the convention
// sox and ffmpeg read up to the end of the stream).
std::vector<uint8_t> wav_header(uint32_t rate, WavFormat format, uint64_t n, bool streaming) {
  const bool pcm = format == WavFormat::Pcm16;
  const uint32_t bytes_per_sample = pcm ? 2 : 4;
  const uint64_t header_size = pcm ? 44 : 58;  // RIFF+fmt(16)+data, or RIFF+fmt(18)+fact+data
  const uint64_t data_size = n * bytes_per_sample;
  constexpr uint32_t kUnknown = 0xFFFFFFFFu;
  std::vector<uint8_t> out;
  out.reserve(static_cast<size_t>(header_size));
  put_tag(out, "RIFF");
  put32(out, streaming ? kUnknown : static_cast<uint32_t>(header_size - 8 + data_size));
  put_tag(out, "WAVE");
  put_tag(out, "fmt ");
  put32(out, pcm ? 16 : 18);
  put16(out, pcm ? kFormatPcm : kFormatFloat);
  put16(out, 1);                            // channels
  put32(out, rate);                         // samples per second
  put32(out, rate * bytes_per_sample);      // bytes per second
  put16(out, static_cast<uint16_t>(bytes_per_sample));  // block align
  put16(out, static_cast<uint16_t>(8 * bytes_per_sample));
  if (!pcm) {
    put16(out, 0);  // cbSize: no extension
    put_tag(out, "fact");
    put32(out, 4);
    put32(out, streaming ? kUnknown : static_cast<uint32_t>(n));  // sample frames
  }
  put_tag(out, "data");
  put32(out, streaming ? kUnknown : static_cast<uint32_t>(data_size));
  return out;
}

void append_samples(std::vector<uint8_t>& out, const float* samples, size_t n, WavFormat format) {
  const bool pcm = format == WavFormat::Pcm16;
  const uint32_t bytes_per_sample = pcm ? 2 : 4;
  const size_t start = out.size();
  out.resize(start + n * bytes_per_sample);
  uint8_t* p = out.data() + start;
  for (size_t i = 0; i < n; ++i) {
    uint32_t bits;
    if (pcm) {
      bits = static_cast<uint16_t>(to_pcm16(samples[i]));
    } else {
      std::memcpy(&bits, &samples[i], 4);
    }
    for (uint32_t b = 0; b < bytes_per_sample; ++b) *p++ = static_cast<uint8_t>(bits >> (8 * b));
  }
}

}  // namespace

void write_wav(const std::string& path, const Audio& audio, WavFormat format) {
  if (audio.sample_rate <= 0) {
    throw std::invalid_argument("write_wav '" + path + "': sample rate must be positive, got " +
                                std::to_string(audio.sample_rate));
  }
  const uint32_t bytes_per_sample = format == WavFormat::Pcm16 ? 2 : 4;
  const uint64_t n = audio.samples.size();
  const uint64_t header_size = format == WavFormat::Pcm16 ? 44 : 58;
  if (n > std::numeric_limits<uint32_t>::max() / bytes_per_sample ||
      n * bytes_per_sample + header_size - 8 > std::numeric_limits<uint32_t>::max()) {
    throw std::invalid_argument("write_wav '" + path + "': " + std::to_string(n) +
                                " samples exceed the 4 GiB limit of a RIFF/WAVE file");
  }
  std::vector<uint8_t> out = wav_header(static_cast<uint32_t>(audio.sample_rate), format, n, /*streaming=*/false);
  append_samples(out, audio.samples.data(), audio.samples.size(), format);
  // Both layouts have even-sized chunks, so no pad bytes are needed.
  io::write_file_atomically(path, out);
}

std::string wav_stream_header(int sample_rate, WavFormat format) {
  if (sample_rate <= 0) throw std::invalid_argument("wav_stream_header: sample rate must be positive");
  const auto h = wav_header(static_cast<uint32_t>(sample_rate), format, 0, /*streaming=*/true);
  return std::string(h.begin(), h.end());
}

std::string wav_header(int sample_rate, WavFormat format, uint64_t n_samples) {
  const uint64_t bytes_per_sample = format == WavFormat::Pcm16 ? 2 : 4;
  if (sample_rate <= 0) throw std::invalid_argument("wav_header: sample rate must be positive");
  if (n_samples > (std::numeric_limits<uint32_t>::max() - 64) / bytes_per_sample) {
    throw std::invalid_argument("wav_header: " + std::to_string(n_samples) + " samples exceed the 4 GiB limit of a RIFF/WAVE file");
  }
  const auto h = wav_header(static_cast<uint32_t>(sample_rate), format, n_samples, /*streaming=*/false);
  return std::string(h.begin(), h.end());
}

std::string wav_encode_samples(const std::vector<float>& samples, WavFormat format) {
  std::vector<uint8_t> out;
  append_samples(out, samples.data(), samples.size(), format);
  return std::string(out.begin(), out.end());
}

Audio read_wav(const std::string& path) {
  const std::string what = "wav '" + path + "'";
  std::vector<uint8_t> bytes;
  {
    std::FILE* f = std::fopen(path.c_str(), "rb");
    if (f == nullptr) throw std::runtime_error(what + ": cannot open (" + std::strerror(errno) + ")");
    struct stat st {};
    if (fstat(fileno(f), &st) != 0 || !S_ISREG(st.st_mode)) {
      std::fclose(f);
      throw std::runtime_error(what + ": not a regular file");
    }
    bytes.resize(static_cast<size_t>(st.st_size));
    const size_t got = bytes.empty() ? 0 : std::fread(bytes.data(), 1, bytes.size(), f);
    std::fclose(f);
    if (got != bytes.size()) throw std::runtime_error(what + ": read error");
  }
  if (bytes.size() < 12) {
    throw std::runtime_error(what + ": not a WAV file (only " + std::to_string(bytes.size()) + " bytes)");
  }
  if (std::memcmp(bytes.data(), "RIFF", 4) != 0 || std::memcmp(bytes.data() + 8, "WAVE", 4) != 0) {
    if (std::memcmp(bytes.data(), "RF64", 4) == 0 || std::memcmp(bytes.data(), "RIFX", 4) == 0) {
      throw std::runtime_error(what + ": " + tag_text(bytes.data()) + " WAV files are not supported");
    }
    throw std::runtime_error(what + ": not a RIFF/WAVE file");
  }
  // The RIFF size is often wrong (streaming writers leave 0 or 0xFFFFFFFF); chunks are bounded
  // by the real file size instead.
  const size_t end = bytes.size();

  bool have_fmt = false;
  uint16_t format = 0, channels = 0, block_align = 0, bits = 0;
  uint32_t rate = 0;
  const uint8_t* data = nullptr;
  size_t data_size = 0;
  size_t pos = 12;
  while (end - pos >= 8) {
    const uint8_t* chunk = bytes.data() + pos;
    const std::string id = tag_text(chunk);
    const uint64_t size = le32(chunk + 4);
    const size_t body = pos + 8;
    if (size > end - body) {
      if (data != nullptr) break;  // trailing junk after the audio: ignore
      throw std::runtime_error(what + ": chunk '" + id + "' claims " + std::to_string(size) + " bytes, but only " +
                               std::to_string(end - body) + " remain (truncated file?)");
    }
    if (id == "fmt ") {
      if (size < 16) throw std::runtime_error(what + ": fmt chunk too short (" + std::to_string(size) + " bytes)");
      const uint8_t* f = bytes.data() + body;
      format = le16(f);
      channels = le16(f + 2);
      rate = le32(f + 4);
      block_align = le16(f + 12);
      bits = le16(f + 14);
      if (format == kFormatExtensible) {
        // WAVEFORMATEXTENSIBLE: cbSize >= 22, then valid bits, channel mask, sub-format GUID
        // whose first two bytes are the actual format tag.
        if (size < 40 || le16(f + 16) < 22) {
          throw std::runtime_error(what + ": WAVE_FORMAT_EXTENSIBLE fmt chunk too short");
        }
        format = le16(f + 24);
      }
      have_fmt = true;
    } else if (id == "data") {
      if (data != nullptr) throw std::runtime_error(what + ": more than one data chunk");
      data = bytes.data() + body;
      data_size = static_cast<size_t>(size);
    }
    pos = body + static_cast<size_t>(size) + (size & 1);  // chunks are padded to even sizes
    if (pos > end) break;
  }
  if (!have_fmt) throw std::runtime_error(what + ": no fmt chunk");
  if (data == nullptr) throw std::runtime_error(what + ": no data chunk");
  if (channels == 0) throw std::runtime_error(what + ": 0 channels");
  if (rate == 0 || rate > static_cast<uint32_t>(std::numeric_limits<int>::max())) {
    throw std::runtime_error(what + ": invalid sample rate " + std::to_string(rate));
  }
  const bool is_pcm = format == kFormatPcm && (bits == 8 || bits == 16 || bits == 24 || bits == 32);
  const bool is_float = format == kFormatFloat && (bits == 32 || bits == 64);
  if (!is_pcm && !is_float) {
    throw std::runtime_error(what + ": unsupported encoding (format tag " + std::to_string(format) + ", " +
                             std::to_string(bits) + " bits; supported: PCM 8/16/24/32, IEEE float 32/64)");
  }
  const size_t sample_bytes = bits / 8;
  const size_t frame_bytes = sample_bytes * channels;
  if (block_align != frame_bytes) {
    throw std::runtime_error(what + ": block align " + std::to_string(block_align) + " does not match " +
                             std::to_string(channels) + " channels of " + std::to_string(bits) + " bits");
  }
  if (data_size % frame_bytes != 0) {
    throw std::runtime_error(what + ": data chunk of " + std::to_string(data_size) +
                             " bytes is not a whole number of " + std::to_string(frame_bytes) + "-byte frames");
  }
  const size_t n_frames = data_size / frame_bytes;

  Audio audio;
  audio.sample_rate = static_cast<int>(rate);
  audio.samples.resize(n_frames);
  auto sample = [&](const uint8_t* p) -> double {
    if (is_float) {
      if (bits == 32) {
        const uint32_t b = le32(p);
        float x;
        std::memcpy(&x, &b, 4);
        return x;
      }
      const uint64_t b = le32(p) | (static_cast<uint64_t>(le32(p + 4)) << 32);
      double x;
      std::memcpy(&x, &b, 8);
      return x;
    }
    switch (bits) {
      case 8: return (static_cast<int>(p[0]) - 128) / 128.0;  // 8-bit WAV is unsigned
      case 16: return static_cast<int16_t>(le16(p)) / 32768.0;
      case 24: {
        const int32_t v = static_cast<int32_t>((static_cast<uint32_t>(p[0]) << 8) | (static_cast<uint32_t>(p[1]) << 16) |
                                               (static_cast<uint32_t>(p[2]) << 24)) >> 8;
        return v / 8388608.0;
      }
      default: return static_cast<int32_t>(le32(p)) / 2147483648.0;
    }
  };
  for (size_t i = 0; i < n_frames; ++i) {
    const uint8_t* frame = data + i * frame_bytes;
    double sum = 0;
    for (size_t c = 0; c < channels; ++c) sum += sample(frame + c * sample_bytes);
    const double v = sum / channels;
    // 64-bit float data may hold finite values no float holds: converting them is undefined
    // behaviour (UBSan, found by tests/fuzz/fuzz_wav). NaN and infinity pass through unchanged,
    // as float32 files keep every value exactly.
    if (std::isfinite(v) && std::fabs(v) > std::numeric_limits<float>::max()) {
      throw std::runtime_error(what + ": sample " + std::to_string(i) + " (" + std::to_string(v) +
                               ") is beyond the range of a float");
    }
    audio.samples[i] = static_cast<float>(v);
  }
  return audio;
}

}  // namespace bark
