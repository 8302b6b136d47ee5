// libFuzzer target: arbitrary bytes read as an .npz (zip + npy parsers, history prompt loader)
// and as a bare .npy. Any exception other than the documented std::runtime_error /
// std::invalid_argument (e.g. std::bad_alloc from a huge claimed size) or any sanitizer report
// is a bug.
//
//   cmake -S . -B build-fuzz -DCMAKE_CXX_COMPILER=clang++-14 -DCMAKE_C_COMPILER=clang-14 \
//         -DBARK_BUILD_FUZZERS=ON && cmake --build build-fuzz --target fuzz_npz
//   build-fuzz/fuzz_npz -max_total_time=60 -rss_limit_mb=1024 corpus_dir/
#include <cstddef>
#include <cstdint>
#include <vector>

#include "bark/history_prompt.h"
#include "fuzz_memfile.h"
#include "io/npy.h"
#include "io/zip.h"

using bark_fuzz::expect_only_documented_errors;
using bark_fuzz::MemFile;

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  static MemFile file;
  file.set(data, size);
  expect_only_documented_errors([&] {
    const auto arrays = bark::io::read_npz(file.path);
    for (const auto& entry : arrays) {
      const bark::io::NpyArray& a = entry.second;
      // Conversions of whatever parsed must be safe too.
      expect_only_documented_errors([&] { (void)a.to_int64(); });
      expect_only_documented_errors([&] { (void)a.to_float32(); });
      (void)bark::io::serialize_npy(a);
    }
  });
  expect_only_documented_errors([&] {
    bark::io::ZipReader zip(file.path);
    for (const auto& e : zip.entries()) {
      if (e.uncompressed_size > 0) {
        uint8_t last = 0;
        expect_only_documented_errors([&] { zip.read_range(e, e.uncompressed_size - 1, &last, 1); });
      }
    }
  });
  expect_only_documented_errors([&] { (void)bark::load_history_prompt(file.path); });
  expect_only_documented_errors([&] {
    const std::vector<uint8_t> bytes(data, data + size);
    (void)bark::io::parse_npy(bytes, "fuzz");
  });
  return 0;
}
