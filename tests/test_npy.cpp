// Tests of the .npy/.npz reader/writer (src/io/npy.{h,cpp}) and atomic writes.
#include <sys/stat.h>

#include <sys/mman.h>
#include <unistd.h>

#include <catch2/catch.hpp>
#include <cmath>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <sstream>
#include <string>
#include <vector>

#include "io/atomic_file.h"
#include "io/npy.h"
#include "file_helpers.h"
#include "test_common.h"

namespace fs = std::filesystem;
using bark::io::NpyArray;
using Catch::Matchers::Contains;

using bark_test::MemFile;
using bark_test::run_python;
using bark_test::slurp;
using bark_test::spit;

namespace {

// A .npy file with the given header text (padded as numpy does) and `data_bytes` zero bytes.
std::vector<uint8_t> npy_with_header(const std::string& header, size_t data_bytes, int major = 1) {
  std::vector<uint8_t> out = {0x93, 'N', 'U', 'M', 'P', 'Y', static_cast<uint8_t>(major), 0};
  const size_t len_bytes = major == 1 ? 2 : 4;
  std::string h = header;
  while ((8 + len_bytes + h.size() + 1) % 64 != 0) h += ' ';
  h += '\n';
  for (size_t i = 0; i < len_bytes; ++i) out.push_back(static_cast<uint8_t>(h.size() >> (8 * i)));
  out.insert(out.end(), h.begin(), h.end());
  out.insert(out.end(), data_bytes, 0);
  return out;
}

std::string parse_error(const std::vector<uint8_t>& bytes) {
  try {
    (void)bark::io::parse_npy(bytes, "test-array");
  } catch (const std::runtime_error& e) {
    return e.what();
  }
  return "(no error)";
}

// Test values: element i of an array of `descr` (exactly representable everywhere).
const char* kValuesPy =
    "def values(dt, n):\n"
    "    i = np.arange(n, dtype=np.int64)\n"
    "    k = dt.kind\n"
    "    if k == 'b': return (i % 3 == 0)\n"
    "    if k == 'f': return (i * 0.5 - 3.25).astype(dt)\n"
    "    if k == 'u': return ((i * 37) % 251 + {1: 0, 2: 65535 - 250, 4: 2**32 - 251, 8: 2**40}[dt.itemsize]).astype(dt)\n"
    "    return (((i * 37) % 251 - 100) * {1: 1, 2: 100, 4: 10**6, 8: 10**12}[dt.itemsize]).astype(dt)\n";

}  // namespace

