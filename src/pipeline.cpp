// bark::Pipeline: api.py on top of generation.py's stages. The weights live in a ModelStore
// (loaded once, read-only); every public call builds its own Call (generator, progress,
// cancellation, log verbosity) and runs the stages with it.
#include "bark/pipeline.h"

#include <ATen/Context.h>
#include <ATen/Functions.h>
#include <ATen/Parallel.h>
#include <c10/core/InferenceMode.h>

#include <sys/stat.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <mutex>
#include <new>
#include <random>
#include <stdexcept>

#include "bark/history_prompt.h"
#include "cpu_threads.h"
#include "format_number.h"
#include "device.h"
#include "engine/coalescer.h"
#include "engine/errors.h"
#include "engine/generator_impl.h"
#include "engine/model_store.h"
#include "generation/constants.h"
#include "generation/generation.h"
#include "io/hf_bark.h"
#include "logging.h"
#include "model_files.h"
#include "text/segment.h"
#include "text/tokenizer.h"

namespace bark {

Cancelled::~Cancelled() = default;

const char* stage_name(Stage stage) {
  switch (stage) {
    case Stage::Semantic: return "semantic";
    case Stage::Coarse: return "coarse";
    case Stage::Fine: return "fine";
    case Stage::Codec: return "codec";
  }
  return "?";
}

using engine::guarded;

namespace {

using Clock = std::chrono::steady_clock;

double seconds_since(Clock::time_point t0) {
  return std::chrono::duration<double>(Clock::now() - t0).count();
}

DeviceAvailability probe_devices() {
  DeviceAvailability a;
  a.cuda = at::hasCUDA() && at::getNumGPUs() > 0;
  a.mps = at::hasMPS();
  return a;
}

void check_finite_positive(double v, const char* name) {
  if (!std::isfinite(v) || v <= 0) {
    throw std::invalid_argument(std::string(name) + " must be a finite number > 0, got " + format_number(v));
  }
}

// Sampling divides the logits by the temperature: below MIN_TEMPERATURE they can overflow to inf
// and the softmax gives NaN. Such a temperature means greedy anyway.
void check_temperature(double v, const char* name) {
  if (!std::isfinite(v) || v < MIN_TEMPERATURE) {
    throw std::invalid_argument(std::string(name) + " must be a finite number >= " + format_number(MIN_TEMPERATURE) +
                                " (smaller ones cannot be sampled), got " + format_number(v));
  }
}

void validate_options(const GenerationOptions& o) {
  check_temperature(o.text_temp, "text_temp");
  check_temperature(o.waveform_temp, "waveform_temp");
  if (o.fine_temp) check_temperature(*o.fine_temp, "fine_temp");
  if (o.top_k && *o.top_k < 1) throw std::invalid_argument("top_k must be >= 1, got " + std::to_string(*o.top_k));
  if (o.top_p && !(*o.top_p > 0 && *o.top_p <= 1)) {
    throw std::invalid_argument("top_p must be in (0, 1], got " + std::to_string(*o.top_p));
  }
  if (o.min_eos_p && !(*o.min_eos_p >= 0 && *o.min_eos_p <= 1)) {
    throw std::invalid_argument("min_eos_p must be in [0, 1], got " + std::to_string(*o.min_eos_p));
  }
  if (o.max_gen_duration_s) check_finite_positive(*o.max_gen_duration_s, "max_gen_duration_s");
  // generation.py generate_coarse asserts
  if (o.max_coarse_history < 60 || o.max_coarse_history > 630) {
    throw std::invalid_argument("max_coarse_history must be in [60, 630], got " + std::to_string(o.max_coarse_history));
  }
  if (o.sliding_window_len < 1 || o.max_coarse_history + o.sliding_window_len > 1024 - 256) {
    throw std::invalid_argument("sliding_window_len must be >= 1 with max_coarse_history + sliding_window_len <= 768");
  }
}

generation::Codes to_codes(const CodebookTokens& t) {
  if (t.n_codebooks < 0 || t.n_frames < 0 || static_cast<int64_t>(t.data.size()) != t.n_codebooks * t.n_frames) {
    throw std::invalid_argument("CodebookTokens: data holds " + std::to_string(t.data.size()) + " values, expected " +
                                std::to_string(t.n_codebooks) + " x " + std::to_string(t.n_frames));
  }
  return {t.n_codebooks, t.n_frames, t.data};
}

CodebookTokens from_codes(const generation::Codes& c) { return {c.rows, c.cols, c.data}; }

void validate_semantic(const SemanticTokens& s) {
  if (s.empty()) throw std::invalid_argument("semantic tokens are empty");
  generation::check_token_range(s, generation::SEMANTIC_VOCAB_SIZE, "semantic tokens");
}

void validate_codes(const CodebookTokens& t, int64_t min_rows, int64_t max_rows, const char* what) {
  to_codes(t);
  if (t.n_codebooks < min_rows || t.n_codebooks > max_rows || t.n_frames < 1) {
    throw std::invalid_argument(std::string(what) + " must have " + std::to_string(min_rows) + ".." +
                                std::to_string(max_rows) + " codebooks and at least one frame, got " +
                                std::to_string(t.n_codebooks) + " x " + std::to_string(t.n_frames));
  }
  generation::check_token_range(t.data, generation::CODEBOOK_SIZE, what);
}


generation::SamplingOptions sampling_of(double temp, const GenerationOptions& o, const at::Generator& g) {
  generation::SamplingOptions s;
  s.temp = temp;
  if (o.top_k) s.top_k = *o.top_k;
  if (o.top_p) s.top_p = *o.top_p;
  s.generator = g;
  return s;
}

}  // namespace

// The state of one public call: its generator, its progress callback, its verbosity. Nothing
// in it is shared with other calls (a shared bark::Generator is shared on purpose).
class Call {
 public:
  Call(const GenerationOptions& o, const engine::ModelStore& store, std::mutex* serialise)
      : options_(o), silent_(o.silent) {
    at::init_num_threads();  // this thread gets the process-wide num_threads (OpenMP's is per thread)
    if (serialise != nullptr) serial_lock_ = std::unique_lock<std::mutex>(*serialise);
    if (o.generator) {
      generator_ = std::make_shared<Generator>(*o.generator);
    } else {
      uint64_t seed = 0;
      if (o.seed) {
        seed = *o.seed;
      } else {
        std::random_device rd;
        seed = (static_cast<uint64_t>(rd()) << 32) ^ rd();
        log().debug("seed: {} (random)", seed);
      }
      generator_ = std::make_shared<Generator>(seed);
    }
    if (!store.model_device().is_cpu()) {
      // Non-CPU devices sample with the device's default generator (see GeneratorImpl).
      device_lock_ = std::unique_lock<std::mutex>(GeneratorImpl::device_mutex());
      device_generator_ = at::globalContext().defaultGenerator(store.model_device());
      generator_->impl().restore_device_state(device_generator_);
    }
  }
  ~Call() {
    if (device_generator_.defined()) {
      try {
        generator_->impl().save_device_state(device_generator_);
      } catch (...) {  // a destructor must not throw; the next call re-seeds from the state it has
      }
    }
  }
  Call(const Call&) = delete;
  Call& operator=(const Call&) = delete;

