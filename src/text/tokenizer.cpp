#include "text/tokenizer.h"

#include <utf8proc.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <stdexcept>

#include "logging.h"
#include "text/utf8.h"
#include "python_round.h"

namespace bark::text {
namespace {

// ---- UTF-8 ---------------------------------------------------------------------------------

constexpr size_t kValid = static_cast<size_t>(-1);

// Byte offset of the first ill-formed sequence, or kValid.
size_t find_invalid_utf8(std::string_view s) {
  char32_t cp = 0;
  for (size_t i = 0; i < s.size();) {
    const size_t n = decode_utf8_at(s, i, cp);
    if (n == 0) return i;
    i += n;
  }
  return kValid;
}

[[noreturn]] void throw_invalid_utf8(std::string_view s, size_t offset) {
  char buf[160];
  std::snprintf(buf, sizeof buf,
                "text is not valid UTF-8: ill-formed sequence at byte offset %zu (byte 0x%02x)",
                offset, static_cast<unsigned>(static_cast<unsigned char>(s[offset])));
  throw std::invalid_argument(buf);
}

void decode_utf8(std::string_view s, std::vector<char32_t>& out) {
  out.clear();
  out.reserve(s.size());
  char32_t cp = 0;
  for (size_t i = 0; i < s.size();) {
    const size_t n = decode_utf8_at(s, i, cp);
    if (n == 0) throw_invalid_utf8(s, i);
    out.push_back(cp);
    i += n;
  }
}

// ---- Unicode properties, as Python 3.11's unicodedata (Unicode 14.0) sees them -----------

// Code points assigned in Unicode 15.0 but unassigned (Cn) in 14.0. utf8proc 2.8 knows them;
// Python 3.11 does not, so transformers' _is_control drops them. Derived by comparing
// utf8proc_category() with unicodedata.category() over all code points (4,489 code points;
// no other category, combining class or normalisation differs).
constexpr char32_t kNewInUnicode15[][2] = {
    {0x0CF3, 0x0CF3},   {0x0ECE, 0x0ECE},   {0x10EFD, 0x10EFF}, {0x1123F, 0x11241},
    {0x11B00, 0x11B09}, {0x11F00, 0x11F10}, {0x11F12, 0x11F3A}, {0x11F3E, 0x11F59},
    {0x1342F, 0x1342F}, {0x13439, 0x13455}, {0x1B132, 0x1B132}, {0x1B155, 0x1B155},
    {0x1D2C0, 0x1D2D3}, {0x1DF25, 0x1DF2A}, {0x1E030, 0x1E06D}, {0x1E08F, 0x1E08F},
    {0x1E4D0, 0x1E4F9}, {0x1F6DC, 0x1F6DC}, {0x1F774, 0x1F776}, {0x1F77B, 0x1F77F},
    {0x1F7D9, 0x1F7D9}, {0x1FA75, 0x1FA77}, {0x1FA87, 0x1FA88}, {0x1FAAD, 0x1FAAF},
    {0x1FABB, 0x1FABD}, {0x1FABF, 0x1FABF}, {0x1FACE, 0x1FACF}, {0x1FADA, 0x1FADB},
    {0x1FAE8, 0x1FAE8}, {0x1FAF7, 0x1FAF8}, {0x2B739, 0x2B739}, {0x31350, 0x323AF},
};

bool new_in_unicode15(char32_t cp) {
  if (cp < kNewInUnicode15[0][0]) return false;
  const auto* end = std::end(kNewInUnicode15);
  const auto* it = std::upper_bound(std::begin(kNewInUnicode15), end, cp,
                                    [](char32_t c, const char32_t(&r)[2]) { return c < r[0]; });
  return it != std::begin(kNewInUnicode15) && cp <= (*(it - 1))[1];
}

utf8proc_category_t category14(char32_t cp) {
  const auto cat = utf8proc_category(static_cast<utf8proc_int32_t>(cp));
  if (cat != UTF8PROC_CATEGORY_CN && new_in_unicode15(cp)) return UTF8PROC_CATEGORY_CN;
  return cat;
}

// transformers tokenization_utils.py _is_punctuation: ASCII non-alphanumerics, or P*.
bool is_punctuation(char32_t cp) {
  if ((cp >= 33 && cp <= 47) || (cp >= 58 && cp <= 64) || (cp >= 91 && cp <= 96) ||
      (cp >= 123 && cp <= 126))
    return true;
  if (cp < 128) return false;
  const auto cat = category14(cp);
  return cat >= UTF8PROC_CATEGORY_PC && cat <= UTF8PROC_CATEGORY_PO;
}

// tokenization_bert.py BasicTokenizer._is_chinese_char: the CJK Unified Ideographs blocks.
bool is_chinese_char(char32_t cp) {
  return (cp >= 0x4E00 && cp <= 0x9FFF) || (cp >= 0x3400 && cp <= 0x4DBF) ||
         (cp >= 0x20000 && cp <= 0x2A6DF) || (cp >= 0x2A700 && cp <= 0x2B73F) ||
         (cp >= 0x2B740 && cp <= 0x2B81F) || (cp >= 0x2B820 && cp <= 0x2CEAF) ||
         (cp >= 0xF900 && cp <= 0xFAFF) || (cp >= 0x2F800 && cp <= 0x2FA1F);
}

}  // namespace

namespace detail {

// Python str.isspace() (bidi class WS/B/S or category Zs), which is also re's `\s` for str
// patterns. The set is closed: no code point has gained or lost it since Unicode 6.3.
bool is_python_space(char32_t cp) {
  switch (cp) {
    case 0x09:
    case 0x0A:
    case 0x0B:
    case 0x0C:
    case 0x0D:
    case 0x1C:
    case 0x1D:
    case 0x1E:
    case 0x1F:
    case 0x20:
    case 0x85:
    case 0xA0:
    case 0x1680:
    case 0x2028:
    case 0x2029:
    case 0x202F:
    case 0x205F:
    case 0x3000:
      return true;
    default:
      return cp >= 0x2000 && cp <= 0x200A;
  }
}

// True if NFC leaves any string made only of such code points unchanged: no canonical
// decomposition, combining class 0, and never the second half of a canonical composition.
// Hangul syllables decompose algorithmically but recompose to themselves unless a trailing
// jamo follows, and jamo are excluded here. tests/test_tokenizer.cpp checks this over all
// code points.
bool nfc_inert(char32_t cp) {
  if (cp < 0x300) return true;
  if (cp >= 0x1100 && cp <= 0x11FF) return false;  // Hangul Jamo (L, V, T)
  const auto* p = utf8proc_get_property(static_cast<utf8proc_int32_t>(cp));
  return p->combining_class == 0 && p->decomp_seqindex == UINT16_MAX && p->comb_index == UINT16_MAX;
}

}  // namespace detail

namespace {

// What BasicTokenizer._clean_text + _tokenize_chinese_chars do with a code point.
enum class CleanAction : uint8_t { Keep, Drop, Space, Isolate };

CleanAction clean_action(char32_t cp) {
  if (cp < 0x80) {
    // \t \n \r are whitespace (_is_whitespace), other C0 controls and DEL are Cc (dropped).
    if (cp == ' ' || cp == '\t' || cp == '\n' || cp == '\r') return CleanAction::Space;
    if (cp < 0x20 || cp == 0x7F) return CleanAction::Drop;
    return CleanAction::Keep;
  }
  if (cp == 0xFFFD) return CleanAction::Drop;
  if (is_chinese_char(cp)) {
    // All of these are assigned Lo in Unicode 14 except a few holes in F900-FAFF, which are
    // Cn and so dropped by _clean_text before _tokenize_chinese_chars sees them.
    return category14(cp) == UTF8PROC_CATEGORY_CN ? CleanAction::Drop : CleanAction::Isolate;
  }
  switch (category14(cp)) {
    case UTF8PROC_CATEGORY_CC:
    case UTF8PROC_CATEGORY_CF:
    case UTF8PROC_CATEGORY_CS:
    case UTF8PROC_CATEGORY_CO:
    case UTF8PROC_CATEGORY_CN:
      return CleanAction::Drop;  // _is_control: category starts with "C"
    case UTF8PROC_CATEGORY_ZS:
      return CleanAction::Space;  // _is_whitespace
    default:
      return CleanAction::Keep;
  }
}

constexpr std::string_view kSpecialTokens[5] = {"[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"};

// If cps[i..] starts with a special token, its index in kSpecialTokens, else -1.
int special_token_at(const char32_t* p, const char32_t* end) {
  if (*p != U'[') return -1;
  for (int k = 0; k < 5; ++k) {
    const std::string_view s = kSpecialTokens[k];
    if (static_cast<size_t>(end - p) < s.size()) continue;
    bool match = true;
    for (size_t j = 1; j < s.size() && match; ++j) match = p[j] == static_cast<char32_t>(s[j]);
    if (match) return k;
  }
  return -1;
}

uint64_t hash_bytes(std::string_view s) {
  uint64_t h = 1469598103934665603ull;  // FNV-1a 64
  for (const char c : s) {
    h ^= static_cast<unsigned char>(c);
    h *= 1099511628211ull;
  }
  return h ^ (h >> 29);
}

size_t count_code_points(std::string_view s) {
  size_t n = 0;
  for (const char c : s) n += (static_cast<unsigned char>(c) & 0xC0) != 0x80;
  return n;
}

}  // namespace

// ---- vocab ---------------------------------------------------------------------------------

int32_t Tokenizer::Table::find(const std::string& arena, std::string_view key) const {
  if (slots.empty()) return -1;
  for (size_t i = hash_bytes(key) & mask;; i = (i + 1) & mask) {
    const Slot& s = slots[i];
    if (s.id < 0) return -1;
    if (s.length == key.size() && std::memcmp(arena.data() + s.offset, key.data(), key.size()) == 0)
      return s.id;
  }
}

void Tokenizer::Table::insert(const std::string& arena, uint32_t offset, uint32_t length,
                              int32_t id) {
  const std::string_view key(arena.data() + offset, length);
  for (size_t i = hash_bytes(key) & mask;; i = (i + 1) & mask) {
    Slot& s = slots[i];
    if (s.id < 0) {
      s = {offset, length, id};
      max_chars = std::max(max_chars, count_code_points(key));
      return;
    }
    if (s.length == length && std::memcmp(arena.data() + s.offset, key.data(), length) == 0) {
      s.id = id;  // a repeated line: the later one wins, as in load_vocab's dict
      return;
    }
  }
}

Tokenizer Tokenizer::from_vocab_file(const std::string& path) {
  std::error_code ec;
  const bool regular = std::filesystem::is_regular_file(path, ec);
  std::ifstream in(path, std::ios::binary);
  if (!regular || !in) {
    const std::string what =
        std::filesystem::exists(path, ec) ? "cannot open file" : "no such file";
    throw std::runtime_error("vocab '" + path + "': " + what +
                             " (expected a BERT vocab.txt, e.g. "
                             "bert-base-multilingual-cased-vocab.txt)");
  }
  const auto size = std::filesystem::file_size(path, ec);
  if (ec) throw std::runtime_error("vocab '" + path + "': " + ec.message());
  if (size > MAX_VOCAB_FILE_BYTES) {  // checked before anything is read or allocated
    throw std::runtime_error("vocab '" + path + "': " + std::to_string(size) + " bytes, more than the " +
                             std::to_string(MAX_VOCAB_FILE_BYTES) + " a vocab.txt may have (mBERT's is 996 KB)");
  }
  const auto t0 = std::chrono::steady_clock::now();
  std::string contents(static_cast<size_t>(size), '\0');
  in.read(contents.data(), static_cast<std::streamsize>(size));
  if (in.gcount() != static_cast<std::streamsize>(size))
    throw std::runtime_error("vocab '" + path + "': read error");
  Tokenizer tok = from_vocab_text(contents, path);
  bark::log().debug(
      "tokenizer: {} tokens from '{}' in {:.1f} ms", tok.vocab_size(), path,
      std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0).count());
  return tok;
}

