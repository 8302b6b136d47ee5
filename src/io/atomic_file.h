// Private: writing output files as sox and ffmpeg do, without ever replacing what is not ours.
// A regular file (new or existing) is replaced atomically: data goes to a unique temporary file
// in the destination's directory, which is fsync'ed and renamed over it on commit(), so readers
// see either the old file or the complete new one; an existing file keeps its permission bits.
// A symlink is followed: the file it points to is replaced (the link stays). Anything else that
// exists (a character device such as /dev/null, a FIFO, a socket) is written directly, and
// errors such as "No space left on device" (/dev/full) are reported.
// SIGINT, SIGTERM or SIGHUP while a temporary file exists removes it (the target is untouched)
// when the signal's action is the default one (termination): a handler doing that, then dying of
// the signal, is installed on first use for those signals. Handlers the program set are kept.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

namespace bark::io {

class AtomicFile {
 public:
  // Creates "<dir>/.<name>.tmp-XXXXXX" next to `path` (or its symlink's target), or opens a
  // device or FIFO at `path` for writing. Throws std::runtime_error, e.g. for an existing file
  // the user may not write.
  explicit AtomicFile(const std::string& path);
  // Removes the temporary file unless commit() succeeded.
  ~AtomicFile();
  AtomicFile(const AtomicFile&) = delete;
  AtomicFile& operator=(const AtomicFile&) = delete;

  const std::string& path() const { return path_; }
  // The temporary file (the device itself when written directly); may also be (re)opened by
  // name, e.g. by ZipWriter.
  const std::string& temp_path() const { return temp_path_; }

  // Appends to the temporary file through its own descriptor. Throws std::runtime_error.
  void write(const void* data, size_t n);

  // fsyncs the temporary file, gives it the usual 0666 & ~umask mode, renames it over
  // path() and fsyncs the directory. Throws std::runtime_error (the temporary is removed).
  // Written directly (a device, a FIFO): closes it and reports any error.
  void commit();

 private:
  std::string path_;
  std::string target_;  // where the data goes: path_, or the file its symlink points to
  std::string temp_path_;
  bool direct_ = false;  // not a regular file: written in place
  int mode_ = -1;        // permission bits of the file replaced, or -1 (a new file)
  int fd_ = -1;
  bool committed_ = false;
  int signal_slot_ = -1;  // registration of temp_path_ for removal on SIGINT / SIGTERM / SIGHUP
};

// Writes `n` bytes to `path` atomically (AtomicFile + write + commit).
void write_file_atomically(const std::string& path, const void* data, size_t n);
inline void write_file_atomically(const std::string& path, const std::vector<uint8_t>& bytes) {
  write_file_atomically(path, bytes.data(), bytes.size());
}

}  // namespace bark::io
