#include "generation/generation.h"

#include <ATen/Functions.h>
#include <ATen/TensorOperators.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstring>
#include <exception>
#include <functional>
#include <memory>
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

namespace {

// Runs the rows of a batched stage: rows whose next step needs the whole sequence (a prefill,
// or no KV cache) run it alone; every other row joins one GPT::decode_step per iteration.
// Rows that finish or fail leave, and the next job takes the free place (at most `max_batch`
// rows at a time). A row's exception (its progress callback's bark::Cancelled, a failure) ends
// that row only. Row must provide: done(), decodes(), next_token(), cache(), logit_range(),
// full_forward() (1-D logits), consume(1-D logits) and result().
template <class Row, class Out>
std::vector<RowResult<Out>> run_rows(const models::GPT& model, size_t n_jobs,
                                     const std::function<std::unique_ptr<Row>(size_t)>& make, int64_t max_batch,
                                     const char* stage, BatchStats* stats) {
  BatchStats local;
  BatchStats& st = stats != nullptr ? *stats : local;
  std::vector<RowResult<Out>> results(n_jobs);
  struct Active {
    size_t job;
    std::unique_ptr<Row> row;
  };
  std::vector<Active> active;
  size_t next = 0;
  max_batch = std::max<int64_t>(1, max_batch);
  const bool trace = log().should_log(spdlog::level::trace);
  const auto fail = [&](Active& a) {
    results[a.job].error = std::current_exception();
    a.row.reset();
  };
  for (int64_t iteration = 0;; ++iteration) {
    while (static_cast<int64_t>(active.size()) < max_batch && next < n_jobs) {
      try {
        active.push_back({next, make(next)});
      } catch (...) {
        results[next].error = std::current_exception();
      }
      ++next;
    }
    if (active.empty()) break;
    const auto t_step = Clock::now();
    std::vector<size_t> decoding;
    for (size_t i = 0; i < active.size(); ++i) {
      Row& row = *active[i].row;
      if (row.decodes()) {
        decoding.push_back(i);
        continue;
      }
      const auto t0 = Clock::now();
      try {
        row.consume(row.full_forward());
      } catch (...) {
        fail(active[i]);
      }
      st.full_forward_seconds += ms_since(t0) / 1000;
      ++st.full_forwards;
    }
    if (!decoding.empty()) {
      std::vector<int64_t> tokens;
      std::vector<models::KVCache*> caches;
      std::vector<std::pair<int64_t, int64_t>> ranges;
      for (size_t i : decoding) {
        tokens.push_back(active[i].row->next_token());
        caches.push_back(active[i].row->cache());
        ranges.push_back(active[i].row->logit_range());
      }
      std::vector<at::Tensor> logits;
      const auto t0 = Clock::now();
      try {
        logits = model.decode_step(tokens, caches, ranges);
      } catch (...) {
        for (size_t i : decoding) fail(active[i]);
      }
      if (!logits.empty()) {
        for (size_t k = 0; k < decoding.size(); ++k) {
          try {
            active[decoding[k]].row->consume(logits[k]);
          } catch (...) {
            fail(active[decoding[k]]);
          }
        }
      }
      st.decode_seconds += ms_since(t0) / 1000;
      ++st.decode_steps;
      st.decoded_tokens += static_cast<int64_t>(decoding.size());
    }
    if (trace) {
      log().trace("{} step {}: {} row(s), {} batched, {:.2f} ms", stage, iteration, active.size(), decoding.size(),
                  ms_since(t_step));
    }
    for (auto& a : active) {
      if (a.row && a.row->done()) {
        try {
          results[a.job].value = a.row->result();
        } catch (...) {
          results[a.job].error = std::current_exception();
        }
        a.row.reset();
      }
    }
    active.erase(std::remove_if(active.begin(), active.end(), [](const Active& a) { return !a.row; }), active.end());
  }
  return results;
}

template <class T>
T single(std::vector<RowResult<T>> results) {
  if (results.at(0).error) std::rethrow_exception(results[0].error);
  return std::move(results[0].value);
}

// only the logits that are sampled from: the semantic vocabulary and EOS (= pad id 10000)
constexpr int64_t kSemanticLogits = SEMANTIC_PAD_TOKEN + 1;

// generate_text_semantic's loop for one sequence, one step at a time.
class SemanticRow {
 public:
  SemanticRow(const models::GPT& model, const SemanticJob& job) : model_(model), o_(job.options) {
    TORCH_CHECK(job.encoded_text.size() == 256, "encoded_text must hold 256 ids");
    x_ = job.encoded_text;
    if (job.history != nullptr) {
      // lop off if history is too long, pad if needed
      std::vector<int64_t> h = tail(*job.history, 256);
      h.resize(256, SEMANTIC_PAD_TOKEN);
      x_.insert(x_.end(), h.begin(), h.end());
    } else {
      x_.insert(x_.end(), 256, SEMANTIC_PAD_TOKEN);
    }
    x_.push_back(SEMANTIC_INFER_TOKEN);
    prefix_ = x_.size();  // 513
    if (o_.use_kv_caching) cache_ = model.make_cache(1, model.config().block_size);
    // Progress total: the most tokens this call may generate.
    max_tokens_ = MAX_SEMANTIC_STEPS;
    if (o_.max_gen_duration_s) {
      max_tokens_ = std::min<int64_t>(
          max_tokens_, static_cast<int64_t>(std::floor(*o_.max_gen_duration_s * SEMANTIC_RATE_HZ)) + 1);
    }
  }