Tokenizer Tokenizer::from_vocab_text(std::string_view contents, const std::string& origin) {
  const auto fail = [&](const std::string& what) {
    return std::runtime_error("vocab '" + origin + "': " + what);
  };
  if (contents.empty()) throw fail("file is empty (expected one token per line)");
  if (contents.size() > MAX_VOCAB_FILE_BYTES) throw fail("file is too large for a vocab");
  if (contents.find_first_not_of("\r\n") == std::string_view::npos) {
    throw fail("holds only blank lines (expected one token per line, a BERT vocab.txt)");
  }
  if (const size_t bad = find_invalid_utf8(contents); bad != kValid) {
    const size_t line =
        1 + static_cast<size_t>(std::count(contents.begin(), contents.begin() + bad, '\n'));
    throw fail("not valid UTF-8 at byte offset " + std::to_string(bad) + " (line " +
               std::to_string(line) + ")");
  }

  Tokenizer tok;
  tok.arena_.reserve(contents.size());
  // load_vocab reads in text mode: universal newlines, so "\r\n" and a lone "\r" end a line
  // too; then rstrip("\n"). A final line without a newline is still a token.
  for (size_t i = 0; i < contents.size();) {
    size_t j = i;
    while (j < contents.size() && contents[j] != '\n' && contents[j] != '\r') ++j;
    tok.token_offset_.push_back(static_cast<uint32_t>(tok.arena_.size()));
    tok.arena_.append(contents.substr(i, j - i));
    if (j < contents.size() && contents[j] == '\r' && j + 1 < contents.size() &&
        contents[j + 1] == '\n')
      ++j;
    i = j + 1;
  }
  tok.token_offset_.push_back(static_cast<uint32_t>(tok.arena_.size()));
  const size_t n = tok.token_offset_.size() - 1;
  if (n > static_cast<size_t>(INT32_MAX)) throw fail("too many lines");

  size_t capacity = 16;
  while (capacity < 2 * n) capacity *= 2;
  for (Table* t : {&tok.words_, &tok.continuations_}) {
    t->slots.assign(capacity, {});
    t->mask = capacity - 1;
  }
  for (size_t id = 0; id < n; ++id) {
    const uint32_t off = tok.token_offset_[id];
    const uint32_t len = tok.token_offset_[id + 1] - off;
    const std::string_view s(tok.arena_.data() + off, len);
    if (s.size() >= 2 && s[0] == '#' && s[1] == '#')
      tok.continuations_.insert(tok.arena_, off + 2, len - 2, static_cast<int32_t>(id));
    else
      tok.words_.insert(tok.arena_, off, len, static_cast<int32_t>(id));
  }
  for (const Table* t : {&tok.words_, &tok.continuations_})
    for (const auto& slot : t->slots) tok.n_distinct_ += slot.id >= 0;

  for (int k = 0; k < 5; ++k) {
    tok.special_ids_[k] = tok.token_to_id(kSpecialTokens[k]);
    if (tok.special_ids_[k] < 0) {
      throw fail("missing special token '" + std::string(kSpecialTokens[k]) + "' (read " +
                 std::to_string(n) + " lines; expected a BERT vocab.txt)");
    }
  }
  tok.unk_id_ = tok.special_ids_[1];
  return tok;
}

