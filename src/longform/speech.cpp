// Pipeline::generate_speech: long-form speech driven through the Pipeline's public calls. Each
// segment is one generate_audio_full (or, seamless, one text_to_semantic) with its own seed and
// history prompt; the joins (silence, cross-fade) and the streaming of chunks happen here.
#include <algorithm>
#include <cmath>
#include <random>
#include <stdexcept>
#include <string>

#include "bark/pipeline.h"
#include "bark/progress.h"
#include "bark/speech.h"
#include "engine/errors.h"
#include "format_number.h"
#include "generation/constants.h"
#include "logging.h"

namespace bark {

namespace {

constexpr int kSampleRate = static_cast<int>(generation::SAMPLE_RATE);

void validate(const SpeechOptions& o) {
  if (!std::isfinite(o.silence_s) || o.silence_s < 0 || o.silence_s > 60) {
    throw std::invalid_argument("silence must be in [0, 60] seconds, got " + format_number(o.silence_s));
  }
  if (!std::isfinite(o.crossfade_s) || o.crossfade_s < 0 || o.crossfade_s > 2) {
    throw std::invalid_argument("crossfade must be in [0, 2] seconds, got " + format_number(o.crossfade_s));
  }
  if (o.max_segment_chars < 1) throw std::invalid_argument("max_segment_chars must be >= 1");
  if (o.max_batch < 1) throw std::invalid_argument("max_batch must be >= 1, got " + std::to_string(o.max_batch));
  if (o.chain_reset_every < 0) {
    throw std::invalid_argument("chain_reset_every must be >= 0, got " + std::to_string(o.chain_reset_every));
  }
  if (o.seamless && o.voice_mode == VoiceMode::Chain) {
    throw std::invalid_argument("seamless mode runs one coarse/fine pass with one voice: voice mode chain does not apply");
  }
}

// Joins segment audio with silences or cross-fades and streams every sample as soon as no later
// join can change it. The chunks concatenate to exactly `audio`.
class Joiner {
 public:
  Joiner(const SpeechOptions& o, size_t n_segments)
      : cb_(o.on_audio),
        n_(n_segments),
        silence_(static_cast<int64_t>(std::llround(o.silence_s * kSampleRate))),
        fade_(static_cast<int64_t>(std::llround(o.crossfade_s * kSampleRate))) {}

  // Appends segment i; returns where its audio starts.
  int64_t add(std::vector<float> seg, size_t i) {
    const bool overlap = silence_ == 0 && fade_ > 0;
    const auto size = [](const std::vector<float>& v) { return static_cast<int64_t>(v.size()); };
    int64_t start = size(audio_);
    if (fade_ > 0 && !overlap) {
      // fade out before the silence, in after it: no clicks at the segment edges
      const int64_t k = std::min(fade_, size(seg) / 2);  // the two fades of a short segment never overlap
      for (int64_t j = 0; j < k; ++j) {
        const float w = static_cast<float>(j + 1) / static_cast<float>(k + 1);
        if (i > 0) seg[static_cast<size_t>(j)] *= w;
        if (i + 1 < n_) seg[static_cast<size_t>(size(seg) - 1 - j)] *= w;
      }
    }
    if (i > 0 && silence_ > 0) {
      audio_.insert(audio_.end(), static_cast<size_t>(silence_), 0.0f);
      start = size(audio_);
    }
    size_t from = 0;
    if (overlap && i > 0) {
      // linear cross-fade over the last k samples of what came before
      // at most half of either segment: a fade longer than short segments ("Yes.") would stack
      // them all on top of each other
      const int64_t k = std::min({fade_, size(audio_) - emitted_, size(seg) / 2, last_ / 2});
      start = size(audio_) - k;
      for (int64_t j = 0; j < k; ++j) {
        const float w = static_cast<float>(j + 1) / static_cast<float>(k + 1);
        float& a = audio_[static_cast<size_t>(start + j)];
        a = a * (1.0f - w) + seg[static_cast<size_t>(j)] * w;
      }
      from = static_cast<size_t>(k);
    }
    last_ = size(seg);
    audio_.insert(audio_.end(), seg.begin() + static_cast<std::ptrdiff_t>(from), seg.end());
    // the tail the next cross-fade will still change is held back
    const int64_t hold = overlap && i + 1 < n_ ? std::min({fade_, last_ / 2, size(audio_) - emitted_}) : 0;
    emit(size(audio_) - hold, i, i + 1 == n_);
    return start;
  }

  std::vector<float> take() { return std::move(audio_); }

