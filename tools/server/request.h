// bark-server: what a speech request asks for, parsed and validated from its JSON body before
// any work starts (and fuzzed on its own: tests/fuzz/fuzz_server_request.cpp). No I/O, no model.
#pragma once

#include <functional>
#include <stdexcept>
#include <string>

#include "bark/speech.h"
#include "server/audio_encode.h"

namespace bark::server {

// An error in OpenAI's shape: {"error": {"message", "type", "code"}} with an HTTP status.
struct HttpError : std::runtime_error {
  HttpError(int status, std::string type, std::string code, const std::string& message)
      : std::runtime_error(message), status(status), type(std::move(type)), code(std::move(code)) {}
  int status;
  std::string type, code;
};

HttpError bad_request(const std::string& message, const std::string& code = "invalid_request");

struct Job {
  std::string endpoint;
  std::string text;
  SpeechOptions speech;
  AudioFormat format = AudioFormat::Wav;
  bool return_json = false;  // native endpoint: JSON with base64 audio and the history .npz
  int client_fd = -1;
};

struct RequestLimits {
  size_t max_input_chars = 4096;
};

// Maps a client's voice (an alias or a preset name) to a preset, or throws HttpError. Never a path.
using VoiceResolver = std::function<std::string(const std::string& voice)>;

// POST /v1/audio/speech: {model, input, voice, response_format, speed, stream_format}.
Job parse_openai_request(const std::string& body, const RequestLimits& limits, const VoiceResolver& voices);
// POST /v1/bark/speech: every generation and long-form option, an uploaded voice .npz (base64).
Job parse_native_request(const std::string& body, const RequestLimits& limits, const VoiceResolver& voices);

// The model names `model` accepts.
const std::vector<std::string>& model_names();

std::string decode_base64(const std::string& in);
std::string encode_base64(const std::string& in);

}  // namespace bark::server
