// The engine: one Pipeline shared by threads, per-call generators, progress and cancellation,
// the log handler, errors at the API boundary (fixture models, CPU).
#include <ATen/Functions.h>
#include <catch2/catch.hpp>
#include <unistd.h>

#include <atomic>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <mutex>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "bark/bark.h"
#include "engine/errors.h"
#include "fixture_models.h"
#include "test_common.h"

namespace fs = std::filesystem;
using Catch::Matchers::Contains;

namespace {

bark::PipelineOptions fixture_options(int threads = 1) { return bark_test::fixture_pipeline_options(threads); }

bark::GenerationOptions quiet(uint64_t seed) {
  bark::GenerationOptions o;
  o.seed = seed;
  o.silent = true;
  o.max_gen_duration_s = 1.0;  // short runs: the fixture models would otherwise speak ~15 s
  return o;
}

// Captures what the process writes to file descriptor 2 while alive (the library logs there).
class StderrCapture {
 public:
  StderrCapture() {
    std::fflush(stderr);
    path_ = bark_test::temp_dir("stderr_capture") / "stderr.txt";
    saved_ = ::dup(2);
    std::FILE* f = std::fopen(path_.c_str(), "w");
    ::dup2(::fileno(f), 2);
    std::fclose(f);
  }
  ~StderrCapture() { restore(); }
  std::string text() {
    restore();
    std::ifstream in(path_);
    std::stringstream ss;
    ss << in.rdbuf();
    return ss.str();
  }

 private:
  void restore() {
    if (saved_ < 0) return;
    std::fflush(stderr);
    ::dup2(saved_, 2);
    ::close(saved_);
    saved_ = -1;
  }
  fs::path path_;
  int saved_ = -1;
};

struct RestoreLogging {
  bark::LogLevel level = bark::get_log_level();
  ~RestoreLogging() {
    bark::set_log_handler({});
    bark::set_log_level(level);
  }
};

struct CustomError {
  int code;
};

}  // namespace

TEST_CASE("4 threads x 3 rounds on one Pipeline give exactly the sequential results", "[unit][engine]") {
  const bark::Pipeline pipe(fixture_options());
  const std::vector<std::string> texts = {"Hello there.", "Bonjour, comment allez-vous ?", "One, two, three.",
                                          "The quick brown fox."};
  constexpr int kThreads = 4, kRounds = 3;
  const auto options_of = [&](int t, int round) {
    auto o = quiet(static_cast<uint64_t>(100 + 10 * t + round));
    if (t % 2 == 1) o.voice = "v2/en_speaker_" + std::to_string(t);
    return o;
  };
  // sequential: one call after another
  std::vector<bark::GenerationResult> expected;
  for (int round = 0; round < kRounds; ++round) {
    for (int t = 0; t < kThreads; ++t) expected.push_back(pipe.generate_audio_full(texts[t], options_of(t, round)));
  }
  // concurrent: 4 threads, each running its 3 rounds, all on the same Pipeline
  std::vector<bark::GenerationResult> got(expected.size());
  std::vector<std::string> errors(kThreads);
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] {
      try {
        for (int round = 0; round < kRounds; ++round) {
          got[static_cast<size_t>(round * kThreads + t)] = pipe.generate_audio_full(texts[t], options_of(t, round));
        }
      } catch (const std::exception& e) {
        errors[t] = e.what();
      }
    });
  }
  for (auto& th : threads) th.join();
  for (const auto& e : errors) CHECK(e.empty());
  int identical = 0;
  for (size_t i = 0; i < expected.size(); ++i) {
    INFO("call " << i);
    CHECK(got[i].full.semantic_prompt == expected[i].full.semantic_prompt);
    CHECK(got[i].full.coarse_prompt.data == expected[i].full.coarse_prompt.data);
    CHECK(got[i].full.fine_prompt.data == expected[i].full.fine_prompt.data);
    CHECK(got[i].audio.samples == expected[i].audio.samples);
    identical += got[i].audio.samples == expected[i].audio.samples;
  }
  CHECK(identical == kThreads * kRounds);
  // and the seeds really differ: not every call produced the same tokens
  CHECK(expected[0].full.semantic_prompt != expected[4].full.semantic_prompt);
}

TEST_CASE("a shared bark::Generator advances across calls, seed gives a fresh one per call", "[unit][engine]") {
  const bark::Pipeline pipe(fixture_options());
  auto o = quiet(7);
  const auto a = pipe.text_to_semantic("Hello there.", o);
  const auto b = pipe.text_to_semantic("Hello there.", o);
  CHECK(a == b);  // a seed is a fresh generator per call
  o.seed.reset();
  o.generator = bark::Generator(7);
  const auto c = pipe.text_to_semantic("Hello there.", o);
  const auto d = pipe.text_to_semantic("Hello there.", o);
  CHECK(c == a);  // Generator(7) starts where seed 7 does
  CHECK(d != c);  // ... and the second call continues it
  // copies share the state; manual_seed re-seeds every copy
  bark::Generator g(7);
  const bark::Generator copy = g;
  o.generator = copy;
  pipe.text_to_semantic("Hello there.", o);
  g.manual_seed(7);
  CHECK(copy.seed() == 7);
  CHECK(pipe.text_to_semantic("Hello there.", o) == a);
}

