// bark::Pipeline: api.py on top of generation.py's stages.
#include "bark/pipeline.h"

#include <ATen/CPUGeneratorImpl.h>
#include <ATen/Context.h>
#include <ATen/Functions.h>
#include <ATen/Parallel.h>
#include <c10/core/InferenceMode.h>

#include <chrono>
#include <cmath>
#include <mutex>
#include <random>
#include <stdexcept>

#include "bark/history_prompt.h"
#include "cpu_threads.h"
#include "device.h"
#include "generation/constants.h"
#include "generation/generation.h"
#include "io/checkpoint.h"
#include "logging.h"
#include "model_files.h"
#include "models/encodec.h"
#include "models/fine_gpt.h"
#include "models/gpt.h"
#include "text/tokenizer.h"

namespace bark {
namespace {

using Clock = std::chrono::steady_clock;

double seconds_since(Clock::time_point t0) {
  return std::chrono::duration<double>(Clock::now() - t0).count();
}

at::Device to_at(Device d) {
  switch (d) {
    case Device::Cuda: return at::Device(at::kCUDA);
    case Device::Mps: return at::Device(at::kMPS);
    default: return at::Device(at::kCPU);
  }
}

DeviceAvailability probe_devices() {
  DeviceAvailability a;
  a.cuda = at::hasCUDA() && at::getNumGPUs() > 0;
  a.mps = at::hasMPS();
  return a;
}

// torch.manual_seed(seed): the CPU generator (and every CUDA generator when present).
void manual_seed(uint64_t seed) {
  auto gen = at::detail::getDefaultCPUGenerator();
  {
    std::lock_guard<std::mutex> lock(gen.mutex());
    gen.set_current_seed(seed);
  }
  if (at::hasCUDA()) {
    for (size_t i = 0; i < at::getNumGPUs(); ++i) {
      auto cuda_gen = at::globalContext().defaultGenerator(at::Device(at::kCUDA, static_cast<c10::DeviceIndex>(i)));
      std::lock_guard<std::mutex> lock(cuda_gen.mutex());
      cuda_gen.set_current_seed(seed);
    }
  }
}

void check_finite_positive(double v, const char* name) {
  if (!std::isfinite(v) || v <= 0) {
    throw std::invalid_argument(std::string(name) + " must be a finite number > 0, got " + std::to_string(v));
  }
}

void validate_options(const GenerationOptions& o) {
  check_finite_positive(o.text_temp, "text_temp");
  check_finite_positive(o.waveform_temp, "waveform_temp");
  if (o.fine_temp) check_finite_positive(*o.fine_temp, "fine_temp");
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
  for (size_t i = 0; i < s.size(); ++i) {
    if (s[i] < 0 || s[i] >= generation::SEMANTIC_VOCAB_SIZE) {
      throw std::invalid_argument("semantic token " + std::to_string(i) + " is " + std::to_string(s[i]) +
                                  ", outside [0, 10000)");
    }
  }
}

void validate_codes(const CodebookTokens& t, int64_t min_rows, int64_t max_rows, const char* what) {
  to_codes(t);
  if (t.n_codebooks < min_rows || t.n_codebooks > max_rows || t.n_frames < 1) {
    throw std::invalid_argument(std::string(what) + " must have " + std::to_string(min_rows) + ".." +
                                std::to_string(max_rows) + " codebooks and at least one frame, got " +
                                std::to_string(t.n_codebooks) + " x " + std::to_string(t.n_frames));
  }
  for (int64_t v : t.data) {
    if (v < 0 || v >= generation::CODEBOOK_SIZE) {
      throw std::invalid_argument(std::string(what) + " holds code " + std::to_string(v) + ", outside [0, 1024)");
    }
  }
}

}  // namespace

class PipelineImpl {
 public:
  explicit PipelineImpl(const PipelineOptions& options) : options_(options) {
    if (options.num_threads < 0) {
      throw std::invalid_argument("num_threads must be >= 0, got " + std::to_string(options.num_threads));
    }
    const int threads = set_cpu_threads(options.num_threads);
    devices_ = choose_device(options.device, options.enable_mps, probe_devices());
    log().debug("device: models on {}, codec on {}, {} threads{}", device_name(devices_.models),
                device_name(devices_.codec), threads, options.offload_cpu ? ", CPU offload" : "");
  }

