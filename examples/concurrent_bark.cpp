// One loaded Pipeline serving several threads at once: each thread speaks its own sentences with
// its own seed. The weights are loaded once (preload) and shared read-only; every call has its
// own generator and caches, so a line gives the same audio whether it runs alone or beside others.
// A progress callback shows how a caller stops a call early (it returns false).
//
// Usage: concurrent_bark MODEL_DIR [--small] [THREADS]
//   writes line_1.wav ... line_6.wav
#include <bark/bark.h>
#include <bark/passive_openmp.h>

#include <atomic>
#include <cstdlib>
#include <exception>
#include <iostream>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

// Idle OpenMP threads sleep: several generations share the cores (see the header).
BARK_PASSIVE_OPENMP()

int main(int argc, char** argv) {
  if (argc < 2 || std::string(argv[1]) == "--help" || std::string(argv[1]) == "-h") {
    std::cerr << "usage: concurrent_bark MODEL_DIR [--small] [THREADS]\n";
    return 2;
  }
  bark::PipelineOptions options;
  options.model_dir = argv[1];
  int n_threads = 2;
  for (int i = 2; i < argc; ++i) {
    if (std::string(argv[i]) == "--small") options.use_small = true;
    else n_threads = std::max(1, std::atoi(argv[i]));
  }
  // Concurrent calls are how a program uses several cores: each call gets one intra-op thread.
  options.num_threads = 1;

  const std::vector<std::string> lines = {
      "Hello, my name is Suno.", "And, uh, I like pizza. [laughs]", "The weather is lovely today.",
      "Bonjour, comment allez-vous ?", "Guten Morgen!", "This is the last line.",
  };
  std::mutex print_mutex;
  const auto say = [&](const std::string& s) {
    std::lock_guard<std::mutex> lock(print_mutex);
    std::cerr << s << "\n";
  };
  // Messages of the library go where the application wants them.
  bark::set_log_level(bark::LogLevel::Info);
  bark::set_log_handler([&](bark::LogLevel, const std::string& message) { say("[bark] " + message); });

  try {
    const bark::Pipeline pipeline(options);
    pipeline.preload();  // load the weights once, before the threads start

    std::atomic<size_t> next{0};
    std::atomic<bool> failed{false};
    std::vector<std::thread> workers;
    for (int t = 0; t < n_threads; ++t) {
      workers.emplace_back([&] {
        for (size_t i = next++; i < lines.size(); i = next++) {
          bark::GenerationOptions gen;
          gen.voice = "v2/en_speaker_6";
          gen.seed = 1000 + i;  // per line: reproducible whatever runs beside it
          gen.on_progress = [&](const bark::Progress&) {
            return !failed.load();  // stop this call early when another one failed
          };
          try {
            const bark::Audio audio = pipeline.generate_audio(lines[i], gen);
            const std::string path = "line_" + std::to_string(i + 1) + ".wav";
            bark::write_wav(path, audio);
            say("wrote " + path + " (" + std::to_string(audio.duration_seconds()) + " s)");
          } catch (const bark::Cancelled&) {
            say("line " + std::to_string(i + 1) + ": cancelled");
          } catch (const std::exception& e) {
            failed = true;
            say("line " + std::to_string(i + 1) + ": error: " + e.what());
          }
        }
      });
    }
    for (auto& w : workers) w.join();
    return failed ? 1 : 0;
  } catch (const std::exception& e) {
    std::cerr << "error: " << e.what() << "\n";
    return 1;
  }
}
