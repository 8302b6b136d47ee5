#include "engine/model_store.h"

#include <chrono>
#include <stdexcept>

#include "generation/constants.h"
#include "io/checkpoint.h"
#include "io/hf_bark.h"
#include "logging.h"

namespace bark::engine {
namespace {

using Clock = std::chrono::steady_clock;

double seconds_since(Clock::time_point t0) { return std::chrono::duration<double>(Clock::now() - t0).count(); }

// Info when the call asked for it, else debug: a `silent` call says nothing below warning.
template <typename... Args>
void announce_load(bool announce, fmt::format_string<Args...> f, Args&&... args) {
  log().log(announce ? spdlog::level::info : spdlog::level::debug, f, std::forward<Args>(args)...);
}

// A model's weights opened for loading, from either layout: upstream state-dict names and
// declared shapes; read() then fills the tensors the model's slots ask for. One path through
// the models whatever the files look like.
struct OpenedWeights {
  std::string name;         // for the log line: "'text_2.pt'", "'model.safetensors' (semantic)"
  std::string config_path;  // where the model's config comes from (the checkpoint, or config.json)
  std::string note;         // " (best val loss 0.123)" or ""
  models::TensorSource weights;
  // with a fast mode's plan, each weight is converted as it is read
  std::function<void(models::TensorSource&, const models::ParamSlots&, const models::WeightPlan&)> read;
  std::optional<io::BarkCheckpoint> checkpoint;  // our layout: model_args
  std::optional<io::HfBarkConfig> hf;             // the transformers layout: config.json
};

OpenedWeights open_weights(const ModelFiles& files, io::BarkPart part, const std::string& path) {
  OpenedWeights w;
  if (!files.hf_config.empty()) {
    w.hf = io::read_hf_bark_config(files.hf_config);
    w.name = "'" + path + "' (" + io::hf_prefix(part) + ")";
    w.config_path = files.hf_config;
    auto opened = std::make_shared<io::HfBarkPart>(io::open_hf_bark_part(path, part, *w.hf));
    w.weights = opened->weights;  // no tensor data read yet (or only mapped)
    w.read = [opened](models::TensorSource& weights, const models::ParamSlots& slots, const models::WeightPlan& plan) {
      opened->read(slots, plan);
      weights = opened->weights;
    };
    return w;
  }
  w.name = "'" + path + "'";
  w.config_path = path;
  std::shared_ptr<io::TensorArchive> archive;
  if (part == io::BarkPart::Codec) {
    auto file = io::open_state_dict_file(path);  // declared shapes only
    w.weights = std::move(file.weights);
    archive = file.archive;
  } else {
    w.checkpoint = io::open_bark_checkpoint(path);  // no tensor data read yet
    w.weights = std::move(w.checkpoint->weights);
    archive = w.checkpoint->archive;
    if (w.checkpoint->best_val_loss) w.note = fmt::format(" (best val loss {:.3f})", *w.checkpoint->best_val_loss);
  }
  w.read = [archive](models::TensorSource& weights, const models::ParamSlots& slots, const models::WeightPlan& plan) {
    io::read_weights(*archive, weights, slots, plan);
  };
  return w;
}

void announce_weights(const OpenedWeights& w, const char* what, bool announce, Clock::time_point t0) {
  announce_load(announce, "{} model: loaded {} in {:.2f}s{}", what, w.name, seconds_since(t0), w.note);
}

std::runtime_error not_a(const std::string& path, const std::string& what, const std::string& why) {
  return std::runtime_error("checkpoint '" + path + "' is not a Bark " + what + " model: " + why);
}

}  // namespace

at::Device to_at(Device d) {
  switch (d) {
    case Device::Cuda: return at::Device(at::kCUDA);
    case Device::Mps: return at::Device(at::kMPS);
    default: return at::Device(at::kCPU);
  }
}

ModelStore::ModelStore(const PipelineOptions& options, const DeviceChoice& devices)
    : options_(options), devices_(devices) {}

at::Device ModelStore::model_device() const { return to_at(devices_.models); }
at::Device ModelStore::codec_device() const { return to_at(devices_.codec); }
at::Device ModelStore::home_device() const {
  return options_.offload_cpu ? at::Device(at::kCPU) : model_device();
}

ModelFiles ModelStore::files(bool need_models) const {
  std::lock_guard<std::mutex> lock(files_mutex_);
  if (!files_ || (need_models && !files_complete_)) {
    ModelFileNeeds need;
    need.text = need.coarse = need.fine = need.codec = need.vocab = need_models;
    files_ = locate_model_files(options_.model_dir, options_.use_small, need);
    files_complete_ = need_models;
  }
  return *files_;
}

const text::Tokenizer& ModelStore::tokenizer() const {
  std::lock_guard<std::mutex> lock(tokenizer_mutex_);
  if (!tokenizer_) {
    std::string path;
    {
      std::lock_guard<std::mutex> files_lock(files_mutex_);
      if (files_ && !files_->vocab.empty()) path = files_->vocab;
    }
    if (path.empty()) path = locate_vocab(options_.model_dir);
    tokenizer_ = std::make_unique<text::Tokenizer>(text::Tokenizer::from_vocab_file(path));
  }
  return *tokenizer_;
}

models::WeightPlan gpt_weight_plan(Precision precision) {
  switch (precision) {
    case Precision::Fp32: return {};
    case Precision::Fp16: return {models::WeightFormat::Fp16, models::WeightFormat::Fp16};
    case Precision::Int8: return {models::WeightFormat::Int8, models::WeightFormat::Fp16};
  }
  return {};
}

models::WeightPlan fine_weight_plan(Precision precision) {
  // fp16 leaves the fine model in fp32: it is GEMM-bound and fp16 weights are widened for GEMMs
  // anyway; int8 stores its Linear weights in a quarter of the memory (widened likewise)
  if (precision == Precision::Int8) return {models::WeightFormat::Int8, models::WeightFormat::Fp32};
  return {};
}

void ModelStore::check_fast_device() const {
  if (options_.precision == Precision::Int8 && !model_device().is_cpu()) {
    throw std::invalid_argument(std::string("precision int8 runs on the CPU only, the models run on ") +
                                model_device().str() + " (use device cpu, or precision fp16)");
  }
}

std::unique_ptr<models::GPT> ModelStore::load_gpt(
    bool coarse, const char* what, bool announce,
    const std::function<void(const models::GPTConfig&, const std::string&)>& check) const {
  const auto t0 = Clock::now();
  const ModelFiles f = files(true);
  auto w = open_weights(f, coarse ? io::BarkPart::Coarse : io::BarkPart::Semantic, coarse ? f.coarse : f.text);
  const auto cfg = w.hf ? (coarse ? w.hf->coarse : w.hf->semantic) : io::read_gpt_config(*w.checkpoint);
  check(cfg, w.config_path);
  auto model = std::make_unique<models::GPT>(cfg);  // parameters on the meta device: nothing allocated
  const auto plan = gpt_weight_plan(options_.precision);
  if (plan.linear != models::WeightFormat::Fp32) check_fast_device();
  // fast modes: each weight converted as it is read (no whole fp32 model in memory)
  w.read(w.weights, model->named_parameters(), plan);
  model->load(w.weights);
  announce_weights(w, what, announce, t0);
  if (plan.linear != models::WeightFormat::Fp32) {
    announce_load(announce, "{} model: {} weights (fast mode: outputs differ from upstream's)", what,
                  models::weight_format_name(plan.linear));
  }
  model->to(home_device());
  return model;
}

const models::GPT& ModelStore::text(bool announce) const {
  std::lock_guard<std::mutex> lock(text_mutex_);
  if (!text_) {
    text_ = load_gpt(/*coarse=*/false, "text", announce, [&](const models::GPTConfig& cfg, const std::string& path) {
      if (cfg.input_vocab_size <= generation::SEMANTIC_INFER_TOKEN || cfg.output_vocab_size <= generation::SEMANTIC_PAD_TOKEN) {
        throw not_a(path, "text", "vocabularies " + std::to_string(cfg.input_vocab_size) + " / " +
                                      std::to_string(cfg.output_vocab_size) + ", expected 129600 / 10048 as in text_2.pt");
      }
      // 256 merged text+history positions, the infer token and up to 768 generated tokens, the
      // last of which is never fed back: 257 + 767 positions.
      const int64_t need = 257 + generation::MAX_SEMANTIC_STEPS - 1;
      if (cfg.block_size < need) {
        throw not_a(path, "text", "block_size " + std::to_string(cfg.block_size) + " < " + std::to_string(need) +
                                      " positions the semantic stage needs");
      }
    });
  }
  return *text_;
}

const models::GPT& ModelStore::coarse(bool announce) const {
  std::lock_guard<std::mutex> lock(coarse_mutex_);
  if (!coarse_) {
    coarse_ = load_gpt(/*coarse=*/true, "coarse", announce, [&](const models::GPTConfig& cfg, const std::string& path) {
      if (cfg.input_vocab_size <= generation::COARSE_INFER_TOKEN ||
          cfg.output_vocab_size < generation::SEMANTIC_VOCAB_SIZE + 2 * generation::CODEBOOK_SIZE) {
        throw not_a(path, "coarse", "vocabulary " + std::to_string(cfg.input_vocab_size) + ", expected 12096 as in coarse_2.pt");
      }
      // the default window: 256 semantic + infer token + 630 history + 60 generated - 1
      const int64_t need = 257 + 630 + 60 - 1;
      if (cfg.block_size < need) {
        throw not_a(path, "coarse", "block_size " + std::to_string(cfg.block_size) + " < " + std::to_string(need) +
                                        " positions the coarse stage needs");
      }
    });
  }
  return *coarse_;
}

const models::FineGPT& ModelStore::fine(bool announce) const {
  std::lock_guard<std::mutex> lock(fine_mutex_);
  if (!fine_) {
    const auto t0 = Clock::now();
    const ModelFiles f = files(true);
    auto w = open_weights(f, io::BarkPart::Fine, f.fine);
    const auto cfg = w.hf ? w.hf->fine : io::read_fine_config(*w.checkpoint);
    if (cfg.n_codes_total != generation::N_FINE_CODEBOOKS || cfg.input_vocab_size <= generation::CODEBOOK_SIZE ||
        cfg.block_size < generation::FINE_WINDOW) {
      throw not_a(w.config_path, "fine", "expected 8 codebooks, a vocabulary of 1056 and a block size of 1024 as in fine_2.pt");
    }
    auto model = std::make_unique<models::FineGPT>(cfg);
    const auto plan = fine_weight_plan(options_.precision);
    if (plan.linear != models::WeightFormat::Fp32) check_fast_device();
    w.read(w.weights, model->named_parameters(), plan);
    model->load(w.weights);
    announce_weights(w, "fine", announce, t0);
    if (plan.linear != models::WeightFormat::Fp32) {
      announce_load(announce, "fine model: {} weights (fast mode: outputs differ from upstream's)",
                    models::weight_format_name(plan.linear));
    }
    model->to(home_device());
    fine_ = std::move(model);
  }
  return *fine_;
}

const models::Encodec& ModelStore::codec(bool announce) const {
  std::lock_guard<std::mutex> lock(codec_mutex_);
  if (!codec_) {
    const ModelFiles f = files(true);
    const std::string path = f.codec;
    const auto t0 = Clock::now();
    auto w = open_weights(f, io::BarkPart::Codec, path);
    const auto cfg = models::infer_encodec_config(w.weights);
    if (cfg.n_q < generation::N_FINE_CODEBOOKS || cfg.bins != generation::CODEBOOK_SIZE) {
      throw std::runtime_error("EnCodec checkpoint '" + path + "' has " + std::to_string(cfg.n_q) + " codebooks of " +
                               std::to_string(cfg.bins) + " entries; Bark needs 8 of 1024");
    }
    auto model = std::make_unique<models::Encodec>(cfg);
    w.read(w.weights, model->named_parameters(), {});
    model->load(w.weights);
    // generation.py puts the codec on the models' device, except under MPS (it stays on the CPU)
    model->to(codec_device());
    announce_load(announce, "codec: loaded {} in {:.2f}s (on {})", w.name, seconds_since(t0), device_name(devices_.codec));
    codec_ = std::move(model);
  }
  return *codec_;
}

void ModelStore::place_text(const at::Device& d) const {
  std::lock_guard<std::mutex> lock(text_mutex_);
  if (text_) text_->to(d);
}
void ModelStore::place_coarse(const at::Device& d) const {
  std::lock_guard<std::mutex> lock(coarse_mutex_);
  if (coarse_) coarse_->to(d);
}
void ModelStore::place_fine(const at::Device& d) const {
  std::lock_guard<std::mutex> lock(fine_mutex_);
  if (fine_) fine_->to(d);
}

}  // namespace bark::engine
