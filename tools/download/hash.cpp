#include "hash.h"

#include <openssl/evp.h>

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <stdexcept>
#include <vector>

namespace bark::tools {

Digest::Digest(const std::string& algorithm) {
  // Only the manifest's two names: EVP_get_digestbyname would also take "sha1", "md4", ...
  const EVP_MD* md = algorithm == "md5" ? EVP_md5() : algorithm == "sha256" ? EVP_sha256() : nullptr;
  if (md == nullptr) {
    throw std::invalid_argument("unknown hash algorithm '" + algorithm + "' (expected md5 or sha256)");
  }
  ctx_ = EVP_MD_CTX_new();
  if (ctx_ == nullptr || EVP_DigestInit_ex(ctx_, md, nullptr) != 1) {
    EVP_MD_CTX_free(ctx_);
    throw std::runtime_error("OpenSSL cannot compute " + algorithm + " (EVP_DigestInit_ex failed)");
  }
}

Digest::~Digest() { EVP_MD_CTX_free(ctx_); }

void Digest::update(const void* data, size_t n) {
  if (EVP_DigestUpdate(ctx_, data, n) != 1) throw std::runtime_error("OpenSSL: EVP_DigestUpdate failed");
}

std::string Digest::hex_digest() {
  unsigned char md[EVP_MAX_MD_SIZE];
  unsigned int n = 0;
  if (EVP_DigestFinal_ex(ctx_, md, &n) != 1) throw std::runtime_error("OpenSSL: EVP_DigestFinal_ex failed");
  static const char digits[] = "0123456789abcdef";
  std::string out;
  for (unsigned int i = 0; i < n; ++i) {
    out += digits[md[i] >> 4];
    out += digits[md[i] & 15];
  }
  return out;
}

std::string hash_file(const std::string& path, const std::string& algorithm,
                      const std::function<void(uint64_t)>& on_bytes) {
  Digest digest(algorithm);
  std::unique_ptr<std::FILE, int (*)(std::FILE*)> f(std::fopen(path.c_str(), "rb"), &std::fclose);
  if (!f) throw std::runtime_error("cannot read '" + path + "': " + std::strerror(errno));
  std::vector<char> buf(1 << 20);
  uint64_t done = 0;
  size_t n;
  while ((n = std::fread(buf.data(), 1, buf.size(), f.get())) > 0) {
    digest.update(buf.data(), n);
    done += n;
    if (on_bytes) on_bytes(done);
  }
  if (std::ferror(f.get())) throw std::runtime_error("error reading '" + path + "'");
  return digest.hex_digest();
}

}  // namespace bark::tools
