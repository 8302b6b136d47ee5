#include "text/segment.h"

#include <unicode/brkiter.h>
#include <unicode/locid.h>
#include <unicode/utext.h>

#include <algorithm>
#include <memory>
#include <stdexcept>

#include "text/tokenizer.h"

namespace bark::text {
namespace {

using Span = std::pair<size_t, size_t>;  // byte range [first, second) of the normalised text

// ICU break positions over a UTF-8 string, as byte offsets (a UTF-8 UText indexes by byte).
std::vector<size_t> boundaries(const std::string& s, bool sentences) {
  UErrorCode status = U_ZERO_ERROR;
  // "ss=standard": ICU's abbreviation suppressions ("Mr.", "e.g.") for sentence breaks.
  std::unique_ptr<icu::BreakIterator> it(
      sentences ? icu::BreakIterator::createSentenceInstance(icu::Locale("en@ss=standard"), status)
                : icu::BreakIterator::createWordInstance(icu::Locale::getRoot(), status));
  if (U_FAILURE(status) || !it) throw std::runtime_error(std::string("ICU break iterator: ") + u_errorName(status));
  UText* ut = utext_openUTF8(nullptr, s.data(), static_cast<int64_t>(s.size()), &status);
  if (U_FAILURE(status)) throw std::runtime_error(std::string("ICU text: ") + u_errorName(status));
  it->setText(ut, status);
  std::vector<size_t> out;
  for (int32_t p = it->first(); p != icu::BreakIterator::DONE; p = it->next()) out.push_back(static_cast<size_t>(p));
  utext_close(ut);
  return out;
}

bool is_continuation(unsigned char c) { return (c & 0xC0) == 0x80; }

size_t code_points(const std::string& s, size_t b, size_t e) {
  size_t n = 0;
  for (size_t i = b; i < e; ++i) n += !is_continuation(static_cast<unsigned char>(s[i]));
  return n;
}

const std::string kNote = "\xE2\x99\xAA";  // ♪

// Cues that must not be split: "[...]" and "♪ ... ♪" (an unclosed one runs to the end).
std::vector<Span> protected_spans(const std::string& s) {
  std::vector<Span> spans;
  for (size_t i = 0; i < s.size(); ++i) {
    if (s[i] == '[') {
      const size_t close = s.find(']', i + 1);
      const size_t end = close == std::string::npos ? s.size() : close + 1;
      spans.emplace_back(i, end);
      i = end - 1;
    } else if (s.compare(i, kNote.size(), kNote) == 0) {
      const size_t close = s.find(kNote, i + kNote.size());
      const size_t end = close == std::string::npos ? s.size() : close + kNote.size();
      spans.emplace_back(i, end);
      i = end - 1;
    }
  }
  return spans;
}

bool inside(const std::vector<Span>& spans, size_t p) {
  for (const auto& [b, e] : spans) {
    if (p > b && p < e) return true;
  }
  return false;
}

Span trimmed(const std::string& s, size_t b, size_t e) {
  while (b < e && s[b] == ' ') ++b;
  while (e > b && s[e - 1] == ' ') --e;
  return {b, e};
}

// Positions just after clause punctuation (ASCII followed by a space, or CJK full-width marks).
std::vector<size_t> clause_points(const std::string& s, size_t b, size_t e) {
  static const std::vector<std::string> cjk = {"\xE3\x80\x81", "\xEF\xBC\x8C", "\xEF\xBC\x9B", "\xEF\xBC\x9A"};  // 、，；：
  std::vector<size_t> out;
  for (size_t i = b; i < e; ++i) {
    const char c = s[i];
    if ((c == ',' || c == ';' || c == ':') && i + 1 < e && s[i + 1] == ' ') out.push_back(i + 1);
    for (const auto& m : cjk) {
      if (s.compare(i, m.size(), m) == 0) out.push_back(i + m.size());
    }
  }
  return out;
}

class Splitter {
 public:
  Splitter(const std::string& s, const SegmentOptions& o, const Tokenizer* tok)
      : s_(s), o_(o), tok_(tok), protected_(protected_spans(s)), words_(boundaries(s, false)) {}

  bool fits(size_t b, size_t e) const {
    const Span t = trimmed(s_, b, e);
    if (code_points(s_, t.first, t.second) > o_.max_chars) return false;
    if (tok_ == nullptr) return true;
    // WordPiece tokens cover at least one code point each, so a text of no more bytes than the
    // budget fits without tokenizing it
    if (t.second - t.first <= o_.max_tokens) return true;
    return tok_->encode(std::string_view(s_).substr(t.first, t.second - t.first)).size() <= o_.max_tokens;
  }

