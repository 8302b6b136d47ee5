// Tests of the private ZIP reader/writer (src/io/zip.{h,cpp}).
#include <fcntl.h>
#include <sys/mman.h>
#include <unistd.h>

#include <catch2/catch.hpp>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <memory>
#include <random>
#include <sstream>
#include <string>
#include <vector>

#include "io/zip.h"
#include "file_helpers.h"
#include "test_common.h"

namespace fs = std::filesystem;
using bark::io::ZipReader;
using bark::io::ZipWriter;
using Catch::Matchers::Contains;

using bark_test::MemFile;
using bark_test::run_python;
using bark_test::slurp;
using bark_test::spit;

namespace {

std::vector<uint8_t> bytes_of(const std::string& s) { return {s.begin(), s.end()}; }

void put16(std::vector<uint8_t>& b, size_t at, uint16_t v) {
  b[at] = static_cast<uint8_t>(v);
  b[at + 1] = static_cast<uint8_t>(v >> 8);
}
void put32(std::vector<uint8_t>& b, size_t at, uint32_t v) {
  for (int i = 0; i < 4; ++i) b[at + i] = static_cast<uint8_t>(v >> (8 * i));
}
size_t find_sig(const std::vector<uint8_t>& b, uint32_t sig, bool last = false) {
  size_t found = std::string::npos;
  for (size_t i = 0; i + 4 <= b.size(); ++i) {
    if ((b[i] | (b[i + 1] << 8) | (b[i + 2] << 16) | (static_cast<uint32_t>(b[i + 3]) << 24)) == sig) {
      found = i;
      if (!last) break;
    }
  }
  return found;
}

// Two stored members "a.txt" ("hello"), "dir/b.bin" (1000 pattern bytes).
fs::path write_small_zip(const fs::path& dir, bool zip64 = false) {
  const fs::path p = dir / (zip64 ? "small64.zip" : "small.zip");
  ZipWriter w(p.string());
  w.set_force_zip64(zip64);
  w.add("a.txt", bytes_of("hello"));
  std::vector<uint8_t> b(1000);
  for (size_t i = 0; i < b.size(); ++i) b[i] = static_cast<uint8_t>(i * 7 + 3);
  w.add("dir/b.bin", b);
  w.add("empty", {});
  w.finish();
  return p;
}

void check_small_zip(const fs::path& p) {
  ZipReader r(p.string());
  REQUIRE(r.entries().size() == 3);
  CHECK(r.entries()[0].name == "a.txt");
  CHECK(r.read(r.at("a.txt")) == bytes_of("hello"));
  const auto b = r.read(r.at("dir/b.bin"));
  REQUIRE(b.size() == 1000);
  for (size_t i = 0; i < b.size(); ++i) REQUIRE(b[i] == static_cast<uint8_t>(i * 7 + 3));
  CHECK(r.read(r.at("empty")).empty());
  CHECK(r.find("missing") == nullptr);
  uint8_t buf[10];
  r.read_range(r.at("dir/b.bin"), 990, buf, 10);
  for (int i = 0; i < 10; ++i) CHECK(buf[i] == static_cast<uint8_t>((990 + i) * 7 + 3));
}

}  // namespace

TEST_CASE("zip: writer/reader round trip, find/at/read/read_range", "[unit]") {
  const auto dir = bark_test::temp_dir("zip_roundtrip");
  for (bool zip64 : {false, true}) {
    INFO("force_zip64=" << zip64);
    const auto p = write_small_zip(dir, zip64);
    check_small_zip(p);
    ZipReader r(p.string());
    REQUIRE_THROWS_WITH(r.at("nope"), Contains("no member 'nope'") && Contains(p.string()));
    REQUIRE_THROWS_WITH(r.read(r.at("dir/b.bin"), /*max_size=*/999), Contains("more than the allowed"));
    uint8_t buf[4];
    REQUIRE_THROWS_WITH(r.read_range(r.at("a.txt"), 3, buf, 4), Contains("outside member"));
    REQUIRE_THROWS_WITH(r.read_range(r.at("a.txt"), UINT64_MAX, buf, 2), Contains("outside member"));
  }
}

