// Hostile input and output files (issue 17): bombs refused before they cost memory, archives
// whose members overlap refused, cyclic pickles freed, temporary output files removed when the
// process is stopped by a signal. The hostile files are made by Python's zipfile and numpy
// (the reference venv), as an attacker would make them.
#include <signal.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

#include <catch2/catch.hpp>

#include <filesystem>
#include <limits>
#include <fstream>
#include <sstream>
#include <string>
#include <vector>

#include "bark/history_prompt.h"
#include "bark/wav.h"
#include "file_helpers.h"
#include "io/atomic_file.h"
#include "io/npy.h"
#include "io/pickle.h"
#include "io/zip.h"
#include "text/tokenizer.h"
#include "test_common.h"

namespace fs = std::filesystem;
using Catch::Matchers::Contains;
using bark_test::slurp;
using bark_test::spit;

namespace {
// The reference Python, run in `dir` (its relative file names land there).
int run_python_in(const std::string& code, const std::filesystem::path& dir) {
  return bark_test::run_python("import os\nos.chdir(r'" + dir.string() + "')\n" + code, dir);
}


// Python that writes the three valid members of a small voice into the open ZipFile `z`.
const char* kValidMembers =
    "import io, zipfile, numpy as np\n"
    "def npy(a):\n"
    "    b = io.BytesIO(); np.save(b, a); return b.getvalue()\n"
    "def valid(z, skip=()):\n"
    "    arrays = {'semantic_prompt': np.arange(4, dtype=np.int64),\n"
    "              'coarse_prompt': np.zeros((2, 6), dtype=np.int64),\n"
    "              'fine_prompt': np.zeros((8, 6), dtype=np.int64)}\n"
    "    for k, a in arrays.items():\n"
    "        if k not in skip: z.writestr(k + '.npy', npy(a))\n"
    // a deflated member whose header declares `n` int64 values and whose data really are `n`
    // zeros: a small file that inflates to n * 8 bytes
    "def bomb(z, name, n):\n"
    "    with z.open(name, 'w', force_zip64=True) as f:\n"
    "        np.lib.format.write_array_header_1_0(f, {'descr': '<i8', 'fortran_order': False, 'shape': (n,)})\n"
    "        chunk = bytes(1 << 24)\n"
    "        left = n * 8\n"
    "        while left > 0:\n"
    "            f.write(chunk[:min(left, len(chunk))]); left -= len(chunk)\n";

// Peak RSS of this process so far, in MB.
double peak_rss_mb() {
  rusage ru{};
  getrusage(RUSAGE_SELF, &ru);
  return static_cast<double>(ru.ru_maxrss) / 1024.0;
}

}  // namespace

TEST_CASE("npz bomb: a member declaring more than a prompt may hold is refused before it is inflated",
          "[unit][hostile]") {
  const auto dir = bark_test::temp_dir("npz_bomb");
  // 32 Mi semantic tokens: 256 MB once inflated, about 250 KB in the file
  REQUIRE(run_python_in(std::string(kValidMembers) +
                         "with zipfile.ZipFile('bomb.npz', 'w', zipfile.ZIP_DEFLATED) as z:\n"
                         "    bomb(z, 'semantic_prompt.npy', 32 << 20)\n"
                         "    valid(z, skip=('semantic_prompt',))\n",
                     dir) == 0);
  const auto path = (dir / "bomb.npz").string();
  REQUIRE(fs::file_size(path) < 1'000'000);
  const double rss_before = peak_rss_mb();
  REQUIRE_THROWS_AS(bark::load_history_prompt(path), std::invalid_argument);
  REQUIRE_THROWS_WITH(bark::load_history_prompt(path),
                      Contains(path) && Contains("semantic_prompt.npy") && Contains("(33554432,)") &&
                          Contains("more than the 480000"));
  // nothing close to the 256 MB was allocated (the header alone was inflated)
  CHECK(peak_rss_mb() - rss_before < 100);
}