TEST_CASE("npy: numpy-written arrays in every dtype, order and format version", "[unit]") {
  const auto dir = bark_test::temp_dir("npy_numpy_written");
  // For every case, numpy writes <name>.npy and prints: name ndim dims... n values... (C order).
  const std::string code = std::string("import numpy as np, io, os\n") + kValuesPy +
      "d = r'" + dir.string() + "'\n"
      "dtypes = ['<i8', '<i4', '<u2', '<i2', '|u1', '|i1', '<u4', '<u8', '<f4', '<f8', '|b1',\n"
      "          '>i4', '>f8', '>u2', '>i8', '=i4']\n"
      "shapes = [(2, 3, 4), (5,), (), (0, 3), (3, 1, 2, 2)]\n"
      "npz = {}\n"
      "for di, ds in enumerate(dtypes):\n"
      "    dt = np.dtype(ds)\n"
      "    for si, shape in enumerate(shapes):\n"
      "        for order in 'CF':\n"
      "            n = int(np.prod(shape))\n"
      "            a = np.asarray(values(dt, n)).astype(dt).reshape(shape, order='C')\n"
      "            a = a.copy(order=order)\n"
      "            assert a.shape == shape\n"
      "            for version in [None, (1, 0), (2, 0), (3, 0)]:\n"
      "                name = f'a{di}_{si}_{order}_{version[0] if version else 0}'\n"
      "                with open(os.path.join(d, name + '.npy'), 'wb') as f:\n"
      "                    if version is None: np.save(f, a)\n"
      "                    else: np.lib.format.write_array(f, a, version=version)\n"
      "                vals = ' '.join(repr(float(x)) for x in a.reshape(-1, order='C'))\n"
      "                fortran = a.flags.f_contiguous and not a.flags.c_contiguous\n"
      "                print(name, ds, fortran, version is None, len(shape), *shape, n, vals)\n"
      "                npz[name] = a\n"
      "np.savez(os.path.join(d, 'all.npz'), **npz)\n"
      "np.savez_compressed(os.path.join(d, 'all_compressed.npz'), **npz)\n";
  std::string manifest;
  REQUIRE(run_python(code, dir, &manifest) == 0);
  const auto npz = bark::io::read_npz((dir / "all.npz").string());
  const auto npz_c = bark::io::read_npz((dir / "all_compressed.npz").string());
  std::istringstream lines(manifest);
  std::string line;
  size_t n_cases = 0;
  while (std::getline(lines, line)) {
    std::istringstream in(line);
    std::string name, descr, order, is_default;
    int ndim = 0;
    in >> name >> descr >> order >> is_default >> ndim;
    std::vector<int64_t> shape(static_cast<size_t>(ndim));
    for (auto& d : shape) in >> d;
    int64_t n = 0;
    in >> n;
    std::vector<double> expect(static_cast<size_t>(n));
    for (auto& v : expect) in >> v;
    INFO(line.substr(0, 120));
    REQUIRE(in);
    const NpyArray a = bark::io::read_npy((dir / (name + ".npy")).string());
    CHECK(a.shape == shape);
    CHECK(a.numel() == n);
    // numpy writes '=' as '<' on little-endian hosts.
    CHECK(a.descr == (descr[0] == '=' ? "<" + descr.substr(1) : descr));
    CHECK(a.fortran_order == (order == "True"));
    CHECK(a.to_float64() == expect);
    const auto f32 = a.to_float32();
    REQUIRE(f32.size() == expect.size());
    for (size_t i = 0; i < f32.size(); ++i) REQUIRE(f32[i] == static_cast<float>(expect[i]));
    if (descr.find('f') == std::string::npos) {
      const auto ints = a.to_int64();
      REQUIRE(ints.size() == expect.size());
      for (size_t i = 0; i < ints.size(); ++i) REQUIRE(static_cast<double>(ints[i]) == expect[i]);
    } else {
      REQUIRE_THROWS_WITH(a.to_int64(), Contains("integer"));
    }
    // serialize_npy reproduces np.save byte for byte (np.save picks the version itself).
    if (is_default == "True") CHECK(bark::io::serialize_npy(a) == slurp(dir / (name + ".npy")));
    for (const auto* arrays : {&npz, &npz_c}) {
      const NpyArray& z = arrays->at(name);
      CHECK(z.shape == a.shape);
      CHECK(z.data == a.data);
      CHECK(z.fortran_order == a.fortran_order);
    }
    ++n_cases;
  }
  CHECK(n_cases == 16 * 5 * 2 * 4);
  CHECK(npz.size() == n_cases);
}

