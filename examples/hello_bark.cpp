// The smallest bark program: text -> hello.wav.
//
//   cmake_minimum_required(VERSION 3.21)
//   project(hello CXX)
//   find_package(bark REQUIRED)
//   add_executable(hello_bark hello_bark.cpp)
//   target_link_libraries(hello_bark PRIVATE bark::bark)
//
// Usage: hello_bark [TEXT] [MODEL_DIR]   (MODEL_DIR as in `bark-cli --model-dir`)
#include <bark/bark.h>

#include <exception>
#include <iostream>

int main(int argc, char** argv) {
  try {
    bark::PipelineOptions options;
    if (argc > 2) options.model_dir = argv[2];  // default: $BARK_MODEL_DIR, then ~/.cache/bark-cpp
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
  } catch (const std::exception& e) {
    std::cerr << "error: " << e.what() << "\n";
    return 1;
  }
}
