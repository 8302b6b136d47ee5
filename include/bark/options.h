// Options for bark::Pipeline. Defaults are those of upstream bark/api.py and generation.py.
#pragma once

#include <cstdint>
#include <functional>
#include <optional>
#include <string>

#include "bark/export.h"
#include "bark/generator.h"
#include "bark/progress.h"
#include "bark/types.h"

namespace bark {

enum class Device {
  Auto,  // CUDA if available, else MPS when enabled, else CPU (generation.py _grab_best_device)
  Cpu,
  Cuda,
  Mps,
};

// Parses "auto", "cpu", "cuda", "mps" (case-insensitive). Throws std::invalid_argument.
BARK_API Device parse_device(const std::string& name);
BARK_API const char* device_name(Device device);

// Weight precision of the GPT models (the codec always runs in fp32).
enum class Precision {
  // Exact mode: fp32 as upstream; same tokens as upstream Bark for the same seed.
  Fp32,
  // Fast mode: the text and coarse models' Linear weights, lm_heads and token embeddings are
  // stored in fp16 (half the memory) and KV-cached decoding reads them as fp16 (half the memory
  // traffic; fp32 arithmetic). Faster on the CPU, but outputs drift from upstream's: see
  // docs/PERFORMANCE.md for the measured speed-up and drift. The fine model stays fp32.
  Fp16,
  // Fastest mode: the Linear weights and lm_heads of the text, coarse and fine models are stored
  // as int8 with one fp32 scale per output channel (symmetric, quantized at load from the fp32
  // checkpoint: a quarter of the memory and memory traffic), the text and coarse token
  // embeddings in fp16; activations and accumulation stay fp32. Outputs drift more than fp16's
  // (docs/PERFORMANCE.md). CPU only.
  Int8,
};

// Parses "fp32", "fp16", "int8" (case-insensitive). Throws std::invalid_argument.
BARK_API Precision parse_precision(const std::string& name);
BARK_API const char* precision_name(Precision precision);

// Largest PipelineOptions::num_threads accepted: 4 x the logical CPUs of the machine
// (std::thread::hardware_concurrency(); 4 x 1 when unknown). More only adds contention.
BARK_API int max_num_threads();

// Smallest sampling temperature accepted: dividing the logits by less can overflow them (and
// such a temperature is greedy decoding anyway).
constexpr float MIN_TEMPERATURE = 1e-4f;

struct PipelineOptions {
  // Directory holding the checkpoints, vocab.txt and prompts/ (see README, "Model directory").
  // Empty: $BARK_MODEL_DIR, then $XDG_CACHE_HOME/bark-cpp (~/.cache/bark-cpp).
  std::string model_dir;
  // Use the small checkpoints text.pt / coarse.pt / fine.pt instead of text_2.pt / ...
  bool use_small = false;
  // Device to run on. Auto follows upstream's _grab_best_device.
  Device device = Device::Auto;
  // Allow Device::Auto to choose Apple MPS (upstream SUNO_ENABLE_MPS).
  bool enable_mps = false;
  // Keep idle sub-models on the CPU and move each to the device only while it runs
  // (upstream SUNO_OFFLOAD_CPU). Moving models is not compatible with concurrent use, so with
  // offload on a GPU the calls of a Pipeline run one at a time. No effect on the CPU.
  bool offload_cpu = false;
  // Intra-op threads of libtorch (and OpenBLAS) used by each call: a process-wide setting, applied
  // when the Pipeline is constructed (the last Pipeline constructed wins). 0 = number of physical
  // cores. Concurrent calls each use up to this many threads: a server that runs N calls at once
  // on C cores should use about C / N here. At most max_num_threads().
  int num_threads = 0;
  // Fp32 reproduces upstream exactly; Fp16 and Int8 are the optional fast modes (see Precision).
  Precision precision = Precision::Fp32;
  // Batching of concurrent calls (CPU): when > 1, the semantic and coarse stages of calls made
  // at the same time from different threads (a server's requests) run together, up to this many
  // sequences per decoding step, each weight read once for all. A call waits at most
  // batch_window_ms for others to join. Every call's tokens stay exactly those it gets alone.
  // 1 = off. (Pipeline::generate_audio_batch batches explicitly, whatever this says.)
  int max_batch = 1;
  double batch_window_ms = 5.0;
};

struct GenerationOptions {
  // Sampling temperature for the semantic stage (bark text_temp). Every temperature must be
  // finite and >= MIN_TEMPERATURE.
  float text_temp = 0.7f;
  // Sampling temperature for the coarse stage (bark waveform_temp).
  float waveform_temp = 0.7f;
  // Temperature of the fine stage; api.py always uses 0.5. Unset = argmax.
  std::optional<float> fine_temp = 0.5f;
  // Voice: preset name ("v2/en_speaker_6", "announcer") or path to a .npz. Empty = none.
  std::string voice;
  // In-memory history prompt; takes precedence over `voice` when set.
  std::optional<HistoryPrompt> history_prompt;
  // Seed of the call's own sampling generator, as torch.manual_seed(seed) before the call in
  // upstream. Unset (and no `generator`): a fresh random seed (logged at debug level).
  std::optional<uint64_t> seed;
  // A generator shared across calls, advanced by each (see bark::Generator); takes precedence
  // over `seed`. Unset: a fresh generator per call.
  std::optional<Generator> generator;
  // Nucleus / top-k filtering of the semantic and coarse stages (upstream: off).
  std::optional<float> top_p;
  std::optional<int> top_k;
  // Semantic early stop: stop when p(EOS) >= min_eos_p (upstream 0.2). Unset: only on sampled EOS.
  std::optional<float> min_eos_p = 0.2f;
  bool allow_early_stop = true;
  // Stop semantic generation after this many seconds of audio (~49.9 tokens/s). Unset: 768 tokens max.
  std::optional<double> max_gen_duration_s;
  // KV caching in the semantic and coarse stages (api.py: on).
  bool use_kv_caching = true;
  // Coarse stage context (generation.py generate_coarse): history 60..630, window 60.
  int max_coarse_history = 630;
  int sliding_window_len = 60;
  // Fine stage: compute only the real frames of a clip shorter than the fine model's 1024-frame
  // window (upstream pads it to 1024 frames and computes and samples the padding too, which
  // changes the tokens). Unset: on in the fast precisions (Fp16, Int8), off in exact mode.
  std::optional<bool> fine_fast;
  // No info-level logs from this call (model loads included); warnings and errors still go out.
  bool silent = false;
  // Called at every decoding step; return false to cancel (bark::Cancelled). May be empty.
  ProgressCallback on_progress;
};

}  // namespace bark