TEST_CASE("zip: crc32_of matches zlib's known value", "[unit]") {
  const std::string s = "123456789";
  CHECK(bark::io::crc32_of(reinterpret_cast<const uint8_t*>(s.data()), s.size()) == 0xCBF43926u);
  // Incremental.
  uint32_t c = bark::io::crc32_of(reinterpret_cast<const uint8_t*>(s.data()), 4);
  c = bark::io::crc32_of(reinterpret_cast<const uint8_t*>(s.data()) + 4, 5, c);
  CHECK(c == 0xCBF43926u);
}

TEST_CASE("zip: Python zipfile reads what ZipWriter writes (also ZIP64)", "[unit]") {
  const auto dir = bark_test::temp_dir("zip_py_reads");
  const auto p32 = write_small_zip(dir, false);
  const auto p64 = write_small_zip(dir, true);
  std::string code = "import zipfile\n";
  for (const auto& p : {p32, p64}) {
    code += "z = zipfile.ZipFile(r'" + p.string() + "')\n"
            "assert z.testzip() is None\n"
            "assert z.namelist() == ['a.txt', 'dir/b.bin', 'empty'], z.namelist()\n"
            "assert z.read('a.txt') == b'hello'\n"
            "assert z.read('dir/b.bin') == bytes((i * 7 + 3) % 256 for i in range(1000))\n"
            "assert all(i.compress_type == zipfile.ZIP_STORED for i in z.infolist())\n";
  }
  // Non-ASCII names are flagged UTF-8 (general purpose bit 11), as Python's zipfile does.
  const fs::path utf8 = dir / "utf8.zip";
  {
    ZipWriter w(utf8.string());
    w.add("voix/\xc3\xa9t\xc3\xa9.npy", bytes_of("x"));
    w.finish();
  }
  code += "z = zipfile.ZipFile(r'" + utf8.string() + "')\n"
          "assert z.namelist() == ['voix/\\u00e9t\\u00e9.npy'], z.namelist()\n"
          "assert z.infolist()[0].flag_bits & 0x800\n";
  REQUIRE(run_python(code, dir) == 0);
  CHECK(ZipReader(utf8.string()).find("voix/\xc3\xa9t\xc3\xa9.npy") != nullptr);
}

