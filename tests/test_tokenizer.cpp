// Tokenizer tests: fixed strings and error paths ([unit]); the shared golden file and a corpus
// generated at test time with the real transformers.BertTokenizer ([parity]).
#include <catch2/catch.hpp>
#include <utf8proc.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <map>
#include <nlohmann/json.hpp>
#include <sstream>
#include <stdexcept>
#include <string>
#include <vector>

#include "bark/logging.h"
#include "test_common.h"
#include "text/tokenizer.h"
#include "text/utf8.h"

using bark::text::Tokenizer;
using Catch::Matchers::Contains;

namespace {

const Tokenizer& real_tokenizer() {
  static const Tokenizer tok = Tokenizer::from_vocab_file(bark_test::vocab_path().string());
  return tok;
}

std::string join_ids(const std::vector<int64_t>& ids) {
  std::string s;
  for (size_t i = 0; i < ids.size(); ++i) s += (i ? " " : "") + std::to_string(ids[i]);
  return s;
}

std::vector<int64_t> parse_ids(const std::string& s) {
  std::vector<int64_t> ids;
  std::istringstream in(s);
  for (int64_t id; in >> id;) ids.push_back(id);
  return ids;
}

std::string escape(const std::string& s) {
  std::string out;
  for (const unsigned char c : s) {
    if (c >= 0x20 && c < 0x7F && c != '\\') {
      out += static_cast<char>(c);
    } else {
      char buf[8];
      std::snprintf(buf, sizeof buf, "\\x%02x", c);
      out += buf;
    }
  }
  return out;
}

std::string from_hex(const std::string& hex) {
  std::string out;
  for (size_t i = 0; i + 1 < hex.size(); i += 2)
    out += static_cast<char>(std::stoi(hex.substr(i, 2), nullptr, 16));
  return out;
}

// A tiny vocab for WordPiece tests: the specials, then the given tokens (ids from 5).
Tokenizer tiny(const std::vector<std::string>& tokens) {
  std::string text = "[PAD]\n[UNK]\n[CLS]\n[SEP]\n[MASK]\n";
  for (const auto& t : tokens) text += t + "\n";
  return Tokenizer::from_vocab_text(text, "tiny");
}

// Silences the library's truncation warnings for one test.
struct QuietLog {
  bark::LogLevel saved = bark::get_log_level();
  QuietLog() { bark::set_log_level(bark::LogLevel::Error); }
  ~QuietLog() { bark::set_log_level(saved); }
};

nlohmann::json read_json(const std::filesystem::path& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) throw std::runtime_error("cannot open " + path.string());
  return nlohmann::json::parse(in);
}

}  // namespace

// ---- unit ----------------------------------------------------------------------------------

TEST_CASE("tokenizer: real vocab loads fast with 119547 tokens", "[unit][tokenizer]") {
  const auto t0 = std::chrono::steady_clock::now();
  const auto tok = Tokenizer::from_vocab_file(bark_test::vocab_path().string());
  const double ms =
      std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0).count();
  INFO("load took " << ms << " ms");
  CHECK(ms < 500);  // typically ~10 ms; generous for loaded CI machines and debug builds
  CHECK(tok.vocab_size() == 119547);
  CHECK(tok.unk_id() == 100);
  CHECK(tok.token_to_id("[CLS]") == 101);
  CHECK(tok.token_to_id("##o") == 10133);
  CHECK(tok.token_to_id("no-such-token") == -1);
  CHECK(tok.id_to_token(31178) == "Hello");
  CHECK_THROWS_AS(tok.id_to_token(119547), std::out_of_range);
  CHECK_THROWS_AS(tok.id_to_token(-1), std::out_of_range);
}