int64_t Tokenizer::token_to_id(std::string_view token) const {
  if (token.size() >= 2 && token[0] == '#' && token[1] == '#')
    return continuations_.find(arena_, token.substr(2));
  return words_.find(arena_, token);
}

std::string_view Tokenizer::id_to_token(int64_t id) const {
  if (id < 0 || static_cast<size_t>(id) + 1 >= token_offset_.size())
    throw std::out_of_range("token id " + std::to_string(id) + " is outside the vocab [0, " +
                            std::to_string(token_offset_.size() - 1) + ")");
  return std::string_view(arena_).substr(token_offset_[id],
                                         token_offset_[id + 1] - token_offset_[id]);
}

// ---- encoding ------------------------------------------------------------------------------

struct Tokenizer::Scratch {
  std::vector<char32_t> text;          // whole input, decoded
  std::vector<char32_t> cleaned;       // one segment after _clean_text + CJK spacing (+ NFC)
  std::vector<utf8proc_int32_t> nfc;   // utf8proc working buffer
  std::string utf8;                    // re-encoded segment for utf8proc / one word
  std::vector<uint32_t> char_offsets;  // byte offset of each code point of `utf8`
};

std::vector<int64_t> Tokenizer::encode(std::string_view text) const {
  Scratch scratch;
  decode_utf8(text, scratch.text);
  std::vector<int64_t> ids;
  ids.reserve(text.size() / 3 + 4);

  // PreTrainedTokenizer.tokenize: the added-tokens trie splits the raw text on the special
  // tokens first (leftmost match; none is a prefix of another). They are not lstrip/rstrip
  // tokens, and the whitespace around them is dropped by BasicTokenizer anyway.
  const char32_t* p = scratch.text.data();
  const char32_t* end = p + scratch.text.size();
  const char32_t* segment = p;
  while (p < end) {
    const int k = special_token_at(p, end);
    if (k < 0) {
      ++p;
      continue;
    }
    encode_segment(segment, p, scratch, ids);
    ids.push_back(special_ids_[k]);
    p += kSpecialTokens[k].size();
    segment = p;
  }
  encode_segment(segment, end, scratch, ids);
  return ids;
}