  // Splits [b, e) into pieces that fit, preferring clause punctuation, then word boundaries
  // outside cues, then word boundaries inside a cue too long on its own, then (a single
  // over-long word) code points.
  void split(size_t b, size_t e, int level, std::vector<Span>& out) const {
    if (fits(b, e)) {
      emit(b, e, out);
      return;
    }
    std::vector<size_t> cands;
    if (level == 0) {
      cands = clause_points(s_, b, e);
    } else if (level == 1 || level == 2) {
      for (size_t p : words_) {
        if (p > b && p < e) cands.push_back(p);
      }
    } else {
      for (size_t p = b + 1; p < e; ++p) {
        if (!is_continuation(static_cast<unsigned char>(s_[p]))) cands.push_back(p);
      }
    }
    // a cue is cut only when it alone is too long
    if (level < 2) cands.erase(std::remove_if(cands.begin(), cands.end(), [&](size_t p) { return inside(protected_, p); }),
                               cands.end());
    size_t start = b;
    while (start < e) {
      if (fits(start, e)) {
        emit(start, e, out);
        return;
      }
      size_t best = 0;
      size_t next = e;
      for (size_t c : cands) {
        if (c <= start) continue;
        if (next == e) next = c;
        if (!fits(start, c)) break;  // pieces only grow with c
        best = c;
      }
      if (best != 0) {
        emit(start, best, out);
        start = best;
      } else if (level < 3) {
        split(start, next, level + 1, out);
        start = next;
      } else {
        emit(start, next, out);  // one code point that does not fit: nothing smaller exists
        start = next;
      }
    }
  }

  void emit(size_t b, size_t e, std::vector<Span>& out) const {
    const Span t = trimmed(s_, b, e);
    if (t.second > t.first) out.push_back(t);
  }

 private:
  const std::string& s_;
  const SegmentOptions& o_;
  const Tokenizer* tok_;
  std::vector<Span> protected_;
  std::vector<size_t> words_;
};

// Sentence spans of the normalised text s, with the cue rules.
std::vector<Span> sentence_spans(const std::string& s) {
  if (s.empty()) return {};
  const auto prot = protected_spans(s);
  // ICU does not break before a lowercase word ("pizza. [laughs] But" would stay one sentence),
  // so it reads a copy whose bracketed cues are upper case (same bytes, same offsets).
  std::string masked = s;
  for (const auto& [b, e] : prot) {
    if (s[b] != '[') continue;
    for (size_t i = b; i < e; ++i) {
      if (masked[i] >= 'a' && masked[i] <= 'z') masked[i] = static_cast<char>(masked[i] - 'a' + 'A');
    }
  }
  std::vector<size_t> cuts;
  for (size_t p : boundaries(masked, true)) {
    if (p > 0 && p < s.size() && !inside(prot, p)) cuts.push_back(p);
  }
  // A song whose last line ends a sentence ("... jungle. ♪ The lion") ends it too: ICU does
  // not count ♪ as closing punctuation.
  static const std::vector<std::string> terminals = {".", "!", "?", "\xE2\x80\xA6", "\xE3\x80\x82", "\xEF\xBC\x81",
                                                     "\xEF\xBC\x9F"};  // … 。 ！ ？
  for (const auto& [b, e] : prot) {
    if (s[b] == '[' || e >= s.size() || e - b < 2 * kNote.size()) continue;
    const Span inner = trimmed(s, b + kNote.size(), e - kNote.size());
    for (const auto& t : terminals) {
      if (inner.second - inner.first >= t.size() && s.compare(inner.second - t.size(), t.size(), t) == 0) {
        cuts.push_back(e);
        break;
      }
    }
  }
  std::sort(cuts.begin(), cuts.end());
  // a sentence that opens with "[cue]" gives the cue to the sentence before it
  for (size_t& c : cuts) {
    size_t p = c;
    while (p < s.size() && s[p] == ' ') ++p;
    while (p < s.size() && s[p] == '[') {
      const size_t close = s.find(']', p);
      if (close == std::string::npos) break;
      p = close + 1;
      c = p;
      while (p < s.size() && s[p] == ' ') ++p;
    }
  }
  std::vector<Span> out;
  size_t start = 0;
  for (size_t c : cuts) {
    if (c <= start) continue;
    const Span t = trimmed(s, start, c);
    if (t.second > t.first) out.push_back(t);
    start = c;
  }
  const Span t = trimmed(s, start, s.size());
  if (t.second > t.first) out.push_back(t);
  return out;
}

}  // namespace

std::vector<std::string> split_sentences(std::string_view text) {
  const std::string s = normalize_whitespace(text);
  std::vector<std::string> out;
  for (const auto& [b, e] : sentence_spans(s)) out.push_back(s.substr(b, e - b));
  return out;
}

std::vector<std::string> split_segments(std::string_view text, const SegmentOptions& options,
                                        const Tokenizer* tokenizer) {
  if (options.max_chars < 1) throw std::invalid_argument("max_segment_chars must be >= 1");
  if (options.max_tokens < 1) throw std::invalid_argument("max segment tokens must be >= 1");
  const std::string s = normalize_whitespace(text);  // throws on invalid UTF-8
  const Splitter splitter(s, options, tokenizer);
  // sentences, each split into pieces that fit
  std::vector<Span> pieces;
  for (const auto& [b, e] : sentence_spans(s)) splitter.split(b, e, 0, pieces);
  // greedy packing of whole pieces
  std::vector<std::string> out;
  size_t i = 0;
  while (i < pieces.size()) {
    const size_t b = pieces[i].first;
    size_t e = pieces[i].second;
    size_t j = i + 1;
    while (j < pieces.size() && splitter.fits(b, pieces[j].second)) e = pieces[j++].second;
    out.push_back(s.substr(b, e - b));
    i = j;
  }
  return out;
}

}  // namespace bark::text
