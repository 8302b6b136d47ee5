// The smallest bark program: text -> hello.wav.
//
//   cmake_minimum_required(VERSION 3.21)
//   project(hello CXX)
//   find_package(bark REQUIRED)
//   add_executable(hello_bark hello_bark.cpp)
//   target_link_libraries(hello_bark PRIVATE bark::bark)
//
// Usage: hello_bark [--small] [TEXT] [MODEL_DIR]
//   --small     the small models (text.pt, coarse.pt, fine.pt): faster, lower quality
//   MODEL_DIR   the directory of the model files; default: $BARK_MODEL_DIR, then ~/.cache/bark-cpp
#include <bark/bark.h>

#include <cstring>
#include <exception>
#include <iostream>

int main(int argc, char** argv) {
  bool small = false;
  if (argc > 1 && std::strcmp(argv[1], "--small") == 0) {
    small = true;
    --argc;
    ++argv;
  }
  bark::PipelineOptions options;
  options.use_small = small;
  if (argc > 2) options.model_dir = argv[2];
  try {
    bark::Pipeline pipeline(options);

    bark::GenerationOptions generation;
    generation.voice = "v2/en_speaker_6";
    generation.seed = 0;  // same seed, same audio
    generation.on_progress = [](const bark::Progress& p) {
      std::cerr << "\r" << bark::stage_name(p.stage) << " " << p.done << "/" << p.total << "   " << std::flush;
      return true;  // false would cancel the generation (bark::Cancelled)
    };
    const bark::Audio audio = pipeline.generate_audio(argc > 1 ? argv[1] : "Hello, my dog is cute [laughs]", generation);
    bark::write_wav("hello.wav", audio);
    std::cerr << "\nwrote hello.wav: " << audio.duration_seconds() << " s at " << audio.sample_rate << " Hz\n";
    return 0;
  } catch (const bark::ModelFilesMissing& e) {
    // The library names what is missing and where it looked; saying how to get it is ours.
    std::cerr << "error: " << e.what() << "\n(model directory: " << e.model_dir << "; the files are listed in the "
              << "bark-cpp README" << (!small && e.small_models_present ? "; the small models are there: try --small" : "")
              << ")\n";
    return 1;
  } catch (const std::exception& e) {
    std::cerr << "error: " << e.what() << "\n";
    return 1;
  }
}
