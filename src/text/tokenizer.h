// Private: the text front end. An exact port of Hugging Face's slow BertTokenizer as Bark uses
// it (bert-base-multilingual-cased: do_lower_case=False, tokenize_chinese_chars=True,
// strip_accents=None), plus Bark's own pre-processing from generation.py.
//
//   auto tok = bark::text::Tokenizer::from_vocab_file("vocab.txt");
//   tok.encode("Hello, world!");                         // {31178, 117, 11356, 106}
//   double dropped = 0;
//   auto ids = bark::text::encode_for_bark(tok, text, &dropped);  // 256 ids, offset + padded
//
// Unicode: character classes come from utf8proc, except that code points unassigned in
// Unicode 14.0 (the unicodedata of Python 3.11, which produced the reference ids) are treated
// as unassigned even where utf8proc knows them, so ids match that reference exactly.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace bark::text {

constexpr int64_t TEXT_ENCODING_OFFSET = 10'048;  // generation.py
constexpr int64_t TEXT_PAD_TOKEN = 129'595;       // generation.py
constexpr size_t MAX_TEXT_TOKENS = 256;           // generation.py generate_text_semantic

// Largest vocab.txt accepted (checked before reading): mBERT's has 119,547 lines, 996 KB.
constexpr size_t MAX_VOCAB_FILE_BYTES = size_t{64} << 20;

// Words longer than this (in code points, after NFC) become [UNK]
// (transformers WordpieceTokenizer.max_input_chars_per_word).
constexpr size_t MAX_INPUT_CHARS_PER_WORD = 100;

// WordPiece tokenizer reproducing transformers' BertTokenizer(...).encode(text,
// add_special_tokens=False). Immutable after construction; encode() is thread-safe.
class Tokenizer {
 public:
  // Reads a BERT vocab.txt (one token per line; the line number is the id).
  // Throws std::runtime_error naming the path if the file is missing, is not UTF-8, or lacks
  // one of [PAD] [UNK] [CLS] [SEP] [MASK].
  static Tokenizer from_vocab_file(const std::string& path);
  // Same, from the file's contents; `origin` names the source in error messages.
  static Tokenizer from_vocab_text(std::string_view contents, const std::string& origin);

  // Token ids of `text` (UTF-8), no [CLS]/[SEP] added. Throws std::invalid_argument naming
  // the byte offset if `text` is not valid UTF-8.
  std::vector<int64_t> encode(std::string_view text) const;
  // The vocab strings of encode(text), e.g. {"Sun", "##o"}; for debugging and tests.
  std::vector<std::string> tokenize(std::string_view text) const;

  // Number of distinct tokens (transformers' len(tokenizer.vocab)); 119,547 for mBERT cased.
  size_t vocab_size() const { return n_distinct_; }
  // Id of an exact vocab string, or -1.
  int64_t token_to_id(std::string_view token) const;
  // Vocab string of an id (its line in vocab.txt), valid while the Tokenizer lives.
  // Throws std::out_of_range.
  std::string_view id_to_token(int64_t id) const;
  int64_t unk_id() const { return unk_id_; }

 private:
  // Open-addressing hash table over string_views into `arena_`, so WordPiece can look up
  // substrings of a word without building std::strings.
  struct Table {
    struct Slot {
      uint32_t offset = 0;
      uint32_t length = 0;
      int32_t id = -1;  // -1 = empty slot
    };
    std::vector<Slot> slots;
    size_t mask = 0;
    size_t max_chars = 0;  // longest key, in code points
    int32_t find(const std::string& arena, std::string_view key) const;
    void insert(const std::string& arena, uint32_t offset, uint32_t length, int32_t id);
  };

  Tokenizer() = default;
  // Appends the ids of one whitespace-free word (code points) to `out`.
  struct Scratch;
  // BasicTokenizer + WordpieceTokenizer on one piece of text between special tokens.
  void encode_segment(const char32_t* begin, const char32_t* end, Scratch& scratch,
                      std::vector<int64_t>& out) const;
  // WordpieceTokenizer on one whitespace- and punctuation-free word.
  void encode_word(const char32_t* begin, const char32_t* end, Scratch& scratch,
                   std::vector<int64_t>& out) const;

  std::string arena_;                   // all vocab strings, back to back
  std::vector<uint32_t> token_offset_;  // id -> offset of its string in arena_ (n_lines + 1)
  Table words_;                         // tokens that do not start with "##"
  Table continuations_;                 // tokens that start with "##", keyed without the "##"
  size_t n_distinct_ = 0;
  int64_t unk_id_ = -1;
  int64_t special_ids_[5] = {-1, -1, -1, -1, -1};  // [PAD] [UNK] [CLS] [SEP] [MASK]
};

// generation.py _normalize_whitespace: re.sub(r"\s+", " ", text).strip(), with Python's
// str `\s` (Unicode White_Space-like: also \x1c-\x1f, \x85, U+00A0, U+2000-U+200A, U+2028,
// U+2029, U+3000, ...). Throws std::invalid_argument on invalid UTF-8.
std::string normalize_whitespace(std::string_view text);

// generation.py generate_text_semantic's text preparation: normalize_whitespace, encode,
// + TEXT_ENCODING_OFFSET, keep the first MAX_TEXT_TOKENS ids, pad with TEXT_PAD_TOKEN.
// Always returns MAX_TEXT_TOKENS ids. When ids are dropped, logs Bark's warning and stores
// round((n - 256) / n * 100, 1) in *dropped_percent (else 0); dropped_percent may be null.
std::vector<int64_t> encode_for_bark(const Tokenizer& tokenizer, std::string_view text,
                                     double* dropped_percent = nullptr);

namespace detail {
// Exposed for tests. Python str.isspace().
bool is_python_space(char32_t cp);
// True if NFC never changes a string made only of code points for which this is true.
bool nfc_inert(char32_t cp);
}  // namespace detail

}  // namespace bark::text
