// Long-form speech: any length of text, one voice, audio streamed as each segment is ready.
//
//   bark::SpeechOptions opts;
//   opts.generation.voice = "v2/en_speaker_6";
//   opts.generation.seed = 1;
//   opts.on_audio = [&](const bark::AudioChunk& c) { play(c.samples); return true; };
//   bark::SpeechResult r = pipeline.generate_speech(story, opts);
//
// Bark speaks at most ~14 s (768 semantic tokens) and reads at most 256 tokens of text per
// generation. generate_speech splits the text into sentences (ICU, every script), packs them
// into segments of at most max_segment_chars characters and 256 tokens, generates the segments
// in order and joins them. A text that fits in one segment goes through generate_audio_full
// unchanged: the same tokens as upstream Bark for the same seed.
#pragma once

#include <cstddef>
#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <vector>

#include "bark/export.h"
#include "bark/options.h"
#include "bark/types.h"

namespace bark {

// How the voice carries from one segment to the next.
enum class VoiceMode {
  // With a voice: Preset. Without one: the first segment's generation becomes the voice of all
  // the others (else every segment would pick a new random speaker).
  Auto,
  // Every segment is generated with the given voice (none: each segment a random speaker, as
  // upstream's long-form notebook without a prompt).
  Preset,
  // Each segment's history is the previous segment's full generation (the first segment's is the
  // voice); with chain_reset_every = N, segments N, 2N, ... go back to the voice (or, without
  // one, to the first segment's generation): Bark Infinity's stable_mode_interval.
  Chain,
};

// Parses "auto", "preset", "chain" (case-insensitive). Throws std::invalid_argument.
BARK_API VoiceMode parse_voice_mode(const std::string& name);
BARK_API const char* voice_mode_name(VoiceMode mode);

// A piece of the final audio, in order. Concatenated, the chunks are exactly SpeechResult::audio.
struct AudioChunk {
  std::vector<float> samples;  // 24 kHz mono
  int sample_rate = 24'000;
  int64_t offset = 0;          // of samples[0] in the whole audio
  size_t segment = 0;          // the segment whose audio ends this chunk (0-based)
  size_t segment_count = 1;
  bool last = false;           // no chunk follows
};

// Called with each chunk as soon as it is final; return false to cancel (bark::Cancelled).
using AudioCallback = std::function<bool(const AudioChunk&)>;

struct SpeechOptions {
  // Temperatures, voice, seed or generator, progress, silent, ... as for generate_audio.
  // Progress reports carry the segment index (Progress::segment / segment_count).
  GenerationOptions generation;
  // Split the text into segments (true), or speak it in one generation as upstream does (false:
  // Bark then drops text beyond 256 tokens and says so in SpeechResult::text_dropped_percent).
  bool split = true;
  // Characters (code points) per segment; 150 speaks in ~10-11 s (docs/LONGFORM.md).
  size_t max_segment_chars = 150;
  VoiceMode voice_mode = VoiceMode::Auto;
  // Chain mode: back to the voice every N segments (0: never).
  int chain_reset_every = 0;
  // Silence between segments, seconds (upstream's long-form notebook: 0.25).
  double silence_s = 0.25;
  // Cross-fade at each join, seconds: with silence_s = 0 the segments overlap by this much
  // (linear fade); with silence, each segment fades out and in over it instead. A fade takes
  // at most half of a segment. 0 = off.
  double crossfade_s = 0.0;
  // Seamless (opt-in): semantic tokens per segment, then coarse, fine and codec once over the
  // whole joined sequence: no acoustic seams, no silences, but audio only at the end (on_audio
  // is called once) and time and memory grow with the whole length (docs/LONGFORM.md).
  bool seamless = false;
  // Streaming: called with audio as soon as each segment is decoded. May be empty.
  AudioCallback on_audio;
  // Segments whose voice does not depend on the segment before (voice mode Preset, or Auto:
  // all but the first without a voice) are generated up to this many at a time with
  // generate_audio_batch: more audio per second of compute, but a batch's first audio comes
  // only when its semantic and coarse stages are done for all its segments
  // (docs/PERFORMANCE.md). Tokens are the same as with 1. 1 = one segment at a time.
  int max_batch = 1;
};

struct SegmentResult {
  std::string text;
  // The seed this segment was generated with (GenerationOptions::seed + index); regenerate the
  // segment alone with generate_audio_full(text, {seed, history_prompt = *history}). Unset when
  // the segments drew from a shared GenerationOptions::generator.
  std::optional<uint64_t> seed;
  // The history prompt it was generated with (unset: none).
  std::optional<HistoryPrompt> history;
  FullGeneration tokens;      // what it generated (its semantic, coarse and fine tokens)
  int64_t sample_offset = 0;  // where its audio starts in SpeechResult::audio
  int64_t sample_count = 0;
};

struct SpeechResult {
  Audio audio;
  std::vector<SegmentResult> segments;
  // The last segment's full generation: pass it as the history prompt to continue the voice.
  FullGeneration final_history;
  // The seed of segment 0 (the random one chosen when none was given), if seeds were used.
  std::optional<uint64_t> seed;
  // split = false only: percentage of the text's tokens Bark dropped (0 = nothing lost).
  double text_dropped_percent = 0.0;
};

}  // namespace bark
