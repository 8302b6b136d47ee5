// Private: what a Pipeline loads once and shares between calls: the model files found, the
// tokenizer, the four models. Each is loaded on first use behind its own lock (a failed load is
// retried by the next call) and then only read: calls get const references that stay valid for
// the store's lifetime.
#pragma once

#include <ATen/core/Tensor.h>

#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <string>

#include "bark/options.h"
#include "device.h"
#include "model_files.h"
#include "models/encodec.h"
#include "models/fine_gpt.h"
#include "models/gpt.h"
#include "text/tokenizer.h"

namespace bark::engine {

class ModelStore {
 public:
  ModelStore(const PipelineOptions& options, const DeviceChoice& devices);

  // The files of the model directory; with need_models, every checkpoint must exist (all
  // missing files are reported at once).
  ModelFiles files(bool need_models) const;
  const text::Tokenizer& tokenizer() const;

  // `announce`: log the load at info level (false for calls with GenerationOptions::silent).
  const models::GPT& text(bool announce) const;
  const models::GPT& coarse(bool announce) const;
  const models::FineGPT& fine(bool announce) const;
  const models::Encodec& codec(bool announce) const;

  at::Device model_device() const;
  Precision precision() const { return options_.precision; }
  at::Device codec_device() const;

  // CPU offload: moves a loaded model between the CPU and the device. Only while the caller
  // holds the Pipeline's call lock (offload serialises calls).
  void place_text(const at::Device& d) const;
  void place_coarse(const at::Device& d) const;
  void place_fine(const at::Device& d) const;

 private:
  at::Device home_device() const;  // where a model lives while idle
  // Fast modes: int8 weights exist on the CPU only (std::invalid_argument elsewhere).
  void check_fast_device() const;
  // Reads a GPT (the text or coarse model, from our checkpoint or the transformers layout),
  // lets `check` refuse its config (given the file that holds the config), loads it (converted
  // in the fast modes) and puts it on its home device.
  std::unique_ptr<models::GPT> load_gpt(
      bool coarse, const char* what, bool announce,
      const std::function<void(const models::GPTConfig&, const std::string& config_path)>& check) const;

  PipelineOptions options_;
  DeviceChoice devices_;
  mutable std::mutex files_mutex_, tokenizer_mutex_, text_mutex_, coarse_mutex_, fine_mutex_, codec_mutex_;
  mutable std::optional<ModelFiles> files_;
  mutable bool files_complete_ = false;
  mutable std::unique_ptr<text::Tokenizer> tokenizer_;
  mutable std::unique_ptr<models::GPT> text_, coarse_;
  mutable std::unique_ptr<models::FineGPT> fine_;
  mutable std::unique_ptr<models::Encodec> codec_;
};

at::Device to_at(Device d);

// The weight formats of each precision (PipelineOptions::precision): text and coarse models,
// and the fine model. Fp32: nothing converted.
models::WeightPlan gpt_weight_plan(Precision precision);
models::WeightPlan fine_weight_plan(Precision precision);

}  // namespace bark::engine
