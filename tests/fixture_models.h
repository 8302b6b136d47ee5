// Test helper: a model directory made of symlinks to the tiny upstream-format fixture models
// (../shared/fixtures/models/f0), laid out as the model directory contract says (small names).
#pragma once

#include <filesystem>
#include <string>

#include <unistd.h>

#include "bark/options.h"
#include "test_common.h"

namespace bark_test {

inline std::string fixture_model_dir() {
  const auto dir = std::filesystem::temp_directory_path() / "bark_test_model_dir_f0";
  std::error_code ec;
  if (std::filesystem::exists(dir / "encodec_24khz-d7cc33bc.th", ec)) return dir.string();
  // Built under a private name and renamed into place: ctest -j runs several test processes.
  const auto tmp = dir.string() + ".tmp." + std::to_string(::getpid());
  std::filesystem::remove_all(tmp, ec);
  std::filesystem::create_directories(tmp);
  const auto models = fixtures_dir() / "models" / "f0";
  const auto link = [&](const std::filesystem::path& target, const std::string& name) {
    std::filesystem::create_symlink(target, std::filesystem::path(tmp) / name);
  };
  link(models / "text.pt", "text.pt");
  link(models / "coarse.pt", "coarse.pt");
  link(models / "fine.pt", "fine.pt");
  link(vocab_path(), "vocab.txt");
  link(assets_dir() / "prompts", "prompts");
  link(models / "codec.pt", "encodec_24khz-d7cc33bc.th");
  std::filesystem::rename(tmp, dir, ec);  // fails harmlessly when another process won the race
  if (ec) std::filesystem::remove_all(tmp, ec);
  return dir.string();
}

// PipelineOptions for the fixture models: small names, CPU, 1 thread (as the fixtures were made).
inline bark::PipelineOptions fixture_pipeline_options(int threads = 1) {
  bark::PipelineOptions o;
  o.model_dir = fixture_model_dir();
  o.use_small = true;
  o.device = bark::Device::Cpu;
  o.num_threads = threads;
  return o;
}

}  // namespace bark_test
