// bark-server: audio in the response formats of OpenAI's speech API. wav and pcm stream (a
// header, then samples as they come); flac, mp3 and opus are encoded by libsndfile (Debian's
// libsndfile1 encodes all three: FLAC, LAME, libopus) from the whole audio.
#pragma once

#include <optional>
#include <string>
#include <vector>

namespace bark::server {

enum class AudioFormat { Wav, Pcm, Flac, Mp3, Opus };

// "wav", "pcm", "flac", "mp3", "opus" -> format; anything else: nullopt.
std::optional<AudioFormat> parse_audio_format(const std::string& name);
const char* content_type(AudioFormat format);
bool streams(AudioFormat format);  // wav and pcm: sent chunk by chunk as segments are ready

// wav: the streaming header (sizes 0xFFFFFFFF); pcm: nothing (raw 24 kHz s16le).
std::string stream_header(AudioFormat format);
// The bytes of `samples` in a streaming format (16-bit little-endian PCM).
std::string stream_samples(AudioFormat format, const std::vector<float>& samples);
// The whole audio as a file in any format (libsndfile for flac, mp3, opus). Throws
// std::runtime_error when the encoder fails.
std::string encode(AudioFormat format, const std::vector<float>& samples, int sample_rate);

}  // namespace bark::server
