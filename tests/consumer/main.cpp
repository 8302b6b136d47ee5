// Uses the installed bark headers and libbark only: no torch, no spdlog.
// Usage: app OUT_DIR
#include <bark/bark.h>

#include <cmath>
#include <cstdio>
#include <exception>
#include <filesystem>
#include <stdexcept>
#include <string>

// The public headers must not include torch, c10, spdlog or fmt.
#if defined(TORCH_VERSION_MAJOR) || defined(C10_API) || defined(SPDLOG_VERSION) || defined(FMT_VERSION)
#error "bark's public headers include torch or spdlog"
#endif

namespace {

void check(bool ok, const std::string& what) {
  if (!ok) throw std::runtime_error("check failed: " + what);
}

}  // namespace

int main(int argc, char** argv) {
  try {
    const std::filesystem::path out_dir =
        argc > 1 ? std::filesystem::path(argv[1]) : std::filesystem::temp_directory_path();
    std::filesystem::create_directories(out_dir);

    const std::string version = bark::version();
#ifdef BARK_EXPECTED_VERSION
    check(version == BARK_EXPECTED_VERSION, "bark::version() is " + version + ", expected " BARK_EXPECTED_VERSION);
#endif

    check(bark::parse_device("cpu") == bark::Device::Cpu, "parse_device(\"cpu\") == Device::Cpu");
    bool threw = false;
    try {
      bark::parse_device("no-such-device");
    } catch (const std::invalid_argument&) {
      threw = true;  // exceptions thrown inside libbark reach the caller with their type
    }
    check(threw, "parse_device(\"no-such-device\") throws std::invalid_argument");

    // 0.1 s of a 440 Hz sine at 24 kHz.
    const double kPi = 3.14159265358979323846;
    bark::Audio audio;
    for (int i = 0; i < audio.sample_rate / 10; ++i) {
      audio.samples.push_back(static_cast<float>(0.5 * std::sin(2.0 * kPi * 440.0 * i / audio.sample_rate)));
    }
    const std::filesystem::path wav = out_dir / "consumer_sine.wav";
    bark::write_wav(wav.string(), audio);
    check(std::filesystem::file_size(wav) >= 44 + 2 * audio.samples.size(), "size of " + wav.string());
    const bark::Audio back = bark::read_wav(wav.string());
    check(back.sample_rate == audio.sample_rate && back.samples.size() == audio.samples.size(),
          "read_wav(write_wav(x)) keeps rate and length");
    for (size_t i = 0; i < audio.samples.size(); ++i) {
      check(std::fabs(back.samples[i] - audio.samples[i]) < 1e-3f, "read_wav(write_wav(x)) ~= x");
    }

    std::printf("consumer ok: bark %s, %s, %zu samples -> %s\n", version.c_str(),
                bark::device_name(bark::parse_device("cpu")), audio.samples.size(), wav.string().c_str());
    return 0;
  } catch (const std::exception& e) {
    std::fprintf(stderr, "consumer: error: %s\n", e.what());
    return 1;
  }
}