  bool done() const { return done_; }
  bool decodes() const { return o_.use_kv_caching && !cache_.empty(); }
  int64_t next_token() const { return x_.back(); }
  models::KVCache* cache() { return &cache_; }
  std::pair<int64_t, int64_t> logit_range() const { return {0, kSemanticLogits}; }

  at::Tensor full_forward() {
    return model_
        .forward(long_tensor(x_, model_.device()).view({1, -1}), true, o_.use_kv_caching ? &cache_ : nullptr, nullptr,
                 0, kSemanticLogits)[0][0];
  }

  void consume(const at::Tensor& logits) {
    const int64_t n = n_++;
    at::Tensor relevant = logits.slice(0, 0, SEMANTIC_VOCAB_SIZE);
    if (o_.allow_early_stop) {
      relevant = at::hstack({relevant, logits.slice(0, SEMANTIC_PAD_TOKEN, SEMANTIC_PAD_TOKEN + 1)});  // eos
    } else {
      relevant = relevant.contiguous();
    }
    if (o_.sampling.top_p || o_.sampling.top_k) relevant = filter_logits(relevant, o_.sampling);
    at::Tensor probs;
    const int64_t item_next = sample(relevant, o_.sampling, &probs).item<int64_t>();
    if (o_.allow_early_stop &&
        (item_next == SEMANTIC_VOCAB_SIZE ||
         (o_.min_eos_p && probs[-1].item<float>() >= static_cast<float>(*o_.min_eos_p)))) {
      done_ = true;
      report(o_.progress, n, n);
      return;
    }
    x_.push_back(item_next);
    tot_generated_duration_s_ += 1 / SEMANTIC_RATE_HZ;
    if (n_ >= MAX_SEMANTIC_STEPS) done_ = true;
    if (o_.max_gen_duration_s && tot_generated_duration_s_ > *o_.max_gen_duration_s) {
      done_ = true;
      report(o_.progress, n + 1, n + 1);
      return;
    }
    report(o_.progress, n + 1, std::max(max_tokens_, n + 1));
  }

  std::vector<int64_t> result() const {
    std::vector<int64_t> out(x_.begin() + static_cast<std::ptrdiff_t>(prefix_), x_.end());
    for (int64_t t : out) {
      if (t < 0 || t >= SEMANTIC_VOCAB_SIZE) throw std::runtime_error("semantic generation produced an invalid token");
    }
    return out;
  }

