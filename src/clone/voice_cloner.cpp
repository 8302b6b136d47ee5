// bark::VoiceCloner: recording -> (HuBERT -> quantizer) semantic tokens + EnCodec codes.
// Follows the recipe of gitmylo's bark-voice-cloning-HuBERT-quantizer README step by step, so
// that its outputs match the Python recipe's: encodec.utils.convert_audio (mean of channels,
// transforms.Resample to 24 kHz), EncodecModel.encode at 6 kbps for the codes, then
// CustomHubert.forward(wav, input_sample_hz=24000) (functional.resample to 16 kHz, layer 9) and
// CustomTokenizer.get_token for the tokens.
#include "bark/voice_cloner.h"

#include <ATen/Context.h>
#include <ATen/Functions.h>
#include <c10/core/InferenceMode.h>

#include <chrono>
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <mutex>
#include <optional>
#include <stdexcept>
#include <string>
#include <vector>

#include "bark/history_prompt.h"
#include "clone/resample.h"
#include "cpu_threads.h"
#include "io/checkpoint.h"
#include "io/hf_bark.h"
#include "io/hubert_files.h"
#include "logging.h"
#include "model_files.h"
#include "models/encodec.h"
#include "models/hubert.h"
#include "models/hubert_quantizer.h"

namespace bark {
namespace fs = std::filesystem;

namespace {

constexpr const char* HUBERT_DIR_NAME = "hubert-base-ls960";
constexpr const char* QUANTIZER_FILE_NAME = "quantifier_hubert_base_ls960_14.pth";
constexpr int64_t HUBERT_OUTPUT_LAYER = 9;  // hubert_manager / CustomHubert(output_layer=9)
constexpr int64_t HUBERT_SAMPLE_RATE = 16'000;
constexpr int64_t CODEC_SAMPLE_RATE = 24'000;
constexpr int64_t N_CODEBOOKS = 8;          // EnCodec at 6 kbps (bark's codec bandwidth)
constexpr int64_t SEMANTIC_VOCAB_SIZE = 10'000;

double seconds_since(std::chrono::steady_clock::time_point t0) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
}

struct CloneModels {
  models::Hubert hubert;
  models::HubertQuantizer quantizer;
  models::Encodec codec;
};

// The first model directory in which `name` exists (as a directory or a regular file).
std::string find_in_model_dirs(const std::string& model_dir, const std::string& name, bool directory,
                               std::string* looked) {
  for (const auto& c : model_search_dirs(model_dir)) {
    const fs::path p = fs::path(c.path) / name;
    std::error_code ec;
    if (directory ? fs::is_directory(p, ec) : fs::is_regular_file(p, ec)) return p.string();
    *looked += (looked->empty() ? "" : ", ") + p.string() + " (" + c.origin + ")";
  }
  return "";
}

}  // namespace

class VoiceClonerImpl {
 public:
  explicit VoiceClonerImpl(const VoiceClonerOptions& o) : options_(o) {
    check_num_threads(o.num_threads);
    if (o.num_threads >= 0) set_cpu_threads(o.num_threads);
    if (o.device == Device::Cuda && !at::hasCUDA()) {
      throw std::runtime_error("device 'cuda' requested for voice cloning but CUDA is not available");
    }
    if (o.device == Device::Mps) throw std::runtime_error("voice cloning runs on cpu or cuda, not mps");
    device_ = (o.device == Device::Cuda || (o.device == Device::Auto && at::hasCUDA())) ? at::Device(at::kCUDA)
                                                                                        : at::Device(at::kCPU);
  }

  const CloneModels& models() const {
    std::lock_guard<std::mutex> lock(mutex_);
    if (!models_) models_ = load_models();
    return *models_;
  }

  HistoryPrompt clone(const Audio& sample) const;

 private:
  std::shared_ptr<const CloneModels> load_models() const;

  VoiceClonerOptions options_;
  at::Device device_{at::kCPU};
  mutable std::mutex mutex_;
  mutable std::shared_ptr<const CloneModels> models_;
};

