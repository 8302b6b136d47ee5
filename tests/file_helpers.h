// Test helpers shared by the file-format tests: whole-file I/O, in-memory files, and running
// a script in the reference venv's Python.
#pragma once

#include <sys/mman.h>
#include <unistd.h>

#include <catch2/catch.hpp>

#include <cstdint>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <sstream>
#include <string>
#include <vector>

#include "test_common.h"

namespace bark_test {

inline std::vector<uint8_t> slurp(const std::filesystem::path& p) {
  std::ifstream f(p, std::ios::binary);
  return std::vector<uint8_t>(std::istreambuf_iterator<char>(f), {});
}

inline void spit(const std::filesystem::path& p, const std::vector<uint8_t>& bytes) {
  std::ofstream f(p, std::ios::binary | std::ios::trunc);
  f.write(reinterpret_cast<const char*>(bytes.data()), static_cast<std::streamsize>(bytes.size()));
}

// An in-memory file with a path (/proc/self/fd/N), for tests that rewrite a file thousands of
// times: much faster than a real file system (ext4 with discard takes ~5 ms per truncate).
struct MemFile {
  int fd = -1;
  std::string path;
  MemFile() {
    fd = ::memfd_create("bark_test", MFD_CLOEXEC);
    REQUIRE(fd >= 0);
    path = "/proc/self/fd/" + std::to_string(fd);
  }
  ~MemFile() { ::close(fd); }
  MemFile(const MemFile&) = delete;
  MemFile& operator=(const MemFile&) = delete;
  void set(const std::vector<uint8_t>& bytes) {
    REQUIRE(::ftruncate(fd, 0) == 0);
    REQUIRE(::pwrite(fd, bytes.data(), bytes.size(), 0) == static_cast<ssize_t>(bytes.size()));
  }
};

// Runs `code` with the reference venv's Python; returns exit status, fills `output`.
// The venv is required: a missing interpreter fails the test instead of skipping it.
inline int run_python(const std::string& code, const std::filesystem::path& dir, std::string* output = nullptr) {
  const std::string python = reference_python();
  INFO("reference python: " << python << " (create it with scripts/setup.sh or set BARK_REFERENCE_PYTHON)");
  REQUIRE(std::filesystem::exists(python));
  const auto script = dir / "script.py";
  const auto out = dir / "script.out";
  {
    std::ofstream f(script);
    f << code;
  }
  const std::string cmd = "'" + python + "' '" + script.string() + "' > '" + out.string() + "' 2>&1";
  const int rc = std::system(cmd.c_str());
  std::ifstream f(out);
  std::stringstream ss;
  ss << f.rdbuf();
  if (output != nullptr) *output = ss.str();
  if (rc != 0) UNSCOPED_INFO("python output:\n" << ss.str());
  return rc;
}

}  // namespace bark_test
