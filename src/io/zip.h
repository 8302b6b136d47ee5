// Private: a minimal read-only ZIP reader (stored and deflate members, ZIP64), enough for
// torch.save archives and numpy .npz files. Nothing is read until asked for, so a 5 GB
// checkpoint costs only its central directory to open.
#pragma once

#include <cstdint>
#include <cstdio>
#include <memory>
#include <string>
#include <unordered_map>
#include <vector>

namespace bark::io {

struct ZipEntry {
  std::string name;
  uint16_t method = 0;             // 0 = stored, 8 = deflate
  uint64_t compressed_size = 0;
  uint64_t uncompressed_size = 0;
  uint32_t crc32 = 0;
  uint64_t local_header_offset = 0;
  uint64_t data_offset = 0;        // resolved from the local header when opened
};

class ZipReader {
 public:
  // Opens `path` and reads its central directory. Throws std::runtime_error naming the file
  // on anything malformed (not a zip, truncated, entries pointing outside the file, ...).
  explicit ZipReader(const std::string& path);
  ~ZipReader();
  ZipReader(const ZipReader&) = delete;
  ZipReader& operator=(const ZipReader&) = delete;

  const std::string& path() const { return path_; }
  const std::vector<ZipEntry>& entries() const { return entries_; }
  // nullptr when absent.
  const ZipEntry* find(const std::string& name) const;
  // Like find, but throws std::runtime_error("... no member 'name'") when absent.
  const ZipEntry& at(const std::string& name) const;

  // Whole member, decompressed and CRC-checked. `max_size` bounds the allocation.
  std::vector<uint8_t> read(const ZipEntry& entry, uint64_t max_size = UINT64_MAX) const;
  // Reads the member's bytes [offset, offset + n) into dst. Stored members are read directly
  // from the file (no copy of the whole member); deflated members are inflated. No CRC check.
  void read_range(const ZipEntry& entry, uint64_t offset, void* dst, uint64_t n) const;

 private:
  uint64_t data_offset(const ZipEntry& entry) const;
  void read_at(uint64_t offset, void* dst, uint64_t n) const;

  std::string path_;
  std::FILE* file_ = nullptr;
  uint64_t file_size_ = 0;
  std::vector<ZipEntry> entries_;
  std::unordered_map<std::string, size_t> index_;
};

// Writes an uncompressed (stored) zip, as np.savez does. Members are written in order.
class ZipWriter {
 public:
  explicit ZipWriter(const std::string& path);  // throws std::runtime_error
  ~ZipWriter();
  ZipWriter(const ZipWriter&) = delete;
  ZipWriter& operator=(const ZipWriter&) = delete;
  void add(const std::string& name, const std::vector<uint8_t>& data);
  // Writes the central directory, flushes (fsync) and closes the file; throws on I/O errors.
  void finish();
  // Always write ZIP64 records and extra fields, even for small archives (for tests; by
  // default they are written only where a size, offset or count needs them).
  void set_force_zip64(bool force) { force_zip64_ = force; }

 private:
  void write_bytes(const void* data, size_t n);

  std::string path_;
  std::FILE* file_ = nullptr;
  std::vector<ZipEntry> entries_;
  bool finished_ = false;
  bool force_zip64_ = false;
  uint64_t offset_ = 0;
};

uint32_t crc32_of(const uint8_t* data, size_t n, uint32_t crc = 0);

}  // namespace bark::io
