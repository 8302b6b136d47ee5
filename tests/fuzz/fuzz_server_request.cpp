// libFuzzer target: bark-server's request parsing (tools/server/request.cpp) on arbitrary bodies,
// the native endpoint's uploaded .npz voices (base64 -> zip -> npy -> history prompt) included.
// Every input must end in a parsed Job or an HttpError / std::invalid_argument: anything else
// (a crash, another exception type, a sanitizer report) is a bug.
#include <cstddef>
#include <cstdint>
#include <stdexcept>
#include <string>

#include "server/request.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string body(reinterpret_cast<const char*>(data), size);
  const bark::server::RequestLimits limits{4096};
  // voices: a few names, as the server's preset check would accept
  const bark::server::VoiceResolver voices = [](const std::string& v) {
    if (v == "alloy") return std::string("v2/en_speaker_6");
    if (v == "announcer" || v == "v2/en_speaker_1") return v;
    throw bark::server::bad_request("unknown voice", "invalid_voice");
  };
  for (const bool openai : {true, false}) {
    try {
      const auto job = openai ? bark::server::parse_openai_request(body, limits, voices)
                              : bark::server::parse_native_request(body, limits, voices);
      if (job.text.empty() && job.endpoint.empty()) __builtin_trap();
    } catch (const bark::server::HttpError&) {
    } catch (const std::invalid_argument&) {
    }
  }
  return 0;
}