TEST_CASE("progress: every stage reports in its units, done never decreases, ends at total", "[unit][engine]") {
  const bark::Pipeline pipe(fixture_options());
  auto o = quiet(3);
  std::vector<bark::Progress> seen;
  o.on_progress = [&](const bark::Progress& p) {
    seen.push_back(p);
    return true;
  };
  const auto r = pipe.generate_audio_full("Hello there.", o);
  REQUIRE_FALSE(seen.empty());
  const bark::Stage order[] = {bark::Stage::Semantic, bark::Stage::Coarse, bark::Stage::Fine, bark::Stage::Codec};
  size_t i = 0;
  for (bark::Stage stage : order) {
    INFO(bark::stage_name(stage));
    int64_t last_done = -1, calls = 0;
    bark::Progress last;
    for (; i < seen.size() && seen[i].stage == stage; ++i, ++calls) {
      CHECK(seen[i].done >= last_done);
      CHECK(seen[i].done <= seen[i].total);
      last_done = seen[i].done;
      last = seen[i];
    }
    REQUIRE(calls > 0);
    CHECK(last.done == last.total);
    switch (stage) {
      case bark::Stage::Semantic:
        CHECK(last.total == static_cast<int64_t>(r.full.semantic_prompt.size()));
        CHECK(calls >= last.total);  // at least once per token
        break;
      case bark::Stage::Coarse:
        CHECK(last.total == r.full.coarse_prompt.n_frames);
        CHECK(calls == 2 * last.total);  // once per step, two steps per frame
        break;
      case bark::Stage::Fine:
        CHECK(last.total == r.full.fine_prompt.n_frames);
        CHECK(calls == 6);  // one window, 6 codebooks predicted
        break;
      case bark::Stage::Codec:
        CHECK(last.total == static_cast<int64_t>(r.audio.samples.size()));
        break;
    }
  }
  CHECK(i == seen.size());
}

TEST_CASE("cancellation stops within one step, throws bark::Cancelled, the Pipeline stays usable", "[unit][engine]") {
  const bark::Pipeline pipe(fixture_options());
  const auto reference = pipe.generate_audio_full("Hello there.", quiet(5));
  for (bark::Stage stop_in : {bark::Stage::Semantic, bark::Stage::Coarse, bark::Stage::Fine, bark::Stage::Codec}) {
    INFO("cancel in " << bark::stage_name(stop_in));
    auto o = quiet(5);
    int calls_after_false = 0;
    bool stopped = false;
    int steps_in_stage = 0;
    o.on_progress = [&](const bark::Progress& p) {
      if (stopped) {
        ++calls_after_false;
        return false;
      }
      if (p.stage == stop_in && ++steps_in_stage == 2 - (stop_in == bark::Stage::Codec)) {
        stopped = true;
        return false;
      }
      return true;
    };
    CHECK_THROWS_AS(pipe.generate_audio(std::string("Hello there."), o), bark::Cancelled);
    CHECK(stopped);
    CHECK(calls_after_false == 0);  // no further step ran
  }
  // an exception from the callback propagates unchanged
  auto o = quiet(5);
  o.on_progress = [](const bark::Progress& p) -> bool {
    if (p.stage == bark::Stage::Coarse) throw CustomError{42};
    return true;
  };
  try {
    pipe.generate_audio("Hello there.", o);
    FAIL("no exception");
  } catch (const CustomError& e) {
    CHECK(e.code == 42);
  }
  // still usable, same result as before
  const auto again = pipe.generate_audio_full("Hello there.", quiet(5));
  CHECK(again.audio.samples == reference.audio.samples);
  // Cancelled is a std::runtime_error
  o.on_progress = [](const bark::Progress&) { return false; };
  CHECK_THROWS_AS(pipe.text_to_semantic("Hi.", o), std::runtime_error);
}