TEST_CASE("npy: write_npz output is read back by numpy with the same values", "[unit]") {
  const auto dir = bark_test::temp_dir("npy_write_npz");
  std::vector<std::pair<std::string, NpyArray>> arrays;
  arrays.emplace_back("ints", bark::io::make_int64({2, 3}, {1, -2, 3, -4, 5, 1LL << 40}));
  arrays.emplace_back("i32", bark::io::make_int32({4}, {7, -8, 9, 2147483647}));
  arrays.emplace_back("floats", bark::io::make_float32({1, 2, 2}, {0.5f, -1.25f, 3e-8f, 1e30f}));
  arrays.emplace_back("scalar", bark::io::make_int64({}, {42}));
  arrays.emplace_back("empty", bark::io::make_float32({0, 5}, {}));
  NpyArray fortran = bark::io::make_int32({2, 3}, {1, 4, 2, 5, 3, 6});  // stored column-major
  fortran.fortran_order = true;
  arrays.emplace_back("fortran", fortran);
  NpyArray u2;
  u2.descr = "<u2";
  u2.shape = {3};
  u2.data = {1, 0, 0xff, 0xff, 0, 1};
  arrays.emplace_back("u2", u2);
  const fs::path p = dir / "ours.npz";
  bark::io::write_npz(p.string(), arrays);
  CHECK(fortran.to_int64() == std::vector<int64_t>{1, 2, 3, 4, 5, 6});

  const std::string code =
      "import numpy as np, zipfile\n"
      "z = np.load(r'" + p.string() + "', allow_pickle=False)\n"
      "assert z.files == ['ints', 'i32', 'floats', 'scalar', 'empty', 'fortran', 'u2'], z.files\n"
      "assert z['ints'].dtype == np.int64 and z['ints'].tolist() == [[1, -2, 3], [-4, 5, 1 << 40]]\n"
      "assert z['i32'].dtype == np.int32 and z['i32'].tolist() == [7, -8, 9, 2147483647]\n"
      "assert z['floats'].dtype == np.float32 and z['floats'].shape == (1, 2, 2)\n"
      "assert z['floats'].ravel().tolist() == np.array([0.5, -1.25, 3e-8, 1e30], np.float32).tolist()\n"
      "assert z['scalar'].shape == () and z['scalar'] == 42\n"
      "assert z['empty'].shape == (0, 5) and z['empty'].dtype == np.float32\n"
      "f = z['fortran']\n"
      "assert f.flags.f_contiguous and f.tolist() == [[1, 2, 3], [4, 5, 6]], f\n"
      "assert z['u2'].dtype == np.uint16 and z['u2'].tolist() == [1, 65535, 256]\n"
      "zf = zipfile.ZipFile(r'" + p.string() + "')\n"
      "assert zf.testzip() is None\n"
      "assert all(i.compress_type == zipfile.ZIP_STORED for i in zf.infolist())\n"
      "assert [i.filename for i in zf.infolist()] == [k + '.npy' for k in z.files]\n";
  REQUIRE(run_python(code, dir) == 0);
  // And by us.
  const auto back = bark::io::read_npz(p.string());
  REQUIRE(back.size() == arrays.size());
  for (const auto& [k, a] : arrays) {
    INFO(k);
    CHECK(back.at(k).data == a.data);
    CHECK(back.at(k).shape == a.shape);
    CHECK(back.at(k).descr == a.descr);
    CHECK(back.at(k).fortran_order == a.fortran_order);
  }
  // No temporary files are left behind.
  size_t n_files = 0;
  for (const auto& e : fs::directory_iterator(dir)) n_files += e.path().extension() == ".npz";
  CHECK(n_files == 1);
}

TEST_CASE("npy: Fortran-order N-d arrays convert to C order", "[unit]") {
  // shape (2, 3, 4): element [i][j][k] = 100 i + 10 j + k, stored with i fastest.
  std::vector<int64_t> stored;
  for (int k = 0; k < 4; ++k)
    for (int j = 0; j < 3; ++j)
      for (int i = 0; i < 2; ++i) stored.push_back(100 * i + 10 * j + k);
  NpyArray a = bark::io::make_int64({2, 3, 4}, stored);
  a.fortran_order = true;
  std::vector<int64_t> expect;
  for (int i = 0; i < 2; ++i)
    for (int j = 0; j < 3; ++j)
      for (int k = 0; k < 4; ++k) expect.push_back(100 * i + 10 * j + k);
  CHECK(a.to_int64() == expect);
  const auto f = a.to_float32();
  CHECK(f[5] == static_cast<float>(expect[5]));
  CHECK(a.describe() == "(2, 3, 4) '<i8' Fortran order");
}