  // What multinomial draws from: the call's CPU generator, or (undefined) the device default.
  at::Generator generator() const { return device_generator_.defined() ? at::Generator() : generator_->impl().cpu(); }
  bool announce() const { return !silent_; }
  const GenerationOptions& options() const { return options_; }

  // The stage's step callback: forwards to on_progress and turns `false` into bark::Cancelled.
  generation::StepProgress progress(Stage stage) const {
    if (!options_.on_progress) return {};
    const ProgressCallback* cb = &options_.on_progress;
    return [cb, stage](int64_t done, int64_t total) {
      if (!(*cb)(Progress{stage, done, total})) throw Cancelled(std::string("generation cancelled during the ") + stage_name(stage) + " stage");
    };
  }
  // Checked between stages too, so that a cancel in the last step of one stage stops the call.
  void report(Stage stage, int64_t done, int64_t total) const {
    if (auto p = progress(stage)) p(done, total);
  }

 private:
  const GenerationOptions& options_;
  bool silent_;
  std::unique_lock<std::mutex> serial_lock_;
  std::unique_lock<std::mutex> device_lock_;
  std::shared_ptr<Generator> generator_;
  at::Generator device_generator_;
};

class PipelineImpl {
 public:
  explicit PipelineImpl(const PipelineOptions& options)
      : options_(validated(options)), devices_(choose_device(options.device, options.enable_mps, probe_devices())),
        store_(options_, devices_) {
    const int threads = threads_ = set_cpu_threads(options.num_threads);
    log().debug("device: models on {}, codec on {}, {} threads{}", device_name(devices_.models),
                device_name(devices_.codec), threads, options.offload_cpu ? ", CPU offload" : "");
    if (options.offload_cpu && devices_.models == Device::Cpu) {
      log().debug("offload_cpu: the models are on the CPU already; nothing to offload");
    }
  }

