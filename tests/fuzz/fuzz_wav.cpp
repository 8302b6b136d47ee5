// libFuzzer target: arbitrary bytes through bark::read_wav (src/io/wav.cpp, whichever reader it
// is). Refusals are std::runtime_error / std::invalid_argument; whatever it returns must be
// finite samples at a positive rate.
//
//   build-fuzz/fuzz_wav -dict=tests/fuzz/wav.dict corpus/ tests/fuzz/wav_corpus
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <cstdlib>

#include "bark/wav.h"
#include "fuzz_memfile.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  static bark_fuzz::MemFile file;
  file.set(data, size);
  bark_fuzz::expect_only_documented_errors([&] {
    const bark::Audio audio = bark::read_wav(file.path);
    if (audio.sample_rate <= 0) std::abort();
    for (float s : audio.samples) {
      if (!std::isfinite(s)) std::abort();
    }
  });
  return 0;
}