TEST_CASE("tokenizer: fixed strings", "[unit][tokenizer]") {
  const auto& tok = real_tokenizer();
  CHECK(tok.encode("Hello, world!") == std::vector<int64_t>{31178, 117, 11356, 106});
  CHECK(tok.encode("").empty());
  CHECK(tok.encode(" \t\r\n\u3000").empty());
  CHECK(tok.tokenize("Hello, my name is Suno.") ==
        std::vector<std::string>{"Hello", ",", "my", "name", "is", "Sun", "##o", "."});
  // CJK ideographs are single tokens; kana and hangul are words like any other.
  CHECK(tok.tokenize("你好").size() == 2);
  // No lower-casing, no accent stripping: "Élan" and "elan" differ.
  CHECK(tok.encode("Élan") != tok.encode("elan"));
  // NFC: a decomposed "é" is the same as the composed one.
  CHECK(tok.encode("caf\xC3\xA9") == tok.encode("cafe\xCC\x81"));
  // Special tokens are kept whole, even glued to words; lower-case ones are not special.
  CHECK(tok.encode("a[MASK]b") == std::vector<int64_t>{169, 103, 170});
  CHECK(tok.tokenize("[mask]") == std::vector<std::string>{"[", "mask", "]"});
  // Five vocab entries are not NFC (U+2329, U+232A, "и" + U+0300 and two "##" forms); input is
  // NFC-normalised first, so they are never produced, exactly as in transformers.
  CHECK(tok.token_to_id("\xE2\x8C\xA9") == 1829);
  CHECK(tok.encode("\xE2\x8C\xA9") == std::vector<int64_t>{1886});  // U+2329 -> U+3008
  CHECK(tok.token_to_id("\xD0\xB8\xCC\x80") == 90061);
  CHECK(tok.encode("\xD0\xB8\xCC\x80") == std::vector<int64_t>{586});  // -> U+045D
  // A special token that only appears after _clean_text removed a NUL is not punct-split.
  CHECK(tok.encode(std::string("[CL\0S]", 6)) == std::vector<int64_t>{101});
}

TEST_CASE("tokenizer: WordPiece on a tiny vocab", "[unit][tokenizer]") {
  const auto tok = tiny({"un", "##aff", "##able", "a", "##ff", "##a", "x", "é", "!"});
  CHECK(tok.tokenize("unaffable") == std::vector<std::string>{"un", "##aff", "##able"});
  CHECK(tok.encode("unaffable") == std::vector<int64_t>{5, 6, 7});
  CHECK(tok.tokenize("affa") == std::vector<std::string>{"a", "##ff", "##a"});
  // Any unmatched rest turns the whole word into one [UNK].
  CHECK(tok.tokenize("unaffablez") == std::vector<std::string>{"[UNK]"});
  CHECK(tok.tokenize("x!un") == std::vector<std::string>{"x", "!", "un"});
  // 100 code points is still a word; 101 is [UNK] (counted after NFC, in code points).
  std::string w100, w101, e100;
  for (int i = 0; i < 100; ++i) w100 += "x";
  w101 = w100 + "x";
  // 200 code points, 100 after NFC.
  for (int i = 0; i < 100; ++i) e100 += "e\xCC\x81";
  CHECK(tok.encode(w100) == std::vector<int64_t>{tok.unk_id()});  // no "##x" in this vocab
  CHECK(tok.encode(w101) == std::vector<int64_t>{tok.unk_id()});
  const auto tok2 = tiny({"x", "##x", "é", "##é"});
  CHECK(tok2.encode(w100).size() == 100);
  CHECK(tok2.encode(w101) == std::vector<int64_t>{1});
  CHECK(tok2.encode(e100).size() == 100);
  CHECK(tok2.encode(e100 + "e\xCC\x81") == std::vector<int64_t>{1});
}

TEST_CASE("tokenizer: vocab file errors name the path", "[unit][tokenizer]") {
  CHECK_THROWS_WITH(Tokenizer::from_vocab_file("/nonexistent/vocab.txt"),
                    Contains("/nonexistent/vocab.txt") && Contains("no such file"));
  CHECK_THROWS_AS(Tokenizer::from_vocab_file("/nonexistent/vocab.txt"), std::runtime_error);
  CHECK_THROWS_WITH(Tokenizer::from_vocab_text("", "v.txt"),
                    Contains("v.txt") && Contains("empty"));
  CHECK_THROWS_WITH(Tokenizer::from_vocab_text("[PAD]\n[UNK]\n[CLS]\n[SEP]\n", "v.txt"),
                    Contains("v.txt") && Contains("[MASK]"));
  CHECK_THROWS_WITH(Tokenizer::from_vocab_text("[PAD]\n\xff\n", "v.txt"),
                    Contains("v.txt") && Contains("UTF-8") && Contains("line 2"));
  // A directory is not a vocab either.
  CHECK_THROWS_WITH(Tokenizer::from_vocab_file("/"), Contains("'/'") && Contains("cannot open"));
}