std::shared_ptr<const CloneModels> VoiceClonerImpl::load_models() const {
  std::string hubert_dir = options_.hubert_dir, quantizer = options_.quantizer_path, missing;
  if (hubert_dir.empty()) {
    std::string looked;
    hubert_dir = find_in_model_dirs(options_.model_dir, HUBERT_DIR_NAME, true, &looked);
    if (hubert_dir.empty()) missing += "HuBERT directory " + std::string(HUBERT_DIR_NAME) + " (looked for " + looked + ")";
  }
  if (quantizer.empty()) {
    std::string looked;
    quantizer = find_in_model_dirs(options_.model_dir, QUANTIZER_FILE_NAME, false, &looked);
    if (quantizer.empty()) {
      missing += (missing.empty() ? "" : "; ") + std::string("quantizer ") + QUANTIZER_FILE_NAME + " (looked for " + looked + ")";
    }
  }
  std::string codec_path = find_model_file(ModelFile::Codec, options_.model_dir, false);
  std::string codec_config;  // config.json when the codec comes from the transformers layout
  if (codec_path.empty()) {
    ModelFileNeeds none;
    none.text = none.coarse = none.fine = none.codec = none.vocab = false;
    for (bool small : {false, true}) {
      const ModelFiles f = locate_model_files(options_.model_dir, small, none);
      if (!f.hf_config.empty()) {
        codec_path = f.codec;
        codec_config = f.hf_config;
        break;
      }
    }
  }
  if (codec_path.empty()) {
    std::string looked;
    for (const auto& c : model_file_candidates(ModelFile::Codec, options_.model_dir, false)) {
      looked += (looked.empty() ? "" : ", ") + c.path;
    }
    missing += (missing.empty() ? "" : "; ") + std::string("EnCodec weights ") + ENCODEC_FILE_NAME + " (looked for " + looked +
               "; nor a Hugging Face Bark snapshot)";
  }
  if (!missing.empty()) throw std::runtime_error("voice cloning model files not found: " + missing);

  auto t0 = std::chrono::steady_clock::now();
  io::HubertFiles hf = io::load_hubert_files(hubert_dir);
  if (hf.config.num_hidden_layers < HUBERT_OUTPUT_LAYER) {
    throw std::runtime_error("HuBERT '" + hubert_dir + "' has " + std::to_string(hf.config.num_hidden_layers) +
                             " layers; voice cloning reads layer " + std::to_string(HUBERT_OUTPUT_LAYER));
  }
  io::QuantizerFile qf = io::load_quantizer_file(quantizer);
  if (qf.config.input_size != hf.config.hidden_size) {
    throw std::runtime_error("quantizer '" + quantizer + "' takes " + std::to_string(qf.config.input_size) +
                             "-dim features but HuBERT '" + hubert_dir + "' gives " + std::to_string(hf.config.hidden_size));
  }
  if (qf.config.output_size != SEMANTIC_VOCAB_SIZE) {
    throw std::runtime_error("quantizer '" + quantizer + "' has " + std::to_string(qf.config.output_size) +
                             " outputs; Bark's semantic vocabulary has 10000");
  }
  models::TensorSource state;
  std::optional<io::HfBarkPart> hf_codec;
  if (codec_config.empty()) {
    state = io::load_state_dict_file(codec_path);
  } else {
    hf_codec = io::open_hf_bark_part(codec_path, io::BarkPart::Codec, io::read_hf_bark_config(codec_config));
    state = hf_codec->weights;  // declared shapes
  }
  const auto codec_cfg = models::infer_encodec_config(state);
  if (!codec_cfg.has_encoder || codec_cfg.n_q < N_CODEBOOKS || codec_cfg.bins != 1024) {
    throw std::runtime_error("EnCodec checkpoint '" + codec_path + "' has no encoder or fewer than 8 codebooks of 1024");
  }
  auto m = std::shared_ptr<CloneModels>(new CloneModels{models::Hubert(hf.config, HUBERT_OUTPUT_LAYER),
                                                        models::HubertQuantizer(qf.config), models::Encodec(codec_cfg)});
  m->hubert.load(hf.weights);
  m->quantizer.load(qf.weights);
  if (hf_codec) {
    hf_codec->read(m->codec.named_parameters());
    state = hf_codec->weights;
  }
  m->codec.load(state);
  m->hubert.to(device_);
  m->quantizer.to(device_);
  m->codec.to(device_);
  log().info("clone: loaded HuBERT '{}', quantizer '{}' (version {}), EnCodec '{}' in {:.2f}s", hubert_dir, quantizer,
             qf.config.version, codec_path, seconds_since(t0));
  return m;
}