TEST_CASE("npy: factory helpers and conversions reject mismatches", "[unit]") {
  REQUIRE_THROWS_AS(bark::io::make_int64({2, 3}, {1, 2, 3}), std::invalid_argument);
  REQUIRE_THROWS_AS(bark::io::make_float32({-1}, {}), std::invalid_argument);
  NpyArray big;
  big.descr = "<u8";
  big.shape = {1};
  big.data.assign(8, 0xff);
  REQUIRE_THROWS_WITH(big.to_int64(), Contains("does not fit in int64"));
  CHECK(big.to_float64()[0] == 18446744073709551615.0);
  NpyArray bad = bark::io::make_int32({3}, {1, 2, 3});
  bad.data.pop_back();
  REQUIRE_THROWS_AS(bark::io::serialize_npy(bad), std::invalid_argument);
  bad = bark::io::make_int32({3}, {1, 2, 3});
  bad.descr = "|O";
  REQUIRE_THROWS_WITH(bark::io::serialize_npy(bad), Contains("object arrays"));
  const auto dir = bark_test::temp_dir("npy_write_bad");
  REQUIRE_THROWS_WITH(bark::io::write_npz((dir / "x.npz").string(), {{"a", bad}}), Contains("array 'a'"));
  const auto ok = bark::io::make_int32({1}, {1});
  REQUIRE_THROWS_WITH(bark::io::write_npz((dir / "x.npz").string(), {{"a", ok}, {"a", ok}}), Contains("duplicate"));
  REQUIRE_THROWS_WITH(bark::io::write_npz((dir / "x.npz").string(), {{"", ok}}), Contains("empty array name"));
  CHECK(!fs::exists(dir / "x.npz"));
  REQUIRE_THROWS_WITH(bark::io::write_npz("/nonexistent-dir/x.npz", {{"a", ok}}),
                      Contains("/nonexistent-dir/x.npz"));
}

