// libFuzzer target: arbitrary bytes through the zip reader (src/io/zip.cpp): the central
// directory, every member read whole (bounded) and by range. Refusals are std::runtime_error.
//
//   build-fuzz/fuzz_zip -dict=tests/fuzz/zip.dict corpus/ tests/fuzz/zip_corpus
#include <cstddef>
#include <cstdint>

#include "fuzz_memfile.h"
#include "io/zip.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  static bark_fuzz::MemFile file;
  file.set(data, size);
  bark_fuzz::expect_only_documented_errors([&] {
    const bark::io::ZipReader zip(file.path);
    for (const auto& e : zip.entries()) {
      (void)zip.find(e.name);
      bark_fuzz::expect_only_documented_errors([&] { (void)zip.read(e, 16u << 20); });
      if (e.uncompressed_size > 0) {
        uint8_t b[2] = {};
        bark_fuzz::expect_only_documented_errors([&] { zip.read_range(e, 0, b, 1); });
        bark_fuzz::expect_only_documented_errors([&] { zip.read_range(e, e.uncompressed_size - 1, b + 1, 1); });
      }
    }
  });
  return 0;
}