TEST_CASE("npz: members Bark does not use are never inflated (a bomb or garbage beside a valid voice)",
          "[unit][hostile]") {
  const auto dir = bark_test::temp_dir("npz_unused");
  REQUIRE(run_python_in(std::string(kValidMembers) +
                         "with zipfile.ZipFile('extra.npz', 'w', zipfile.ZIP_DEFLATED) as z:\n"
                         "    valid(z)\n"
                         "    bomb(z, 'padding.npy', 16 << 20)\n"
                         "    z.writestr('notes.txt', 'x' * 1000)\n",
                     dir) == 0);
  const double rss_before = peak_rss_mb();
  const auto prompt = bark::load_history_prompt((dir / "extra.npz").string());
  CHECK(prompt.semantic_prompt == std::vector<int64_t>{0, 1, 2, 3});
  CHECK(prompt.fine_prompt.n_frames == 6);
  CHECK(peak_rss_mb() - rss_before < 64);
}

TEST_CASE("zip: members sharing bytes (several names on one deflated stream) are refused", "[unit][hostile]") {
  const auto dir = bark_test::temp_dir("zip_overlap");
  // Python writes one member, then the central directory gets 50 more entries naming the same
  // local header: the classic overlapping-entry bomb.
  REQUIRE(run_python_in(std::string(kValidMembers) +
                         "import struct\n"
                         "with zipfile.ZipFile('one.npz', 'w', zipfile.ZIP_DEFLATED) as z:\n"
                         "    valid(z)\n"
                         "data = open('one.npz', 'rb').read()\n"
                         "eocd = data.rindex(b'PK\\x05\\x06')\n"
                         "n, cd_size, cd_off = struct.unpack('<HII', data[eocd + 10:eocd + 20])\n"
                         "cd = data[cd_off:cd_off + cd_size]\n"
                         "first_len = 46 + sum(struct.unpack('<HHH', cd[28:34]))\n"
                         "first = cd[:first_len]\n"
                         "name_len = struct.unpack('<H', first[28:30])[0]\n"
                         "extra = b''\n"
                         "for i in range(50):\n"
                         "    name = ('x%02d.npy' % i).encode()\n"
                         "    extra += first[:28] + struct.pack('<H', len(name)) + first[30:46] + name + "
                         "first[46 + name_len:]\n"
                         "cd2 = cd + extra\n"
                         "end = data[eocd:eocd + 8] + struct.pack('<HHII', n + 50, n + 50, len(cd2), cd_off) + "
                         "data[eocd + 20:]\n"
                         "open('overlap.npz', 'wb').write(data[:cd_off] + cd2 + end)\n"
                         "print(len(zipfile.ZipFile('overlap.npz').namelist()))\n",
                     dir) == 0);
  const auto path = (dir / "overlap.npz").string();
  REQUIRE_THROWS_WITH(bark::io::ZipReader(path), Contains(path) && Contains("overlap"));
  REQUIRE_THROWS_WITH(bark::load_history_prompt(path), Contains(path) && Contains("overlap"));
  // the archive it was made from is fine
  CHECK_NOTHROW(bark::load_history_prompt((dir / "one.npz").string()));
}

