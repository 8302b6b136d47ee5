// Long-form speech (Pipeline::generate_speech) on the fixture models: voice modes and the
// histories each segment really received, per-segment regeneration, streaming, joins, seamless,
// cancellation, single-shot truncation.
#include <catch2/catch.hpp>

#include <algorithm>
#include <string>
#include <vector>

#include "bark/bark.h"
#include "fixture_models.h"
#include "test_common.h"

using Catch::Matchers::Contains;

namespace {

bark::PipelineOptions fixture_options(int threads = 1) { return bark_test::fixture_pipeline_options(threads); }

const bark::Pipeline& pipe() {
  static const bark::Pipeline p(fixture_options());
  return p;
}

// Five sentences of ~40 characters: five segments at max_segment_chars = 45.
const std::string kFive =
    "The first sentence is about the sea. The second one talks of hills. A third sentence brings the rain. "
    "Then a fourth one says goodbye. And the fifth closes the story.";

bark::SpeechOptions five_options(uint64_t seed) {
  bark::SpeechOptions o;
  o.generation.seed = seed;
  o.generation.silent = true;
  o.generation.max_gen_duration_s = 0.6;  // keep each segment short
  o.max_segment_chars = 45;
  return o;
}

bool same(const bark::FullGeneration& a, const bark::FullGeneration& b) {
  return a.semantic_prompt == b.semantic_prompt && a.coarse_prompt.data == b.coarse_prompt.data &&
         a.fine_prompt.data == b.fine_prompt.data;
}

std::vector<float> slice(const bark::Audio& a, int64_t offset, int64_t count) {
  return std::vector<float>(a.samples.begin() + offset, a.samples.begin() + offset + count);
}

}  // namespace

TEST_CASE("voice modes: the history each segment received", "[unit][longform]") {
  REQUIRE(pipe().split_text(kFive, 45).size() == 5);
  const bark::HistoryPrompt voice = pipe().load_voice("v2/en_speaker_6");

  SECTION("auto with a voice = preset: every segment gets the voice") {
    auto o = five_options(10);
    o.generation.voice = "v2/en_speaker_6";
    const auto r = pipe().generate_speech(kFive, o);
    REQUIRE(r.segments.size() == 5);
    for (const auto& s : r.segments) {
      REQUIRE(s.history);
      CHECK(same(*s.history, voice));
    }
  }
  SECTION("auto without a voice: the first segment's generation is the voice of the others") {
    const auto r = pipe().generate_speech(kFive, five_options(11));
    REQUIRE(r.segments.size() == 5);
    CHECK_FALSE(r.segments[0].history);
    for (size_t i = 1; i < 5; ++i) {
      REQUIRE(r.segments[i].history);
      CHECK(same(*r.segments[i].history, r.segments[0].tokens));
    }
  }
  SECTION("preset without a voice: no history (a new speaker each time, as upstream's notebook)") {
    auto o = five_options(12);
    o.voice_mode = bark::VoiceMode::Preset;
    for (const auto& s : pipe().generate_speech(kFive, o).segments) CHECK_FALSE(s.history);
  }
  SECTION("chain: each segment continues the previous one; reset every 2 goes back to the voice") {
    auto o = five_options(13);
    o.generation.voice = "v2/en_speaker_6";
    o.voice_mode = bark::VoiceMode::Chain;
    auto r = pipe().generate_speech(kFive, o);
    CHECK(same(*r.segments[0].history, voice));
    for (size_t i = 1; i < 5; ++i) CHECK(same(*r.segments[i].history, r.segments[i - 1].tokens));
    CHECK(same(r.final_history, r.segments[4].tokens));
    o.chain_reset_every = 2;
    r = pipe().generate_speech(kFive, o);
    CHECK(same(*r.segments[1].history, r.segments[0].tokens));
    CHECK(same(*r.segments[2].history, voice));
    CHECK(same(*r.segments[3].history, r.segments[2].tokens));
    CHECK(same(*r.segments[4].history, voice));
  }
}

TEST_CASE("per-segment seeds: any segment regenerates alone, a long text is reproducible", "[unit][longform]") {
  auto o = five_options(20);
  o.generation.voice = "v2/en_speaker_3";
  const auto r = pipe().generate_speech(kFive, o);
  REQUIRE(r.segments.size() == 5);
  REQUIRE(r.seed == uint64_t{20});
  for (size_t i = 0; i < 5; ++i) CHECK(r.segments[i].seed == uint64_t{20 + i});
  // segment 3 alone: its text, its seed, its history
  const auto& s = r.segments[3];
  bark::GenerationOptions g;
  g.seed = *s.seed;
  g.history_prompt = s.history;
  g.silent = true;
  g.max_gen_duration_s = 0.6;
  const auto alone = pipe().generate_audio_full(s.text, g);
  CHECK(same(alone.full, s.tokens));
  CHECK(alone.audio.samples == slice(r.audio, s.sample_offset, s.sample_count));
  // the whole text again: the same audio
  CHECK(pipe().generate_speech(kFive, o).audio.samples == r.audio.samples);
  // without a seed a random one is chosen and reported
  o.generation.seed.reset();
  const auto random = pipe().generate_speech(kFive, o);
  REQUIRE(random.seed);
  o.generation.seed = random.seed;
  CHECK(pipe().generate_speech(kFive, o).audio.samples == random.audio.samples);
}

