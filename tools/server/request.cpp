#include "server/request.h"

#include <openssl/evp.h>

#include <algorithm>
#include <nlohmann/json.hpp>
#include <optional>
#include <set>
#include <string>
#include <type_traits>

#include "bark/history_prompt.h"

namespace bark::server {

using json = nlohmann::json;

HttpError bad_request(const std::string& message, const std::string& code) {
  return HttpError(400, "invalid_request_error", code, message);
}

const std::vector<std::string>& model_names() {
  static const std::vector<std::string> names = {"bark", "tts-1", "tts-1-hd", "gpt-4o-mini-tts"};
  return names;
}


namespace {

std::string decode_base64_impl(const std::string& in) {
  if (in.size() > (64u << 20)) throw bad_request("voice_npz_base64 is too large");
  std::string out((in.size() / 4 + 1) * 3, '\0');
  EVP_ENCODE_CTX* ctx = EVP_ENCODE_CTX_new();
  EVP_DecodeInit(ctx);
  int n1 = 0, n2 = 0;
  const int rc = EVP_DecodeUpdate(ctx, reinterpret_cast<unsigned char*>(&out[0]), &n1,
                                  reinterpret_cast<const unsigned char*>(in.data()), static_cast<int>(in.size()));
  const int rc2 = EVP_DecodeFinal(ctx, reinterpret_cast<unsigned char*>(&out[static_cast<size_t>(n1)]), &n2);
  EVP_ENCODE_CTX_free(ctx);
  if (rc < 0 || rc2 < 0) throw bad_request("voice_npz_base64 is not valid base64");
  out.resize(static_cast<size_t>(n1 + n2));
  return out;
}

std::string encode_base64_impl(const std::string& in) {
  std::string out(4 * ((in.size() + 2) / 3) + 1, '\0');
  const int n = EVP_EncodeBlock(reinterpret_cast<unsigned char*>(&out[0]),
                                reinterpret_cast<const unsigned char*>(in.data()), static_cast<int>(in.size()));
  out.resize(static_cast<size_t>(n));
  return out;
}

json parse_body(const std::string& body) {
  try {
    json j = json::parse(body);
    if (!j.is_object()) throw bad_request("the request body must be a JSON object");
    return j;
  } catch (const json::exception& e) {  // parse_error, and out_of_range for numbers like 1e999
    throw bad_request(std::string("the request body is not valid JSON: ") + e.what());
  }
}

template <typename T>
std::optional<T> field(const json& j, const char* key) {
  auto it = j.find(key);
  if (it == j.end() || it->is_null()) return std::nullopt;
  try {
    return it->get<T>();
  } catch (const json::exception&) {
    const char* expected = std::is_same_v<T, bool>          ? "true or false"
                           : std::is_same_v<T, std::string> ? "a string"
                           : std::is_integral_v<T>          ? "an integer"
                           : std::is_floating_point_v<T>    ? "a number"
                                                            : "another type";
    throw bad_request(std::string("'") + key + "' has the wrong type (expected " + expected + ", got " +
                          it->type_name() + ")",
                      "invalid_type");
  }
}

std::string checked_input(const json& j, const char* key, const RequestLimits& limits) {
  const auto input = field<std::string>(j, key);
  if (!input) throw bad_request(std::string("'") + key + "' is required", "missing_input");
  size_t chars = 0;
  for (unsigned char c : *input) chars += (c & 0xC0) != 0x80;
  if (chars > limits.max_input_chars) {
    throw bad_request("'" + std::string(key) + "' has " + std::to_string(chars) + " characters; this server takes at most " +
                      std::to_string(limits.max_input_chars), "input_too_long");
  }
  return *input;
}

AudioFormat checked_format(const std::optional<std::string>& name, AudioFormat fallback) {
  if (!name) return fallback;
  auto f = parse_audio_format(*name);
  if (!f) {
    throw bad_request("response_format '" + *name + "' is not supported (wav, pcm, flac, mp3, opus)",
                      "unsupported_response_format");
  }
  return *f;
}

Job openai_job(const std::string& body, const RequestLimits& limits, const VoiceResolver& voices) {
  const json j = parse_body(body);
  Job job;
  job.endpoint = "/v1/audio/speech";
  const auto model = field<std::string>(j, "model");
  if (!model) throw bad_request("'model' is required", "missing_model");
  if (std::find(model_names().begin(), model_names().end(), *model) == model_names().end()) {
    throw HttpError(404, "invalid_request_error", "model_not_found", "model '" + *model + "' does not exist (GET /v1/models)");
  }
  job.text = checked_input(j, "input", limits);
  const auto voice = field<std::string>(j, "voice");
  if (!voice) throw bad_request("'voice' is required", "missing_voice");
  job.speech.generation.voice = voices(*voice);
  job.format = checked_format(field<std::string>(j, "response_format"), AudioFormat::Mp3);  // OpenAI's default
  if (const auto speed = field<double>(j, "speed"); speed && *speed != 1.0) {
    throw bad_request("speed " + json(*speed).dump() + " is not supported: Bark has no speed control (use 1.0)",
                      "unsupported_speed");
  }
  if (const auto sf = field<std::string>(j, "stream_format"); sf && *sf != "audio") {
    throw bad_request("stream_format '" + *sf + "' is not supported (audio)", "unsupported_stream_format");
  }
  job.speech.generation.silent = true;
  return job;
}

Job native_job(const std::string& body, const RequestLimits& limits, const VoiceResolver& voices) {
  const json j = parse_body(body);
  static const std::set<std::string> known = {
      "input", "voice", "voice_npz_base64", "seed", "text_temp", "waveform_temp", "fine_temp", "top_k", "top_p",
      "min_eos_p", "max_gen_duration_s", "allow_early_stop", "use_kv_caching", "max_coarse_history",
      "sliding_window_len", "split", "max_segment_chars", "voice_mode", "chain_reset_every", "silence_s",
      "crossfade_s", "seamless", "response_format", "return_npz"};
  for (const auto& [k, v] : j.items()) {
    if (known.count(k) == 0) throw bad_request("unknown field '" + k + "'", "unknown_field");
  }
  Job job;
  job.endpoint = "/v1/bark/speech";
  job.text = checked_input(j, "input", limits);
  GenerationOptions& g = job.speech.generation;
  g.silent = true;
  if (auto v = field<std::string>(j, "voice")) g.voice = voices(*v);
  if (auto b64 = field<std::string>(j, "voice_npz_base64")) {
    g.history_prompt = parse_history_prompt(decode_base64_impl(*b64), "voice_npz_base64");
    g.voice.clear();
  }
  if (j.contains("seed") && !j["seed"].is_null()) {
    if (!j["seed"].is_number_unsigned()) throw bad_request("'seed' must be an integer in [0, 2^64)", "invalid_seed");
    g.seed = j["seed"].get<uint64_t>();
  }
  if (auto v = field<float>(j, "text_temp")) g.text_temp = *v;
  if (auto v = field<float>(j, "waveform_temp")) g.waveform_temp = *v;
  if (j.contains("fine_temp")) g.fine_temp = field<float>(j, "fine_temp");  // null: argmax
  if (auto v = field<int>(j, "top_k")) g.top_k = *v;
  if (auto v = field<float>(j, "top_p")) g.top_p = *v;
  if (j.contains("min_eos_p")) g.min_eos_p = field<float>(j, "min_eos_p");
  if (auto v = field<double>(j, "max_gen_duration_s")) g.max_gen_duration_s = *v;
  if (auto v = field<bool>(j, "allow_early_stop")) g.allow_early_stop = *v;
  if (auto v = field<bool>(j, "use_kv_caching")) g.use_kv_caching = *v;
  if (auto v = field<int>(j, "max_coarse_history")) g.max_coarse_history = *v;
  if (auto v = field<int>(j, "sliding_window_len")) g.sliding_window_len = *v;
  SpeechOptions& s = job.speech;
  // true / false, or the CLI's --split words: "sentences" / "none"
  if (auto it = j.find("split"); it != j.end() && it->is_string()) {
    const std::string v = it->get<std::string>();
    if (v != "sentences" && v != "none") {
      throw bad_request("'split' must be true, false, \"sentences\" or \"none\", got \"" + v + "\"", "invalid_value");
    }
    s.split = v == "sentences";
  } else if (auto v = field<bool>(j, "split")) {
    s.split = *v;
  }
  if (auto v = field<int64_t>(j, "max_segment_chars")) {
    if (*v < 1 || *v > 100000) throw bad_request("max_segment_chars must be in [1, 100000]");
    s.max_segment_chars = static_cast<size_t>(*v);
  }
  if (auto v = field<std::string>(j, "voice_mode")) s.voice_mode = parse_voice_mode(*v);
  if (auto v = field<int>(j, "chain_reset_every")) s.chain_reset_every = *v;
  if (auto v = field<double>(j, "silence_s")) s.silence_s = *v;
  if (auto v = field<double>(j, "crossfade_s")) s.crossfade_s = *v;
  if (auto v = field<bool>(j, "seamless")) s.seamless = *v;
  job.format = checked_format(field<std::string>(j, "response_format"), AudioFormat::Wav);
  job.return_json = field<bool>(j, "return_npz").value_or(false);
  return job;
}



}  // namespace

Job parse_openai_request(const std::string& body, const RequestLimits& limits, const VoiceResolver& voices) {
  return openai_job(body, limits, voices);
}

Job parse_native_request(const std::string& body, const RequestLimits& limits, const VoiceResolver& voices) {
  return native_job(body, limits, voices);
}

std::string decode_base64(const std::string& in) { return decode_base64_impl(in); }
std::string encode_base64(const std::string& in) { return encode_base64_impl(in); }

}  // namespace bark::server