TEST_CASE("npz: prompts beyond the documented size limits are refused, in memory and on save", "[unit][hostile]") {
  bark::HistoryPrompt p;
  p.semantic_prompt.assign(bark::MAX_PROMPT_SEMANTIC_TOKENS + 1, 1);
  p.coarse_prompt = {2, 90'002, std::vector<int64_t>(2 * 90'002, 0)};
  p.fine_prompt = {8, 6, std::vector<int64_t>(48, 0)};
  CHECK_THROWS_WITH(bark::validate_history_prompt(p), Contains("60001 tokens") && Contains("60000"));
  p.semantic_prompt.resize(bark::MAX_PROMPT_SEMANTIC_TOKENS);
  p.coarse_prompt = {2, 90'000, std::vector<int64_t>(2 * 90'000, 0)};
  p.fine_prompt = {8, bark::MAX_PROMPT_FRAMES + 1, std::vector<int64_t>(8 * (bark::MAX_PROMPT_FRAMES + 1), 0)};
  CHECK_THROWS_WITH(bark::validate_history_prompt(p), Contains("'fine_prompt'") && Contains("90001 frames"));
  p.fine_prompt = {8, bark::MAX_PROMPT_FRAMES, std::vector<int64_t>(8 * bark::MAX_PROMPT_FRAMES, 0)};
  CHECK_NOTHROW(bark::validate_history_prompt(p));  // the limits themselves are allowed
  const auto dir = bark_test::temp_dir("npz_limits");
  const auto path = (dir / "largest.npz").string();
  bark::save_history_prompt(path, p);
  CHECK(bark::load_history_prompt(path).fine_prompt.n_frames == bark::MAX_PROMPT_FRAMES);
}

TEST_CASE("npz: a malformed voice file is always std::invalid_argument, an unopenable one runtime_error",
          "[unit][hostile]") {
  const auto dir = bark_test::temp_dir("npz_kinds");
  spit(dir / "text.npz", std::vector<uint8_t>(100, 'x'));
  CHECK_THROWS_AS(bark::load_history_prompt((dir / "text.npz").string()), std::invalid_argument);
  bark::io::write_npz((dir / "two.npz").string(), {{"semantic_prompt", bark::io::make_int64({1}, {1})}});
  CHECK_THROWS_AS(bark::load_history_prompt((dir / "two.npz").string()), std::invalid_argument);
  auto bytes = slurp(dir / "two.npz");
  bytes.resize(bytes.size() - 30);
  spit(dir / "cut.npz", bytes);
  CHECK_THROWS_AS(bark::load_history_prompt((dir / "cut.npz").string()), std::invalid_argument);
  CHECK_THROWS_AS(bark::load_history_prompt((dir / "missing.npz").string()), std::runtime_error);
  CHECK_THROWS_WITH(bark::load_history_prompt(dir.string()), Contains("is a directory"));
}

TEST_CASE("unpickler: a list that contains itself is refused and freed", "[unit][hostile]") {
  // EMPTY_LIST, BINPUT 0, BINGET 0, APPEND, STOP: l = []; l.append(l)
  const std::string cyclic = std::string("\x80\x02]q\x00h\x00" "a.", 9);
  CHECK_THROWS_WITH(
      bark::io::unpickle(reinterpret_cast<const uint8_t*>(cyclic.data()), cyclic.size(), "cyclic"),
      Contains("cyclic") && Contains("contains itself"));
  // the same cycle inside a dict value, then an error before STOP: freed as well (LeakSanitizer
  // checks this in the sanitizer build)
  const std::string broken = std::string("\x80\x02}q\x00X\x01\x00\x00\x00kh\x00s", 14);
  CHECK_THROWS_WITH(
      bark::io::unpickle(reinterpret_cast<const uint8_t*>(broken.data()), broken.size(), "broken"),
      Contains("truncated"));
  // a cycle whose only reference was a memo entry stored again (fuzz_pickle found the leak):
  // EMPTY_LIST BINPUT 1 BINGET 1 APPEND (l.append(l)), POP, EMPTY_DICT BINPUT 1
  const std::string overwritten = std::string("\x80\x02]q\x01h\x01" "a0}q\x01.", 14);
  CHECK_THROWS_WITH(
      bark::io::unpickle(reinterpret_cast<const uint8_t*>(overwritten.data()), overwritten.size(), "memo"),
      Contains("memo key 1 stored twice"));
  // a cycle made without the memo and dropped from the stack: EMPTY_LIST DUP APPEND (l.append(l)),
  // POP, NONE: the result is None and the dropped cycle is freed (LeakSanitizer, sanitize phase)
  const std::string dropped = std::string("\x80\x02]2a0N.", 8);
  const auto none = bark::io::unpickle(reinterpret_cast<const uint8_t*>(dropped.data()), dropped.size(), "dropped");
  CHECK(none->kind == bark::io::PyValue::Kind::None);
  // shared (not cyclic) references stay allowed: [x, x] with x = []
  const std::string shared = std::string("\x80\x02](]q\x01h\x01" "e.", 11);
  const auto v = bark::io::unpickle(reinterpret_cast<const uint8_t*>(shared.data()), shared.size(), "shared");
  REQUIRE(v->items.size() == 2);
  CHECK(v->items[0] == v->items[1]);
}

