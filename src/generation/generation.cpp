#include "generation/generation.h"

#include <ATen/Functions.h>
#include <ATen/TensorOperators.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstring>
#include <limits>
#include <numeric>
#include <stdexcept>

#include "generation/constants.h"
#include "generation/numpy_float.h"
#include "logging.h"

namespace bark::generation {
namespace {

// generation.py: COARSE_RATE_HZ / SEMANTIC_RATE_HZ * N_COARSE_CODEBOOKS, in double as Python.
const double kSemanticToCoarseRatio = COARSE_RATE_HZ / SEMANTIC_RATE_HZ * N_COARSE_CODEBOOKS;

at::Tensor long_tensor(const std::vector<int64_t>& v, const at::Device& device) {
  return at::tensor(v, at::TensorOptions().dtype(at::kLong)).to(device);
}

void report(const StepProgress& progress, int64_t done, int64_t total) {
  if (progress) progress(done, total);
}

// numpy a[-n:] for a 1-D sequence (n == 0 gives the whole sequence, as in Python).
std::vector<int64_t> tail(const std::vector<int64_t>& v, int64_t n) {
  if (n <= 0 || n >= static_cast<int64_t>(v.size())) return v;
  return std::vector<int64_t>(v.end() - n, v.end());
}

using Clock = std::chrono::steady_clock;

double ms_since(Clock::time_point t0) { return std::chrono::duration<double, std::milli>(Clock::now() - t0).count(); }

c10::optional<at::Generator> generator_or_default(const at::Generator& g) {
  return g.defined() ? c10::optional<at::Generator>(g) : c10::nullopt;
}

// Sample one index from softmax(logits / temp) with torch.multinomial, as upstream.
at::Tensor sample(const at::Tensor& relevant_logits, const SamplingOptions& o, at::Tensor* probs_out = nullptr) {
  at::Tensor probs = at::softmax(relevant_logits / o.temp, -1);
  at::Tensor next = at::multinomial(probs, 1, /*replacement=*/false, generator_or_default(o.generator));
  if (probs_out != nullptr) *probs_out = probs;
  return next;
}

}  // namespace

int64_t py_round(double x) {
  const double r = std::round(x);
  if (std::fabs(x - std::trunc(x)) == 0.5) {  // tie: to even
    const double down = std::floor(x);
    return static_cast<int64_t>(std::fmod(down, 2.0) == 0.0 ? down : down + 1.0);
  }
  return static_cast<int64_t>(r);
}

at::Tensor filter_logits(at::Tensor logits, const SamplingOptions& options) {
  if (options.top_p) {
    // generation.py's top_p branch, run in numpy on the CPU:
    //   sorted_indices = np.argsort(relevant_logits)[::-1]
    //   cumulative_probs = np.cumsum(softmax(sorted_logits))    # scipy.special.softmax
    //   sorted_indices_to_remove = cumulative_probs > top_p, shifted right by one, [0] = False
    // with numpy's own float32 exp, summation order and argsort tie order (numpy_float.h), so
    // that the same logits are removed even when a tie or a rounding sits at the cut.
    const at::Device device = logits.device();
    at::Tensor cpu = logits.detach().to(at::kCPU).to(at::kFloat).contiguous();
    const int64_t n = cpu.numel();
    float* data = cpu.data_ptr<float>();
    const std::vector<int64_t> ascending = numpy_float::argsort(data, n);
    const auto sorted_index = [&](int64_t i) { return ascending[static_cast<size_t>(n - 1 - i)]; };
    // softmax(sorted_logits) = exp(x - amax(x)) / sum(exp(x - amax(x))), all float32
    const float max_v = n > 0 ? data[sorted_index(0)] : 0.0f;
    std::vector<float> e(static_cast<size_t>(n));
    for (int64_t i = 0; i < n; ++i) e[static_cast<size_t>(i)] = numpy_float::exp(data[sorted_index(i)] - max_v);
    const float sum = numpy_float::sum(e.data(), n);
    // numpy compares the float32 cumulative sums with top_p cast to float32
    const float top_p = static_cast<float>(*options.top_p);
    float cumulative = 0.0f;
    bool prev_remove = false;
    std::vector<int64_t> to_remove;
    for (int64_t i = 0; i < n; ++i) {
      const float p = e[static_cast<size_t>(i)] / sum;
      cumulative = i == 0 ? p : cumulative + p;  // np.cumsum: sequential float32
      const bool remove_here = cumulative > top_p;
      if (i > 0 && prev_remove) to_remove.push_back(sorted_index(i));  // shifted right by one
      prev_remove = remove_here;
    }
    for (int64_t idx : to_remove) data[idx] = -std::numeric_limits<float>::infinity();
    logits = cpu.to(device);
  }
  if (options.top_k) {
    const int64_t k = std::min<int64_t>(*options.top_k, logits.size(-1));
    const at::Tensor v = std::get<0>(at::topk(logits, k));
    logits.masked_fill_(logits < v[-1], -std::numeric_limits<double>::infinity());
  }
  return logits;
}

std::vector<int64_t> generate_text_semantic(const models::GPT& model, const std::vector<int64_t>& encoded_text,
                                            const std::vector<int64_t>* semantic_history,
                                            const SemanticOptions& options) {
  TORCH_CHECK(encoded_text.size() == 256, "encoded_text must hold 256 ids");
  std::vector<int64_t> x = encoded_text;
  if (semantic_history != nullptr) {
    // lop off if history is too long, pad if needed
    std::vector<int64_t> h = tail(*semantic_history, 256);
    h.resize(256, SEMANTIC_PAD_TOKEN);
    x.insert(x.end(), h.begin(), h.end());
  } else {
    x.insert(x.end(), 256, SEMANTIC_PAD_TOKEN);
  }
  x.push_back(SEMANTIC_INFER_TOKEN);
  const size_t prefix = x.size();  // 513

  const at::Device device = model.device();
  models::KVCache cache;
  if (options.use_kv_caching) cache = model.make_cache(1, model.config().block_size);
  double tot_generated_duration_s = 0;
  // Progress total: the most tokens this call may generate.
  int64_t max_tokens = MAX_SEMANTIC_STEPS;
  if (options.max_gen_duration_s) {
    max_tokens = std::min<int64_t>(
        max_tokens, static_cast<int64_t>(std::floor(*options.max_gen_duration_s * SEMANTIC_RATE_HZ)) + 1);
  }
  const bool trace = log().should_log(spdlog::level::trace);
  for (int64_t n = 0; n < MAX_SEMANTIC_STEPS; ++n) {
    const auto t_step = Clock::now();
    at::Tensor logits;
    // only the logits that are sampled from: the semantic vocabulary and EOS (= pad id 10000)
    constexpr int64_t n_logits = SEMANTIC_PAD_TOKEN + 1;
    if (options.use_kv_caching && !cache.empty()) {
      logits = model.forward(long_tensor({x.back()}, device).view({1, 1}), true, &cache, nullptr, 0, n_logits);
    } else {
      logits = model.forward(long_tensor(x, device).view({1, -1}), true, options.use_kv_caching ? &cache : nullptr,
                             nullptr, 0, n_logits);
    }
    at::Tensor relevant = logits[0][0].slice(0, 0, SEMANTIC_VOCAB_SIZE);
    if (options.allow_early_stop) {
      relevant = at::hstack({relevant, logits[0][0].slice(0, SEMANTIC_PAD_TOKEN, SEMANTIC_PAD_TOKEN + 1)});  // eos
    } else {
      relevant = relevant.contiguous();
    }
    if (options.sampling.top_p || options.sampling.top_k) relevant = filter_logits(relevant, options.sampling);
    at::Tensor probs;
    const int64_t item_next = sample(relevant, options.sampling, &probs).item<int64_t>();
    if (trace) log().trace("semantic step {}: {:.2f} ms", n, ms_since(t_step));
    if (options.allow_early_stop &&
        (item_next == SEMANTIC_VOCAB_SIZE ||
         (options.min_eos_p && probs[-1].item<float>() >= static_cast<float>(*options.min_eos_p)))) {
      report(options.progress, n, n);
      break;
    }
    x.push_back(item_next);
    tot_generated_duration_s += 1 / SEMANTIC_RATE_HZ;
    if (options.max_gen_duration_s && tot_generated_duration_s > *options.max_gen_duration_s) {
      report(options.progress, n + 1, n + 1);
      break;
    }
    report(options.progress, n + 1, std::max(max_tokens, n + 1));
  }
  std::vector<int64_t> out(x.begin() + static_cast<std::ptrdiff_t>(prefix), x.end());
  for (int64_t t : out) {
    if (t < 0 || t >= SEMANTIC_VOCAB_SIZE) throw std::runtime_error("semantic generation produced an invalid token");
  }
  return out;
}

Codes generate_coarse(const models::GPT& model, const std::vector<int64_t>& x_semantic, const History* history,
                      const CoarseOptions& options) {
  const double ratio = kSemanticToCoarseRatio;
  const auto max_semantic_history = static_cast<int64_t>(std::floor(options.max_coarse_history / ratio));
  std::vector<int64_t> x_semantic_history, x_coarse_history;
  if (history != nullptr) {
    const auto& sh = history->semantic;
    // _flatten_codebooks: interleave frames (Fortran ravel), codebook n offset by n * 1024,
    // then + SEMANTIC_VOCAB_SIZE
    const Codes& ch = history->coarse;
    std::vector<int64_t> flat(static_cast<size_t>(ch.rows * ch.cols));
    for (int64_t t = 0; t < ch.cols; ++t) {
      for (int64_t r = 0; r < ch.rows; ++r) {
        flat[static_cast<size_t>(t * ch.rows + r)] = ch.at(r, t) + r * CODEBOOK_SIZE + SEMANTIC_VOCAB_SIZE;
      }
    }
    const auto n_sh = static_cast<int64_t>(sh.size());
    const int64_t n_semantic_hist_provided =
        std::min({max_semantic_history, n_sh - n_sh % 2,
                  static_cast<int64_t>(std::floor(static_cast<double>(flat.size()) / ratio))});
    const int64_t n_coarse_hist_provided = py_round(static_cast<double>(n_semantic_hist_provided) * ratio);
    x_semantic_history = tail(sh, n_semantic_hist_provided);
    x_coarse_history = tail(flat, n_coarse_hist_provided);
    // generation.py: "bit of a hack for time alignment (sounds better)": [:-2]
    x_coarse_history.resize(x_coarse_history.size() >= 2 ? x_coarse_history.size() - 2 : 0);
  }
  const int64_t n_steps = py_round(
      std::floor(static_cast<double>(x_semantic.size()) * ratio / N_COARSE_CODEBOOKS) * N_COARSE_CODEBOOKS);
  if (!(n_steps > 0 && n_steps % N_COARSE_CODEBOOKS == 0)) {
    throw std::invalid_argument("semantic input too short to generate coarse tokens");
  }
  std::vector<int64_t> sem = x_semantic_history;
  sem.insert(sem.end(), x_semantic.begin(), x_semantic.end());
  std::vector<int64_t> coarse = x_coarse_history;
  const auto base_semantic_idx = static_cast<int64_t>(x_semantic_history.size());
  const at::Device device = model.device();
  const auto n_window_steps = static_cast<int64_t>(std::ceil(static_cast<double>(n_steps) / options.sliding_window_len));
  int64_t n_step = 0;
  models::KVCache cache;
  if (options.use_kv_caching) cache = model.make_cache(1, model.config().block_size);
  const bool trace = log().should_log(spdlog::level::trace);
  const int64_t n_frames = n_steps / N_COARSE_CODEBOOKS;
  for (int64_t w = 0; w < n_window_steps; ++w) {
    const auto t_window = Clock::now();
    const int64_t semantic_idx = base_semantic_idx + py_round(static_cast<double>(n_step) / ratio);
    // window: up to 256 semantic tokens padded on the right, infer token, coarse history
    const int64_t start = std::max<int64_t>(0, semantic_idx - max_semantic_history);
    std::vector<int64_t> x_in;
    for (int64_t i = start; i < static_cast<int64_t>(sem.size()) && i < start + 256; ++i) {
      x_in.push_back(sem[static_cast<size_t>(i)]);
    }
    x_in.resize(256, COARSE_SEMANTIC_PAD_TOKEN);
    x_in.push_back(COARSE_INFER_TOKEN);
    const int64_t hist_start = std::max<int64_t>(0, static_cast<int64_t>(coarse.size()) - options.max_coarse_history);
    x_in.insert(x_in.end(), coarse.begin() + hist_start, coarse.end());
    cache.length = 0;  // a fresh KV cache per window
    for (int64_t s = 0; s < options.sliding_window_len; ++s) {
      if (n_step >= n_steps) continue;
      const bool is_major_step = n_step % N_COARSE_CODEBOOKS == 0;
      const int64_t logit_start_idx = SEMANTIC_VOCAB_SIZE + (1 - static_cast<int64_t>(is_major_step)) * CODEBOOK_SIZE;
      const int64_t logit_end_idx = SEMANTIC_VOCAB_SIZE + (2 - static_cast<int64_t>(is_major_step)) * CODEBOOK_SIZE;
      // lm_head only over this step's codebook slice (1024 of 12096 rows)
      at::Tensor logits;
      if (options.use_kv_caching && !cache.empty()) {
        logits = model.forward(long_tensor({x_in.back()}, device).view({1, 1}), false, &cache, nullptr,
                               logit_start_idx, logit_end_idx);
      } else {
        logits = model.forward(long_tensor(x_in, device).view({1, -1}), false, options.use_kv_caching ? &cache : nullptr,
                               nullptr, logit_start_idx, logit_end_idx);
      }
      at::Tensor relevant = logits[0][0];
      if (options.sampling.top_p || options.sampling.top_k) relevant = filter_logits(relevant, options.sampling);
      const int64_t item_next = sample(relevant, options.sampling).item<int64_t>() + logit_start_idx;
      coarse.push_back(item_next);
      x_in.push_back(item_next);
      ++n_step;
      report(options.progress, n_step / N_COARSE_CODEBOOKS, n_frames);
    }
    if (trace) log().trace("coarse window {}/{}: {:.1f} ms", w + 1, n_window_steps, ms_since(t_window));
  }
  const std::vector<int64_t> gen(coarse.begin() + static_cast<std::ptrdiff_t>(x_coarse_history.size()), coarse.end());
  if (static_cast<int64_t>(gen.size()) != n_steps) throw std::runtime_error("coarse generation: wrong length");
  Codes out;
  out.rows = N_COARSE_CODEBOOKS;
  out.cols = n_steps / N_COARSE_CODEBOOKS;
  out.data.resize(gen.size());
  for (int64_t t = 0; t < out.cols; ++t) {
    for (int64_t r = 0; r < out.rows; ++r) {
      const int64_t v = gen[static_cast<size_t>(t * out.rows + r)] - SEMANTIC_VOCAB_SIZE - r * CODEBOOK_SIZE;
      if (v < 0 || v >= CODEBOOK_SIZE) throw std::runtime_error("coarse generation produced an invalid code");
      out.data[static_cast<size_t>(r * out.cols + t)] = v;
    }
  }
  return out;
}

Codes generate_fine(const models::FineGPT& model, const Codes& x_coarse_gen, const History* history,
                    const FineOptions& options) {
  if (x_coarse_gen.rows < 1 || x_coarse_gen.rows > N_FINE_CODEBOOKS - 1 || x_coarse_gen.cols <= 0) {
    throw std::invalid_argument("generate_fine: coarse codes must be (1..7, T>0), got (" +
                                std::to_string(x_coarse_gen.rows) + ", " + std::to_string(x_coarse_gen.cols) + ")");
  }
  const int64_t n_coarse = x_coarse_gen.rows;
  const int64_t T = x_coarse_gen.cols;
  int64_t n_history = 0;
  if (history != nullptr) n_history = std::min<int64_t>(history->fine.cols, FINE_STEP);
  const int64_t body = n_history + T;
  // upstream pads a clip shorter than a window to FINE_WINDOW frames of CODEBOOK_SIZE; the fast
  // variant runs one window of the clip's own length instead (the padding frames are never
  // computed or sampled)
  const int64_t n_remove_from_end = body < FINE_WINDOW && !options.fast ? FINE_WINDOW - body : 0;
  const int64_t L = body + n_remove_from_end;
  const int64_t window = std::min<int64_t>(FINE_WINDOW, L);
  // in_arr: (L, 8) int32 as upstream's torch.tensor(in_arr.T); 1024 pads the missing codebooks
  at::Tensor in_arr = at::full({L, N_FINE_CODEBOOKS}, CODEBOOK_SIZE, at::TensorOptions().dtype(at::kInt));
  int32_t* p = in_arr.data_ptr<int32_t>();
  if (history != nullptr) {
    const Codes& fh = history->fine;
    for (int64_t t = 0; t < n_history; ++t) {
      for (int64_t r = 0; r < N_FINE_CODEBOOKS; ++r) {
        p[t * N_FINE_CODEBOOKS + r] = static_cast<int32_t>(fh.at(r, fh.cols - n_history + t));
      }
    }
  }
  for (int64_t t = 0; t < T; ++t) {
    for (int64_t r = 0; r < n_coarse; ++r) {
      p[(n_history + t) * N_FINE_CODEBOOKS + r] = static_cast<int32_t>(x_coarse_gen.at(r, t));
    }
  }
  const int64_t n_loops =
      std::max<int64_t>(0, static_cast<int64_t>(std::ceil(static_cast<double>(T - (FINE_WINDOW - n_history)) / FINE_STEP))) + 1;
  in_arr = in_arr.to(model.device());
  const bool trace = log().should_log(spdlog::level::trace);
  for (int64_t n = 0; n < n_loops; ++n) {
    const auto t_window = Clock::now();
    const int64_t start_idx = std::min(n * FINE_STEP, L - window);
    // (a window shorter than FINE_WINDOW is the only one: it fills everything after the history)
    const int64_t start_fill_idx = window < FINE_WINDOW ? n_history : std::min(n_history + n * FINE_STEP, L - FINE_STEP);
    const int64_t rel_start_fill_idx = start_fill_idx - start_idx;
    // a view: writing predictions into the buffer writes into in_arr, as upstream
    const at::Tensor in_buffer = in_arr.slice(0, start_idx, start_idx + window).unsqueeze(0);
    // frames whose codebooks are all final: those before this window's fill start, and every
    // frame once the last window is done
    const int64_t final_before = std::clamp<int64_t>(start_fill_idx - n_history, 0, T);
    for (int64_t nn = n_coarse; nn < N_FINE_CODEBOOKS; ++nn) {
      const at::Tensor logits = model.forward(nn, in_buffer);
      at::Tensor codebook_preds;
      if (!options.temp) {
        codebook_preds = at::argmax(logits[0].slice(0, rel_start_fill_idx).slice(1, 0, CODEBOOK_SIZE), -1);
      } else {
        const at::Tensor relevant = logits[0].slice(1, 0, CODEBOOK_SIZE) / *options.temp;
        const at::Tensor probs = at::softmax(relevant, -1);
        codebook_preds = at::multinomial(probs.slice(0, rel_start_fill_idx, window), 1, /*replacement=*/false,
                                         generator_or_default(options.generator))
                             .reshape({-1});
      }
      in_buffer[0].slice(0, rel_start_fill_idx).select(1, nn).copy_(codebook_preds.to(at::kInt));
      const bool window_done = nn == N_FINE_CODEBOOKS - 1;
      report(options.progress, window_done && n == n_loops - 1 ? T : final_before, T);
    }
    if (trace) log().trace("fine window {}/{}: {:.1f} ms", n + 1, n_loops, ms_since(t_window));
  }
  const at::Tensor result = in_arr.to(at::kCPU).contiguous();
  const int32_t* r = result.data_ptr<int32_t>();
  Codes out;
  out.rows = N_FINE_CODEBOOKS;
  out.cols = T;
  out.data.resize(static_cast<size_t>(N_FINE_CODEBOOKS * T));
  for (int64_t c = 0; c < N_FINE_CODEBOOKS; ++c) {
    for (int64_t t = 0; t < T; ++t) {
      const int64_t v = r[(n_history + t) * N_FINE_CODEBOOKS + c];
      if (v < 0 || v >= CODEBOOK_SIZE) throw std::runtime_error("fine generation produced an invalid code");
      out.data[static_cast<size_t>(c * T + t)] = v;
    }
  }
  return out;
}

std::vector<float> codec_decode(const models::Encodec& codec, const Codes& fine) {
  if (fine.rows < 1 || fine.cols < 1) throw std::invalid_argument("codec_decode: empty codes");
  if (fine.rows > codec.config().n_q) {
    throw std::invalid_argument("codec_decode: " + std::to_string(fine.rows) + " codebooks but the codec has " +
                                std::to_string(codec.config().n_q));
  }
  for (int64_t v : fine.data) {
    if (v < 0 || v >= codec.config().bins) {
      throw std::invalid_argument("codec_decode: code " + std::to_string(v) + " outside [0, " +
                                  std::to_string(codec.config().bins) + ")");
    }
  }
  // arr = torch.from_numpy(fine_tokens)[None].transpose(0, 1): (n_q, 1, T)
  const at::Tensor arr = at::tensor(fine.data, at::TensorOptions().dtype(at::kLong)).view({1, fine.rows, fine.cols}).transpose(0, 1);
  const at::Tensor emb = codec.quantizer_decode(arr);
  const at::Tensor out = codec.decode(emb).to(at::kCPU).contiguous().view({-1});
  const float* d = out.data_ptr<float>();
  return std::vector<float>(d, d + out.numel());
}

}  // namespace bark::generation