TEST_CASE("streaming: chunks arrive per segment and concatenate to exactly the audio", "[unit][longform]") {
  // 1.0 s: longer than the segments (at most 0.6 s here); a cross-fade takes at most half of each
  for (double crossfade : {0.0, 0.02, 1.0}) {
    for (double silence : {0.25, 0.0}) {
      INFO("silence " << silence << " crossfade " << crossfade);
      auto o = five_options(30);
      o.silence_s = silence;
      o.crossfade_s = crossfade;
      std::vector<bark::AudioChunk> chunks;
      o.on_audio = [&](const bark::AudioChunk& c) {
        chunks.push_back(c);
        return true;
      };
      const auto r = pipe().generate_speech(kFive, o);
      REQUIRE(chunks.size() == 5);
      std::vector<float> joined;
      for (size_t i = 0; i < chunks.size(); ++i) {
        CHECK(chunks[i].segment == i);
        CHECK(chunks[i].segment_count == 5);
        CHECK(chunks[i].offset == static_cast<int64_t>(joined.size()));
        CHECK(chunks[i].last == (i == 4));
        joined.insert(joined.end(), chunks[i].samples.begin(), chunks[i].samples.end());
      }
      CHECK(joined == r.audio.samples);
      // the layout: segments with silence between, or overlapping by the cross-fade
      int64_t expected = 0;
      const auto gap = static_cast<int64_t>(silence * 24000 + 0.5);
      const auto fade = static_cast<int64_t>(crossfade * 24000 + 0.5);
      for (size_t i = 0; i < 5; ++i) {
        const auto& s = r.segments[i];
        if (i > 0) expected += silence > 0 ? gap : -std::min({fade, r.segments[i - 1].sample_count / 2, s.sample_count / 2});
        CHECK(s.sample_offset == expected);
        expected += s.sample_count;
        CHECK(s.sample_count == static_cast<int64_t>(s.tokens.fine_prompt.n_frames * 320));
      }
      CHECK(static_cast<int64_t>(r.audio.samples.size()) == expected);
      if (silence > 0) {  // the silence is silent
        const auto& s1 = r.segments[1];
        for (int64_t k = s1.sample_offset - gap; k < s1.sample_offset; ++k) CHECK(r.audio.samples[k] == 0.0f);
      }
      if (silence > 0 && crossfade == 0) {  // no fades: each segment is its generation's audio, untouched
        for (const auto& s : r.segments) {
          bark::GenerationOptions g;
          g.seed = *s.seed;
          g.history_prompt = s.history;
          g.silent = true;
          g.max_gen_duration_s = 0.6;
          CHECK(pipe().generate_audio(s.text, g).samples == slice(r.audio, s.sample_offset, s.sample_count));
        }
      }
    }
  }
}

TEST_CASE("cancel from the audio or progress callback, progress carries the segment", "[unit][longform]") {
  auto o = five_options(40);
  int chunks = 0;
  o.on_audio = [&](const bark::AudioChunk&) { return ++chunks < 2; };
  CHECK_THROWS_AS(pipe().generate_speech(kFive, o), bark::Cancelled);
  CHECK(chunks == 2);
  o.on_audio = {};
  std::vector<size_t> segments_seen;
  o.generation.on_progress = [&](const bark::Progress& p) {
    if (segments_seen.empty() || segments_seen.back() != p.segment) segments_seen.push_back(p.segment);
    CHECK(p.segment_count == 5);
    return p.segment < 3;
  };
  CHECK_THROWS_AS(pipe().generate_speech(kFive, o), bark::Cancelled);
  CHECK(segments_seen == std::vector<size_t>{0, 1, 2, 3});
}