 private:
  const models::GPT& model_;
  SemanticOptions o_;
  std::vector<int64_t> x_;
  size_t prefix_ = 0;
  models::KVCache cache_;
  int64_t max_tokens_ = 0;
  int64_t n_ = 0;
  double tot_generated_duration_s_ = 0;
  bool done_ = false;
};

// generate_coarse's loop for one sequence, one step at a time (windows of sliding_window_len
// steps, each starting with a fresh KV cache).
class CoarseRow {
 public:
  CoarseRow(const models::GPT& model, const CoarseJob& job) : model_(model), o_(job.options) {
    const double ratio = kSemanticToCoarseRatio;
    max_semantic_history_ = static_cast<int64_t>(std::floor(o_.max_coarse_history / ratio));
    const std::vector<int64_t>& x_semantic = *job.semantic;
    std::vector<int64_t> x_semantic_history, x_coarse_history;
    if (job.history != nullptr) {
      const auto& sh = job.history->semantic;
      // _flatten_codebooks: interleave frames (Fortran ravel), codebook n offset by n * 1024,
      // then + SEMANTIC_VOCAB_SIZE
      const Codes& ch = job.history->coarse;
      std::vector<int64_t> flat(static_cast<size_t>(ch.rows * ch.cols));
      for (int64_t t = 0; t < ch.cols; ++t) {
        for (int64_t r = 0; r < ch.rows; ++r) {
          flat[static_cast<size_t>(t * ch.rows + r)] = ch.at(r, t) + r * CODEBOOK_SIZE + SEMANTIC_VOCAB_SIZE;
        }
      }
      const auto n_sh = static_cast<int64_t>(sh.size());
      const int64_t n_semantic_hist_provided =
          std::min({max_semantic_history_, n_sh - n_sh % 2,
                    static_cast<int64_t>(std::floor(static_cast<double>(flat.size()) / ratio))});
      const int64_t n_coarse_hist_provided = py_round(static_cast<double>(n_semantic_hist_provided) * ratio);
      x_semantic_history = tail(sh, n_semantic_hist_provided);
      x_coarse_history = tail(flat, n_coarse_hist_provided);
      // generation.py: "bit of a hack for time alignment (sounds better)": [:-2]
      x_coarse_history.resize(x_coarse_history.size() >= 2 ? x_coarse_history.size() - 2 : 0);
    }
    n_steps_ = py_round(
        std::floor(static_cast<double>(x_semantic.size()) * ratio / N_COARSE_CODEBOOKS) * N_COARSE_CODEBOOKS);
    if (!(n_steps_ > 0 && n_steps_ % N_COARSE_CODEBOOKS == 0)) {
      throw std::invalid_argument("semantic input too short to generate coarse tokens");
    }
    sem_ = x_semantic_history;
    sem_.insert(sem_.end(), x_semantic.begin(), x_semantic.end());
    coarse_ = x_coarse_history;
    n_history_ = coarse_.size();
    base_semantic_idx_ = static_cast<int64_t>(x_semantic_history.size());
    n_window_steps_ = static_cast<int64_t>(std::ceil(static_cast<double>(n_steps_) / o_.sliding_window_len));
    if (o_.use_kv_caching) cache_ = model.make_cache(1, model.config().block_size);
    start_window();
  }

  bool done() const { return n_step_ >= n_steps_; }
  bool decodes() const { return o_.use_kv_caching && !cache_.empty(); }
  int64_t next_token() const { return x_in_.back(); }
  models::KVCache* cache() { return &cache_; }
  std::pair<int64_t, int64_t> logit_range() const {
    const bool is_major_step = n_step_ % N_COARSE_CODEBOOKS == 0;
    const int64_t start = SEMANTIC_VOCAB_SIZE + (1 - static_cast<int64_t>(is_major_step)) * CODEBOOK_SIZE;
    return {start, start + CODEBOOK_SIZE};  // lm_head only over this step's codebook (1024 of 12096 rows)
  }

  at::Tensor full_forward() {
    const auto [begin, end] = logit_range();
    return model_
        .forward(long_tensor(x_in_, model_.device()).view({1, -1}), false, o_.use_kv_caching ? &cache_ : nullptr,
                 nullptr, begin, end)[0][0];
  }

  void consume(const at::Tensor& logits) {
    at::Tensor relevant = logits;
    if (o_.sampling.top_p || o_.sampling.top_k) relevant = filter_logits(relevant, o_.sampling);
    const int64_t item_next = sample(relevant, o_.sampling).item<int64_t>() + logit_range().first;
    coarse_.push_back(item_next);
    x_in_.push_back(item_next);
    ++n_step_;
    report(o_.progress, n_step_ / N_COARSE_CODEBOOKS, n_steps_ / N_COARSE_CODEBOOKS);
    if (++window_step_ == o_.sliding_window_len && !done()) {
      if (log().should_log(spdlog::level::trace)) {
        log().trace("coarse window {}/{}: {:.1f} ms", window_ + 1, n_window_steps_, ms_since(t_window_));
      }
      ++window_;
      start_window();
    }
  }