TEST_CASE("tokenizer: vocab lines follow Python's universal newlines", "[unit][tokenizer]") {
  const auto tok =
      Tokenizer::from_vocab_text("[PAD]\r\n[UNK]\r[CLS]\n[SEP]\n[MASK]\nfoo\nfoo", "v");
  CHECK(tok.token_to_id("[UNK]") == 1);
  CHECK(tok.token_to_id("[CLS]") == 2);
  CHECK(tok.token_to_id("foo") == 6);  // a repeated line: the later id wins
  CHECK(tok.vocab_size() == 6);
}

TEST_CASE("tokenizer: invalid UTF-8 throws with the byte offset", "[unit][tokenizer]") {
  const auto& tok = real_tokenizer();
  const std::vector<std::pair<std::string, size_t>> bad = {
      {"ab\xff", 2},           {"\x80", 0},
      {"abc\xC3", 3},          {"\xC0\xAF", 0},
      {"x\xE0\x80\xAF", 1},    {"\xED\xA0\x80", 0},
      {"\xF4\x90\x80\x80", 0}, {"ok \xF0\x9F\x98", 3},
      {"\xC3\x28", 0},         {"\xF8\x88\x80\x80\x80", 0},
  };
  for (const auto& [text, offset] : bad) {
    INFO(escape(text));
    CHECK_THROWS_AS(tok.encode(text), std::invalid_argument);
    CHECK_THROWS_WITH(tok.encode(text), Contains("byte offset " + std::to_string(offset)));
    CHECK_THROWS_WITH(bark::text::normalize_whitespace(text),
                      Contains("byte offset " + std::to_string(offset)));
  }
  CHECK_NOTHROW(tok.encode("\xF4\x8F\xBF\xBF \xEF\xBF\xBF \xED\x9F\xBF"));
}

// text/utf8.h is the one UTF-8 decoder (tokenizer, normalize_whitespace, pickle strings): its
// verdicts pinned over every code point and every way of breaking a sequence (Table 3-7).
TEST_CASE("utf8: decode_utf8_at accepts exactly the well-formed sequences", "[unit][tokenizer]") {
  using bark::text::append_utf8;
  using bark::text::decode_utf8_at;
  char32_t cp = 0;
  std::string s;
  size_t round_trips = 0;
  for (char32_t c = 0; c <= 0x10FFFF; ++c) {
    if (c >= 0xD800 && c <= 0xDFFF) continue;
    s.clear();
    append_utf8(s, c);
    const size_t want = c < 0x80 ? 1 : c < 0x800 ? 2 : c < 0x10000 ? 3 : 4;
    round_trips += s.size() == want && decode_utf8_at(s, 0, cp) == want && cp == c;
    if (want > 1) round_trips -= decode_utf8_at(s.substr(0, want - 1), 0, cp) != 0;  // cut short
  }
  CHECK(round_trips == 0x110000 - 0x800);
  const auto rejected = [&](const std::string& bytes) { return decode_utf8_at(bytes, 0, cp) == 0; };
  for (int b = 0x80; b <= 0xFF; ++b) {  // a lone continuation byte, or a lead byte with nothing after
    CHECK(rejected(std::string(1, static_cast<char>(b))));
  }
  for (int b = 0; b <= 0xFF; ++b) {
    const char c = static_cast<char>(b);
    const bool continuation = b >= 0x80 && b <= 0xBF;
    INFO("second byte 0x" << std::hex << b);
    CHECK(rejected(std::string("\xC0") + c + "\x80"));                                // overlong
    CHECK(rejected(std::string("\xC1") + c + "\x80"));
    CHECK(rejected(std::string("\xC3") + c) == !continuation);
    CHECK(rejected(std::string("\xE0") + c + "\x80") == !(b >= 0xA0 && b <= 0xBF));  // overlong
    CHECK(rejected(std::string("\xED") + c + "\x80") == !(b >= 0x80 && b <= 0x9F));  // surrogates
    CHECK(rejected(std::string("\xE1\x80") + c) == !continuation);
    CHECK(rejected(std::string("\xF0") + c + "\x80\x80") == !(b >= 0x90 && b <= 0xBF));  // overlong
    CHECK(rejected(std::string("\xF4") + c + "\x80\x80") == !(b >= 0x80 && b <= 0x8F));  // > U+10FFFF
    CHECK(rejected(std::string("\xF1\x80") + c + "\x80") == !continuation);
    CHECK(rejected(std::string("\xF1\x80\x80") + c) == !continuation);
    for (const char* lead : {"\xF5", "\xF8", "\xFC", "\xFE", "\xFF"}) {
      CHECK(rejected(std::string(lead) + c + "\x80\x80\x80"));
    }
  }
}