HistoryPrompt VoiceClonerImpl::clone(const Audio& sample) const {
  if (sample.sample_rate <= 0) throw std::invalid_argument("voice sample: sample rate " + std::to_string(sample.sample_rate));
  const double seconds = sample.duration_seconds();
  if (seconds < CLONE_MIN_SECONDS) {
    char buf[160];
    std::snprintf(buf, sizeof buf, "voice sample is %.2f s long; at least %.0f s of speech are needed (about 10 s is best)",
                  seconds, CLONE_MIN_SECONDS);
    throw std::invalid_argument(buf);
  }
  for (float x : sample.samples) {
    if (!std::isfinite(x)) throw std::invalid_argument("voice sample contains NaN or infinite samples");
  }
  const CloneModels& m = models();
  c10::InferenceMode guard;
  const auto t0 = std::chrono::steady_clock::now();
  const at::Tensor wav = at::from_blob(const_cast<float*>(sample.samples.data()),
                                       {1, static_cast<int64_t>(sample.samples.size())}, at::kFloat)
                             .to(device_);
  // convert_audio(wav, sr, 24000, 1): transforms.Resample
  const at::Tensor wav24 = clone::resample(wav, sample.sample_rate, CODEC_SAMPLE_RATE, clone::KernelPrecision::Float64);
  // codes: EncodecModel.encode(wav[None]) at 6 kbps -> (8, T)
  const at::Tensor emb = m.codec.encode(wav24.unsqueeze(0));                          // (1, D, T)
  const at::Tensor codes = m.codec.quantizer_encode(emb, N_CODEBOOKS).select(1, 0).cpu();  // (8, T)
  const double t_codes = seconds_since(t0);
  // semantic: CustomHubert.forward(wav, input_sample_hz=24000): functional.resample to 16 kHz
  const at::Tensor wav16 = clone::resample(wav24, CODEC_SAMPLE_RATE, HUBERT_SAMPLE_RATE);
  const at::Tensor features = m.hubert.forward(wav16).select(0, 0);  // (T, 768)
  const double t_hubert = seconds_since(t0);
  const at::Tensor tokens = m.quantizer.tokens(features).cpu();       // (T,)
  log().debug("clone: EnCodec codes {:.2f}s, HuBERT {:.2f}s, quantizer {:.2f}s", t_codes, t_hubert - t_codes,
              seconds_since(t0) - t_hubert);

  HistoryPrompt prompt;
  int64_t n_sem = tokens.size(0), n_codes = codes.size(1);
  // generation.py generate_coarse asserts round(coarse_len / semantic_len, 1) == 1.5 (75 Hz codes
  // over 49.9 Hz tokens): drop the excess at the start, Bark conditions on the end.
  int64_t sem_start = 0, code_start = 0;
  const auto ratio = [&] { return static_cast<double>(n_codes - code_start) / static_cast<double>(n_sem - sem_start); };
  while (n_sem - sem_start > 0 && n_codes - code_start > 0 && !(ratio() > 1.45 && ratio() < 1.55)) {
    if (ratio() >= 1.55) ++code_start;
    else ++sem_start;
  }
  if (n_sem - sem_start <= 0 || n_codes - code_start <= 0) throw std::runtime_error("voice sample gave no tokens");
  const auto* tp = tokens.data_ptr<int64_t>();
  prompt.semantic_prompt.assign(tp + sem_start, tp + n_sem);
  const at::Tensor kept = codes.slice(1, code_start).contiguous();
  prompt.fine_prompt.n_codebooks = N_CODEBOOKS;
  prompt.fine_prompt.n_frames = kept.size(1);
  prompt.fine_prompt.data.assign(kept.data_ptr<int64_t>(), kept.data_ptr<int64_t>() + kept.numel());
  prompt.coarse_prompt.n_codebooks = 2;
  prompt.coarse_prompt.n_frames = kept.size(1);
  prompt.coarse_prompt.data.assign(prompt.fine_prompt.data.begin(), prompt.fine_prompt.data.begin() + 2 * kept.size(1));
  validate_history_prompt(prompt);
  log().info("clone: {:.2f} s of audio -> {} semantic tokens, {} x {} codes in {:.2f}s", seconds,
             prompt.semantic_prompt.size(), N_CODEBOOKS, kept.size(1), seconds_since(t0));
  return prompt;
}

VoiceCloner::VoiceCloner(const VoiceClonerOptions& options) : impl_(std::make_unique<VoiceClonerImpl>(options)) {}
VoiceCloner::~VoiceCloner() = default;
VoiceCloner::VoiceCloner(VoiceCloner&&) noexcept = default;
VoiceCloner& VoiceCloner::operator=(VoiceCloner&&) noexcept = default;

void VoiceCloner::load() const { impl_->models(); }

HistoryPrompt VoiceCloner::clone(const Audio& sample) const { return impl_->clone(sample); }

}  // namespace bark