TEST_CASE("npy: malformed headers are refused with clear messages", "[unit]") {
  const std::string ok_dict = "{'descr': '<i4', 'fortran_order': False, 'shape': (2, 3), }";
  CHECK(bark::io::parse_npy(npy_with_header(ok_dict, 24), "x").numel() == 6);
  // Keys in any order, double quotes, no trailing comma, extra spaces, Python 2 longs, v2/v3.
  CHECK(bark::io::parse_npy(npy_with_header("{ \"shape\" : ( 2 ,3 ) ,'fortran_order':True,'descr':'<i4'}", 24), "x")
            .fortran_order);
  CHECK(bark::io::parse_npy(npy_with_header("{'descr': '<i4', 'fortran_order': False, 'shape': (2L, 3L)}", 24), "x")
            .shape == std::vector<int64_t>{2, 3});
  CHECK(bark::io::parse_npy(npy_with_header(ok_dict, 24, 2), "x").numel() == 6);
  CHECK(bark::io::parse_npy(npy_with_header(ok_dict, 24, 3), "x").numel() == 6);
  CHECK(bark::io::parse_npy(npy_with_header("{'descr': '<f8', 'fortran_order': False, 'shape': ()}", 8), "x")
            .to_float64() == std::vector<double>{0.0});

  struct Case {
    std::string header;
    size_t data;
    std::string expect;
  };
  const std::vector<Case> cases = {
      {"{'descr': '<i4', 'fortran_order': False}", 0, "no 'shape'"},
      {"{'descr': '<i4', 'shape': (1,)}", 4, "no 'fortran_order'"},
      {"{'fortran_order': False, 'shape': (1,)}", 4, "no 'descr'"},
      {"{'descr': '<i4', 'fortran_order': False, 'shape': (1,), 'extra': 1}", 4, "unexpected key 'extra'"},
      {"{'descr': '<i4', 'fortran_order': False, 'shape': [1]}", 4, "'shape' is not a tuple"},
      {"{'descr': '<i4', 'fortran_order': False, 'shape': (1)}", 4, "'shape' is not a tuple"},
      {"{'descr': '<i4', 'fortran_order': False, 'shape': (-1,)}", 4, "non-negative"},
      {"{'descr': '<i4', 'fortran_order': False, 'shape': (1.5,)}", 4, "not an integer"},
      {"{'descr': '<i4', 'fortran_order': 0, 'shape': (1,)}", 4, "'fortran_order' is not True/False"},
      {"{'descr': 4, 'fortran_order': False, 'shape': (1,)}", 4, "'descr' is not a string"},
      {"{'descr': '|O', 'fortran_order': False, 'shape': (1,)}", 8, "object arrays"},
      {"{'descr': [('a', '<i4')], 'fortran_order': False, 'shape': (1,)}", 4, "structured dtypes"},
      {"{'descr': '<c16', 'fortran_order': False, 'shape': (1,)}", 16, "unsupported dtype '<c16'"},
      {"{'descr': '<U5', 'fortran_order': False, 'shape': (1,)}", 20, "unsupported dtype '<U5'"},
      {"{'descr': '<f2', 'fortran_order': False, 'shape': (1,)}", 2, "unsupported dtype '<f2'"},
      {"{'descr': '<i3', 'fortran_order': False, 'shape': (1,)}", 3, "unsupported dtype '<i3'"},
      // 10^12 elements: refused from the header, nothing allocated.
      {"{'descr': '<i8', 'fortran_order': False, 'shape': (1000000, 1000000)}", 16, "needs 8000000000000 data bytes"},
      {"{'descr': '<i8', 'fortran_order': False, 'shape': (4294967296, 4294967296)}", 0, "overflows"},
      {"{'descr': '<i8', 'fortran_order': False, 'shape': (99999999999999999999,)}", 0, "integer too large"},
      {"{'descr': '<i4', 'fortran_order': False, 'shape': (2, 3)}", 20, "truncated"},
      {"{'descr': '<i4', 'fortran_order': False, 'shape': (2, 3)}", 28, "trailing data"},
      {"{'descr': '<i4', 'fortran_order': False, 'shape': (2, 3)", 24, "malformed .npy header"},
      {"{'descr': '<i4' 'fortran_order': False, 'shape': (2, 3)}", 24, "malformed .npy header"},
      {"{'descr': '<i4, 'fortran_order': False, 'shape': (2, 3)}", 24, "malformed .npy header"},
      {"['descr', '<i4']", 0, "not a dict"},
      {"{'descr': '<i4', 'fortran_order': False, 'shape': (2, 3)} junk", 24, "unexpected text"},
      {std::string(100, '(') + std::string(100, ')'), 0, "nesting too deep"},
      {"", 0, "malformed"},
  };
  for (const auto& c : cases) {
    INFO(c.header);
    const std::string err = parse_error(npy_with_header(c.header, c.data));
    CHECK_THAT(err, Contains(c.expect) && Contains("test-array"));
  }
  // Bad magic, versions, header lengths.
  auto good = npy_with_header(ok_dict, 24);
  auto b = good;
  b[1] = 'X';
  CHECK_THAT(parse_error(b), Contains("bad magic"));
  b = good;
  b[6] = 4;
  CHECK_THAT(parse_error(b), Contains("unsupported .npy format version 4.0"));
  b = good;
  b[8] = 0xff;
  b[9] = 0xff;
  CHECK_THAT(parse_error(b), Contains("truncated .npy header"));
  b = npy_with_header(ok_dict, 24, 2);
  b[11] = 0x7f;
  CHECK_THAT(parse_error(b), Contains("implausibly large"));
  CHECK_THAT(parse_error({}), Contains("truncated"));
  for (size_t n = 0; n < good.size(); ++n) {
    INFO("prefix " << n);
    CHECK_THAT(parse_error(std::vector<uint8_t>(good.begin(), good.begin() + static_cast<std::ptrdiff_t>(n))),
               Contains("test-array"));
  }
}