  Device device() const { return devices_.models; }

  void preload() {
    tokenizer();
    text_model();
    coarse_model();
    fine_model();
    codec();
  }

  std::vector<int64_t> tokenize(const std::string& text) {
    return tokenizer().encode(text::normalize_whitespace(text));
  }

  // Seeds torch's generator once for a public call (torch.manual_seed before the api call).
  void seed(const GenerationOptions& o) {
    uint64_t s = 0;
    if (o.seed) {
      s = *o.seed;
    } else {
      std::random_device rd;
      s = (static_cast<uint64_t>(rd()) << 31) ^ rd();
      log().debug("seed: {} (random)", s);
    }
    manual_seed(s);
  }

  std::optional<generation::History> history(const GenerationOptions& o) {
    HistoryPrompt prompt;
    if (o.history_prompt) {
      prompt = *o.history_prompt;
    } else if (!o.voice.empty()) {
      const std::string path = resolve_voice(o.voice, files(/*need_models=*/false).prompts_dir);
      prompt = load_history_prompt(path);
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

  SemanticTokens semantic(const std::string& text, const GenerationOptions& o, const generation::History* h) {
    const std::string normalized = text::normalize_whitespace(text);  // throws on invalid UTF-8
    if (normalized.empty()) throw std::invalid_argument("text is empty (nothing to say after whitespace clean-up)");
    files(/*need_models=*/true);  // report every missing file at once, before any loading
    double dropped = 0;
    const auto encoded = text::encode_for_bark(tokenizer(), normalized, &dropped);
    const auto& model = text_model();
    Placement place(*this, model_device(), [&](const at::Device& d) { text_->to(d); });
    generation::SemanticOptions so;
    so.sampling = {o.text_temp, o.top_k ? std::optional<int64_t>(*o.top_k) : std::nullopt,
                   o.top_p ? std::optional<double>(*o.top_p) : std::nullopt};
    so.min_eos_p = o.min_eos_p ? std::optional<double>(*o.min_eos_p) : std::nullopt;
    so.max_gen_duration_s = o.max_gen_duration_s;
    so.allow_early_stop = o.allow_early_stop;
    so.use_kv_caching = o.use_kv_caching;
    so.progress = progress(o, "semantic");
    const auto t0 = Clock::now();
    c10::InferenceMode guard;
    auto out = generation::generate_text_semantic(model, encoded, h ? &h->semantic : nullptr, so);
    if (!o.silent) {
      log().info("semantic: {} tokens ({:.2f}s of audio) in {:.2f}s", out.size(),
                 static_cast<double>(out.size()) / generation::SEMANTIC_RATE_HZ, seconds_since(t0));
    }
    return out;
  }

  CodebookTokens coarse(const SemanticTokens& semantic, const GenerationOptions& o, const generation::History* h) {
    validate_semantic(semantic);
    const auto& model = coarse_model();
    Placement place(*this, model_device(), [&](const at::Device& d) { coarse_->to(d); });
    generation::CoarseOptions co;
    co.sampling = {o.waveform_temp, o.top_k ? std::optional<int64_t>(*o.top_k) : std::nullopt,
                   o.top_p ? std::optional<double>(*o.top_p) : std::nullopt};
    co.max_coarse_history = o.max_coarse_history;
    co.sliding_window_len = o.sliding_window_len;
    co.use_kv_caching = o.use_kv_caching;
    co.progress = progress(o, "coarse");
    const auto t0 = Clock::now();
    c10::InferenceMode guard;
    auto out = generation::generate_coarse(model, semantic, h, co);
    const double secs = seconds_since(t0);
    if (!o.silent) {
      log().info("coarse: {} frames ({:.2f}s of audio) in {:.2f}s", out.cols,
                 static_cast<double>(out.cols) / generation::COARSE_RATE_HZ, secs);
    }
    return from_codes(out);
  }

  CodebookTokens fine(const CodebookTokens& coarse, const GenerationOptions& o, const generation::History* h) {
    validate_codes(coarse, 1, generation::N_FINE_CODEBOOKS - 1, "coarse tokens");
    const auto& model = fine_model();
    Placement place(*this, model_device(), [&](const at::Device& d) { fine_->to(d); });
    generation::FineOptions fo;
    fo.temp = o.fine_temp ? std::optional<double>(*o.fine_temp) : std::nullopt;
    fo.progress = progress(o, "fine");
    const auto t0 = Clock::now();
    c10::InferenceMode guard;
    auto out = generation::generate_fine(model, to_codes(coarse), h, fo);
    if (!o.silent) log().info("fine: {} frames in {:.2f}s", out.cols, seconds_since(t0));
    return from_codes(out);
  }

  Audio decode(const CodebookTokens& fine, bool silent, const ProgressCallback& cb) {
    validate_codes(fine, 1, codec().config().n_q, "fine tokens");
    const auto t0 = Clock::now();
    c10::InferenceMode guard;
    Audio audio;
    audio.samples = generation::codec_decode(codec(), to_codes(fine));
    audio.sample_rate = static_cast<int>(generation::SAMPLE_RATE);
    if (cb) cb("codec", 1, 1);
    if (!silent) {
      log().info("codec: {:.2f}s of audio in {:.2f}s", audio.duration_seconds(), seconds_since(t0));
    }
    return audio;
  }

 private:
  // Moves a model to the device for the duration of a stage when CPU offload is on.
  class Placement {
   public:
    Placement(PipelineImpl& p, const at::Device& device, std::function<void(const at::Device&)> move)
        : active_(p.options_.offload_cpu && !device.is_cpu()), move_(std::move(move)) {
      if (active_) move_(device);
    }
    ~Placement() {
      if (active_) move_(at::Device(at::kCPU));
    }
    Placement(const Placement&) = delete;
    Placement& operator=(const Placement&) = delete;

   private:
    bool active_;
    std::function<void(const at::Device&)> move_;
  };

  at::Device model_device() const { return to_at(devices_.models); }
  // Where a model lives while idle.
  at::Device home_device() const { return options_.offload_cpu ? at::Device(at::kCPU) : model_device(); }

  generation::StepProgress progress(const GenerationOptions& o, const char* stage) {
    if (!o.on_progress) return {};
    const ProgressCallback cb = o.on_progress;
    const std::string name = stage;
    return [cb, name](int64_t done, int64_t total) { cb(name, done, total); };
  }

  const ModelFiles& files(bool need_models) {
    if (!files_ || (need_models && !files_complete_)) {
      ModelFileNeeds need;
      need.text = need.coarse = need.fine = need.codec = need_models;
      need.vocab = need_models;
      files_ = locate_model_files(options_.model_dir, options_.use_small, need);
      files_complete_ = need_models;
    }
    return *files_;
  }

  const text::Tokenizer& tokenizer() {
    if (!tokenizer_) {
      const std::string path = files_ && !files_->vocab.empty() ? files_->vocab : locate_vocab(options_.model_dir);
      tokenizer_ = text::Tokenizer::from_vocab_file(path);
    }
    return *tokenizer_;
  }

  io::BarkCheckpoint read_checkpoint(const std::string& path, const char* what) {
    const auto t0 = Clock::now();
    auto ck = io::load_bark_checkpoint(path);
    log().info("{} model: loaded '{}' in {:.2f}s{}", what, path, seconds_since(t0),
               ck.best_val_loss ? fmt::format(" (best val loss {:.3f})", *ck.best_val_loss) : std::string());
    return ck;
  }

  const models::GPT& text_model() {
    if (!text_) {
      const auto ck = read_checkpoint(files(true).text, "text");
      const auto cfg = models::gpt_config_from_args(*ck.model_args, ck.path);
      if (cfg.input_vocab_size <= generation::SEMANTIC_INFER_TOKEN || cfg.output_vocab_size <= generation::SEMANTIC_PAD_TOKEN) {
        throw std::runtime_error("checkpoint '" + ck.path + "' is not a Bark text model (vocabularies " +
                                 std::to_string(cfg.input_vocab_size) + " / " + std::to_string(cfg.output_vocab_size) +
                                 "; expected 129600 / 10048 as in text_2.pt)");
      }
      text_ = std::make_unique<models::GPT>(cfg);
      text_->load(ck);
      if (options_.precision == Precision::Fp16) {
        text_->to_half();
        log().info("text model: fp16 weights (fast mode: outputs differ from upstream's)");
      }
      text_->to(home_device());
    }
    return *text_;
  }

  const models::GPT& coarse_model() {
    if (!coarse_) {
      const auto ck = read_checkpoint(files(true).coarse, "coarse");
      const auto cfg = models::gpt_config_from_args(*ck.model_args, ck.path);
      if (cfg.input_vocab_size <= generation::COARSE_INFER_TOKEN ||
          cfg.output_vocab_size < generation::SEMANTIC_VOCAB_SIZE + 2 * generation::CODEBOOK_SIZE) {
        throw std::runtime_error("checkpoint '" + ck.path + "' is not a Bark coarse model (vocabulary " +
                                 std::to_string(cfg.input_vocab_size) + "; expected 12096 as in coarse_2.pt)");
      }
      coarse_ = std::make_unique<models::GPT>(cfg);
      coarse_->load(ck);
      if (options_.precision == Precision::Fp16) {
        coarse_->to_half();
        log().info("coarse model: fp16 weights (fast mode: outputs differ from upstream's)");
      }
      coarse_->to(home_device());
    }
    return *coarse_;
  }

  const models::FineGPT& fine_model() {
    if (!fine_) {
      const auto ck = read_checkpoint(files(true).fine, "fine");
      const auto cfg = models::fine_config_from_args(*ck.model_args, ck.path);
      if (cfg.n_codes_total != generation::N_FINE_CODEBOOKS || cfg.input_vocab_size <= generation::CODEBOOK_SIZE ||
          cfg.block_size < generation::FINE_WINDOW) {
        throw std::runtime_error("checkpoint '" + ck.path + "' is not a Bark fine model (expected 8 codebooks, a "
                                 "vocabulary of 1056 and a block size of 1024 as in fine_2.pt)");
      }
      fine_ = std::make_unique<models::FineGPT>(cfg);
      fine_->load(ck);
      fine_->to(home_device());
    }
    return *fine_;
  }

  const models::Encodec& codec() {
    if (!codec_) {
      const std::string path = files(true).codec;
      const auto t0 = Clock::now();
      const auto state = io::load_state_dict_file(path);
      const auto cfg = models::infer_encodec_config(state, path);
      if (cfg.n_q < generation::N_FINE_CODEBOOKS || cfg.bins != generation::CODEBOOK_SIZE) {
        throw std::runtime_error("EnCodec checkpoint '" + path + "' has " + std::to_string(cfg.n_q) +
                                 " codebooks of " + std::to_string(cfg.bins) + " entries; Bark needs 8 of 1024");
      }
      codec_ = std::make_unique<models::Encodec>(cfg);
      codec_->load(state, path);
      log().info("codec: loaded '{}' in {:.2f}s", path, seconds_since(t0));
    }
    return *codec_;
  }

  PipelineOptions options_;
  DeviceChoice devices_;
  std::optional<ModelFiles> files_;
  bool files_complete_ = false;
  std::optional<text::Tokenizer> tokenizer_;
  std::unique_ptr<models::GPT> text_, coarse_;
  std::unique_ptr<models::FineGPT> fine_;
  std::unique_ptr<models::Encodec> codec_;
};

Pipeline::Pipeline(const PipelineOptions& options) : impl_(std::make_unique<PipelineImpl>(options)) {}
Pipeline::~Pipeline() = default;
Pipeline::Pipeline(Pipeline&&) noexcept = default;
Pipeline& Pipeline::operator=(Pipeline&&) noexcept = default;

void Pipeline::preload() { impl_->preload(); }

Device Pipeline::device() const { return impl_->device(); }

std::vector<int64_t> Pipeline::tokenize(const std::string& text) { return impl_->tokenize(text); }

GenerationResult Pipeline::generate_audio_full(const std::string& text, const GenerationOptions& options) {
  validate_options(options);
  const auto h = impl_->history(options);
  const auto t0 = Clock::now();
  impl_->seed(options);
  GenerationResult r;
  r.full.semantic_prompt = impl_->semantic(text, options, h ? &*h : nullptr);
  r.full.coarse_prompt = impl_->coarse(r.full.semantic_prompt, options, h ? &*h : nullptr);
  r.full.fine_prompt = impl_->fine(r.full.coarse_prompt, options, h ? &*h : nullptr);
  r.audio = impl_->decode(r.full.fine_prompt, options.silent, options.on_progress);
  if (!options.silent) {
    const double secs = seconds_since(t0);
    log().info("generated {:.2f}s of audio in {:.2f}s (real-time factor {:.2f})", r.audio.duration_seconds(), secs,
               r.audio.duration_seconds() > 0 ? secs / r.audio.duration_seconds() : 0.0);
  }
  return r;
}

Audio Pipeline::generate_audio(const std::string& text, const GenerationOptions& options) {
  return generate_audio_full(text, options).audio;
}

SemanticTokens Pipeline::text_to_semantic(const std::string& text, const GenerationOptions& options) {
  validate_options(options);
  const auto h = impl_->history(options);
  impl_->seed(options);
  return impl_->semantic(text, options, h ? &*h : nullptr);
}

GenerationResult Pipeline::semantic_to_waveform_full(const SemanticTokens& semantic, const GenerationOptions& options) {
  validate_options(options);
  validate_semantic(semantic);
  const auto h = impl_->history(options);
  impl_->seed(options);
  GenerationResult r;
  r.full.semantic_prompt = semantic;
  r.full.coarse_prompt = impl_->coarse(semantic, options, h ? &*h : nullptr);
  r.full.fine_prompt = impl_->fine(r.full.coarse_prompt, options, h ? &*h : nullptr);
  r.audio = impl_->decode(r.full.fine_prompt, options.silent, options.on_progress);
  return r;
}

Audio Pipeline::semantic_to_waveform(const SemanticTokens& semantic, const GenerationOptions& options) {
  return semantic_to_waveform_full(semantic, options).audio;
}

CodebookTokens Pipeline::generate_coarse(const SemanticTokens& semantic, const GenerationOptions& options) {
  validate_options(options);
  validate_semantic(semantic);
  const auto h = impl_->history(options);
  impl_->seed(options);
  return impl_->coarse(semantic, options, h ? &*h : nullptr);
}

CodebookTokens Pipeline::generate_fine(const CodebookTokens& coarse, const GenerationOptions& options) {
  validate_options(options);
  const auto h = impl_->history(options);
  impl_->seed(options);
  return impl_->fine(coarse, options, h ? &*h : nullptr);
}

Audio Pipeline::codec_decode(const CodebookTokens& fine) { return impl_->decode(fine, true, {}); }

void save_as_prompt(const std::string& path, const FullGeneration& full) {
  const std::string suffix = ".npz";
  if (path.size() < suffix.size() || path.compare(path.size() - suffix.size(), suffix.size(), suffix) != 0) {
    throw std::invalid_argument("save_as_prompt: path must end with .npz, got '" + path + "'");
  }
  save_history_prompt(path, full);
}

}  // namespace bark
