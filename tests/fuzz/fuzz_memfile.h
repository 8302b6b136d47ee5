// The fuzzed readers take paths: the input lives in an anonymous in-memory file, opened by name
// through /proc/self/fd (no disk I/O, nothing left behind).
#pragma once

#include <sys/mman.h>
#include <unistd.h>

#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <stdexcept>
#include <string>

namespace bark_fuzz {

struct MemFile {
  int fd = -1;
  std::string path;
  MemFile() {
    fd = ::memfd_create("bark_fuzz", MFD_CLOEXEC);
    if (fd < 0) std::abort();
    path = "/proc/self/fd/" + std::to_string(fd);
  }
  void set(const uint8_t* data, size_t size) {
    if (::ftruncate(fd, 0) != 0) std::abort();
    size_t done = 0;
    while (done < size) {
      const ssize_t n = ::pwrite(fd, data + done, size - done, static_cast<off_t>(done));
      if (n <= 0) std::abort();
      done += static_cast<size_t>(n);
    }
  }
};

// The documented errors of the readers; anything else escaping (std::bad_alloc from a claimed
// size, std::logic_error, ...) or any sanitizer report is a bug.
template <typename F>
void expect_only_documented_errors(F&& f) {
  try {
    f();
  } catch (const std::runtime_error&) {
  } catch (const std::invalid_argument&) {
  }
}

}  // namespace bark_fuzz
