// MD5 and SHA-256 (OpenSSL's EVP digests) for verifying downloads against the manifest.
#pragma once

#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>

struct evp_md_ctx_st;  // OpenSSL's EVP_MD_CTX; kept out of this header

namespace bark::tools {

// An incremental digest. `algorithm` is "md5" or "sha256" (the manifest's names); anything else
// throws std::invalid_argument. Not copyable.
class Digest {
 public:
  explicit Digest(const std::string& algorithm);
  ~Digest();
  Digest(const Digest&) = delete;
  Digest& operator=(const Digest&) = delete;

  void update(const void* data, size_t n);
  std::string hex_digest();  // lower-case hex; finishes, so call it once

 private:
  evp_md_ctx_st* ctx_ = nullptr;
};

// Hex digest of a whole file ("md5" or "sha256"). `on_bytes` (may be empty) is called with the
// bytes hashed so far. Throws std::runtime_error if the file cannot be read.
std::string hash_file(const std::string& path, const std::string& algorithm,
                      const std::function<void(uint64_t)>& on_bytes = {});

}  // namespace bark::tools
