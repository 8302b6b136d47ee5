// Tests of load/save/validate_history_prompt (src/io/history_prompt.cpp).
#include <sys/mman.h>
#include <unistd.h>

#include <catch2/catch.hpp>
#include <cstdlib>
#include <fstream>
#include <numeric>
#include <sstream>
#include <string>
#include <vector>

#include "bark/history_prompt.h"
#include "io/npy.h"
#include "file_helpers.h"
#include "test_common.h"

namespace fs = std::filesystem;
using bark::HistoryPrompt;
using Catch::Matchers::Contains;

using bark_test::MemFile;
using bark_test::run_python;
using bark_test::slurp;
using bark_test::spit;

namespace {

fs::path prompts_dir() { return bark_test::assets_dir() / "prompts"; }

int64_t sum(const std::vector<int64_t>& v) { return std::accumulate(v.begin(), v.end(), int64_t{0}); }

// A valid prompt: n semantic tokens, round(1.5 n) coarse/fine frames, patterned values.
HistoryPrompt make_prompt(int64_t n_semantic, int64_t n_frames) {
  HistoryPrompt p;
  for (int64_t i = 0; i < n_semantic; ++i) p.semantic_prompt.push_back((i * 7919) % 10'000);
  p.coarse_prompt.n_codebooks = 2;
  p.coarse_prompt.n_frames = n_frames;
  for (int64_t i = 0; i < 2 * n_frames; ++i) p.coarse_prompt.data.push_back((i * 31) % 1024);
  p.fine_prompt.n_codebooks = 8;
  p.fine_prompt.n_frames = n_frames;
  for (int64_t i = 0; i < 8 * n_frames; ++i) p.fine_prompt.data.push_back((i * 17 + 5) % 1024);
  return p;
}

// Upstream's asserts, run for real: generation.py checks the history prompt before loading any
// model, so a preload_models that raises marks "asserts passed". Prints "<file> ok" or
// "<file> rejected" for every path given in `files_var` (a Python list expression).
std::string upstream_check_code(const std::string& files_var) {
  return "import numpy as np, sys\n"
         "import bark.generation as g\n"
         "class Passed(Exception): pass\n"
         "def stop(*a, **k): raise Passed()\n"
         "g.preload_models = stop\n"
         "g.models.clear()\n"
         "def upstream_accepts(path):\n"
         "    ok = True\n"
         "    for fn in (lambda: g.generate_text_semantic('hello', history_prompt=path),\n"
         "               lambda: g.generate_coarse(np.array([1, 2, 3]), history_prompt=path),\n"
         "               lambda: g.generate_fine(np.zeros((2, 10), dtype=np.int64), history_prompt=path)):\n"
         "        try:\n"
         "            fn()\n"
         "            raise RuntimeError('no model load?')\n"
         "        except Passed:\n"
         "            pass\n"
         "        except (AssertionError, ValueError):  # ValueError: min() of an empty array\n"
         "            ok = False\n"
         "    return ok\n"
         "for f in " + files_var + ":\n"
         "    print(f, 'ok' if upstream_accepts(f) else 'rejected')\n";
}

}  // namespace

TEST_CASE("history_prompt: v2/en_speaker_6 has the values numpy reads", "[parity]") {
  // Computed with numpy 1.24.2: np.load('prompts/v2/en_speaker_6.npz').
  const auto p = bark::load_history_prompt((prompts_dir() / "v2" / "en_speaker_6.npz").string());
  REQUIRE(p.semantic_prompt.size() == 309);
  REQUIRE(p.coarse_prompt.n_codebooks == 2);
  REQUIRE(p.coarse_prompt.n_frames == 464);
  REQUIRE(p.fine_prompt.n_codebooks == 8);
  REQUIRE(p.fine_prompt.n_frames == 464);
  CHECK(p.semantic_prompt.front() == 65);
  CHECK(p.semantic_prompt.back() == 2089);
  // coarse_prompt is stored in Fortran order in the file; CodebookTokens is row-major.
  CHECK(p.coarse_prompt.at(0, 0) == 835);
  CHECK(p.coarse_prompt.at(1, 0) == 913);
  CHECK(p.coarse_prompt.at(1, 463) == 518);
  CHECK(p.fine_prompt.at(7, 463) == 975);
  CHECK(p.fine_prompt.at(2, 5) == 937);
  CHECK(sum(p.semantic_prompt) == 655601);
  CHECK(sum(p.coarse_prompt.data) == 475439);
  CHECK(sum(p.fine_prompt.data) == 2157195);
}

TEST_CASE("history_prompt: all 271 bundled presets load with numpy's shapes and values", "[parity]") {
  const auto dir = bark_test::temp_dir("hp_presets");
  INFO("prompts: " << prompts_dir());
  REQUIRE(fs::exists(prompts_dir() / "announcer.npz"));
  const std::string code =
      "import numpy as np, glob, os\n"
      "root = r'" + prompts_dir().string() + "'\n"
      "for p in sorted(glob.glob(os.path.join(root, '**', '*.npz'), recursive=True)):\n"
      "    z = np.load(p)\n"
      "    s, c, f = z['semantic_prompt'], z['coarse_prompt'], z['fine_prompt']\n"
      "    m, mf = c.shape[1], f.shape[1]\n"
      "    print(os.path.relpath(p, root), len(s), m, mf, int(s[len(s) // 2]), int(c[1, m // 3]), int(f[7, mf - 1]),\n"
      "          int(s.astype(np.int64).sum()), int(c.astype(np.int64).sum()), int(f.astype(np.int64).sum()),\n"
      "          int((c.astype(np.int64) * np.arange(m)).sum()))\n";
  std::string manifest;
  REQUIRE(run_python(code, dir, &manifest) == 0);
  std::istringstream in(manifest);
  std::string rel;
  int64_t n_sem, m, mf, s_mid, c_val, f_val, s_sum, c_sum, f_sum, c_weighted;
  size_t n_presets = 0, n_v1 = 0;
  while (in >> rel >> n_sem >> m >> mf >> s_mid >> c_val >> f_val >> s_sum >> c_sum >> f_sum >> c_weighted) {
    INFO(rel);
    const auto p = bark::load_history_prompt((prompts_dir() / rel).string());
    REQUIRE(static_cast<int64_t>(p.semantic_prompt.size()) == n_sem);
    REQUIRE(p.coarse_prompt.n_codebooks == 2);
    REQUIRE(p.coarse_prompt.n_frames == m);
    REQUIRE(p.fine_prompt.n_codebooks == 8);
    REQUIRE(p.fine_prompt.n_frames == mf);
    CHECK(p.semantic_prompt[static_cast<size_t>(n_sem / 2)] == s_mid);
    CHECK(p.coarse_prompt.at(1, m / 3) == c_val);
    CHECK(p.fine_prompt.at(7, mf - 1) == f_val);
    CHECK(sum(p.semantic_prompt) == s_sum);
    CHECK(sum(p.coarse_prompt.data) == c_sum);
    CHECK(sum(p.fine_prompt.data) == f_sum);
    int64_t weighted = 0;  // catches a transposed or mis-ordered coarse_prompt
    for (int64_t k = 0; k < 2; ++k)
      for (int64_t t = 0; t < m; ++t) weighted += p.coarse_prompt.at(k, t) * t;
    CHECK(weighted == c_weighted);
    ++n_presets;
    n_v1 += rel.find('/') == std::string::npos;
  }
  CHECK(n_presets == 271);
  CHECK(n_v1 > 100);  // v1 names (prompts/<name>.npz) and announcer, besides v2/
}

TEST_CASE("history_prompt: save_history_prompt output is loaded by numpy and accepted by upstream Bark", "[parity]") {
  const auto dir = bark_test::temp_dir("hp_save_upstream");
  const auto preset = bark::load_history_prompt((prompts_dir() / "v2" / "en_speaker_6.npz").string());
  const fs::path ours = dir / "ours.npz";
  bark::save_history_prompt(ours.string(), preset);
  const auto small = make_prompt(4, 6);
  bark::save_history_prompt((dir / "small.npz").string(), small);
  const std::string code =
      "import numpy as np, zipfile\n"
      "ref = np.load(r'" + (prompts_dir() / "v2" / "en_speaker_6.npz").string() + "')\n"
      "z = np.load(r'" + ours.string() + "', allow_pickle=False)\n"
      "assert z.files == ['semantic_prompt', 'coarse_prompt', 'fine_prompt'], z.files\n"
      "for k in z.files:\n"
      "    assert z[k].dtype == np.int64, (k, z[k].dtype)\n"
      "    assert z[k].shape == ref[k].shape, (k, z[k].shape)\n"
      "    assert (z[k] == ref[k]).all(), k\n"
      "assert all(i.compress_type == zipfile.ZIP_STORED for i in zipfile.ZipFile(r'" + ours.string() + "').infolist())\n"
      "s = np.load(r'" + (dir / "small.npz").string() + "')\n"
      "assert s['coarse_prompt'].shape == (2, 6) and s['fine_prompt'].shape == (8, 6)\n"
      "assert s['coarse_prompt'].tolist() == [[(i * 31) % 1024 for i in range(r * 6, r * 6 + 6)] for r in range(2)]\n"
      "" +
      upstream_check_code("[r'" + ours.string() + "', r'" + (dir / "small.npz").string() + "']") +
      "h = g._load_history_prompt(r'" + ours.string() + "')\n"
      "assert (h['coarse_prompt'] == ref['coarse_prompt']).all()\n";
  std::string out;
  REQUIRE(run_python(code, dir, &out) == 0);
  INFO(out);
  CHECK_THAT(out, Contains("ours.npz ok") && Contains("small.npz ok"));
  // And back.
  const auto back = bark::load_history_prompt(ours.string());
  CHECK(back.semantic_prompt == preset.semantic_prompt);
  CHECK(back.coarse_prompt.data == preset.coarse_prompt.data);
  CHECK(back.fine_prompt.data == preset.fine_prompt.data);
}

TEST_CASE("history_prompt: validate_history_prompt accepts exactly what upstream's asserts accept", "[parity]") {
  const auto dir = bark_test::temp_dir("hp_validate_upstream");
  // Files upstream and we must agree on, valid and invalid, written without validation.
  using bark::io::make_int64;
  using bark::io::NpyArray;
  auto write = [&](const std::string& name, std::vector<int64_t> s_shape, std::vector<int64_t> s,
                   std::vector<int64_t> c_shape, std::vector<int64_t> c, std::vector<int64_t> f_shape,
                   std::vector<int64_t> f) {
    bark::io::write_npz((dir / (name + ".npz")).string(), {{"semantic_prompt", make_int64(s_shape, s)},
                                                           {"coarse_prompt", make_int64(c_shape, c)},
                                                           {"fine_prompt", make_int64(f_shape, f)}});
  };
  auto fill = [](int64_t n, int64_t v) { return std::vector<int64_t>(static_cast<size_t>(n), v); };
  write("valid", {4}, {1, 2, 3, 9999}, {2, 6}, fill(12, 1023), {8, 6}, fill(48, 0));
  write("valid_fine_longer", {4}, fill(4, 5), {2, 6}, fill(12, 3), {8, 20}, fill(160, 3));
  write("fine_empty", {4}, fill(4, 5), {2, 6}, fill(12, 3), {8, 0}, {});
  write("semantic_10000", {4}, {1, 2, 3, 10000}, {2, 6}, fill(12, 1), {8, 6}, fill(48, 0));
  write("semantic_negative", {4}, {1, -1, 3, 4}, {2, 6}, fill(12, 1), {8, 6}, fill(48, 0));
  write("semantic_empty", {0}, {}, {2, 0}, {}, {8, 0}, {});
  write("coarse_1024", {4}, fill(4, 5), {2, 6}, fill(12, 1024), {8, 6}, fill(48, 0));
  write("coarse_3_rows", {4}, fill(4, 5), {3, 6}, fill(18, 1), {8, 6}, fill(48, 0));
  write("coarse_ratio_low", {4}, fill(4, 5), {2, 5}, fill(10, 1), {8, 5}, fill(40, 0));
  write("coarse_ratio_high", {4}, fill(4, 5), {2, 7}, fill(14, 1), {8, 7}, fill(56, 0));
  write("fine_7_rows", {4}, fill(4, 5), {2, 6}, fill(12, 1), {7, 6}, fill(42, 0));
  write("fine_1024", {4}, fill(4, 5), {2, 6}, fill(12, 1), {8, 6}, fill(48, 1024));
  write("fine_negative", {4}, fill(4, 5), {2, 6}, fill(12, 1), {8, 6}, fill(48, -3));
  std::vector<std::string> names;
  std::string files = "[";
  for (const auto& e : fs::directory_iterator(dir)) {
    if (e.path().extension() != ".npz") continue;
    names.push_back(e.path().stem().string());
    files += "r'" + e.path().string() + "', ";
  }
  files += "]";
  // The coarse/semantic ratio check, over a grid of lengths around 75/49.9: upstream's
  //   round(M / len(semantic), 1) == round(semantic_to_coarse_ratio / N_COARSE_CODEBOOKS, 1)
  const std::string code = upstream_check_code(files) +
      "ratio = g.COARSE_RATE_HZ / g.SEMANTIC_RATE_HZ * g.N_COARSE_CODEBOOKS\n"
      "for n in range(1, 401):\n"
      "    for m in range(int(1.3 * n), int(1.7 * n) + 2):\n"
      "        print('grid', n, m, int(round(m / n, 1) == round(ratio / g.N_COARSE_CODEBOOKS, 1)))\n";
  std::string out;
  REQUIRE(run_python(code, dir, &out) == 0);
  std::istringstream in(out);
  std::string first;
  size_t n_files = 0, n_grid = 0, n_grid_ok = 0;
  while (in >> first) {
    if (first == "grid") {
      int64_t n, m, ok;
      REQUIRE(in >> n >> m >> ok);
      HistoryPrompt p;
      p.semantic_prompt.assign(static_cast<size_t>(n), 1);
      p.coarse_prompt = {2, m, std::vector<int64_t>(static_cast<size_t>(2 * m), 1)};
      p.fine_prompt = {8, 1, std::vector<int64_t>(8, 1)};
      bool ours = true;
      try {
        bark::validate_history_prompt(p);
      } catch (const std::invalid_argument&) {
        ours = false;
      }
      INFO("len(semantic) " << n << ", coarse frames " << m);
      REQUIRE(ours == (ok == 1));
      ++n_grid;
      n_grid_ok += ok == 1;
      continue;
    }
    std::string verdict;
    REQUIRE(in >> verdict);
    INFO(first << ": upstream " << verdict);
    bool ours = true;
    std::string why;
    try {
      (void)bark::load_history_prompt(first);
    } catch (const std::invalid_argument& e) {
      ours = false;
      why = e.what();
    }
    INFO("ours: " << why);
    CHECK(ours == (verdict == "ok"));
    ++n_files;
  }
  CHECK(n_files == names.size());
  CHECK(n_grid > 20000);
  CHECK(n_grid_ok > 1000);
}

TEST_CASE("history_prompt: numpy-written prompts in any integer dtype and order load identically", "[unit]") {
  const auto dir = bark_test::temp_dir("hp_dtypes");
  const std::string code =
      "import numpy as np, os\n"
      "d = r'" + dir.string() + "'\n"
      "s = (np.arange(10) * 997) % 10000\n"
      "c = (np.arange(30).reshape(2, 15) * 13) % 1024\n"
      "f = (np.arange(120).reshape(8, 15) * 29) % 1024\n"
      "for sd in ['<i8', '<i4', '<u2', '>i4', '<u8']:\n"
      "    for cd in ['<i8', '<i4', '<i2', '<u2', '>u2']:\n"
      "        for order in 'CF':\n"
      "            for comp in [np.savez, np.savez_compressed]:\n"
      "                name = f'{sd[1:]}{sd[0] == \">\"}_{cd[1:]}{cd[0] == \">\"}_{order}_{comp.__name__}.npz'\n"
      "                comp(os.path.join(d, name), semantic_prompt=s.astype(sd),\n"
      "                     coarse_prompt=np.array(c.astype(cd), order=order),\n"
      "                     fine_prompt=np.array(f.astype(cd), order=order))\n";
  REQUIRE(run_python(code, dir) == 0);
  size_t n = 0;
  for (const auto& e : fs::directory_iterator(dir)) {
    if (e.path().extension() != ".npz") continue;
    INFO(e.path().filename());
    const auto p = bark::load_history_prompt(e.path().string());
    REQUIRE(p.semantic_prompt.size() == 10);
    for (int64_t i = 0; i < 10; ++i) CHECK(p.semantic_prompt[static_cast<size_t>(i)] == (i * 997) % 10000);
    REQUIRE(p.coarse_prompt.n_frames == 15);
    REQUIRE(p.fine_prompt.n_frames == 15);
    for (int64_t k = 0; k < 2; ++k)
      for (int64_t t = 0; t < 15; ++t) REQUIRE(p.coarse_prompt.at(k, t) == ((k * 15 + t) * 13) % 1024);
    for (int64_t k = 0; k < 8; ++k)
      for (int64_t t = 0; t < 15; ++t) REQUIRE(p.fine_prompt.at(k, t) == ((k * 15 + t) * 29) % 1024);
    ++n;
  }
  CHECK(n == 5 * 5 * 2 * 2);
}

TEST_CASE("history_prompt: save/load round trip, atomic, refuses invalid prompts", "[unit]") {
  const auto dir = bark_test::temp_dir("hp_roundtrip");
  const auto p = make_prompt(100, 150);
  const fs::path path = dir / "p.npz";
  bark::save_history_prompt(path.string(), p);
  const auto back = bark::load_history_prompt(path.string());
  CHECK(back.semantic_prompt == p.semantic_prompt);
  CHECK(back.coarse_prompt.n_frames == 150);
  CHECK(back.coarse_prompt.data == p.coarse_prompt.data);
  CHECK(back.fine_prompt.data == p.fine_prompt.data);
  // Overwrite in place; an invalid prompt leaves the old file untouched.
  auto bad = p;
  bad.fine_prompt.data[3] = 5000;
  REQUIRE_THROWS_WITH(bark::save_history_prompt(path.string(), bad),
                      Contains("fine_prompt") && Contains("[0, 1024)") && Contains(path.string()));
  CHECK(bark::load_history_prompt(path.string()).fine_prompt.data == p.fine_prompt.data);
  size_t n_entries = 0;
  for (const auto& e : fs::directory_iterator(dir)) n_entries += e.is_regular_file();
  CHECK(n_entries == 1);
}

TEST_CASE("history_prompt: validate_history_prompt messages", "[unit]") {
  CHECK_NOTHROW(bark::validate_history_prompt(make_prompt(4, 6)));
  auto expect = [](const HistoryPrompt& p, const std::string& a, const std::string& b) {
    INFO(a << " / " << b);
    REQUIRE_THROWS_AS(bark::validate_history_prompt(p), std::invalid_argument);
    REQUIRE_THROWS_WITH(bark::validate_history_prompt(p), Contains(a) && Contains(b));
  };
  auto p = make_prompt(4, 6);
  p.semantic_prompt.clear();
  expect(p, "'semantic_prompt'", "non-empty");
  p = make_prompt(4, 6);
  p.semantic_prompt[2] = 10000;
  expect(p, "'semantic_prompt'", "value 10000 at position 2 is outside [0, 10000)");
  p = make_prompt(4, 6);
  p.coarse_prompt.n_codebooks = 3;
  p.coarse_prompt.n_frames = 4;
  expect(p, "'coarse_prompt'", "expected shape (2, n_frames), got (3, 4)");
  p = make_prompt(4, 6);
  p.coarse_prompt.data.pop_back();
  expect(p, "'coarse_prompt'", "11 values do not fill shape (2, 6)");
  p = make_prompt(4, 6);
  p.coarse_prompt.data[0] = -1;
  expect(p, "'coarse_prompt'", "[0, 1024)");
  p = make_prompt(4, 7);
  expect(p, "'coarse_prompt'", "7 frames for 4 semantic tokens: ratio rounds to 1.8, expected 1.5");
  p = make_prompt(4, 6);
  p.fine_prompt.n_codebooks = 4;
  p.fine_prompt.n_frames = 12;
  expect(p, "'fine_prompt'", "expected shape (8, n_frames), got (4, 12)");
  p = make_prompt(4, 6);
  p.fine_prompt.n_frames = -1;
  expect(p, "'fine_prompt'", "do not fill");
  p = make_prompt(4, 6);
  p.fine_prompt.n_frames = 0;
  p.fine_prompt.data.clear();
  expect(p, "'fine_prompt'", "at least one frame, got shape (8, 0)");
}

TEST_CASE("history_prompt: load errors name the file, the key and the problem", "[unit]") {
  const auto dir = bark_test::temp_dir("hp_load_errors");
  using bark::io::make_int64;
  const auto s = make_int64({4}, {1, 2, 3, 4});
  const auto c = make_int64({2, 6}, std::vector<int64_t>(12, 1));
  const auto f = make_int64({8, 6}, std::vector<int64_t>(48, 1));
  const fs::path p = dir / "x.npz";
  bark::io::write_npz(p.string(), {{"semantic_prompt", s}, {"coarse_prompt", c}});
  REQUIRE_THROWS_WITH(bark::load_history_prompt(p.string()),
                      Contains(p.string()) && Contains("no array 'fine_prompt'") && Contains("'coarse_prompt'"));
  // One rule: anything wrong inside the file is the caller's input (invalid_argument); a file that
  // cannot be opened is the environment's (runtime_error, not invalid_argument).
  REQUIRE_THROWS_AS(bark::load_history_prompt(p.string()), std::invalid_argument);
  bark::io::write_npz(p.string(), {{"semantic_prompt", make_int64({2, 2}, {1, 2, 3, 4})}, {"coarse_prompt", c},
                                   {"fine_prompt", f}});
  REQUIRE_THROWS_AS(bark::load_history_prompt(p.string()), std::invalid_argument);
  REQUIRE_THROWS_WITH(bark::load_history_prompt(p.string()),
                      Contains(p.string()) && Contains("'semantic_prompt' must be 1-D") && Contains("(2, 2)"));
  bark::io::write_npz(p.string(), {{"semantic_prompt", s}, {"coarse_prompt", make_int64({12}, c.to_int64())},
                                   {"fine_prompt", f}});
  REQUIRE_THROWS_WITH(bark::load_history_prompt(p.string()), Contains("'coarse_prompt' must be 2-D"));
  bark::io::write_npz(p.string(), {{"semantic_prompt", bark::io::make_float32({4}, {1, 2, 3, 4})},
                                   {"coarse_prompt", c}, {"fine_prompt", f}});
  REQUIRE_THROWS_WITH(bark::load_history_prompt(p.string()), Contains("integer dtype") && Contains("'<f4'"));
  REQUIRE_THROWS_AS(bark::load_history_prompt(p.string()), std::invalid_argument);
  bark::io::write_npz(p.string(), {{"semantic_prompt", s}, {"coarse_prompt", c},
                                   {"fine_prompt", make_int64({8, 6}, std::vector<int64_t>(48, 1024))}});
  REQUIRE_THROWS_AS(bark::load_history_prompt(p.string()), std::invalid_argument);
  REQUIRE_THROWS_WITH(bark::load_history_prompt(p.string()),
                      Contains(p.string()) && Contains("'fine_prompt'") && Contains("value 1024 at position 0 is outside [0, 1024)"));
  REQUIRE_THROWS_WITH(bark::load_history_prompt((dir / "missing.npz").string()), Contains("missing.npz"));
  auto kind_of = [](const std::string& path) -> std::string {
    try {
      bark::load_history_prompt(path);
    } catch (const std::invalid_argument&) {
      return "invalid_argument";
    } catch (const std::runtime_error&) {
      return "runtime_error";
    }
    return "none";
  };
  CHECK(kind_of((dir / "missing.npz").string()) == "runtime_error");
  CHECK(kind_of(dir.string()) == "runtime_error");
  spit(dir / "text.npz", std::vector<uint8_t>(100, 'x'));
  REQUIRE_THROWS_WITH(bark::load_history_prompt((dir / "text.npz").string()),
                      Contains("text.npz") && Contains("not a zip file"));
  CHECK(kind_of((dir / "text.npz").string()) == "invalid_argument");

  // Every truncation of a small valid prompt: an invalid_argument naming the file, no crash.
  const fs::path good = dir / "good.npz";
  bark::save_history_prompt(good.string(), make_prompt(4, 6));
  const auto bytes = slurp(good);
  MemFile mem;
  for (size_t n = 0; n < bytes.size(); ++n) {
    mem.set(std::vector<uint8_t>(bytes.begin(), bytes.begin() + static_cast<std::ptrdiff_t>(n)));
    INFO("prefix " << n << " of " << bytes.size());
    REQUIRE_THROWS_WITH(bark::load_history_prompt(mem.path), Contains(mem.path));
    REQUIRE(kind_of(mem.path) == "invalid_argument");
  }
}