TEST_CASE("tokenizer: normalize_whitespace is Python's \\s", "[unit][tokenizer]") {
  using bark::text::normalize_whitespace;
  CHECK(normalize_whitespace("  a \t\n b  ") == "a b");
  CHECK(normalize_whitespace("a\x1c\x1d\x1e\x1fx\u0085y\u00a0z") == "a x y z");
  // U+200B is not whitespace.
  CHECK(normalize_whitespace("a\u2028x\u3000y\u200bz") == "a x y\u200bz");
  CHECK(normalize_whitespace("").empty());
  CHECK(normalize_whitespace(" \t ").empty());
  // Python's definition: bidi class WS, B or S, or category Zs, over all code points.
  for (char32_t cp = 0; cp < 0x110000; ++cp) {
    const auto* p = utf8proc_get_property(static_cast<utf8proc_int32_t>(cp));
    const bool expected =
        p->category == UTF8PROC_CATEGORY_ZS || p->bidi_class == UTF8PROC_BIDI_CLASS_WS ||
        p->bidi_class == UTF8PROC_BIDI_CLASS_B || p->bidi_class == UTF8PROC_BIDI_CLASS_S;
    if (expected != bark::text::detail::is_python_space(cp)) FAIL("code point " << cp);
  }
}

TEST_CASE("tokenizer: encode_for_bark offsets, truncates and pads", "[unit][tokenizer]") {
  const auto& tok = real_tokenizer();
  const QuietLog quiet;
  double dropped = -1;
  auto ids = bark::text::encode_for_bark(tok, "  Hello,\n world! ", &dropped);
  REQUIRE(ids.size() == 256);
  CHECK(dropped == 0.0);
  CHECK(std::vector<int64_t>(ids.begin(), ids.begin() + 5) ==
        std::vector<int64_t>{31178 + 10048, 117 + 10048, 11356 + 10048, 106 + 10048, 129595});
  CHECK(ids.back() == bark::text::TEXT_PAD_TOKEN);

  std::string text;
  for (int i = 0; i < 300; ++i) text += "a ";  // 300 tokens
  ids = bark::text::encode_for_bark(tok, text, &dropped);
  REQUIRE(ids.size() == 256);
  CHECK(dropped == 14.7);  // round(44 / 300 * 100, 1)
  CHECK(ids.back() == 169 + 10048);
  text.clear();
  for (int i = 0; i < 512; ++i) text += "a ";
  bark::text::encode_for_bark(tok, text, &dropped);
  CHECK(dropped == 50.0);
  CHECK_NOTHROW(bark::text::encode_for_bark(tok, text, nullptr));
}

