// libFuzzer target: arbitrary bytes through bark::read_wav (src/io/wav.cpp, whichever reader it
// is). Refusals are std::runtime_error / std::invalid_argument; whatever it returns has a
// positive rate (float files may hold NaN and infinity: they are returned as stored).
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
    volatile float sum = 0;
    for (float s : audio.samples) sum = sum + s;  // every sample readable
  });
  return 0;
}