std::vector<std::string> Tokenizer::tokenize(std::string_view text) const {
  std::vector<std::string> tokens;
  for (const int64_t id : encode(text)) tokens.emplace_back(id_to_token(id));
  return tokens;
}

void Tokenizer::encode_segment(const char32_t* begin, const char32_t* end, Scratch& scratch,
                               std::vector<int64_t>& out) const {
  // BasicTokenizer.tokenize: _clean_text, then _tokenize_chinese_chars, then NFC.
  auto& buf = scratch.cleaned;
  buf.clear();
  bool needs_nfc = false;
  for (const char32_t* p = begin; p < end; ++p) {
    const char32_t cp = *p;
    switch (clean_action(cp)) {
      case CleanAction::Drop:
        break;
      case CleanAction::Space:
        buf.push_back(U' ');
        break;
      case CleanAction::Isolate:
        buf.push_back(U' ');
        buf.push_back(cp);
        buf.push_back(U' ');
        needs_nfc |= !detail::nfc_inert(cp);  // F900-FAFF and 2F800-2FA1F decompose
        break;
      case CleanAction::Keep:
        buf.push_back(cp);
        needs_nfc |= !detail::nfc_inert(cp);
        break;
    }
  }
  if (buf.empty()) return;

  if (needs_nfc) {
    // unicodedata.normalize("NFC", text) via utf8proc: decompose, reorder, compose. utf8proc's
    // own utf8proc_decompose orders combining marks with an exchange sort, quadratic in a run of
    // marks (80,000 marks: 12 s); here each code point is decomposed by utf8proc and each run of
    // non-starters is ordered by a stable sort on the combining class, which is the canonical
    // ordering algorithm (Unicode 3.11), in O(n log n). utf8proc then composes, in linear time.
    const auto options = static_cast<utf8proc_option_t>(UTF8PROC_STABLE | UTF8PROC_COMPOSE);
    auto& nfc = scratch.nfc;
    nfc.clear();
    utf8proc_int32_t one[32];
    for (const char32_t cp : buf) {
      int boundclass = 0;
      const utf8proc_ssize_t k = utf8proc_decompose_char(static_cast<utf8proc_int32_t>(cp), one, 32, options, &boundclass);
      if (k < 0 || k > 32) {
        throw std::logic_error(std::string("tokenizer: utf8proc NFC failed: ") + utf8proc_errmsg(k < 0 ? k : 0));
      }
      nfc.insert(nfc.end(), one, one + k);
    }
    const auto ccc = [](utf8proc_int32_t c) { return utf8proc_get_property(c)->combining_class; };
    for (size_t i = 0; i < nfc.size();) {
      if (ccc(nfc[i]) == 0) {
        ++i;
        continue;
      }
      size_t j = i + 1;
      while (j < nfc.size() && ccc(nfc[j]) != 0) ++j;
      if (j - i > 1) {
        std::stable_sort(nfc.begin() + static_cast<std::ptrdiff_t>(i), nfc.begin() + static_cast<std::ptrdiff_t>(j),
                         [&](utf8proc_int32_t a, utf8proc_int32_t b) { return ccc(a) < ccc(b); });
      }
      i = j;
    }
    const utf8proc_ssize_t n = utf8proc_normalize_utf32(nfc.data(), static_cast<utf8proc_ssize_t>(nfc.size()), options);
    if (n < 0) {
      throw std::logic_error(std::string("tokenizer: utf8proc NFC failed: ") + utf8proc_errmsg(n));
    }
    buf.assign(nfc.begin(), nfc.begin() + n);
  }

  // whitespace_tokenize (str.split()): after _clean_text the only whitespace left is ' ',
  // U+2028 (Zl) and U+2029 (Zp); NFC creates none.
  const auto is_sep = [](char32_t c) { return c == U' ' || c == 0x2028 || c == 0x2029; };
  const char32_t* p = buf.data();
  const char32_t* stop = p + buf.size();
  while (p < stop) {
    while (p < stop && is_sep(*p)) ++p;
    const char32_t* word = p;
    while (p < stop && !is_sep(*p)) ++p;
    if (word == p) break;

    // never_split (all_special_tokens): a word that is exactly a special token, e.g. after
    // _clean_text removed a NUL from "[CL\0S]", is not split on punctuation.
    bool special = false;
    if (*word == U'[') {
      for (const auto& s : kSpecialTokens) {
        if (static_cast<size_t>(p - word) == s.size() &&
            std::equal(s.begin(), s.end(), word,
                       [](char a, char32_t b) { return static_cast<char32_t>(a) == b; })) {
          special = true;
        }
      }
    }
    if (special) {
      encode_word(word, p, scratch, out);
      continue;
    }
    // _run_split_on_punc: each punctuation character is a word of its own.
    const char32_t* piece = word;
    for (const char32_t* q = word; q < p; ++q) {
      if (is_punctuation(*q)) {
        if (piece < q) encode_word(piece, q, scratch, out);
        encode_word(q, q + 1, scratch, out);
        piece = q + 1;
      }
    }
    if (piece < p) encode_word(piece, p, scratch, out);
  }
}

