// Long-form segmentation (src/text/segment): ICU sentences, cue rules, clause / word splits,
// greedy packing under the character and token budgets. Golden cases in seven languages.
#include <catch2/catch.hpp>

#include <string>
#include <vector>

#include "test_common.h"
#include "text/segment.h"
#include "text/tokenizer.h"

using bark::text::SegmentOptions;
using bark::text::split_segments;
using bark::text::split_sentences;
using Strings = std::vector<std::string>;

namespace {

const bark::text::Tokenizer& tokenizer() {
  static const auto tok = bark::text::Tokenizer::from_vocab_file(bark_test::vocab_path().string());
  return tok;
}

Strings segments(const std::string& text, size_t max_chars) {
  SegmentOptions o;
  o.max_chars = max_chars;
  return split_segments(text, o, &tokenizer());
}

size_t code_points(const std::string& s) {
  size_t n = 0;
  for (unsigned char c : s) n += (c & 0xC0) != 0x80;
  return n;
}

// Joined with the single spaces normalisation leaves between them, the segments are the text.
std::string rejoin(const Strings& segs, bool spaces) {
  std::string out;
  for (const auto& s : segs) out += (out.empty() || !spaces ? "" : " ") + s;
  return out;
}

}  // namespace

TEST_CASE("sentences: ICU breaks in every script, cues stay with their sentence", "[unit][segment]") {
  CHECK(split_sentences("Hello, my name is Suno. And, uh — and I like pizza. [laughs] But I also have other "
                        "interests such as playing tic tac toe.") ==
        Strings{"Hello, my name is Suno.", "And, uh — and I like pizza. [laughs]",
                "But I also have other interests such as playing tic tac toe."});
  // abbreviations do not end sentences; several cues in a row go together
  CHECK(split_sentences("Mr. Smith went to Washington. [sighs] [clears throat] OK.") ==
        Strings{"Mr. Smith went to Washington. [sighs] [clears throat]", "OK."});
  // a song between ♪ is one piece, whatever punctuation it holds
  CHECK(split_sentences("♪ In the jungle. The mighty jungle. ♪ The lion sleeps tonight.") ==
        Strings{"♪ In the jungle. The mighty jungle. ♪", "The lion sleeps tonight."});
  CHECK(split_sentences("你好，我叫苏诺。今天天气很好！我们去公园吧？") ==
        Strings{"你好，我叫苏诺。", "今天天气很好！", "我们去公园吧？"});
  CHECK(split_sentences("こんにちは。私の名前はスノです！よろしく。") ==
        Strings{"こんにちは。", "私の名前はスノです！", "よろしく。"});
  CHECK(split_sentences("नमस्ते, आप कैसे हैं? मैं ठीक हूँ। धन्यवाद।") ==
        Strings{"नमस्ते, आप कैसे हैं?", "मैं ठीक हूँ।", "धन्यवाद।"});
  CHECK(split_sentences("Привет! Как дела? Всё хорошо.") == Strings{"Привет!", "Как дела?", "Всё хорошо."});
  CHECK(split_sentences("Guten Tag! Das ist ein Test. Wirklich?") ==
        Strings{"Guten Tag!", "Das ist ein Test.", "Wirklich?"});
  CHECK(split_sentences("  \n ") == Strings{});
}

TEST_CASE("segments: whole sentences packed greedily under the budget", "[unit][segment]") {
  const std::string en =
      "Hello, my name is Suno. And, uh — and I like pizza. [laughs] But I also have other interests such as "
      "playing tic tac toe.";
  CHECK(segments(en, 150) == Strings{en});  // fits: one segment, the text itself
  CHECK(segments(en, 60) == Strings{"Hello, my name is Suno. And, uh — and I like pizza. [laughs]",
                                    "But I also have other interests such as playing tic tac toe."});  // 60 + 60
  CHECK(segments(en, 55) == Strings{"Hello, my name is Suno.", "And, uh — and I like pizza. [laughs]",
                                    "But I also have other interests such as playing tic tac",  // 60 > 55
                                    "toe."});
  CHECK(segments("Привет! Как дела? Всё хорошо. Спасибо, до свидания.", 25) ==
        Strings{"Привет! Как дела?", "Всё хорошо.", "Спасибо, до свидания."});
  CHECK(segments("你好，我叫苏诺。今天天气很好！我们去公园吧？好的。", 10) ==
        Strings{"你好，我叫苏诺。", "今天天气很好！", "我们去公园吧？好的。"});
}