TEST_CASE("tokenizer: NFC fast path is sound for every code point", "[unit][tokenizer]") {
  // A string of inert code points is NFC-stable if every inert code point is NFC-stable on
  // its own and none is the second part of a canonical composition: every code point after
  // the first of a full canonical decomposition must not be inert.
  for (char32_t cp = 0; cp < 0x110000; ++cp) {
    if (cp >= 0xD800 && cp <= 0xDFFF) continue;
    utf8proc_int32_t buf[32];
    int last_boundclass = 0;
    const auto n = utf8proc_decompose_char(static_cast<utf8proc_int32_t>(cp), buf, 32,
                                           UTF8PROC_DECOMPOSE, &last_boundclass);
    if (n < 1) FAIL("utf8proc_decompose_char failed for " << cp);
    // Composition exclusions (e.g. U+0F43) never recompose, so their parts may be inert.
    const bool excluded = utf8proc_get_property(static_cast<utf8proc_int32_t>(cp))->comp_exclusion;
    for (int k = 1; k < n && !excluded; ++k)
      if (bark::text::detail::nfc_inert(static_cast<char32_t>(buf[k])))
        FAIL("second part of " << cp << " is inert: " << buf[k]);
    if (n == 1 && buf[0] == static_cast<utf8proc_int32_t>(cp)) continue;
    if (!bark::text::detail::nfc_inert(cp)) continue;
    utf8proc_uint8_t in[4];
    const auto len = utf8proc_encode_char(static_cast<utf8proc_int32_t>(cp), in);
    utf8proc_uint8_t* out = nullptr;
    utf8proc_map(in, len, &out, static_cast<utf8proc_option_t>(UTF8PROC_STABLE | UTF8PROC_COMPOSE));
    const bool stable = out != nullptr && std::string(reinterpret_cast<char*>(out)) ==
                                              std::string(reinterpret_cast<char*>(in), len);
    std::free(out);
    if (!stable) FAIL("inert but not NFC-stable: " << cp);
  }
  // And directly: random strings of inert code points are NFC-stable.
  uint64_t state = 7;
  for (int i = 0; i < 20000; ++i) {
    std::string s;
    while (s.size() < 24) {
      state = state * 6364136223846793005ull + 1442695040888963407ull;
      // Mostly the BMP, where the scripts are.
      const auto cp =
          static_cast<char32_t>((state >> 33) % ((state >> 20) % 4 ? 0x10000 : 0x110000));
      if ((cp >= 0xD800 && cp <= 0xDFFF) || cp == 0 || !bark::text::detail::nfc_inert(cp)) continue;
      utf8proc_uint8_t b[4];
      s.append(reinterpret_cast<char*>(b),
               static_cast<size_t>(utf8proc_encode_char(static_cast<utf8proc_int32_t>(cp), b)));
    }
    utf8proc_uint8_t* out = nullptr;
    utf8proc_map(reinterpret_cast<const utf8proc_uint8_t*>(s.data()),
                 static_cast<utf8proc_ssize_t>(s.size()), &out,
                 static_cast<utf8proc_option_t>(UTF8PROC_STABLE | UTF8PROC_COMPOSE));
    const bool stable = out != nullptr && s == reinterpret_cast<char*>(out);
    std::free(out);
    if (!stable) FAIL("inert string not NFC-stable: " << escape(s));
  }
}

TEST_CASE("tokenizer: utf8proc Unicode version has a known delta to Python 3.11",
          "[unit][tokenizer]") {
  // src/text/tokenizer.cpp kNewInUnicode15 maps Unicode 15.0 back to 14.0 (Python 3.11's
  // unicodedata). A newer utf8proc knows more code points: regenerate that table then.
  const std::string v = utf8proc_unicode_version();
  INFO("utf8proc Unicode version " << v);
  CHECK((v == "14.0.0" || v == "15.0.0"));
  // U+1FA75 (new in 15.0) is dropped like any unassigned code point; U+1FA74 (14.0) is not.
  const auto& tok = real_tokenizer();
  CHECK(tok.encode("\xF0\x9F\xA9\xB5").empty());
  CHECK(tok.encode("\xF0\x9F\xA9\xB4") == std::vector<int64_t>{100});
}

TEST_CASE("tokenizer: arbitrary bytes never crash", "[unit][tokenizer]") {
  const auto& tok = real_tokenizer();
  const QuietLog quiet;
  uint64_t state = 42;
  for (int i = 0; i < 2000; ++i) {
    std::string s;
    const int len = static_cast<int>(state % 64);
    for (int k = 0; k < len; ++k) {
      state = state * 6364136223846793005ull + 1442695040888963407ull;
      s += static_cast<char>(state >> 56);
    }
    try {
      tok.encode(s);
      bark::text::encode_for_bark(tok, s, nullptr);
    } catch (const std::invalid_argument&) {
    }
  }
}

// ---- parity --------------------------------------------------------------------------------