void Tokenizer::encode_word(const char32_t* begin, const char32_t* end, Scratch& scratch,
                            std::vector<int64_t>& out) const {
  // WordpieceTokenizer.tokenize: greedy longest-match-first; any unmatched rest => [UNK].
  const size_t n = static_cast<size_t>(end - begin);
  if (n > MAX_INPUT_CHARS_PER_WORD) {
    out.push_back(unk_id_);
    return;
  }
  auto& u8 = scratch.utf8;
  auto& offs = scratch.char_offsets;
  u8.clear();
  offs.clear();
  for (const char32_t* p = begin; p < end; ++p) {
    offs.push_back(static_cast<uint32_t>(u8.size()));
    append_utf8(u8, *p);
  }
  offs.push_back(static_cast<uint32_t>(u8.size()));

  const size_t first = out.size();
  for (size_t start = 0; start < n;) {
    const Table& table = start == 0 ? words_ : continuations_;
    // No key is longer than table.max_chars, so shorter candidates are all that can match.
    size_t stop = std::min(n, start + table.max_chars);
    int32_t id = -1;
    for (; stop > start; --stop) {
      id = table.find(arena_, std::string_view(u8).substr(offs[start], offs[stop] - offs[start]));
      if (id >= 0) break;
    }
    if (id < 0) {
      out.resize(first);
      out.push_back(unk_id_);
      return;
    }
    out.push_back(id);
    start = stop;
  }
}