  Codes result() const {
    const std::vector<int64_t> gen(coarse_.begin() + static_cast<std::ptrdiff_t>(n_history_), coarse_.end());
    if (static_cast<int64_t>(gen.size()) != n_steps_) throw std::runtime_error("coarse generation: wrong length");
    Codes out;
    out.rows = N_COARSE_CODEBOOKS;
    out.cols = n_steps_ / N_COARSE_CODEBOOKS;
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

 private:
  // window: up to 256 semantic tokens padded on the right, infer token, coarse history
  void start_window() {
    t_window_ = Clock::now();
    window_step_ = 0;
    const int64_t semantic_idx =
        base_semantic_idx_ + py_round(static_cast<double>(n_step_) / kSemanticToCoarseRatio);
    const int64_t start = std::max<int64_t>(0, semantic_idx - max_semantic_history_);
    x_in_.clear();
    for (int64_t i = start; i < static_cast<int64_t>(sem_.size()) && i < start + 256; ++i) {
      x_in_.push_back(sem_[static_cast<size_t>(i)]);
    }
    x_in_.resize(256, COARSE_SEMANTIC_PAD_TOKEN);
    x_in_.push_back(COARSE_INFER_TOKEN);
    const int64_t hist_start = std::max<int64_t>(0, static_cast<int64_t>(coarse_.size()) - o_.max_coarse_history);
    x_in_.insert(x_in_.end(), coarse_.begin() + hist_start, coarse_.end());
    cache_.length = 0;  // a fresh KV cache per window
  }

  const models::GPT& model_;
  CoarseOptions o_;
  int64_t max_semantic_history_ = 0;
  std::vector<int64_t> sem_, coarse_, x_in_;
  size_t n_history_ = 0;
  int64_t base_semantic_idx_ = 0;
  int64_t n_steps_ = 0, n_step_ = 0, n_window_steps_ = 0, window_ = 0, window_step_ = 0;
  models::KVCache cache_;
  Clock::time_point t_window_;
};

}  // namespace

std::vector<RowResult<std::vector<int64_t>>> generate_text_semantic_batch(const models::GPT& model,
                                                                          const std::vector<SemanticJob>& jobs,
                                                                          int64_t max_batch, BatchStats* stats) {
  return run_rows<SemanticRow, std::vector<int64_t>>(
      model, jobs.size(), [&](size_t i) { return std::make_unique<SemanticRow>(model, jobs[i]); }, max_batch,
      "semantic", stats);
}

std::vector<int64_t> generate_text_semantic(const models::GPT& model, const std::vector<int64_t>& encoded_text,
                                            const std::vector<int64_t>* semantic_history,
                                            const SemanticOptions& options) {
  return single(generate_text_semantic_batch(model, {SemanticJob{encoded_text, semantic_history, options}}, 1));
}

std::vector<RowResult<Codes>> generate_coarse_batch(const models::GPT& model, const std::vector<CoarseJob>& jobs,
                                                    int64_t max_batch, BatchStats* stats) {
  return run_rows<CoarseRow, Codes>(
      model, jobs.size(), [&](size_t i) { return std::make_unique<CoarseRow>(model, jobs[i]); }, max_batch,
      "coarse", stats);
}

Codes generate_coarse(const models::GPT& model, const std::vector<int64_t>& x_semantic, const History* history,
                      const CoarseOptions& options) {
  return single(generate_coarse_batch(model, {CoarseJob{&x_semantic, history, options}}, 1));
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
  check_token_range(fine.data, codec.config().bins, "codec_decode: codes");
  // arr = torch.from_numpy(fine_tokens)[None].transpose(0, 1): (n_q, 1, T)
  const at::Tensor arr = at::tensor(fine.data, at::TensorOptions().dtype(at::kLong)).view({1, fine.rows, fine.cols}).transpose(0, 1);
  const at::Tensor emb = codec.quantizer_decode(arr);
  const at::Tensor out = codec.decode(emb).to(at::kCPU).contiguous().view({-1});
  const float* d = out.data_ptr<float>();
  return std::vector<float>(d, d + out.numel());
}

}  // namespace bark::generation