TEST_CASE("tokenizer: shared golden file", "[parity][tokenizer]") {
  const auto path = bark_test::fixtures_dir() / "tokenizer" / "tokenizer_golden.json";
  const auto golden = read_json(path);
  const auto& tok = real_tokenizer();
  CHECK(golden.at("python_unicodedata_version") == "14.0.0");
  CHECK(golden.at("vocab_lines").get<size_t>() == tok.vocab_size());
  const auto& cases = golden.at("cases");
  REQUIRE(cases.size() == golden.at("n_cases").get<size_t>());
  REQUIRE(cases.size() >= 20);
  for (const auto& c : cases) {
    const auto text = c.at("text").get<std::string>();
    INFO("case " << c.at("name").get<std::string>() << ": " << escape(text));
    const auto ids = tok.encode(text);
    CHECK(join_ids(ids) == join_ids(c.at("ids").get<std::vector<int64_t>>()));
    CHECK(tok.tokenize(text) == c.at("tokens").get<std::vector<std::string>>());
    const auto bark_ids = tok.encode(bark::text::normalize_whitespace(text));
    CHECK(join_ids(bark_ids) == join_ids(c.at("bark_ids").get<std::vector<int64_t>>()));
  }
}

TEST_CASE("tokenizer: corpus generated with transformers.BertTokenizer", "[parity][tokenizer]") {
  const std::string python = bark_test::reference_python();
  if (!std::filesystem::exists(python)) {
    const std::string hint =
        "run scripts/setup.sh to create the reference venv (with transformers), "
        "or set BARK_REFERENCE_PYTHON";
    FAIL("reference python '" << python << "' not found: " << hint);
  }
  const auto dir = bark_test::temp_dir("tokenizer_corpus");
  const auto out = dir / "corpus.tsv";
  const auto script = bark_test::source_dir() / "scripts" / "gen_tokenizer_corpus.py";
  const std::string cmd = "\"" + python + "\" \"" + script.string() + "\" --vocab \"" +
                          bark_test::vocab_path().string() + "\" --out \"" + out.string() +
                          "\" 2> \"" + (dir / "stderr.txt").string() + "\"";
  const int rc = std::system(cmd.c_str());
  if (rc != 0) {
    std::ifstream err(dir / "stderr.txt");
    std::stringstream ss;
    ss << err.rdbuf();
    FAIL("corpus generator failed (exit " << rc << "): " << cmd << "\n" << ss.str());
  }

  std::ifstream in(out);
  REQUIRE(in);
  std::string header;
  const auto& tok = real_tokenizer();
  const QuietLog quiet;
  size_t n = 0, mismatches = 0;
  std::map<std::string, size_t> per_label;
  std::ostringstream report;  // the first mismatches, then counts per label
  std::string line;
  while (std::getline(in, line)) {
    if (line.empty()) continue;
    if (line[0] == '#') {
      header += line.substr(1) + ";";
      continue;
    }
    std::vector<std::string> f;
    std::stringstream ls(line);
    for (std::string field; std::getline(ls, field, '\t');) f.push_back(field);
    if (line.back() == '\t') f.emplace_back();
    REQUIRE(f.size() == 6);
    ++n;
    const std::string text = from_hex(f[1]);
    const std::string norm = from_hex(f[3]);
    const double expected_dropped = std::stod(f[5]);

    std::string got_ids, got_norm, got_bark, why;
    double dropped = -1;
    try {
      got_ids = join_ids(tok.encode(text));
      got_norm = bark::text::normalize_whitespace(text);
      const auto bark_ids = bark::text::encode_for_bark(tok, text, &dropped);
      // Expected Bark ids: + offset, first 256, padded.
      auto expected = parse_ids(f[4]);
      if (expected.size() > 256) expected.resize(256);
      for (auto& id : expected) id += bark::text::TEXT_ENCODING_OFFSET;
      expected.resize(256, bark::text::TEXT_PAD_TOKEN);
      if (bark_ids != expected) why += " bark_ids";
    } catch (const std::exception& e) {
      why += std::string(" exception: ") + e.what();
    }
    if (got_ids != f[2]) why += " ids";
    if (got_norm != norm) why += " normalize_whitespace";
    if (dropped != expected_dropped) why += " dropped_percent";
    if (!why.empty()) {
      ++mismatches;
      ++per_label[f[0]];
      if (mismatches <= 10) {
        report << "mismatch [" << f[0] << "]" << why << "\n  text:     " << escape(text)
               << "\n  expected: " << f[2] << "\n  got:      " << got_ids << "\n";
      }
    }
  }
  for (const auto& [label, count] : per_label) report << label << ": " << count << " mismatches\n";
  WARN("corpus:" << header);
  CHECK(n >= 3000);
  INFO(n << " cases, " << mismatches << " mismatches\n" << report.str());
  CHECK(mismatches == 0);
}