TEST_CASE("long-form logs one info line per segment (index, size, start), silent drops them", "[unit][longform]") {
  std::vector<std::string> info;
  bark::set_log_level(bark::LogLevel::Info);
  bark::set_log_handler([&](bark::LogLevel level, const std::string& m) {
    if (level == bark::LogLevel::Info && m.rfind("segment ", 0) == 0) info.push_back(m);
  });
  auto o = five_options(41);
  o.generation.silent = false;
  // a sixth segment longer than the 60-byte preview, cut inside a two-byte character
  const std::string text = kFive + " Und dann noch ein sechster Satz, der viel zu lang ist: Größe über alles.";
  o.max_segment_chars = 80;
  pipe().generate_speech(text, o);
  o.generation.silent = true;
  const size_t before = info.size();
  pipe().generate_speech(text, o);
  const size_t after = info.size();
  bark::set_log_handler({});
  bark::set_log_level(bark::LogLevel::Warn);
  CHECK(after == before);
  const auto segments = pipe().split_text(text, 80);
  REQUIRE(info.size() == segments.size());
  CHECK(std::any_of(segments.begin(), segments.end(), [](const std::string& t) { return t.size() > 60; }));
  const std::string n = std::to_string(segments.size());
  for (size_t i = 0; i < segments.size(); ++i) {
    INFO(info[i]);
    CHECK_THAT(info[i], Catch::Matchers::StartsWith("segment " + std::to_string(i + 1) + "/" + n + " (" +
                                                    std::to_string(segments[i].size()) + " bytes): \""));
    const std::string quoted = info[i].substr(info[i].find('"') + 1);
    if (segments[i].size() <= 60) {
      CHECK(quoted == segments[i] + "\"");
    } else {
      CHECK_THAT(quoted, Catch::Matchers::EndsWith("...\""));
      const std::string head = quoted.substr(0, quoted.size() - 4);
      CHECK(head.size() < 60);
      CHECK(segments[i].compare(0, head.size(), head) == 0);
      // cut on a character boundary: the next byte of the segment starts a character
      CHECK((static_cast<unsigned char>(segments[i][head.size()]) & 0xC0) != 0x80);
    }
  }
}

TEST_CASE("seamless: semantic per segment, one acoustic pass over all of them", "[unit][longform]") {
  auto o = five_options(50);
  o.seamless = true;
  o.generation.voice = "v2/en_speaker_1";
  int calls = 0;
  o.on_audio = [&](const bark::AudioChunk& c) {
    ++calls;
    CHECK(c.last);
    return true;
  };
  const auto r = pipe().generate_speech(kFive, o);
  CHECK(calls == 1);
  REQUIRE(r.segments.size() == 5);
  bark::SemanticTokens joined;
  for (const auto& s : r.segments) {
    joined.insert(joined.end(), s.tokens.semantic_prompt.begin(), s.tokens.semantic_prompt.end());
  }
  CHECK(r.final_history.semantic_prompt == joined);
  CHECK(r.audio.samples.size() == static_cast<size_t>(r.final_history.fine_prompt.n_frames * 320));
  // no silences: offsets are contiguous
  for (size_t i = 1; i < 5; ++i) {
    CHECK(r.segments[i].sample_offset == r.segments[i - 1].sample_offset + r.segments[i - 1].sample_count);
  }
  o.voice_mode = bark::VoiceMode::Chain;
  CHECK_THROWS_AS(pipe().generate_speech(kFive, o), std::invalid_argument);
}

TEST_CASE("split off: upstream's single shot, truncation reported in the result", "[unit][longform]") {
  std::string long_text;
  for (int i = 0; i < 60; ++i) long_text += "This sentence is repeated to go far beyond Bark's limit. ";
  bark::SpeechOptions o;
  o.split = false;
  o.generation.seed = 1;
  o.generation.silent = true;
  o.generation.max_gen_duration_s = 0.5;
  const auto r = pipe().generate_speech(long_text, o);
  CHECK(r.segments.size() == 1);
  CHECK(r.text_dropped_percent > 50);
  bark::GenerationOptions g = o.generation;
  CHECK(pipe().generate_audio_full(long_text, g).text_dropped_percent == r.text_dropped_percent);
  CHECK(pipe().generate_audio_full("Short.", g).text_dropped_percent == 0);
  // bad options are refused up front
  o.split = true;
  o.silence_s = -1;
  CHECK_THROWS_WITH(pipe().generate_speech("Hi.", o), Contains("silence must be in [0, 60] seconds, got -1"));
  o.silence_s = 0.25;
  o.crossfade_s = 2.5;  // numbers as written, not 2.500000
  CHECK_THROWS_WITH(pipe().generate_speech("Hi.", o), Catch::Matchers::EndsWith("got 2.5"));
  o.crossfade_s = 0;
  CHECK_THROWS_WITH(pipe().generate_speech(" \n ", o), Contains("text is empty"));
  CHECK_THROWS_AS(bark::parse_voice_mode("loop"), std::invalid_argument);
  CHECK(bark::parse_voice_mode("Chain") == bark::VoiceMode::Chain);
}