// ---- Bark pre-processing -------------------------------------------------------------------

std::string normalize_whitespace(std::string_view text) {
  std::string out;
  out.reserve(text.size());
  bool pending_space = false;
  char32_t cp = 0;
  for (size_t i = 0; i < text.size();) {
    const size_t n = decode_utf8_at(text, i, cp);
    if (n == 0) throw_invalid_utf8(text, i);
    if (detail::is_python_space(cp)) {
      pending_space = !out.empty();  // .strip(): no leading space
    } else {
      if (pending_space) out += ' ';
      pending_space = false;
      out.append(text.substr(i, n));
    }
    i += n;
  }
  return out;  // a trailing run of spaces is never written: .strip()
}

std::vector<int64_t> encode_for_bark(const Tokenizer& tokenizer, std::string_view text,
                                     double* dropped_percent) {
  std::vector<int64_t> ids = tokenizer.encode(normalize_whitespace(text));
  if (dropped_percent != nullptr) *dropped_percent = 0.0;
  if (ids.size() > MAX_TEXT_TOKENS) {
    const double n = static_cast<double>(ids.size());
    const double p = py_round1((n - static_cast<double>(MAX_TEXT_TOKENS)) / n * 100);
    bark::log().warn("warning, text too long, lopping of last {:.1f}%", p);  // generation.py
    if (dropped_percent != nullptr) *dropped_percent = p;
    ids.resize(MAX_TEXT_TOKENS);
  }
  for (auto& id : ids) id += TEXT_ENCODING_OFFSET;
  ids.resize(MAX_TEXT_TOKENS, TEXT_PAD_TOKEN);
  return ids;
}

}  // namespace bark::text