TEST_CASE("with a log handler the library writes nothing to stderr, silent drops info", "[unit][engine]") {
  RestoreLogging restore;
  std::mutex mu;
  std::vector<std::pair<bark::LogLevel, std::string>> messages;
  bark::set_log_level(bark::LogLevel::Trace);
  bark::set_log_handler([&](bark::LogLevel level, const std::string& msg) {
    std::lock_guard<std::mutex> lock(mu);
    messages.emplace_back(level, msg);
  });
  std::string err;
  {
    StderrCapture capture;
    const bark::Pipeline pipe(fixture_options());
    auto o = quiet(1);
    o.silent = false;
    pipe.generate_audio("Hello there.", o);
    err = capture.text();
  }
  CHECK(err.empty());
  const auto has = [&](bark::LogLevel level, const std::string& part) {
    for (const auto& [l, m] : messages) {
      if (l == level && m.find(part) != std::string::npos) return true;
    }
    return false;
  };
  CHECK(has(bark::LogLevel::Info, "text model: loaded"));  // model loads
  CHECK(has(bark::LogLevel::Info, "semantic:"));          // one line per stage
  CHECK(has(bark::LogLevel::Trace, "semantic step"));     // trace: per-step timings
  CHECK(has(bark::LogLevel::Trace, "coarse window"));
  CHECK(has(bark::LogLevel::Trace, "fine window"));
  for (const auto& [l, m] : messages) CHECK(m.find('\n') == std::string::npos);

  // silent: nothing below warning, model loads included (a fresh Pipeline loads its models)
  bark::set_log_level(bark::LogLevel::Info);
  messages.clear();
  {
    const bark::Pipeline pipe(fixture_options());
    pipe.generate_audio("Hello there.", quiet(1));
  }
  for (const auto& [l, m] : messages) {
    INFO(m);
    CHECK(l >= bark::LogLevel::Warn);
  }
  // default (no handler): warnings and errors to stderr, info dropped
  bark::set_log_handler({});
  bark::set_log_level(bark::LogLevel::Warn);
  StderrCapture capture;
  {
    const bark::Pipeline pipe(fixture_options());
    auto o = quiet(1);
    o.silent = false;
    pipe.generate_audio("Hello there.", o);
  }
  CHECK(capture.text().empty());
}

TEST_CASE("errors at the boundary: torch errors are one line, a moved-from Pipeline throws", "[unit][engine]") {
  // a real c10::Error (mismatched matmul) through the guard the public calls use
  try {
    bark::engine::guarded("codec_decode", [] { return at::mm(at::ones({2, 3}), at::ones({2, 3})); });
    FAIL("no exception");
  } catch (const std::runtime_error& e) {
    const std::string what = e.what();
    CHECK_THAT(what, Contains("codec_decode: ") && Contains("mat1 and mat2 shapes cannot be multiplied"));
    CHECK(what.find('\n') == std::string::npos);
    CHECK(what.find("Exception raised from") == std::string::npos);
  }
  CHECK_THROWS_AS(bark::engine::guarded("x", []() -> int { throw std::bad_alloc(); }), std::runtime_error);
  CHECK_THROWS_AS(bark::engine::guarded("x", []() -> int { throw CustomError{1}; }), CustomError);

  bark::Pipeline a(fixture_options());
  bark::Pipeline b(std::move(a));
  CHECK_THROWS_AS(a.generate_audio("Hi.", quiet(1)), std::logic_error);  // NOLINT(bugprone-use-after-move)
  CHECK_THROWS_AS(a.tokenize("Hi."), std::logic_error);
  CHECK_THROWS_AS(a.device(), std::logic_error);
  CHECK_FALSE(b.tokenize("Hi.").empty());
  a = std::move(b);
  CHECK_FALSE(a.tokenize("Hi.").empty());
}

TEST_CASE("checkpoints whose sizes cannot serve a stage are refused at load, naming the file", "[unit][engine]") {
  // The fixture text model re-saved with block_size 512 (wpe cut to 512 rows): the semantic
  // stage needs 1024 positions.
  const auto dir = bark_test::temp_dir("engine_small_block");
  const auto models = bark_test::fixtures_dir() / "models" / "f0";
  for (const char* f : {"coarse.pt", "fine.pt"}) fs::create_symlink(models / f, dir / f);
  fs::create_symlink(models / "codec.pt", dir / "encodec_24khz-d7cc33bc.th");
  fs::create_symlink(bark_test::vocab_path(), dir / "vocab.txt");
  const std::string script =
      "import sys, torch\n"
      "ck = torch.load(sys.argv[1], map_location='cpu')\n"
      "ck['model_args']['block_size'] = 512\n"
      "for k in list(ck['model']):\n"
      "    if k.endswith('wpe.weight'): ck['model'][k] = ck['model'][k][:512].clone()\n"
      "torch.save(ck, sys.argv[2])\n";
  const auto py = dir / "shrink.py";
  std::ofstream(py) << script;
  const std::string cmd = "'" + bark_test::reference_python() + "' '" + py.string() + "' '" + (models / "text.pt").string() +
                          "' '" + (dir / "text.pt").string() + "'";
  REQUIRE(std::system(cmd.c_str()) == 0);
  auto o = fixture_options();
  o.model_dir = dir.string();
  const bark::Pipeline pipe(o);
  CHECK_THROWS_WITH(pipe.generate_audio("Hi.", quiet(1)),
                    Contains((dir / "text.pt").string()) && Contains("block_size 512") && Contains("1024"));
  CHECK_THROWS_AS(pipe.generate_audio("Hi.", quiet(1)), std::runtime_error);
}

TEST_CASE("the fixture model directory exists", "[.setup]") {
  // made on first use by fixture_model_dir(); tools driven from outside (bark-server's tests) use it
  CHECK(fs::exists(fs::path(bark_test::fixture_model_dir()) / "encodec_24khz-d7cc33bc.th"));
}
