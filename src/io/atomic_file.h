// Private: atomic file replacement. Data goes to a unique temporary file in the destination's
// directory, which is fsync'ed and renamed over the destination on commit(), so readers see
// either the old file or the complete new one, never a truncated file.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

namespace bark::io {

class AtomicFile {
 public:
  // Creates "<dir>/.<name>.tmp-XXXXXX" next to `path`. Throws std::runtime_error.
  explicit AtomicFile(const std::string& path);
  // Removes the temporary file unless commit() succeeded.
  ~AtomicFile();
  AtomicFile(const AtomicFile&) = delete;
  AtomicFile& operator=(const AtomicFile&) = delete;

  const std::string& path() const { return path_; }
  // The temporary file; may also be (re)opened by name, e.g. by ZipWriter.
  const std::string& temp_path() const { return temp_path_; }

  // Appends to the temporary file through its own descriptor. Throws std::runtime_error.
  void write(const void* data, size_t n);

  // fsyncs the temporary file, gives it the usual 0666 & ~umask mode, renames it over
  // path() and fsyncs the directory. Throws std::runtime_error (the temporary is removed).
  // If path() is a symlink, the link itself is replaced.
  void commit();

 private:
  std::string path_;
  std::string temp_path_;
  int fd_ = -1;
  bool committed_ = false;
};

// Writes `n` bytes to `path` atomically (AtomicFile + write + commit).
void write_file_atomically(const std::string& path, const void* data, size_t n);
inline void write_file_atomically(const std::string& path, const std::vector<uint8_t>& bytes) {
  write_file_atomically(path, bytes.data(), bytes.size());
}

}  // namespace bark::io