TEST_CASE("zip: reads Python-written stored, deflated and ZIP64 archives", "[unit]") {
  const auto dir = bark_test::temp_dir("zip_py_writes");
  // Forcing zipfile's ZIP64 limits to 0 makes it write ZIP64 extras in the central directory
  // and a ZIP64 end record even for tiny files, as it does for torch.save of > 4 GB.
  const std::string code =
      "import zipfile, os\n"
      "d = r'" + dir.string() + "'\n"
      "data = {'arch/data.pkl': b'\\x80\\x02pickle' * 3, 'arch/data/0': os.urandom(100000),\n"
      "        'arch/data/1': b'z' * 70000, 'arch/version': b'3\\n'}\n"
      "def write(name, method, **kw):\n"
      "    with zipfile.ZipFile(os.path.join(d, name), 'w', method, **kw) as z:\n"
      "        for k, v in data.items():\n"
      "            z.writestr(k, v)\n"
      "    with open(os.path.join(d, name + '.expect'), 'wb') as f:\n"
      "        f.write(data['arch/data/0'])\n"
      "write('stored.zip', zipfile.ZIP_STORED)\n"
      "write('deflated.zip', zipfile.ZIP_DEFLATED, compresslevel=9)\n"
      "limits = zipfile.ZIP64_LIMIT, zipfile.ZIP_FILECOUNT_LIMIT\n"
      "zipfile.ZIP64_LIMIT = 0\n"
      "zipfile.ZIP_FILECOUNT_LIMIT = 0\n"
      "write('zip64.zip', zipfile.ZIP_STORED)\n"
      "write('zip64_deflated.zip', zipfile.ZIP_DEFLATED)\n"
      "zipfile.ZIP64_LIMIT, zipfile.ZIP_FILECOUNT_LIMIT = limits\n"
      "with zipfile.ZipFile(os.path.join(d, 'comment.zip'), 'w') as z:\n"
      "    z.comment = b'PK\\x05\\x06 fake end record inside the comment'\n"
      "    for k, v in data.items(): z.writestr(k, v)\n"
      "with open(os.path.join(d, 'comment.zip.expect'), 'wb') as f: f.write(data['arch/data/0'])\n"
      "with open(os.path.join(d, 'stream.zip'), 'wb') as raw:\n"
      "    class Unseekable:\n"
      "        def __init__(s, f): s.f = f\n"
      "        def write(s, b): return s.f.write(b)\n"
      "        def flush(s): s.f.flush()\n"
      "    with zipfile.ZipFile(Unseekable(raw), 'w', zipfile.ZIP_DEFLATED) as z:\n"
      "        for k, v in data.items():\n"
      "            with z.open(k, 'w') as m: m.write(v)\n"
      "with open(os.path.join(d, 'stream.zip.expect'), 'wb') as f: f.write(data['arch/data/0'])\n";
  REQUIRE(run_python(code, dir) == 0);
  for (const char* name : {"stored.zip", "deflated.zip", "zip64.zip", "zip64_deflated.zip", "comment.zip",
                           "stream.zip"}) {
    INFO(name);
    ZipReader r((dir / name).string());
    REQUIRE(r.entries().size() == 4);
    const auto expect = slurp(dir / (std::string(name) + ".expect"));
    const auto& e = r.at("arch/data/0");
    CHECK(r.read(e) == expect);
    CHECK(r.read(r.at("arch/data/1")) == std::vector<uint8_t>(70000, 'z'));
    CHECK(r.read(r.at("arch/version")) == bytes_of("3\n"));
    std::vector<uint8_t> part(5000);
    r.read_range(e, 77777, part.data(), part.size());
    CHECK(std::equal(part.begin(), part.end(), expect.begin() + 77777));
    r.read_range(e, 0, part.data(), 1);
    CHECK(part[0] == expect[0]);
  }
  ZipReader z64((dir / "zip64.zip").string());
  CHECK(z64.at("arch/data/0").method == 0);
  ZipReader def((dir / "deflated.zip").string());
  CHECK(def.at("arch/data/1").method == 8);
}