TEST_CASE("npy: truncated, corrupt, non-zip and pickled npz files throw runtime_error", "[unit]") {
  const auto dir = bark_test::temp_dir("npy_bad_npz");
  const std::string code =
      "import numpy as np, os\n"
      "d = r'" + dir.string() + "'\n"
      "np.savez(os.path.join(d, 'small.npz'), a=np.arange(6, dtype=np.int64).reshape(2, 3), b=np.float32(1.5))\n"
      "np.savez_compressed(os.path.join(d, 'smallc.npz'), a=np.arange(6, dtype=np.int16).reshape(2, 3, order='F'))\n"
      "np.savez(os.path.join(d, 'object.npz'), o=np.array([{'x': 1}, None], dtype=object))\n"
      "np.save(os.path.join(d, 'plain.npy'), np.arange(3))\n";
  REQUIRE(run_python(code, dir) == 0);
  const auto small = bark::io::read_npz((dir / "small.npz").string());
  CHECK(small.at("a").to_int64() == std::vector<int64_t>{0, 1, 2, 3, 4, 5});
  CHECK(small.at("b").to_float32() == std::vector<float>{1.5f});
  // reshape(..., order='F') fills column by column: [[0, 2, 4], [1, 3, 5]].
  const auto smallc = bark::io::read_npz((dir / "smallc.npz").string()).at("a");
  CHECK(smallc.fortran_order);
  CHECK(smallc.to_int64() == std::vector<int64_t>{0, 2, 4, 1, 3, 5});

  MemFile mem;
  const fs::path p = mem.path;
  for (const char* name : {"small.npz", "smallc.npz"}) {
    const auto full = slurp(dir / name);
    for (size_t n = 0; n < full.size(); ++n) {
      mem.set(std::vector<uint8_t>(full.begin(), full.begin() + static_cast<std::ptrdiff_t>(n)));
      INFO(name << " prefix " << n << " of " << full.size());
      REQUIRE_THROWS_WITH(bark::io::read_npz(p.string()), Contains(p.string()));
    }
    // Single-byte corruption anywhere: either still fine or a runtime_error, never a crash.
    for (size_t i = 0; i < full.size(); ++i) {
      auto b = full;
      b[i] ^= 0x55;
      mem.set(b);
      try {
        (void)bark::io::read_npz(p.string());
      } catch (const std::runtime_error& e) {
        REQUIRE_THAT(e.what(), Contains(p.string()));
      }
    }
  }
  REQUIRE_THROWS_WITH(bark::io::read_npz((dir / "object.npz").string()),
                      Contains("object arrays") && Contains("o.npy") && Contains("object.npz"));
  REQUIRE_THROWS_WITH(bark::io::read_npz((dir / "plain.npy").string()), Contains("not a zip file"));
  REQUIRE_THROWS_WITH(bark::io::read_npz((dir / "missing.npz").string()), Contains("cannot open"));
  REQUIRE_THROWS_WITH(bark::io::read_npy((dir / "small.npz").string()), Contains("bad magic"));
  REQUIRE_THROWS_WITH(bark::io::read_npy((dir / "missing.npy").string()), Contains("missing.npy"));
  CHECK(bark::io::read_npy((dir / "plain.npy").string()).to_int64() == std::vector<int64_t>{0, 1, 2});
}

TEST_CASE("atomic_file: replaces the target only on commit, cleans up otherwise", "[unit]") {
  const auto dir = bark_test::temp_dir("atomic_file");
  const fs::path p = dir / "out.bin";
  spit(p, {'o', 'l', 'd'});
  {
    bark::io::AtomicFile f(p.string());
    CHECK(fs::path(f.temp_path()).parent_path() == dir);
    f.write("new!", 4);
    CHECK(slurp(p) == std::vector<uint8_t>{'o', 'l', 'd'});  // untouched until commit
  }  // destroyed without commit
  CHECK(slurp(p) == std::vector<uint8_t>{'o', 'l', 'd'});
  bark::io::write_file_atomically(p.string(), std::vector<uint8_t>{'n', 'e', 'w'});
  CHECK(slurp(p) == std::vector<uint8_t>{'n', 'e', 'w'});
  size_t n_entries = 0;
  for (const auto& e : fs::directory_iterator(dir)) {
    (void)e;
    ++n_entries;
  }
  CHECK(n_entries == 1);
  // Mode is that of a normally created file.
  const mode_t mask = ::umask(022);
  ::umask(mask);
  struct stat st {};
  REQUIRE(::stat(p.c_str(), &st) == 0);
  CHECK((st.st_mode & 0777) == (0666 & ~mask));
  REQUIRE_THROWS_WITH(bark::io::write_file_atomically((dir / "no" / "such" / "dir.bin").string(), "x", 1),
                      Contains("dir.bin"));
  // A directory in the way: refused before a temporary is made.
  fs::create_directories(dir / "adir" / "child");
  REQUIRE_THROWS_WITH(bark::io::write_file_atomically((dir / "adir").string(), "x", 1), Contains("it is a directory"));
  n_entries = 0;
  for (const auto& e : fs::directory_iterator(dir)) {
    (void)e;
    ++n_entries;
  }
  CHECK(n_entries == 2);
}
