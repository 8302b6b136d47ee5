// Minimal ZIP reader/writer (see zip.h). Format reference: PKWARE APPNOTE.TXT 6.3.x,
// sections 4.3 (structure), 4.4 (fields), 4.5.3 (ZIP64 extended information extra field).
#include "io/zip.h"
#include "io/bytes.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>
#include <zlib.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <limits>
#include <stdexcept>

namespace bark::io {
namespace {

constexpr uint32_t kLocalHeaderSig = 0x04034b50;
constexpr uint32_t kCentralHeaderSig = 0x02014b50;
constexpr uint32_t kEocdSig = 0x06054b50;
constexpr uint32_t kZip64EocdSig = 0x06064b50;
constexpr uint32_t kZip64LocatorSig = 0x07064b50;
constexpr uint16_t kZip64ExtraId = 0x0001;

constexpr size_t kLocalHeaderSize = 30;
constexpr size_t kCentralHeaderSize = 46;
constexpr size_t kEocdSize = 22;
constexpr size_t kZip64EocdSize = 56;
constexpr size_t kZip64LocatorSize = 20;
constexpr size_t kMaxCommentSize = 0xFFFF;

// Deflate cannot expand data by more than ~1032:1 (RFC 1951 longest match 258 per ~2 bits);
// a member claiming more is corrupt, and refusing it bounds allocations by the file size.
constexpr uint64_t kMaxDeflateRatio = 1032;



// a + b <= limit, without overflow.
bool fits(uint64_t a, uint64_t b, uint64_t limit) { return a <= limit && b <= limit - a; }

std::string errno_text() { return std::strerror(errno); }

// Streams a raw-deflate member through zlib, handing each inflated chunk to `sink`
// (sink returns false to stop early). Reads the compressed bytes in bounded chunks.
template <typename ReadAt, typename Sink>
void inflate_member(const std::string& what, const ZipEntry& entry, uint64_t data_offset,
                    ReadAt&& read_at, uint64_t out_limit, Sink&& sink) {
  z_stream zs{};
  if (inflateInit2(&zs, -MAX_WBITS) != Z_OK) {
    throw std::runtime_error(what + ": zlib inflateInit2 failed");
  }
  struct Guard {
    z_stream* zs;
    ~Guard() { inflateEnd(zs); }
  } guard{&zs};

  constexpr size_t kInChunk = 1 << 20;
  constexpr size_t kOutChunk = 1 << 20;
  std::vector<uint8_t> in(static_cast<size_t>(std::min<uint64_t>(kInChunk, entry.compressed_size)) + 1);
  std::vector<uint8_t> out(kOutChunk);
  uint64_t in_pos = 0;
  uint64_t produced = 0;
  bool ended = false;
  while (!ended) {
    if (zs.avail_in == 0 && in_pos < entry.compressed_size) {
      size_t n = static_cast<size_t>(std::min<uint64_t>(in.size(), entry.compressed_size - in_pos));
      read_at(data_offset + in_pos, in.data(), n);
      in_pos += n;
      zs.next_in = in.data();
      zs.avail_in = static_cast<uInt>(n);
    }
    zs.next_out = out.data();
    zs.avail_out = static_cast<uInt>(out.size());
    int rc = inflate(&zs, Z_NO_FLUSH);
    size_t got = out.size() - zs.avail_out;
    if (rc == Z_STREAM_END) {
      ended = true;
    } else if (rc == Z_BUF_ERROR) {
      // No progress possible: input exhausted before the end of the deflate stream.
      if (got == 0 && zs.avail_in == 0 && in_pos >= entry.compressed_size) {
        throw std::runtime_error(what + ": deflate stream of member '" + entry.name +
                                 "' is truncated");
      }
    } else if (rc != Z_OK) {
      throw std::runtime_error(what + ": corrupt deflate data in member '" + entry.name + "' (" +
                               (zs.msg ? zs.msg : "zlib error " + std::to_string(rc)) + ")");
    }
    if (got > 0) {
      if (!fits(produced, got, out_limit)) {
        throw std::runtime_error(what + ": member '" + entry.name + "' inflates to more than its " +
                                 "declared size of " + std::to_string(out_limit) + " bytes");
      }
      produced += got;
      if (!sink(out.data(), got)) return;
    } else if (rc == Z_OK && zs.avail_in == 0 && in_pos >= entry.compressed_size) {
      throw std::runtime_error(what + ": deflate stream of member '" + entry.name + "' is truncated");
    }
  }
  if (produced != out_limit) {
    throw std::runtime_error(what + ": member '" + entry.name + "' inflates to " +
                             std::to_string(produced) + " bytes, but the directory says " +
                             std::to_string(out_limit));
  }
}

}  // namespace

uint32_t crc32_of(const uint8_t* data, size_t n, uint32_t crc) {
  uLong c = crc;
  // zlib's crc32 takes uInt lengths; feed in chunks for > 4 GB buffers.
  while (n > 0) {
    uInt chunk = static_cast<uInt>(std::min<size_t>(n, 1u << 30));
    c = ::crc32(c, data, chunk);
    data += chunk;
    n -= chunk;
  }
  return static_cast<uint32_t>(c);
}

// ---- ZipReader -----------------------------------------------------------------------------

ZipReader::ZipReader(const std::string& path) : path_(path) {
  const std::string what = "zip '" + path + "'";
  file_ = std::fopen(path.c_str(), "rb");
  if (file_ == nullptr) throw std::runtime_error(what + ": cannot open (" + errno_text() + ")");
  try {
    struct stat st {};
    if (fstat(fileno(file_), &st) != 0) {
      throw std::runtime_error(what + ": cannot stat (" + errno_text() + ")");
    }
    if (!S_ISREG(st.st_mode)) throw std::runtime_error(what + ": not a regular file");
    file_size_ = static_cast<uint64_t>(st.st_size);
    if (file_size_ < kEocdSize) {
      throw std::runtime_error(what + ": not a zip file (only " + std::to_string(file_size_) +
                               " bytes; truncated or not an archive)");
    }

    // End of central directory: the last 22 + comment bytes. Scan backwards for a signature
    // whose comment length reaches exactly the end of the file (else accept the last one found
    // whose comment fits, as Python's zipfile does for trailing garbage).
    const uint64_t tail_size = std::min<uint64_t>(file_size_, kEocdSize + kMaxCommentSize);
    std::vector<uint8_t> tail(static_cast<size_t>(tail_size));
    read_at(file_size_ - tail_size, tail.data(), tail_size);
    int64_t eocd_in_tail = -1;
    for (int64_t i = static_cast<int64_t>(tail_size - kEocdSize); i >= 0; --i) {
      if (le32(&tail[static_cast<size_t>(i)]) != kEocdSig) continue;
      uint64_t comment_len = le16(&tail[static_cast<size_t>(i) + 20]);
      if (static_cast<uint64_t>(i) + kEocdSize + comment_len == tail_size) {
        eocd_in_tail = i;
        break;
      }
      if (eocd_in_tail < 0 && static_cast<uint64_t>(i) + kEocdSize + comment_len <= tail_size) {
        eocd_in_tail = i;
      }
    }
    if (eocd_in_tail < 0) {
      throw std::runtime_error(what + ": not a zip file (no end-of-central-directory record; "
                               "truncated or not an archive)");
    }
    const uint64_t eocd_offset = file_size_ - tail_size + static_cast<uint64_t>(eocd_in_tail);
    const uint8_t* eocd = &tail[static_cast<size_t>(eocd_in_tail)];
    const uint16_t disk_no = le16(eocd + 4);
    const uint16_t cd_disk = le16(eocd + 6);
    uint64_t n_entries_disk = le16(eocd + 8);
    uint64_t n_entries = le16(eocd + 10);
    uint64_t cd_size = le32(eocd + 12);
    uint64_t cd_offset = le32(eocd + 16);
    uint64_t cd_limit = eocd_offset;  // the central directory ends before this

    // ZIP64: a locator right before the EOCD points at the ZIP64 end record.
    if (eocd_offset >= kZip64LocatorSize) {
      uint8_t loc[kZip64LocatorSize];
      read_at(eocd_offset - kZip64LocatorSize, loc, kZip64LocatorSize);
      if (le32(loc) == kZip64LocatorSig) {
        const uint64_t z64_offset = le64(loc + 8);
        if (le32(loc + 16) > 1) throw std::runtime_error(what + ": multi-disk archives are not supported");
        if (!fits(z64_offset, kZip64EocdSize, eocd_offset - kZip64LocatorSize)) {
          throw std::runtime_error(what + ": ZIP64 end record offset " + std::to_string(z64_offset) +
                                   " is outside the file");
        }
        uint8_t z64[kZip64EocdSize];
        read_at(z64_offset, z64, kZip64EocdSize);
        if (le32(z64) != kZip64EocdSig) {
          throw std::runtime_error(what + ": bad ZIP64 end-of-central-directory signature");
        }
        if (le32(z64 + 16) != 0 || le32(z64 + 20) != 0) {
          throw std::runtime_error(what + ": multi-disk archives are not supported");
        }
        n_entries_disk = le64(z64 + 24);
        n_entries = le64(z64 + 32);
        cd_size = le64(z64 + 40);
        cd_offset = le64(z64 + 48);
        cd_limit = z64_offset;
      }
    }
    if (disk_no != 0 || cd_disk != 0 || n_entries_disk != n_entries) {
      throw std::runtime_error(what + ": multi-disk archives are not supported");
    }
    if (!fits(cd_offset, cd_size, cd_limit)) {
      throw std::runtime_error(what + ": central directory (offset " + std::to_string(cd_offset) +
                               ", size " + std::to_string(cd_size) + ") lies outside the file of " +
                               std::to_string(file_size_) + " bytes (truncated?)");
    }
    if (n_entries > cd_size / kCentralHeaderSize) {
      throw std::runtime_error(what + ": central directory claims " + std::to_string(n_entries) +
                               " entries, more than its " + std::to_string(cd_size) + " bytes can hold");
    }

    std::vector<uint8_t> cd(static_cast<size_t>(cd_size));
    read_at(cd_offset, cd.data(), cd_size);
    entries_.reserve(static_cast<size_t>(n_entries));
    size_t pos = 0;
    for (uint64_t i = 0; i < n_entries; ++i) {
      const std::string where = what + ": central directory entry " + std::to_string(i);
      if (cd.size() - pos < kCentralHeaderSize) throw std::runtime_error(where + " is truncated");
      const uint8_t* h = &cd[pos];
      if (le32(h) != kCentralHeaderSig) throw std::runtime_error(where + " has a bad signature");
      const uint16_t flags = le16(h + 8);
      ZipEntry e;
      e.method = le16(h + 10);
      e.crc32 = le32(h + 16);
      e.compressed_size = le32(h + 20);
      e.uncompressed_size = le32(h + 24);
      const size_t name_len = le16(h + 28);
      const size_t extra_len = le16(h + 30);
      const size_t comment_len = le16(h + 32);
      const uint16_t start_disk = le16(h + 34);
      e.local_header_offset = le32(h + 42);
      if (cd.size() - pos - kCentralHeaderSize < name_len + extra_len + comment_len) {
        throw std::runtime_error(where + ": name/extra/comment run past the central directory");
      }
      e.name.assign(reinterpret_cast<const char*>(h + kCentralHeaderSize), name_len);
      const uint8_t* extra = h + kCentralHeaderSize + name_len;

      // ZIP64 extra field: only the fields whose 32-bit value is 0xFFFFFFFF are present,
      // in this order (APPNOTE 4.5.3).
      const bool need_usize = e.uncompressed_size == 0xFFFFFFFFu;
      const bool need_csize = e.compressed_size == 0xFFFFFFFFu;
      const bool need_offset = e.local_header_offset == 0xFFFFFFFFu;
      if (need_usize || need_csize || need_offset) {
        bool found = false;
        size_t xp = 0;
        while (extra_len - xp >= 4) {
          const uint16_t id = le16(extra + xp);
          const size_t len = le16(extra + xp + 2);
          if (extra_len - xp - 4 < len) break;
          if (id == kZip64ExtraId) {
            const uint8_t* f = extra + xp + 4;
            size_t avail = len;
            auto take = [&](uint64_t& dst) {
              if (avail < 8) throw std::runtime_error(where + " ('" + e.name + "'): ZIP64 extra field too short");
              dst = le64(f);
              f += 8;
              avail -= 8;
            };
            if (need_usize) take(e.uncompressed_size);
            if (need_csize) take(e.compressed_size);
            if (need_offset) take(e.local_header_offset);
            found = true;
            break;
          }
          xp += 4 + len;
        }
        if (!found) {
          throw std::runtime_error(where + " ('" + e.name + "'): sizes need a ZIP64 extra field, "
                                   "but none is present");
        }
      }
      if (start_disk != 0 && start_disk != 0xFFFF) {
        throw std::runtime_error(where + " ('" + e.name + "'): multi-disk archives are not supported");
      }
      if (flags & 0x1) {
        throw std::runtime_error(where + " ('" + e.name + "'): encrypted members are not supported");
      }
      pos += kCentralHeaderSize + name_len + extra_len + comment_len;

      // Local header: the data starts after its own name and extra fields, which may differ
      // from the central directory's (e.g. ZIP64 extras only in the local header).
      if (!fits(e.local_header_offset, kLocalHeaderSize, cd_offset)) {
        throw std::runtime_error(where + " ('" + e.name + "'): local header offset " +
                                 std::to_string(e.local_header_offset) + " is outside the file data");
      }
      uint8_t lh[kLocalHeaderSize];
      read_at(e.local_header_offset, lh, kLocalHeaderSize);
      if (le32(lh) != kLocalHeaderSig) {
        throw std::runtime_error(where + " ('" + e.name + "'): bad local header signature at offset " +
                                 std::to_string(e.local_header_offset));
      }
      e.data_offset = e.local_header_offset + kLocalHeaderSize + le16(lh + 26) + le16(lh + 28);
      if (!fits(e.data_offset, e.compressed_size, cd_offset)) {
        throw std::runtime_error(where + " ('" + e.name + "'): data (offset " +
                                 std::to_string(e.data_offset) + ", " + std::to_string(e.compressed_size) +
                                 " bytes) runs past the end of the file data (truncated?)");
      }
      if (e.method == 0 && e.compressed_size != e.uncompressed_size) {
        throw std::runtime_error(where + " ('" + e.name + "'): stored member with compressed size " +
                                 std::to_string(e.compressed_size) + " != uncompressed size " +
                                 std::to_string(e.uncompressed_size));
      }
      if (e.method == 8 && e.uncompressed_size / kMaxDeflateRatio > e.compressed_size + 1) {
        throw std::runtime_error(where + " ('" + e.name + "'): claims " + std::to_string(e.uncompressed_size) +
                                 " bytes from " + std::to_string(e.compressed_size) +
                                 " deflated bytes, which deflate cannot produce");
      }
      index_[e.name] = entries_.size();  // like Python's zipfile, a later duplicate wins
      entries_.push_back(std::move(e));
    }
    // Members may not share bytes: several names on one deflated stream (an overlapping-entry
    // bomb) would inflate the same data again and again.
    std::vector<std::pair<uint64_t, size_t>> starts;  // (local header offset, entry)
    starts.reserve(entries_.size());
    for (size_t i = 0; i < entries_.size(); ++i) starts.emplace_back(entries_[i].local_header_offset, i);
    std::sort(starts.begin(), starts.end());
    for (size_t k = 1; k < starts.size(); ++k) {
      const ZipEntry& prev = entries_[starts[k - 1].second];
      const ZipEntry& next = entries_[starts[k].second];
      if (next.local_header_offset < prev.data_offset + prev.compressed_size) {
        throw std::runtime_error(what + ": members '" + prev.name + "' and '" + next.name +
                                 "' overlap in the file (a malformed or malicious archive)");
      }
    }
  } catch (...) {
    std::fclose(file_);
    file_ = nullptr;
    throw;
  }
}

ZipReader::~ZipReader() {
  if (file_ != nullptr) std::fclose(file_);
}

const ZipEntry* ZipReader::find(const std::string& name) const {
  auto it = index_.find(name);
  return it == index_.end() ? nullptr : &entries_[it->second];
}

const ZipEntry& ZipReader::at(const std::string& name) const {
  const ZipEntry* e = find(name);
  if (e == nullptr) throw std::runtime_error("zip '" + path_ + "': no member '" + name + "'");
  return *e;
}

uint64_t ZipReader::data_offset(const ZipEntry& entry) const {
  // Entries are validated when the directory is read; this re-checks entries built by callers.
  if (!fits(entry.data_offset, entry.compressed_size, file_size_) || entry.data_offset == 0) {
    throw std::runtime_error("zip '" + path_ + "': member '" + entry.name + "' lies outside the file");
  }
  return entry.data_offset;
}

void ZipReader::read_at(uint64_t offset, void* dst, uint64_t n) const {
  if (!fits(offset, n, file_size_)) {
    throw std::runtime_error("zip '" + path_ + "': read of " + std::to_string(n) + " bytes at offset " +
                             std::to_string(offset) + " past the end of the file (" +
                             std::to_string(file_size_) + " bytes; truncated?)");
  }
  // pread: no shared file position, so const readers may be used from several threads.
  const int fd = fileno(file_);
  auto* out = static_cast<uint8_t*>(dst);
  while (n > 0) {
    const size_t chunk = static_cast<size_t>(std::min<uint64_t>(n, 1u << 30));
    const ssize_t got = ::pread(fd, out, chunk, static_cast<off_t>(offset));
    if (got < 0) {
      if (errno == EINTR) continue;
      throw std::runtime_error("zip '" + path_ + "': read error at offset " + std::to_string(offset) +
                               " (" + errno_text() + ")");
    }
    if (got == 0) {
      throw std::runtime_error("zip '" + path_ + "': unexpected end of file at offset " +
                               std::to_string(offset) + " (file changed or truncated?)");
    }
    out += got;
    offset += static_cast<uint64_t>(got);
    n -= static_cast<uint64_t>(got);
  }
}

std::vector<uint8_t> ZipReader::read(const ZipEntry& entry, uint64_t max_size) const {
  const std::string what = "zip '" + path_ + "'";
  if (entry.uncompressed_size > max_size) {
    throw std::runtime_error(what + ": member '" + entry.name + "' is " +
                             std::to_string(entry.uncompressed_size) + " bytes, more than the allowed " +
                             std::to_string(max_size));
  }
  if (entry.uncompressed_size > std::numeric_limits<size_t>::max()) {
    throw std::runtime_error(what + ": member '" + entry.name + "' is too large for this platform");
  }
  const uint64_t off = data_offset(entry);
  std::vector<uint8_t> out;
  if (entry.method == 0) {
    if (entry.compressed_size != entry.uncompressed_size) {
      throw std::runtime_error(what + ": stored member '" + entry.name + "' has inconsistent sizes");
    }
    out.resize(static_cast<size_t>(entry.uncompressed_size));
    read_at(off, out.data(), entry.uncompressed_size);
  } else if (entry.method == 8) {
    if (entry.uncompressed_size / kMaxDeflateRatio > entry.compressed_size + 1) {
      throw std::runtime_error(what + ": member '" + entry.name + "' claims an impossible inflated size");
    }
    out.resize(static_cast<size_t>(entry.uncompressed_size));
    uint64_t filled = 0;
    inflate_member(
        what, entry, off, [this](uint64_t o, void* d, uint64_t n) { read_at(o, d, n); },
        entry.uncompressed_size, [&](const uint8_t* p, size_t n) {
          std::memcpy(out.data() + filled, p, n);
          filled += n;
          return true;
        });
  } else {
    throw std::runtime_error(what + ": member '" + entry.name + "' uses compression method " +
                             std::to_string(entry.method) + " (only stored and deflate are supported)");
  }
  const uint32_t crc = crc32_of(out.data(), out.size());
  if (crc != entry.crc32) {
    char buf[64];
    std::snprintf(buf, sizeof buf, "CRC-32 %08x, expected %08x", crc, entry.crc32);
    throw std::runtime_error(what + ": member '" + entry.name + "' is corrupt (" + buf + ")");
  }
  return out;
}

void ZipReader::read_range(const ZipEntry& entry, uint64_t offset, void* dst, uint64_t n) const {
  const std::string what = "zip '" + path_ + "'";
  if (!fits(offset, n, entry.uncompressed_size)) {
    throw std::runtime_error(what + ": range [" + std::to_string(offset) + ", +" + std::to_string(n) +
                             ") is outside member '" + entry.name + "' of " +
                             std::to_string(entry.uncompressed_size) + " bytes");
  }
  if (n == 0) return;
  const uint64_t off = data_offset(entry);
  if (entry.method == 0) {
    read_at(off + offset, dst, n);
    return;
  }
  if (entry.method != 8) {
    throw std::runtime_error(what + ": member '" + entry.name + "' uses compression method " +
                             std::to_string(entry.method) + " (only stored and deflate are supported)");
  }
  // Deflate has no random access: inflate from the start, keep [offset, offset + n).
  auto* out = static_cast<uint8_t*>(dst);
  uint64_t pos = 0;
  uint64_t copied = 0;
  inflate_member(
      what, entry, off, [this](uint64_t o, void* d, uint64_t k) { read_at(o, d, k); },
      entry.uncompressed_size, [&](const uint8_t* p, size_t k) {
        const uint64_t chunk_end = pos + k;
        if (chunk_end > offset) {
          const uint64_t from = std::max(pos, offset);
          const uint64_t to = std::min(chunk_end, offset + n);
          if (to > from) {
            std::memcpy(out + (from - offset), p + (from - pos), static_cast<size_t>(to - from));
            copied += to - from;
          }
        }
        pos = chunk_end;
        return copied < n;
      });
  if (copied != n) {
    throw std::runtime_error(what + ": member '" + entry.name + "' ended before the requested range");
  }
}

// ---- ZipWriter -----------------------------------------------------------------------------

namespace {
// DOS date 1980-01-01 00:00: fixed so the same arrays give byte-identical files.
constexpr uint16_t kDosTime = 0;
constexpr uint16_t kDosDate = (0 << 9) | (1 << 5) | 1;
constexpr uint64_t kZip32Limit = 0xFFFFFFFFu;

// General purpose flags: bit 11 marks a UTF-8 name (as Python's zipfile sets for non-ASCII).
uint16_t name_flags(const std::string& name) {
  for (char c : name) {
    if (static_cast<unsigned char>(c) >= 0x80) return 0x0800;
  }
  return 0;
}
}  // namespace

ZipWriter::ZipWriter(const std::string& path) : path_(path) {
  file_ = std::fopen(path.c_str(), "wb");
  if (file_ == nullptr) {
    throw std::runtime_error("zip '" + path + "': cannot create (" + errno_text() + ")");
  }
}

ZipWriter::~ZipWriter() {
  if (file_ != nullptr) std::fclose(file_);
}

void ZipWriter::write_bytes(const void* data, size_t n) {
  if (n > 0 && std::fwrite(data, 1, n, file_) != n) {
    throw std::runtime_error("zip '" + path_ + "': write failed (" + errno_text() + ")");
  }
  offset_ += n;
}

void ZipWriter::add(const std::string& name, const std::vector<uint8_t>& data) {
  if (file_ == nullptr || finished_) {
    throw std::runtime_error("zip '" + path_ + "': add('" + name + "') after finish()");
  }
  if (name.empty() || name.size() > 0xFFFF) {
    throw std::invalid_argument("zip '" + path_ + "': member name must be 1..65535 bytes");
  }
  ZipEntry e;
  e.name = name;
  e.method = 0;
  e.compressed_size = e.uncompressed_size = data.size();
  e.crc32 = crc32_of(data.data(), data.size());
  e.local_header_offset = offset_;
  const bool zip64 = force_zip64_ || data.size() >= kZip32Limit;

  std::vector<uint8_t> h;
  put32(h, kLocalHeaderSig);
  put16(h, zip64 ? 45 : 20);  // version needed: 4.5 for ZIP64, 2.0 otherwise
  put16(h, name_flags(name));
  put16(h, 0);                // method: stored
  put16(h, kDosTime);
  put16(h, kDosDate);
  put32(h, e.crc32);
  put32(h, zip64 ? 0xFFFFFFFFu : static_cast<uint32_t>(data.size()));
  put32(h, zip64 ? 0xFFFFFFFFu : static_cast<uint32_t>(data.size()));
  put16(h, static_cast<uint16_t>(name.size()));
  put16(h, zip64 ? 20 : 0);
  h.insert(h.end(), name.begin(), name.end());
  if (zip64) {
    put16(h, kZip64ExtraId);
    put16(h, 16);
    put64(h, data.size());
    put64(h, data.size());
  }
  e.data_offset = offset_ + h.size();
  write_bytes(h.data(), h.size());
  write_bytes(data.data(), data.size());
  entries_.push_back(std::move(e));
}

void ZipWriter::finish() {
  if (finished_) return;
  if (file_ == nullptr) throw std::runtime_error("zip '" + path_ + "': not open");
  const uint64_t cd_offset = offset_;
  std::vector<uint8_t> cd;
  for (const ZipEntry& e : entries_) {
    const bool big_size = force_zip64_ || e.uncompressed_size >= kZip32Limit;
    const bool big_offset = force_zip64_ || e.local_header_offset >= kZip32Limit;
    std::vector<uint8_t> extra;
    if (big_size || big_offset) {
      put16(extra, kZip64ExtraId);
      put16(extra, static_cast<uint16_t>((big_size ? 16 : 0) + (big_offset ? 8 : 0)));
      if (big_size) {
        put64(extra, e.uncompressed_size);
        put64(extra, e.compressed_size);
      }
      if (big_offset) put64(extra, e.local_header_offset);
    }
    const bool zip64 = !extra.empty();
    put32(cd, kCentralHeaderSig);
    put16(cd, (3 << 8) | (zip64 ? 45 : 20));  // made by: Unix, spec version
    put16(cd, zip64 ? 45 : 20);              // version needed
    put16(cd, name_flags(e.name));
    put16(cd, 0);                            // method: stored
    put16(cd, kDosTime);
    put16(cd, kDosDate);
    put32(cd, e.crc32);
    put32(cd, big_size ? 0xFFFFFFFFu : static_cast<uint32_t>(e.compressed_size));
    put32(cd, big_size ? 0xFFFFFFFFu : static_cast<uint32_t>(e.uncompressed_size));
    put16(cd, static_cast<uint16_t>(e.name.size()));
    put16(cd, static_cast<uint16_t>(extra.size()));
    put16(cd, 0);                  // comment length
    put16(cd, 0);                  // disk number start
    put16(cd, 0);                  // internal attributes
    put32(cd, 0644u << 16);        // external attributes: -rw-r--r--
    put32(cd, big_offset ? 0xFFFFFFFFu : static_cast<uint32_t>(e.local_header_offset));
    cd.insert(cd.end(), e.name.begin(), e.name.end());
    cd.insert(cd.end(), extra.begin(), extra.end());
  }
  const uint64_t cd_size = cd.size();
  const uint64_t n = entries_.size();
  const bool zip64_end = force_zip64_ || n >= 0xFFFF || cd_offset >= kZip32Limit || cd_size >= kZip32Limit;
  std::vector<uint8_t> end;
  if (zip64_end) {
    const uint64_t z64_offset = cd_offset + cd_size;
    put32(end, kZip64EocdSig);
    put64(end, kZip64EocdSize - 12);  // size of the remaining record
    put16(end, (3 << 8) | 45);
    put16(end, 45);
    put32(end, 0);  // this disk
    put32(end, 0);  // disk with the central directory
    put64(end, n);
    put64(end, n);
    put64(end, cd_size);
    put64(end, cd_offset);
    put32(end, kZip64LocatorSig);
    put32(end, 0);
    put64(end, z64_offset);
    put32(end, 1);  // total disks
  }
  put32(end, kEocdSig);
  put16(end, 0);
  put16(end, 0);
  put16(end, static_cast<uint16_t>(zip64_end ? 0xFFFF : n));
  put16(end, static_cast<uint16_t>(zip64_end ? 0xFFFF : n));
  put32(end, zip64_end ? 0xFFFFFFFFu : static_cast<uint32_t>(cd_size));
  put32(end, zip64_end ? 0xFFFFFFFFu : static_cast<uint32_t>(cd_offset));
  put16(end, 0);  // comment length
  write_bytes(cd.data(), cd.size());
  write_bytes(end.data(), end.size());

  std::FILE* f = file_;
  file_ = nullptr;
  finished_ = true;
  const bool flushed = std::fflush(f) == 0 && ::fsync(fileno(f)) == 0;
  const int saved_errno = errno;
  const bool closed = std::fclose(f) == 0;
  if (!flushed || !closed) {
    errno = flushed ? errno : saved_errno;
    throw std::runtime_error("zip '" + path_ + "': cannot write (" + errno_text() + ")");
  }
}

}  // namespace bark::io
