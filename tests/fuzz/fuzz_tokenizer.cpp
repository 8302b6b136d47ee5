// libFuzzer target: the tokenizer over arbitrary bytes. Nothing may crash or trip ASan; bytes
// that are not UTF-8 must give std::invalid_argument, and only those.
//
//   cmake -B build-fuzz -DBARK_BUILD_FUZZERS=ON
//         -DCMAKE_C_COMPILER=clang -DCMAKE_CXX_COMPILER=clang++
//   cmake --build build-fuzz --target fuzz_tokenizer && ctest --test-dir build-fuzz -L fuzz
//
// The vocab comes from $BARK_FUZZ_VOCAB, else the shared assets path baked in at configure time.
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <stdexcept>
#include <string>
#include <string_view>

#include "bark/logging.h"
#include "text/tokenizer.h"

namespace {

const bark::text::Tokenizer* tokenizer = nullptr;

[[noreturn]] void die(const char* what) {
  std::fprintf(stderr, "fuzz_tokenizer: invariant broken: %s\n", what);
  std::abort();
}

// Independent well-formedness check (Unicode Table 3-7), to cross-check encode()'s errors.
bool is_utf8(std::string_view s) {
  size_t i = 0;
  while (i < s.size()) {
    const auto b = [&](size_t k) { return static_cast<unsigned char>(s[k]) + 0u; };
    const unsigned c = b(i);
    size_t n = 0;
    unsigned lo = 0x80, hi = 0xBF;
    if (c < 0x80) n = 1;
    else if (c >= 0xC2 && c <= 0xDF) n = 2;
    else if (c == 0xE0) n = 3, lo = 0xA0;
    else if (c >= 0xE1 && c <= 0xEC) n = 3;
    else if (c == 0xED) n = 3, hi = 0x9F;
    else if (c >= 0xEE && c <= 0xEF) n = 3;
    else if (c == 0xF0) n = 4, lo = 0x90;
    else if (c >= 0xF1 && c <= 0xF3) n = 4;
    else if (c == 0xF4) n = 4, hi = 0x8F;
    else return false;
    if (i + n > s.size()) return false;
    if (n > 1 && (b(i + 1) < lo || b(i + 1) > hi)) return false;
    for (size_t k = 2; k < n; ++k)
      if ((b(i + k) & 0xC0) != 0x80) return false;
    i += n;
  }
  return true;
}

}  // namespace

extern "C" int LLVMFuzzerInitialize(int* /*argc*/, char*** /*argv*/) {
  bark::set_log_level(bark::LogLevel::Off);  // truncation warnings would flood the output
  const char* env = std::getenv("BARK_FUZZ_VOCAB");
  const std::string path = env != nullptr && *env != '\0' ? env : BARK_FUZZ_DEFAULT_VOCAB;
  static const auto tok = bark::text::Tokenizer::from_vocab_file(path);
  tokenizer = &tok;
  return 0;
}

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string_view text(reinterpret_cast<const char*>(data), size);
  const bool valid = is_utf8(text);
  const auto n_ids = static_cast<int64_t>(tokenizer->vocab_size());
  try {
    const auto ids = tokenizer->encode(text);
    if (!valid) die("encode() accepted invalid UTF-8");
    for (const int64_t id : ids)
      if (id < 0 || id >= n_ids) die("id out of range");
    if (ids.size() > size) die("more ids than bytes");

    const std::string norm = bark::text::normalize_whitespace(text);
    if (bark::text::normalize_whitespace(norm) != norm) die("normalize_whitespace not idempotent");
    double dropped = -1;
    const auto bark_ids = bark::text::encode_for_bark(*tokenizer, text, &dropped);
    if (bark_ids.size() != bark::text::MAX_TEXT_TOKENS) die("encode_for_bark size");
    if (!(dropped >= 0 && dropped < 100)) die("dropped_percent range");
    for (const int64_t id : bark_ids) {
      if (id != bark::text::TEXT_PAD_TOKEN &&
          (id < bark::text::TEXT_ENCODING_OFFSET || id >= bark::text::TEXT_ENCODING_OFFSET + n_ids))
        die("bark id out of range");
    }
  } catch (const std::invalid_argument&) {
    if (valid) die("encode() rejected valid UTF-8");
  }
  return 0;
}