  Device device() const { return devices_.models; }

  void preload() const {
    store_.tokenizer();
    store_.text(true);
    store_.coarse(true);
    store_.fine(true);
    store_.codec(true);
  }

  std::vector<int64_t> tokenize(const std::string& text) const {
    return store_.tokenizer().encode(text::normalize_whitespace(text));
  }

  std::vector<std::string> split_text(const std::string& text, size_t max_segment_chars) const {
    text::SegmentOptions so;
    so.max_chars = max_segment_chars;
    so.max_tokens = text::MAX_TEXT_TOKENS;
    return text::split_segments(text, so, &store_.tokenizer());
  }

  // Offload moves models between devices, so calls with it run one at a time.
  std::mutex* serialise() const { return offloading() ? &offload_mutex_ : nullptr; }

  HistoryPrompt load_voice(const std::string& voice) const {
    if (voice.empty()) throw std::invalid_argument("voice is empty");
    HistoryPrompt prompt = read_voice(voice);
    validate_history_prompt(prompt);
    return prompt;
  }

  // A preset from prompts/<name>.npz, or from the transformers layout's speaker embeddings when
  // the models come from it and no model directory has prompts/; a path ending in .npz as such.
  HistoryPrompt read_voice(const std::string& voice) const {
    const ModelFiles files = store_.files(/*need_models=*/false);
    // (resolve_voice refuses names that are no preset and resolves .npz paths)
    if (!files.hf_voices.empty() && is_allowed_prompt(voice)) return io::load_hf_voice(files.hf_voices, voice);
    return load_history_prompt(resolve_voice(voice, files.prompts_dir));
  }

  std::optional<generation::History> history(const GenerationOptions& o) const {
    HistoryPrompt prompt;
    if (o.history_prompt) {
      prompt = *o.history_prompt;
    } else if (!o.voice.empty()) {
      prompt = read_voice(o.voice);
    } else {
      return std::nullopt;
    }
    validate_history_prompt(prompt);
    generation::History h;
    h.semantic = prompt.semantic_prompt;
    h.coarse = to_codes(prompt.coarse_prompt);
    h.fine = to_codes(prompt.fine_prompt);
    return h;
  }

  // The 256 ids Bark reads; `dropped_percent` (optional) receives the share of the text's tokens
  // beyond 256 (upstream drops them).
  std::vector<int64_t> encode_text(const std::string& text, double* dropped_percent) const {
    const std::string normalized = text::normalize_whitespace(text);  // throws on invalid UTF-8
    if (normalized.empty()) throw std::invalid_argument("text is empty (nothing to say after whitespace clean-up)");
    store_.files(/*need_models=*/true);  // report every missing file at once, before any loading
    double dropped = 0;
    auto encoded = text::encode_for_bark(store_.tokenizer(), normalized, &dropped);
    if (encoded.front() == text::TEXT_PAD_TOKEN) {  // BERT's clean-up dropped every character
      throw std::invalid_argument("text is empty (nothing to say: only control or unassigned characters)");
    }
    if (dropped_percent != nullptr) *dropped_percent = dropped;
    return encoded;
  }

  static generation::SemanticOptions semantic_options(const Call& call) {
    const GenerationOptions& o = call.options();
    generation::SemanticOptions so;
    so.sampling = sampling_of(o.text_temp, o, call.generator());
    so.min_eos_p = o.min_eos_p ? std::optional<double>(*o.min_eos_p) : std::nullopt;
    so.max_gen_duration_s = o.max_gen_duration_s;
    so.allow_early_stop = o.allow_early_stop;
    so.use_kv_caching = o.use_kv_caching;
    so.progress = call.progress(Stage::Semantic);
    return so;
  }