TEST_CASE("zip: ZIP64 member larger than 4 GB (sparse file), read_range past 4 GB", "[unit]") {
  // Hand-built archive: one stored 5 GiB member of zeros except for 8 marker bytes near its
  // end; the file is sparse so this costs no disk. CRC is not checked by read_range.
  const auto dir = bark_test::temp_dir("zip_huge");
  const fs::path p = dir / "huge.zip";
  const uint64_t size = 5ull << 30;
  const std::string name = "archive/data/0";
  std::vector<uint8_t> lh(30 + name.size() + 20, 0);
  put32(lh, 0, 0x04034b50);
  put16(lh, 4, 45);
  put32(lh, 18, 0xFFFFFFFFu);
  put32(lh, 22, 0xFFFFFFFFu);
  put16(lh, 26, static_cast<uint16_t>(name.size()));
  put16(lh, 28, 20);
  std::memcpy(&lh[30], name.data(), name.size());
  put16(lh, 30 + name.size(), 1);
  put16(lh, 32 + name.size(), 16);
  for (int i = 0; i < 8; ++i) {
    lh[34 + name.size() + i] = static_cast<uint8_t>(size >> (8 * i));
    lh[42 + name.size() + i] = static_cast<uint8_t>(size >> (8 * i));
  }
  const uint64_t data_offset = lh.size();
  const uint64_t cd_offset = data_offset + size;
  std::vector<uint8_t> cd(46 + name.size() + 28, 0);
  put32(cd, 0, 0x02014b50);
  put16(cd, 4, 45);
  put16(cd, 6, 45);
  put32(cd, 20, 0xFFFFFFFFu);
  put32(cd, 24, 0xFFFFFFFFu);
  put16(cd, 28, static_cast<uint16_t>(name.size()));
  put16(cd, 30, 28);
  put32(cd, 42, 0);  // local header offset fits in 32 bits
  std::memcpy(&cd[46], name.data(), name.size());
  put16(cd, 46 + name.size(), 1);
  put16(cd, 48 + name.size(), 24);
  for (int i = 0; i < 8; ++i) {
    cd[50 + name.size() + i] = static_cast<uint8_t>(size >> (8 * i));
    cd[58 + name.size() + i] = static_cast<uint8_t>(size >> (8 * i));
    cd[66 + name.size() + i] = 0xAB;  // junk past the fields we need: must be ignored
  }
  std::vector<uint8_t> end(56 + 20 + 22, 0);
  put32(end, 0, 0x06064b50);
  end[4] = 44;
  put16(end, 12, 45);
  put16(end, 14, 45);
  end[24] = 1;
  end[32] = 1;
  for (int i = 0; i < 8; ++i) {
    end[40 + i] = static_cast<uint8_t>(static_cast<uint64_t>(cd.size()) >> (8 * i));
    end[48 + i] = static_cast<uint8_t>(cd_offset >> (8 * i));
    end[56 + 8 + i] = static_cast<uint8_t>((cd_offset + cd.size()) >> (8 * i));
  }
  put32(end, 56, 0x07064b50);
  put32(end, 56 + 16, 1);
  put32(end, 76, 0x06054b50);
  put16(end, 76 + 8, 0xFFFF);
  put16(end, 76 + 10, 0xFFFF);
  put32(end, 76 + 12, 0xFFFFFFFFu);
  put32(end, 76 + 16, 0xFFFFFFFFu);

  {
    const int fd = ::open(p.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
    REQUIRE(fd >= 0);
    const uint8_t marker[8] = {1, 2, 3, 4, 5, 6, 7, 8};
    REQUIRE(::pwrite(fd, lh.data(), lh.size(), 0) == static_cast<ssize_t>(lh.size()));
    REQUIRE(::pwrite(fd, marker, 8, static_cast<off_t>(data_offset + size - 100)) == 8);
    REQUIRE(::pwrite(fd, cd.data(), cd.size(), static_cast<off_t>(cd_offset)) == static_cast<ssize_t>(cd.size()));
    REQUIRE(::pwrite(fd, end.data(), end.size(), static_cast<off_t>(cd_offset + cd.size())) ==
            static_cast<ssize_t>(end.size()));
    ::close(fd);
  }
  ZipReader r(p.string());
  REQUIRE(r.entries().size() == 1);
  const auto& e = r.at(name);
  CHECK(e.uncompressed_size == size);
  CHECK(e.compressed_size == size);
  CHECK(e.data_offset == data_offset);
  uint8_t buf[12] = {};
  r.read_range(e, size - 102, buf, 12);
  const uint8_t want[12] = {0, 0, 1, 2, 3, 4, 5, 6, 7, 8, 0, 0};
  CHECK(std::memcmp(buf, want, 12) == 0);
  // A max_size below the member size is refused before anything is allocated.
  REQUIRE_THROWS_WITH(r.read(e, /*max_size=*/1 << 20), Contains("more than the allowed"));
  fs::remove_all(dir);
}

TEST_CASE("zip: CRC mismatch and corrupt deflate data are detected by read()", "[unit]") {
  const auto dir = bark_test::temp_dir("zip_crc");
  const auto p = write_small_zip(dir);
  auto bytes = slurp(p);
  const size_t at = find_sig(bytes, 0x04034b50) + 30 + 5 + 2;  // inside "hello"
  bytes[at] ^= 0x20;
  spit(p, bytes);
  ZipReader r(p.string());
  REQUIRE_THROWS_WITH(r.read(r.at("a.txt")), Contains("CRC-32") && Contains("a.txt") && Contains(p.string()));

  // Deflated member with garbage in the middle of the stream.
  const std::string code =
      "import zipfile\n"
      "with zipfile.ZipFile(r'" + (dir / "d.zip").string() + "', 'w', zipfile.ZIP_DEFLATED) as z:\n"
      "    z.writestr('m', bytes(range(256)) * 400)\n";
  REQUIRE(run_python(code, dir) == 0);
  auto d = slurp(dir / "d.zip");
  ZipReader ok((dir / "d.zip").string());
  const auto& m = ok.at("m");
  for (size_t i = 0; i < 16; ++i) d[m.data_offset + 4 + i] = static_cast<uint8_t>(0xFF - i);
  spit(dir / "d2.zip", d);
  ZipReader bad((dir / "d2.zip").string());
  REQUIRE_THROWS_AS(bad.read(bad.at("m")), std::runtime_error);
}

TEST_CASE("zip: non-zip, empty, missing and directory paths are refused clearly", "[unit]") {
  const auto dir = bark_test::temp_dir("zip_notzip");
  REQUIRE_THROWS_WITH(ZipReader((dir / "missing.zip").string()), Contains("cannot open") && Contains("missing.zip"));
  spit(dir / "empty.zip", {});
  REQUIRE_THROWS_WITH(ZipReader((dir / "empty.zip").string()), Contains("not a zip file"));
  std::vector<uint8_t> text(5000, 'x');
  spit(dir / "text.zip", text);
  REQUIRE_THROWS_WITH(ZipReader((dir / "text.zip").string()), Contains("not a zip file") && Contains("text.zip"));
  REQUIRE_THROWS_WITH(ZipReader(dir.string()), Contains("not a regular file"));
}

TEST_CASE("zip: every truncated prefix of a valid archive throws runtime_error", "[unit]") {
  const auto dir = bark_test::temp_dir("zip_truncate");
  for (bool zip64 : {false, true}) {
    const auto full = slurp(write_small_zip(dir, zip64));
    MemFile mem;
    const fs::path p = mem.path;
    for (size_t n = 0; n < full.size(); ++n) {
      mem.set(std::vector<uint8_t>(full.begin(), full.begin() + static_cast<std::ptrdiff_t>(n)));
      INFO("prefix " << n << " of " << full.size());
      try {
        ZipReader r(p.string());
        // Any archive opened from a prefix must still not yield wrong data silently.
        for (const auto& e : r.entries()) (void)r.read(e);
        FAIL("a truncated archive was accepted");
      } catch (const std::runtime_error& e) {
        REQUIRE_THAT(e.what(), Contains(p.string()));
      }
    }
  }
}

TEST_CASE("zip: hostile central directory values are refused without huge allocations", "[unit]") {
  const auto dir = bark_test::temp_dir("zip_hostile");
  const auto good = slurp(write_small_zip(dir));
  const size_t eocd = find_sig(good, 0x06054b50, /*last=*/true);
  const size_t cd = find_sig(good, 0x02014b50);
  const fs::path p = dir / "h.zip";
  auto expect_error = [&](std::vector<uint8_t> bytes, const std::string& what) {
    spit(p, bytes);
    INFO(what);
    try {
      ZipReader r(p.string());
      for (const auto& e : r.entries()) (void)r.read(e);
      FAIL("accepted");
    } catch (const std::runtime_error& e) {
      INFO(e.what());
      CHECK_THAT(e.what(), Contains(p.string()));
    }
  };
  {
    auto b = good;
    put16(b, eocd + 8, 0xFFFE);
    put16(b, eocd + 10, 0xFFFE);
    expect_error(b, "entry count larger than the directory");
  }
  {
    auto b = good;
    put32(b, eocd + 16, 0xFFFFFF00u);
    expect_error(b, "directory offset outside the file");
  }
  {
    auto b = good;
    put32(b, eocd + 12, 0xFFFFFF00u);
    expect_error(b, "directory size outside the file");
  }
  {
    auto b = good;
    put32(b, cd + 42, 0x7FFFFFFFu);
    expect_error(b, "local header offset outside the file");
  }
  {
    auto b = good;
    put32(b, cd + 20, 0x7FFFFFFFu);
    put32(b, cd + 24, 0x7FFFFFFFu);
    expect_error(b, "member size outside the file");
  }
  {
    auto b = good;
    put32(b, cd + 20, 0xFFFFFFFFu);  // needs a ZIP64 extra that is absent
    expect_error(b, "missing zip64 extra");
  }
  {
    auto b = good;
    put16(b, cd + 10, 8);  // deflate
    put32(b, cd + 24, 0x7FFFFFFFu);  // 2 GB from 5 bytes: impossible ratio
    expect_error(b, "impossible deflate ratio");
  }
  {
    auto b = good;
    put16(b, cd + 10, 12);  // bzip2
    expect_error(b, "unsupported method");
  }
  {
    auto b = good;
    put16(b, cd + 28, 0xFFFF);  // name length past the directory
    expect_error(b, "name length");
  }
  {
    auto b = good;
    put16(b, cd + 8, 1);  // encrypted
    expect_error(b, "encrypted");
  }
  {
    auto b = good;
    b[cd] = 'X';
    expect_error(b, "bad central signature");
  }
  {
    auto b = good;
    b[0] = 'X';
    expect_error(b, "bad local signature");
  }
  {
    auto b = good;
    put16(b, 26, 0xFFFF);  // local name length runs the data past the directory
    expect_error(b, "local name length");
  }
}

TEST_CASE("zip: random corruption never crashes (throws runtime_error or reads)", "[unit]") {
  const auto dir = bark_test::temp_dir("zip_random");
  const auto good = slurp(write_small_zip(dir));
  MemFile mem;
  const fs::path p = mem.path;
  std::mt19937 rng(1234);
  for (int iter = 0; iter < 2000; ++iter) {
    auto b = good;
    const int flips = 1 + static_cast<int>(rng() % 4);
    for (int k = 0; k < flips; ++k) b[rng() % b.size()] = static_cast<uint8_t>(rng());
    mem.set(b);
    try {
      ZipReader r(p.string());
      for (const auto& e : r.entries()) {
        (void)r.read(e, 1 << 20);
        if (e.uncompressed_size > 0) {
          uint8_t x;
          r.read_range(e, e.uncompressed_size - 1, &x, 1);
        }
      }
    } catch (const std::runtime_error&) {
    }
  }
  SUCCEED();
}

TEST_CASE("zip: ZipWriter reports I/O errors", "[unit]") {
  REQUIRE_THROWS_WITH(ZipWriter("/nonexistent-dir/x.zip"), Contains("cannot create") && Contains("/nonexistent-dir/x.zip"));
  if (fs::exists("/dev/full")) {
    ZipWriter w("/dev/full");
    std::vector<uint8_t> big(1 << 20, 1);
    auto write_all = [&] {
      w.add("a", big);
      w.finish();
    };
    REQUIRE_THROWS_AS(write_all(), std::runtime_error);
  }
}

TEST_CASE("zip: reads the torch.save fixture checkpoints like Python's zipfile", "[unit]") {
  const auto dir = bark_test::temp_dir("zip_torch");
  const fs::path models = bark_test::fixtures_dir() / "models" / "f0";
  INFO("fixtures: " << models);
  REQUIRE(fs::exists(models / "text.pt"));
  std::string listing;
  const std::string code =
      "import zipfile, glob, os\n"
      "for p in sorted(glob.glob(r'" + models.string() + "/*.pt')):\n"
      "    with zipfile.ZipFile(p) as z:\n"
      "        for i in z.infolist():\n"
      "            print(os.path.basename(p), i.filename, i.compress_type, i.file_size, i.CRC)\n";
  REQUIRE(run_python(code, dir, &listing) == 0);
  std::istringstream in(listing);
  std::string file, name;
  int method = 0;
  uint64_t size = 0;
  uint32_t crc = 0;
  size_t n_members = 0;
  std::unique_ptr<ZipReader> r;
  std::string open_file;
  while (in >> file >> name >> method >> size >> crc) {
    if (file != open_file) {
      r = std::make_unique<ZipReader>((models / file).string());
      open_file = file;
    }
    INFO(file << ": " << name);
    const auto& e = r->at(name);
    CHECK(e.method == method);
    CHECK(e.uncompressed_size == size);
    CHECK(e.crc32 == crc);
    CHECK(r->read(e).size() == size);  // CRC-checked
    ++n_members;
  }
  CHECK(n_members > 50);
}
