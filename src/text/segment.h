// Private: long text -> segments Bark can speak one at a time (long-form generation).
//
//   text::SegmentOptions o;                         // max 150 characters, 256 tokens
//   auto segments = text::split_segments(text, o, &tokenizer);
//
// 1. Sentences: ICU's sentence BreakIterator (every script: "。！？", Hindi "।", Thai, ...), after
//    Bark's whitespace normalisation. A sentence boundary inside a cue ("[clears throat]",
//    "♪ ... ♪") is not one, and a bracketed cue that opens a sentence ("Hi. [laughs] So...")
//    goes with the sentence before it: the laugh belongs to what was just said.
// 2. A sentence that does not fit is split at clause punctuation (, ; : 、 ， ； ：), then between
//    words (ICU's word BreakIterator, dictionary-based for Chinese, Japanese, Thai), never inside a
//    word or a cue; only a single word longer than a segment is cut, between characters.
// 3. Whole sentences (or pieces) are packed greedily into segments of at most max_chars
//    characters (Unicode code points) and max_tokens tokenizer ids.
// Segments are substrings of the normalised text, trimmed; they never overlap and, concatenated
// with the separators between them, give the normalised text back. Torch-free.
#pragma once

#include <cstddef>
#include <string>
#include <string_view>
#include <vector>

namespace bark::text {

class Tokenizer;

struct SegmentOptions {
  // Characters (code points) per segment. 150 speaks in about 10-11 s at the 13-15
  // characters per second of read English speech (docs/LONGFORM.md), under Bark's ~14 s limit.
  size_t max_chars = 150;
  // Tokenizer ids per segment: Bark reads at most 256 (generation.py).
  size_t max_tokens = 256;
};

// The sentences of `text` (normalised, trimmed), cue rules applied.
std::vector<std::string> split_sentences(std::string_view text);

// The segments of `text`. `tokenizer` checks the token budget (null: characters only). Throws
// std::invalid_argument for invalid UTF-8 or max_chars < 1.
std::vector<std::string> split_segments(std::string_view text, const SegmentOptions& options,
                                        const Tokenizer* tokenizer);

}  // namespace bark::text