  SemanticTokens semantic(const std::string& text, const Call& call, const generation::History* h,
                          double* dropped_percent = nullptr) const {
    const auto encoded = encode_text(text, dropped_percent);
    const auto& model = store_.text(call.announce());
    Placement place(*this, [&](const at::Device& d) { store_.place_text(d); });
    const generation::SemanticOptions so = semantic_options(call);
    const auto t0 = Clock::now();
    std::vector<int64_t> out;
    if (coalescing()) {
      auto r = semantic_coalescer().submit({encoded, h ? &h->semantic : nullptr, so});
      if (r.error) std::rethrow_exception(r.error);
      out = std::move(r.value);
    } else {
      threads_for_stage("semantic");
      c10::InferenceMode guard;
      out = generation::generate_text_semantic(model, encoded, h ? &h->semantic : nullptr, so);
    }
    if (call.announce()) {
      log().info("semantic: {} tokens ({:.2f}s of audio) in {:.2f}s", out.size(),
                 static_cast<double>(out.size()) / generation::SEMANTIC_RATE_HZ, seconds_since(t0));
    }
    return out;
  }

  // generate_coarse's options for this call, checked against the coarse model's block size.
  static generation::CoarseOptions coarse_options(const Call& call, const models::GPT& model) {
    const GenerationOptions& o = call.options();
    const int64_t positions = 257 + o.max_coarse_history + o.sliding_window_len - 1;
    if (positions > model.config().block_size) {
      throw std::invalid_argument("max_coarse_history + sliding_window_len = " +
                                  std::to_string(o.max_coarse_history + o.sliding_window_len) +
                                  " needs " + std::to_string(positions) + " positions; the coarse model has " +
                                  std::to_string(model.config().block_size));
    }
    generation::CoarseOptions co;
    co.sampling = sampling_of(o.waveform_temp, o, call.generator());
    co.max_coarse_history = o.max_coarse_history;
    co.sliding_window_len = o.sliding_window_len;
    co.use_kv_caching = o.use_kv_caching;
    co.progress = call.progress(Stage::Coarse);
    return co;
  }

  CodebookTokens coarse(const SemanticTokens& semantic, const Call& call, const generation::History* h) const {
    validate_semantic(semantic);
    const auto& model = store_.coarse(call.announce());
    const generation::CoarseOptions co = coarse_options(call, model);
    Placement place(*this, [&](const at::Device& d) { store_.place_coarse(d); });
    const auto t0 = Clock::now();
    generation::Codes out;
    if (coalescing()) {
      auto r = coarse_coalescer().submit({&semantic, h, co});
      if (r.error) std::rethrow_exception(r.error);
      out = std::move(r.value);
    } else {
      threads_for_stage("coarse");
      c10::InferenceMode guard;
      out = generation::generate_coarse(model, semantic, h, co);
    }
    if (call.announce()) {
      log().info("coarse: {} frames ({:.2f}s of audio) in {:.2f}s", out.cols,
                 static_cast<double>(out.cols) / generation::COARSE_RATE_HZ, seconds_since(t0));
    }
    return from_codes(out);
  }

  CodebookTokens fine(const CodebookTokens& coarse, const Call& call, const generation::History* h) const {
    const GenerationOptions& o = call.options();
    validate_codes(coarse, 1, generation::N_FINE_CODEBOOKS - 1, "coarse tokens");
    const auto& model = store_.fine(call.announce());
    Placement place(*this, [&](const at::Device& d) { store_.place_fine(d); });
    generation::FineOptions fo;
    fo.temp = o.fine_temp ? std::optional<double>(*o.fine_temp) : std::nullopt;
    fo.generator = call.generator();
    fo.progress = call.progress(Stage::Fine);
    fo.fast = o.fine_fast.value_or(store_.precision() != Precision::Fp32);
    threads_for_stage("fine");
    const auto t0 = Clock::now();
    c10::InferenceMode guard;
    auto out = generation::generate_fine(model, to_codes(coarse), h, fo);
    if (call.announce()) log().info("fine: {} frames in {:.2f}s", out.cols, seconds_since(t0));
    return from_codes(out);
  }

  Audio decode(const CodebookTokens& fine, const Call* call) const {
    const bool announce = call != nullptr && call->announce();
    const auto& codec = store_.codec(announce);
    validate_codes(fine, 1, codec.config().n_q, "fine tokens");
    const int64_t total = fine.n_frames * codec.config().hop_length();
    if (call != nullptr) call->report(Stage::Codec, 0, total);
    threads_for_stage("codec");
    const auto t0 = Clock::now();
    c10::InferenceMode guard;
    Audio audio;
    audio.samples = generation::codec_decode(codec, to_codes(fine));
    audio.sample_rate = static_cast<int>(generation::SAMPLE_RATE);
    if (call != nullptr) call->report(Stage::Codec, static_cast<int64_t>(audio.samples.size()), total);
    if (announce) log().info("codec: {:.2f}s of audio in {:.2f}s", audio.duration_seconds(), seconds_since(t0));
    return audio;
  }

