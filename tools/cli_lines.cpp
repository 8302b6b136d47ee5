#include "cli_lines.h"

#include <algorithm>
#include <cstdio>
#include <filesystem>
#include <random>
#include <sstream>
#include <stdexcept>

namespace bark::tools {
int speak_lines(const Pipeline& pipe, const LinesJob& job) {
  namespace fs = std::filesystem;
  const std::vector<std::string> lines = request_lines(job.text);
  if (lines.empty()) throw std::invalid_argument("--lines: the input has no non-empty line");
  if (job.max_batch < 1) throw std::invalid_argument("--max-batch must be >= 1");
  std::error_code ec;
  const fs::path dir(job.out_dir);
  if (fs::exists(dir, ec) && !fs::is_directory(dir, ec)) {
    throw std::invalid_argument("--lines: -o '" + job.out_dir + "' exists and is not a directory");
  }
  fs::create_directories(dir, ec);
  if (ec) throw std::runtime_error("--lines: cannot create directory '" + job.out_dir + "': " + ec.message());

  uint64_t base = 0;
  if (job.seed) {
    base = *job.seed;
  } else {
    std::random_device rd;
    base = (static_cast<uint64_t>(rd()) << 32) ^ rd();
  }
  if (!job.silent) {
    std::fprintf(stderr, "%zu line%s -> %s ...; line i uses seed %llu + i - 1\n", lines.size(), lines.size() == 1 ? "" : "s",
                 (dir / line_file_name(0, lines.size())).c_str(), static_cast<unsigned long long>(base));
  }
  const auto options_of = [&](size_t i) {
    GenerationOptions g = job.speech.generation;
    g.seed = base + i;  // wraps like the seeds of long-form segments
    g.generator.reset();
    return g;
  };
  size_t failed = 0;
  const auto write = [&](size_t i, const Audio& audio) {
    const fs::path path = dir / line_file_name(i, lines.size());
    write_wav(path.string(), audio, job.format);
    if (!job.silent) {
      std::fprintf(stderr, "[%zu/%zu] %s (%.2f s, seed %llu)\n", i + 1, lines.size(), path.c_str(),
                   audio.duration_seconds(), static_cast<unsigned long long>(base + i));
    }
  };
  const auto report_failure = [&](size_t i, const std::string& what) {
    ++failed;
    std::fprintf(stderr, "error: line %zu: %s\n", i + 1, what.c_str());
  };
  // A line longer than one segment is spoken as bark-cli "<line>" would speak it (long-form,
  // alone); the others go through the batch API, max_batch at a time.
  size_t i = 0;
  while (i < lines.size()) {
    if (job.interrupted && job.interrupted()) break;
    std::vector<size_t> batch;
    while (i < lines.size() && batch.size() < static_cast<size_t>(job.max_batch)) {
      const bool long_line = job.speech.split && pipe.split_text(lines[i], job.speech.max_segment_chars).size() > 1;
      if (long_line) {
        if (!batch.empty()) break;  // finish the batch first: files stay in order
        SpeechOptions so = job.speech;
        so.generation = options_of(i);
        so.on_audio = {};
        try {
          write(i, pipe.generate_speech(lines[i], so).audio);
        } catch (const Cancelled&) {
          if (job.interrupted && job.interrupted()) return 130;
          report_failure(i, "cancelled");
        } catch (const std::exception& e) {
          report_failure(i, e.what());
        }
        ++i;
        continue;
      }
      batch.push_back(i++);
    }
    if (batch.empty()) continue;
    std::vector<BatchRequest> requests;
    for (size_t k : batch) requests.push_back({lines[k], options_of(k)});
    BatchOptions b;
    b.max_batch = job.max_batch;
    const auto results = pipe.generate_audio_batch(requests, b);
    for (size_t r = 0; r < batch.size(); ++r) {
      if (results[r].ok()) {
        write(batch[r], results[r].result.audio);
        continue;
      }
      try {
        std::rethrow_exception(results[r].error);
      } catch (const Cancelled&) {
        if (job.interrupted && job.interrupted()) return 130;
        report_failure(batch[r], "cancelled");
      } catch (const std::exception& e) {
        report_failure(batch[r], e.what());
      }
    }
  }
  if (job.interrupted && job.interrupted()) return 130;
  if (failed > 0) {
    std::fprintf(stderr, "error: %zu of %zu lines failed\n", failed, lines.size());
    return 1;
  }
  return 0;
}

}  // namespace bark::tools