TEST_CASE("output files: SIGINT or SIGTERM while writing removes the temporary file, the target stays",
          "[unit][hostile]") {
  for (int sig : {SIGINT, SIGTERM}) {
    INFO("signal " << sig);
    const auto dir = bark_test::temp_dir("atomic_signal");
    const auto target = dir / "out.wav";
    spit(target, {'o', 'l', 'd'});
    const pid_t pid = ::fork();
    REQUIRE(pid >= 0);
    if (pid == 0) {
      ::signal(sig, SIG_DFL);  // what a program that installs no handler has
      bark::io::AtomicFile f(target.string());
      f.write("partial", 7);
      ::raise(sig);
      ::_exit(0);  // not reached
    }
    int status = 0;
    REQUIRE(::waitpid(pid, &status, 0) == pid);
    CHECK(WIFSIGNALED(status));
    CHECK(WTERMSIG(status) == sig);  // still dies of the signal, as the default action does
    std::vector<std::string> names;
    for (const auto& e : fs::directory_iterator(dir)) names.push_back(e.path().filename().string());
    CHECK(names == std::vector<std::string>{"out.wav"});
    CHECK(slurp(target) == std::vector<uint8_t>{'o', 'l', 'd'});
  }
}

TEST_CASE("output files: a handler the program installed itself is left alone", "[unit][hostile]") {
  const auto dir = bark_test::temp_dir("atomic_own_handler");
  const pid_t pid = ::fork();
  REQUIRE(pid >= 0);
  if (pid == 0) {
    static volatile sig_atomic_t got = 0;
    ::signal(SIGTERM, [](int) { got = 1; });
    bark::io::AtomicFile f((dir / "out.bin").string());
    f.write("x", 1);
    ::raise(SIGTERM);
    f.commit();
    ::_exit(got == 1 && fs::exists(dir / "out.bin") ? 0 : 3);
  }
  int status = 0;
  REQUIRE(::waitpid(pid, &status, 0) == pid);
  REQUIRE(WIFEXITED(status));
  CHECK(WEXITSTATUS(status) == 0);
}

TEST_CASE("vocab: blank lines only, or a file beyond the size limit, is refused before it is read",
          "[unit][hostile]") {
  const auto dir = bark_test::temp_dir("vocab_hostile");
  bark_test::spit(dir / "blank.txt", std::vector<uint8_t>(1000, '\n'));
  CHECK_THROWS_WITH(bark::text::Tokenizer::from_vocab_file((dir / "blank.txt").string()),
                    Contains("blank.txt") && Contains("only blank lines"));
  {
    std::ofstream f(dir / "huge.txt");
  }
  fs::resize_file(dir / "huge.txt", bark::text::MAX_VOCAB_FILE_BYTES + 1);  // sparse: costs no disk
  const double rss_before = peak_rss_mb();
  CHECK_THROWS_WITH(bark::text::Tokenizer::from_vocab_file((dir / "huge.txt").string()),
                    Contains("huge.txt") && Contains("more than the 67108864"));
  CHECK(peak_rss_mb() - rss_before < 32);
}