  // One request of a batched call: text (or semantic tokens) and its options.
  struct BatchItem {
    const std::string* text = nullptr;
    const SemanticTokens* semantic = nullptr;
    const GenerationOptions* options = nullptr;
  };

  // The batched calls (CPU): per request a Call (own generator and progress), then the semantic
  // stage (from text) and the coarse stage for all requests together, each up to `max_batch`
  // rows at a time, then (to_audio) fine and codec request by request. A request's error is
  // kept in its result and the request leaves; the others go on.
  std::vector<BatchResult> batch(const std::vector<BatchItem>& items, bool to_audio, int max_batch) const {
    if (max_batch < 1) throw std::invalid_argument("max_batch must be >= 1, got " + std::to_string(max_batch));
    std::vector<BatchResult> out(items.size());
    struct Row {
      size_t index;
      std::optional<generation::History> history;
      std::unique_ptr<Call> call;
      std::vector<int64_t> encoded;
      const generation::History* h() const { return history ? &*history : nullptr; }
    };
    std::vector<Row> rows;
    const auto fail = [&](size_t i) { out[i].error = engine::public_error("generate_audio_batch", std::current_exception()); };
    for (size_t i = 0; i < items.size(); ++i) {
      try {
        const GenerationOptions& o = *items[i].options;
        validate_options(o);
        Row row{i, history(o), nullptr, {}};
        if (items[i].text != nullptr) {
          row.encoded = encode_text(*items[i].text, &out[i].result.text_dropped_percent);
        } else {
          validate_semantic(*items[i].semantic);
          out[i].result.full.semantic_prompt = *items[i].semantic;
        }
        row.call = std::make_unique<Call>(o, store_, nullptr);
        rows.push_back(std::move(row));
      } catch (...) {
        fail(i);
      }
    }
    const auto drop_failed = [&] {
      rows.erase(std::remove_if(rows.begin(), rows.end(), [&](const Row& r) { return out[r.index].error != nullptr; }),
                 rows.end());
    };
    const bool announce = std::any_of(rows.begin(), rows.end(), [](const Row& r) { return r.call->announce(); });
    if (!rows.empty() && items[rows[0].index].text != nullptr) {
      try {
        const auto& model = store_.text(announce);
        std::vector<generation::SemanticJob> jobs;
        for (const Row& r : rows) {
          jobs.push_back({r.encoded, r.history ? &r.history->semantic : nullptr, semantic_options(*r.call)});
        }
        threads_for_stage("semantic");
        const auto t0 = Clock::now();
        c10::InferenceMode guard;
        auto results = generation::generate_text_semantic_batch(model, jobs, max_batch);
        size_t tokens = 0;
        for (size_t k = 0; k < rows.size(); ++k) {
          if (results[k].error) {
            out[rows[k].index].error = engine::public_error("generate_audio_batch", results[k].error);
          } else {
            tokens += results[k].value.size();
            out[rows[k].index].result.full.semantic_prompt = std::move(results[k].value);
          }
        }
        if (announce) log().info("semantic: {} requests, {} tokens in {:.2f}s", rows.size(), tokens, seconds_since(t0));
      } catch (...) {
        for (const Row& r : rows) fail(r.index);
      }
      drop_failed();
      if (!to_audio) return out;
    }
    if (!rows.empty()) {
      try {
        const auto& model = store_.coarse(announce);
        std::vector<generation::CoarseJob> jobs;
        std::vector<Row*> coarse_rows;
        for (Row& r : rows) {
          try {
            jobs.push_back({&out[r.index].result.full.semantic_prompt, r.h(), coarse_options(*r.call, model)});
            coarse_rows.push_back(&r);
          } catch (...) {
            fail(r.index);
          }
        }
        threads_for_stage("coarse");
        const auto t0 = Clock::now();
        c10::InferenceMode guard;
        auto results = generation::generate_coarse_batch(model, jobs, max_batch);
        int64_t frames = 0;
        for (size_t k = 0; k < coarse_rows.size(); ++k) {
          BatchResult& o = out[coarse_rows[k]->index];
          if (results[k].error) {
            o.error = engine::public_error("generate_audio_batch", results[k].error);
          } else {
            frames += results[k].value.cols;
            o.result.full.coarse_prompt = from_codes(results[k].value);
          }
        }
        if (announce) log().info("coarse: {} requests, {} frames in {:.2f}s", coarse_rows.size(), frames, seconds_since(t0));
      } catch (...) {
        for (const Row& r : rows) {
          if (!out[r.index].error) fail(r.index);
        }
      }
      drop_failed();
    }
    for (Row& r : rows) {
      GenerationResult& g = out[r.index].result;
      try {
        g.full.fine_prompt = fine(g.full.coarse_prompt, *r.call, r.h());
        g.audio = decode(g.full.fine_prompt, r.call.get());
      } catch (...) {
        fail(r.index);
      }
    }
    return out;
  }

