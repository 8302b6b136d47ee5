// MD5 (RFC 1321) and SHA-256 (FIPS 180-4) for verifying downloads against the manifest.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <string>

namespace bark::tools {

class Md5 {
 public:
  Md5();
  void update(const void* data, size_t n);
  std::string hex_digest();  // finishes; call once

 private:
  void block(const uint8_t* p);
  std::array<uint32_t, 4> h_;
  uint8_t buf_[64];
  size_t buf_len_ = 0;
  uint64_t total_ = 0;
};

class Sha256 {
 public:
  Sha256();
  void update(const void* data, size_t n);
  std::string hex_digest();  // finishes; call once

 private:
  void block(const uint8_t* p);
  std::array<uint32_t, 8> h_;
  uint8_t buf_[64];
  size_t buf_len_ = 0;
  uint64_t total_ = 0;
};

// Hex digest of a whole file ("md5" or "sha256"). `on_bytes` (may be empty) is called with the
// bytes hashed so far. Throws std::runtime_error if the file cannot be read.
std::string hash_file(const std::string& path, const std::string& algorithm,
                      const std::function<void(uint64_t)>& on_bytes = {});

}  // namespace bark::tools