 private:
  void emit(int64_t end, size_t segment, bool last) {
    if (!cb_ || (end <= emitted_ && !last)) return;
    AudioChunk c;
    c.samples.assign(audio_.begin() + emitted_, audio_.begin() + end);
    c.offset = emitted_;
    c.segment = segment;
    c.segment_count = n_;
    c.last = last;
    emitted_ = end;
    if (!cb_(c)) throw Cancelled("generation cancelled by the audio callback after segment " + std::to_string(segment + 1) +
                                 " of " + std::to_string(n_));
  }

  AudioCallback cb_;
  size_t n_;
  int64_t silence_, fade_;
  std::vector<float> audio_;
  int64_t emitted_ = 0;
  int64_t last_ = 0;  // the previous segment's length
};

uint64_t random_seed() {
  std::random_device rd;
  return (static_cast<uint64_t>(rd()) << 32) ^ rd();
}

}  // namespace

SpeechResult Pipeline::generate_speech(const std::string& text, const SpeechOptions& options) const {
  // torch errors and bad_alloc leave as one-line std::runtime_errors (engine/errors.h)
  return engine::guarded("generate_speech", [&]() -> SpeechResult {
    validate(options);
    const GenerationOptions& gen = options.generation;
    SpeechResult result;

    const auto one_shot = [&](const std::string& t) {
      GenerationOptions g = gen;
      if (!g.generator && !g.seed) g.seed = random_seed();  // reported, so the run can be repeated
      GenerationResult r = generate_audio_full(t, g);
      SegmentResult seg;
      seg.text = t;
      if (!g.generator) seg.seed = g.seed;
      if (gen.history_prompt) seg.history = gen.history_prompt;
      else if (!gen.voice.empty()) seg.history = load_voice(gen.voice);
      seg.tokens = r.full;
      seg.sample_count = static_cast<int64_t>(r.audio.samples.size());
      result.seed = seg.seed;
      result.final_history = r.full;
      result.text_dropped_percent = r.text_dropped_percent;
      result.segments.push_back(std::move(seg));
      Joiner joiner(options, 1);
      joiner.add(r.audio.samples, 0);
      result.audio = std::move(r.audio);
      return result;
    };
    if (!options.split) return one_shot(text);

    const std::vector<std::string> segments = split_text(text, options.max_segment_chars);
    if (segments.empty()) throw std::invalid_argument("text is empty (nothing to say after whitespace clean-up)");
    const size_t n = segments.size();
    // One segment: exactly generate_audio (the same tokens as upstream for the same seed).
    if (n == 1 && !options.seamless) return one_shot(text);

    // Seeds: segment i uses seed + i (a shared generator instead: every segment draws from it).
    std::optional<uint64_t> base_seed;
    if (!gen.generator) base_seed = gen.seed ? *gen.seed : random_seed();
    result.seed = base_seed;
    std::optional<HistoryPrompt> voice;
    if (gen.history_prompt) voice = gen.history_prompt;
    else if (!gen.voice.empty()) voice = load_voice(gen.voice);
    const VoiceMode mode = options.voice_mode;
    log().log(gen.silent ? spdlog::level::debug : spdlog::level::info, "long-form: {} segments, voice mode {}{}", n,
              voice_mode_name(mode), options.seamless ? ", seamless" : "");

    // The options of segment i with its history prompt.
    const auto options_for = [&](size_t i, const std::optional<HistoryPrompt>& history) {
      GenerationOptions g = gen;
      g.voice.clear();
      g.history_prompt = history;
      if (base_seed) g.seed = *base_seed + i;
      if (gen.on_progress) {
        g.on_progress = [&gen, i, n](const Progress& p) {
          Progress q = p;
          q.segment = i;
          q.segment_count = n;
          return gen.on_progress(q);
        };
      }
      return g;
    };

    // The voice of segments after the first: the given one, or (Auto / Chain without one) the
    // first segment's generation.
    std::optional<HistoryPrompt> base = voice;
    const auto history_for = [&](size_t i) -> std::optional<HistoryPrompt> {
      if (i == 0) return voice;
      if (mode == VoiceMode::Preset) return voice;
      if (mode == VoiceMode::Chain) {
        const bool reset = options.chain_reset_every > 0 && i % static_cast<size_t>(options.chain_reset_every) == 0;
        if (!reset) return result.segments[i - 1].tokens;
      }
      return base;
    };

    // Segment i's record so far (text, history, seed) and the options to generate it with.
    const auto begin_segment = [&](size_t i, GenerationOptions& g) {
      // Where a long text is, for logs (a 3,000-word text is ~160 segments and hours at real size).
      std::string head = segments[i].substr(0, 60);
      if (head.size() < segments[i].size()) {
        while (!head.empty() && (static_cast<unsigned char>(head.back()) & 0xC0) == 0x80) head.pop_back();
        if (!head.empty()) head.pop_back();  // the lead byte of the cut character (or a whole ASCII one)
        head += "...";
      }
      std::replace(head.begin(), head.end(), '\n', ' ');
      log().log(gen.silent ? spdlog::level::debug : spdlog::level::info, "segment {}/{} ({} bytes): \"{}\"", i + 1, n,
                segments[i].size(), head);
      SegmentResult seg;
      seg.text = segments[i];
      seg.history = history_for(i);
      g = options_for(i, seg.history);
      if (base_seed) seg.seed = *g.seed;
      return seg;
    };

    Joiner joiner(options, options.seamless ? 1 : n);
    if (!options.seamless) {
      const auto finish = [&](size_t i, SegmentResult seg, GenerationResult r) {
        seg.tokens = r.full;
        seg.sample_count = static_cast<int64_t>(r.audio.samples.size());
        if (i == 0 && !base && mode != VoiceMode::Preset) base = r.full;
        result.segments.push_back(std::move(seg));
        result.segments.back().sample_offset = joiner.add(std::move(r.audio.samples), i);
      };
      // Segment i can join a batch when its voice is known before the segments ahead of it finish.
      const auto batchable = [&](size_t i) { return mode != VoiceMode::Chain && (i > 0 || voice || mode == VoiceMode::Preset); };
      for (size_t i = 0; i < n;) {
        size_t end = i + 1;
        if (options.max_batch > 1 && batchable(i)) {
          while (end < n && end - i < static_cast<size_t>(options.max_batch)) ++end;
        }
        if (end == i + 1) {
          GenerationOptions g;
          SegmentResult seg = begin_segment(i, g);
          GenerationResult r = generate_audio_full(seg.text, g);
          finish(i, std::move(seg), std::move(r));
          i = end;
          continue;
        }
        std::vector<SegmentResult> segs;
        std::vector<BatchRequest> requests;
        for (size_t k = i; k < end; ++k) {
          GenerationOptions g;
          segs.push_back(begin_segment(k, g));
          requests.push_back({segs.back().text, std::move(g)});
        }
        BatchOptions b;
        b.max_batch = options.max_batch;
        auto rows = generate_audio_batch(requests, b);
        for (size_t k = i; k < end; ++k) {
          if (rows[k - i].error) std::rethrow_exception(rows[k - i].error);
          finish(k, std::move(segs[k - i]), std::move(rows[k - i].result));
        }
        i = end;
      }
      result.final_history = result.segments.back().tokens;
      result.audio.samples = joiner.take();
      return result;
    }

    // Seamless: semantic tokens per segment, then one coarse -> fine -> codec pass over all of them.
    // Without a voice (and not Preset) the first segment is generated in full to become the voice.
    SemanticTokens joined;
    std::vector<int64_t> semantic_offsets;
    for (size_t i = 0; i < n; ++i) {
      GenerationOptions g;
      SegmentResult seg = begin_segment(i, g);
      if (i == 0 && !base && mode != VoiceMode::Preset) {
        base = generate_audio_full(seg.text, g).full;
        seg.tokens.semantic_prompt = base->semantic_prompt;
      } else {
        seg.tokens.semantic_prompt = text_to_semantic(seg.text, g);
      }
      semantic_offsets.push_back(static_cast<int64_t>(joined.size()));
      joined.insert(joined.end(), seg.tokens.semantic_prompt.begin(), seg.tokens.semantic_prompt.end());
      result.segments.push_back(std::move(seg));
    }
    GenerationOptions g = options_for(n, base);
    const GenerationResult whole = semantic_to_waveform_full(joined, g);
    // Each segment's share of the audio: its semantic tokens' share of the frames (coarse and fine
    // run over the joined sequence, so the split is by position: 1.5 frames per semantic token).
    const int64_t total = static_cast<int64_t>(whole.audio.samples.size());
    const int64_t n_sem = static_cast<int64_t>(joined.size());
    for (size_t i = 0; i < n; ++i) {
      const int64_t b = total * semantic_offsets[i] / n_sem;
      const int64_t e = i + 1 < n ? total * semantic_offsets[i + 1] / n_sem : total;
      result.segments[i].sample_offset = b;
      result.segments[i].sample_count = e - b;
    }
    result.final_history = whole.full;
    joiner.add(whole.audio.samples, 0);
    result.audio = whole.audio;
    return result;
  });
}

}  // namespace bark