  const engine::ModelStore& store() const { return store_; }

 private:
  static PipelineOptions validated(const PipelineOptions& options) {
    if (options.num_threads < 0) {
      throw std::invalid_argument("num_threads must be >= 0, got " + std::to_string(options.num_threads));
    }
    check_num_threads(options.num_threads);
    if (options.max_batch < 1 || options.max_batch > 256) {
      throw std::invalid_argument("max_batch must be in [1, 256], got " + std::to_string(options.max_batch));
    }
    if (!(options.batch_window_ms >= 0 && options.batch_window_ms <= 10'000)) {
      throw std::invalid_argument("batch_window_ms must be in [0, 10000], got " + std::to_string(options.batch_window_ms));
    }
    return options;
  }

  // Concurrent single calls coalesce here when max_batch > 1 (CPU only: GPU calls sample with
  // the device's generator, one call at a time).
  using SemanticCoalescer = engine::Coalescer<generation::SemanticJob, std::vector<int64_t>>;
  using CoarseCoalescer = engine::Coalescer<generation::CoarseJob, generation::Codes>;
  bool coalescing() const { return options_.max_batch > 1 && devices_.models == Device::Cpu && !offloading(); }
  std::chrono::microseconds batch_window() const {
    return std::chrono::microseconds(static_cast<int64_t>(options_.batch_window_ms * 1000));
  }
  SemanticCoalescer& semantic_coalescer() const {
    std::call_once(coalescers_once_, [&] { make_coalescers(); });
    return *semantic_coalescer_;
  }
  CoarseCoalescer& coarse_coalescer() const {
    std::call_once(coalescers_once_, [&] { make_coalescers(); });
    return *coarse_coalescer_;
  }
  void make_coalescers() const {
    const auto n = static_cast<size_t>(options_.max_batch);
    semantic_coalescer_ = std::make_unique<SemanticCoalescer>(batch_window(), n, [this, n](const auto& jobs) {
      const auto& model = store_.text(false);
      threads_for_stage("semantic");
      c10::InferenceMode guard;
      if (jobs.size() > 1) log().debug("semantic: {} concurrent calls batched", jobs.size());
      return generation::generate_text_semantic_batch(model, jobs, static_cast<int64_t>(n));
    });
    coarse_coalescer_ = std::make_unique<CoarseCoalescer>(batch_window(), n, [this, n](const auto& jobs) {
      const auto& model = store_.coarse(false);
      threads_for_stage("coarse");
      c10::InferenceMode guard;
      if (jobs.size() > 1) log().debug("coarse: {} concurrent calls batched", jobs.size());
      return generation::generate_coarse_batch(model, jobs, static_cast<int64_t>(n));
    });
  }

  bool offloading() const { return options_.offload_cpu && devices_.models != Device::Cpu; }

  // Each stage starts with as many threads as the machine has idle cores for, up to num_threads.
  void threads_for_stage(const char* stage) const {
    if (devices_.models != Device::Cpu) return;
    const int n = adapt_threads_to_load(threads_);
    if (n != threads_) log().debug("{}: {} thread(s) instead of {}: the other cores are busy", stage, n, threads_);
  }

  // Moves a model to the device for the duration of a stage when CPU offload is on.
  class Placement {
   public:
    Placement(const PipelineImpl& p, std::function<void(const at::Device&)> move)
        : active_(p.offloading()), device_(p.store_.model_device()), move_(std::move(move)) {
      if (active_) move_(device_);
    }
    ~Placement() {
      if (active_) move_(at::Device(at::kCPU));
    }
    Placement(const Placement&) = delete;
    Placement& operator=(const Placement&) = delete;

   private:
    bool active_;
    at::Device device_;
    std::function<void(const at::Device&)> move_;
  };

  PipelineOptions options_;
  DeviceChoice devices_;
  engine::ModelStore store_;
  mutable std::mutex offload_mutex_;
  int threads_ = 1;  // configured intra-op threads per call
  mutable std::once_flag coalescers_once_;
  mutable std::unique_ptr<SemanticCoalescer> semantic_coalescer_;
  mutable std::unique_ptr<CoarseCoalescer> coarse_coalescer_;
};

Pipeline::Pipeline(const PipelineOptions& options)
    : impl_(guarded("bark::Pipeline", [&] { return std::make_unique<PipelineImpl>(options); })) {}
Pipeline::~Pipeline() = default;
Pipeline::Pipeline(Pipeline&&) noexcept = default;
Pipeline& Pipeline::operator=(Pipeline&&) noexcept = default;

const PipelineImpl& Pipeline::impl() const {
  if (!impl_) throw std::logic_error("bark::Pipeline: used after it was moved from");
  return *impl_;
}

void Pipeline::preload() const {
  guarded("loading models", [&] { impl().preload(); });
}

Device Pipeline::device() const { return impl().device(); }

std::vector<int64_t> Pipeline::tokenize(const std::string& text) const {
  return guarded("tokenize", [&] { return impl().tokenize(text); });
}

std::vector<std::string> Pipeline::voices() const {
  return guarded("voices", [&] {
    const ModelFiles files = impl().store().files(/*need_models=*/false);
    if (!files.hf_voices.empty()) return io::hf_voice_names(files.hf_voices);
    const std::string dir = files.prompts_dir;
    std::vector<std::string> out;
    for (const auto& name : allowed_prompts()) {
      struct stat st {};
      if (::stat((dir + "/" + name + ".npz").c_str(), &st) == 0 && S_ISREG(st.st_mode)) out.push_back(name);
    }
    std::sort(out.begin(), out.end());
    return out;
  });
}

HistoryPrompt Pipeline::load_voice(const std::string& voice) const {
  return guarded("load_voice", [&] { return impl().load_voice(voice); });
}

std::vector<std::string> Pipeline::split_text(const std::string& text, size_t max_segment_chars) const {
  return guarded("split_text", [&] { return impl().split_text(text, max_segment_chars); });
}

GenerationResult Pipeline::generate_audio_full(const std::string& text, const GenerationOptions& options) const {
  const PipelineImpl& p = impl();
  return guarded("generate_audio", [&] {
    validate_options(options);
    const auto h = p.history(options);
    const auto t0 = Clock::now();
    const Call call(options, p.store(), p.serialise());
    GenerationResult r;
    r.full.semantic_prompt = p.semantic(text, call, h ? &*h : nullptr, &r.text_dropped_percent);
    r.full.coarse_prompt = p.coarse(r.full.semantic_prompt, call, h ? &*h : nullptr);
    r.full.fine_prompt = p.fine(r.full.coarse_prompt, call, h ? &*h : nullptr);
    r.audio = p.decode(r.full.fine_prompt, &call);
    if (call.announce()) {
      const double secs = seconds_since(t0);
      log().info("generated {:.2f}s of audio in {:.2f}s (real-time factor {:.2f})", r.audio.duration_seconds(), secs,
                 r.audio.duration_seconds() > 0 ? secs / r.audio.duration_seconds() : 0.0);
    }
    return r;
  });
}

Audio Pipeline::generate_audio(const std::string& text, const GenerationOptions& options) const {
  return generate_audio_full(text, options).audio;
}

SemanticTokens Pipeline::text_to_semantic(const std::string& text, const GenerationOptions& options) const {
  const PipelineImpl& p = impl();
  return guarded("text_to_semantic", [&] {
    validate_options(options);
    const auto h = p.history(options);
    const Call call(options, p.store(), p.serialise());
    return p.semantic(text, call, h ? &*h : nullptr);
  });
}

GenerationResult Pipeline::semantic_to_waveform_full(const SemanticTokens& semantic,
                                                     const GenerationOptions& options) const {
  const PipelineImpl& p = impl();
  return guarded("semantic_to_waveform", [&] {
    validate_options(options);
    validate_semantic(semantic);
    const auto h = p.history(options);
    const Call call(options, p.store(), p.serialise());
    GenerationResult r;
    r.full.semantic_prompt = semantic;
    r.full.coarse_prompt = p.coarse(semantic, call, h ? &*h : nullptr);
    r.full.fine_prompt = p.fine(r.full.coarse_prompt, call, h ? &*h : nullptr);
    r.audio = p.decode(r.full.fine_prompt, &call);
    return r;
  });
}

Audio Pipeline::semantic_to_waveform(const SemanticTokens& semantic, const GenerationOptions& options) const {
  return semantic_to_waveform_full(semantic, options).audio;
}

CodebookTokens Pipeline::generate_coarse(const SemanticTokens& semantic, const GenerationOptions& options) const {
  const PipelineImpl& p = impl();
  return guarded("generate_coarse", [&] {
    validate_options(options);
    validate_semantic(semantic);
    const auto h = p.history(options);
    const Call call(options, p.store(), p.serialise());
    return p.coarse(semantic, call, h ? &*h : nullptr);
  });
}

CodebookTokens Pipeline::generate_fine(const CodebookTokens& coarse, const GenerationOptions& options) const {
  const PipelineImpl& p = impl();
  return guarded("generate_fine", [&] {
    validate_options(options);
    const auto h = p.history(options);
    const Call call(options, p.store(), p.serialise());
    return p.fine(coarse, call, h ? &*h : nullptr);
  });
}

Audio Pipeline::codec_decode(const CodebookTokens& fine) const {
  const PipelineImpl& p = impl();
  return guarded("codec_decode", [&] {
    at::init_num_threads();
    return p.decode(fine, nullptr);
  });
}

namespace {

// On the CPU the requests are batched; elsewhere (GPU generators are per device, one call at a
// time) they run one after another through the single-request calls.
template <class Single>
std::vector<BatchResult> sequential(size_t n, Single&& single) {
  std::vector<BatchResult> out(n);
  for (size_t i = 0; i < n; ++i) {
    try {
      out[i].result = single(i);
    } catch (...) {
      out[i].error = std::current_exception();
    }
  }
  return out;
}

}  // namespace

std::vector<BatchResult> Pipeline::generate_audio_batch(const std::vector<BatchRequest>& requests,
                                                        const BatchOptions& batch) const {
  const PipelineImpl& p = impl();
  if (p.device() != Device::Cpu) {
    return sequential(requests.size(), [&](size_t i) { return generate_audio_full(requests[i].text, requests[i].options); });
  }
  return guarded("generate_audio_batch", [&] {
    std::vector<PipelineImpl::BatchItem> items;
    for (const auto& r : requests) items.push_back({&r.text, nullptr, &r.options});
    return p.batch(items, /*to_audio=*/true, batch.max_batch);
  });
}

std::vector<BatchResult> Pipeline::text_to_semantic_batch(const std::vector<BatchRequest>& requests,
                                                          const BatchOptions& batch) const {
  const PipelineImpl& p = impl();
  if (p.device() != Device::Cpu) {
    return sequential(requests.size(), [&](size_t i) {
      GenerationResult r;
      r.full.semantic_prompt = text_to_semantic(requests[i].text, requests[i].options);
      return r;
    });
  }
  return guarded("text_to_semantic_batch", [&] {
    std::vector<PipelineImpl::BatchItem> items;
    for (const auto& r : requests) items.push_back({&r.text, nullptr, &r.options});
    return p.batch(items, /*to_audio=*/false, batch.max_batch);
  });
}

std::vector<BatchResult> Pipeline::semantic_to_waveform_batch(const std::vector<SemanticRequest>& requests,
                                                              const BatchOptions& batch) const {
  const PipelineImpl& p = impl();
  if (p.device() != Device::Cpu) {
    return sequential(requests.size(),
                      [&](size_t i) { return semantic_to_waveform_full(requests[i].semantic, requests[i].options); });
  }
  return guarded("semantic_to_waveform_batch", [&] {
    std::vector<PipelineImpl::BatchItem> items;
    for (const auto& r : requests) items.push_back({nullptr, &r.semantic, &r.options});
    return p.batch(items, /*to_audio=*/true, batch.max_batch);
  });
}

void save_as_prompt(const std::string& path, const FullGeneration& full) {
  const std::string suffix = ".npz";
  if (path.size() < suffix.size() || path.compare(path.size() - suffix.size(), suffix.size(), suffix) != 0) {
    throw std::invalid_argument("save_as_prompt: path must end with .npz, got '" + path + "'");
  }
  save_history_prompt(path, full);
}

}  // namespace bark