TEST_CASE("segments: long sentences split at clauses, then between words, never inside one", "[unit][segment]") {
  CHECK(segments("Ceci est une phrase très longue, avec des virgules, des points-virgules; et encore des mots pour "
                 "dépasser la limite de caractères imposée par le découpage.",
                 60) == Strings{"Ceci est une phrase très longue, avec des virgules,", "des points-virgules;",
                                "et encore des mots pour dépasser la limite de caractères",
                                "imposée par le découpage."});
  // Japanese has no spaces: ICU's dictionary finds the words
  CHECK(segments("東京は日本の首都です。人口は約千四百万人で、世界で最も大きな都市の一つです。", 12) ==
        Strings{"東京は日本の首都です。", "人口は約千四百万人で、", "世界で最も大きな都市の", "一つです。"});
  // only a word longer than a whole segment is cut
  CHECK(segments("Das ist ein Satz. Donaudampfschifffahrtsgesellschaftskapitänsmütze ist ein langes Wort.", 20) ==
        Strings{"Das ist ein Satz.", "Donaudampfschifffahr", "tsgesellschaftskapit", "änsmütze", "ist ein langes Wort."});
  // a cue is never cut while it fits on its own
  CHECK(segments("One two three four five [clears throat] six seven.", 30) ==
        Strings{"One two three four five", "[clears throat] six seven."});
}

TEST_CASE("segments: budgets hold for a long multilingual text, nothing lost", "[unit][segment]") {
  std::string text;
  const Strings parts = {"The clockmaker opened his shop at seven, swept the floor, and wound the great tower clock by "
                         "hand, as he had done every morning for fifty years. [sighs] ",
                         "Les enfants du village venaient le voir travailler, et il leur racontait des histoires. ",
                         "Die Kinder fragten ihn oft, warum die Uhren niemals stehen bleiben. ",
                         "时间就像一条河，从不回头。", "Однажды зимой часы на башне остановились. ",
                         "♪ Tick, tock, goes the clock ♪ and that, my friends, is the end — or is it? "};
  for (int i = 0; i < 20; ++i) text += parts[static_cast<size_t>(i) % parts.size()];
  for (size_t max_chars : {40, 150, 300}) {
    INFO("max_chars " << max_chars);
    const auto segs = segments(text, max_chars);
    REQUIRE(segs.size() > 1);
    for (const auto& s : segs) {
      CHECK(code_points(s) <= max_chars);
      CHECK(tokenizer().encode(s).size() <= 256);
      CHECK_FALSE(s.empty());
      CHECK(s.front() != ' ');
      CHECK(s.back() != ' ');
    }
    // the segments are the normalised text in order: only the separators between them are gone
    std::string all_chars, seg_chars;
    for (char c : bark::text::normalize_whitespace(text)) all_chars += c == ' ' ? "" : std::string(1, c);
    for (char c : rejoin(segs, true)) seg_chars += c == ' ' ? "" : std::string(1, c);
    CHECK(seg_chars == all_chars);
  }
  // the token budget binds before the character one: 300 characters of digits and symbols
  std::string dense;
  for (int i = 0; i < 120; ++i) dense += "1.2 ";
  SegmentOptions o;
  o.max_chars = 1000;
  for (const auto& s : split_segments(dense, o, &tokenizer())) CHECK(tokenizer().encode(s).size() <= 256);
  o.max_chars = 0;
  CHECK_THROWS_AS(split_segments("hi", o, &tokenizer()), std::invalid_argument);
  CHECK_THROWS_AS(segments("caf\xC3", 100), std::invalid_argument);
}