TEST_CASE("tokenizer: NFC of long runs of combining marks is linear and matches Python", "[unit][hostile]") {
  const auto tok = bark::text::Tokenizer::from_vocab_file(bark_test::vocab_path().string());
  // 1 MB of marks of two classes (U+0301 above, 230; U+0316 below, 220) after one letter: the
  // canonical ordering moves every U+0316 before every U+0301. utf8proc's exchange sort took
  // 12 s for 80,000 marks and minutes for this; a word this long is one [UNK].
  std::string marks = "e";
  for (int i = 0; i < 250'000; ++i) marks += "\xCC\x81\xCC\x96";
  CHECK(tok.encode(marks) == std::vector<int64_t>{tok.unk_id()});
  // Shorter words with shuffled marks of several classes: the same ids as transformers'
  // BertTokenizer (unicodedata's NFC) in the reference venv.
  const auto dir = bark_test::temp_dir("nfc_marks");
  REQUIRE(run_python_in(
              "import random\n"
              "from transformers import BertTokenizer\n"
              "tok = BertTokenizer('" + bark_test::vocab_path().string() + "', do_lower_case=False)\n"
              "rng = random.Random(17)\n"
              "marks = ['\\u0301', '\\u0316', '\\u0327', '\\u0323', '\\u0308', '\\u0334', '\\u0345', '\\u05b0', '\\u093c']\n"
              "with open('cases.tsv', 'w') as f:\n"
              "    for _ in range(300):\n"
              "        s = ' '.join(rng.choice('aeiouAOUcnsz\\u0915') + ''.join(rng.choice(marks) for _ in range(rng.randint(1, 8)))\n"
              "                     for _ in range(rng.randint(1, 4)))\n"
              "        ids = tok.encode(s, add_special_tokens=False)\n"
              "        f.write(s.encode().hex() + '\\t' + ' '.join(map(str, ids)) + '\\n')\n",
              dir) == 0);
  std::ifstream in(dir / "cases.tsv");
  std::string line;
  size_t n = 0;
  while (std::getline(in, line)) {
    const auto tab = line.find('\t');
    std::string text;
    for (size_t i = 0; i + 1 < tab; i += 2) text += static_cast<char>(std::stoi(line.substr(i, 2), nullptr, 16));
    std::vector<int64_t> expected;
    std::istringstream ids(line.substr(tab + 1));
    for (int64_t id; ids >> id;) expected.push_back(id);
    INFO(line);
    CHECK(tok.encode(text) == expected);
    ++n;
  }
  CHECK(n == 300);
}

TEST_CASE("wav: 64-bit float samples beyond the range of a float are refused (no undefined conversion)",
          "[unit][hostile]") {
  // found by tests/fuzz/fuzz_wav under UBSan: 1e300 was converted to float
  const auto dir = bark_test::temp_dir("wav_f64");
  const auto f64_wav = [](const std::vector<double>& samples) {
    const auto u16 = [](std::string& s, uint16_t v) { s.append(reinterpret_cast<const char*>(&v), 2); };
    const auto u32 = [](std::string& s, uint32_t v) { s.append(reinterpret_cast<const char*>(&v), 4); };
    std::string b = "RIFF";
    u32(b, static_cast<uint32_t>(36 + 8 * samples.size()));
    b += "WAVEfmt ";
    u32(b, 16);
    u16(b, 3);           // WAVE_FORMAT_IEEE_FLOAT
    u16(b, 1);           // mono
    u32(b, 24000);
    u32(b, 24000 * 8);   // byte rate
    u16(b, 8);           // block align
    u16(b, 64);          // bits
    b += "data";
    u32(b, static_cast<uint32_t>(8 * samples.size()));
    for (double x : samples) b.append(reinterpret_cast<const char*>(&x), 8);
    return std::vector<uint8_t>(b.begin(), b.end());
  };
  bark_test::spit(dir / "big.wav", f64_wav({0.5, 1e300, 0.25}));
  CHECK_THROWS_WITH(bark::read_wav((dir / "big.wav").string()),
                    Contains("big.wav") && Contains("sample 1") && Contains("beyond the range of a float"));
  bark_test::spit(dir / "ok.wav", f64_wav({0.5, -1.5, 3e38}));
  CHECK(bark::read_wav((dir / "ok.wav").string()).samples == std::vector<float>{0.5f, -1.5f, 3e38f});
}
