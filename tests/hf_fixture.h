// Test helper: the tiny f0 fixture models in the Hugging Face transformers layout, written once
// per test process by scripts/make_hf_bark.py (reference venv) into a temporary directory:
// safetensors/ (model.safetensors), bin/ (pytorch_model.bin), sharded/ (4 safetensors shards +
// model.safetensors.index.json), sharded_bin/ (pytorch_model.bin shards + their index), each
// with config.json, vocab.txt and the speaker embeddings of v2/en_speaker_6.
#pragma once

#include <unistd.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <stdexcept>
#include <string>

#include "test_common.h"

namespace bark_test {

// Removed when the test process exits (about 70 MB), unless $BARK_KEEP_TEST_DIRS is set.
inline std::filesystem::path hf_fixture_dir() {
  struct Cleanup {
    std::filesystem::path dir;
    ~Cleanup() {
      std::error_code ec;
      if (!dir.empty() && std::getenv("BARK_KEEP_TEST_DIRS") == nullptr) std::filesystem::remove_all(dir, ec);
    }
  };
  static Cleanup cleanup;
  static const std::filesystem::path dir = [] {
    const auto out = temp_dir("hf_bark_" + std::to_string(::getpid()));
    cleanup.dir = out;
    const std::string cmd = reference_python() + " " + (source_dir() / "scripts/make_hf_bark.py").string() +
                            " --models " + (fixtures_dir() / "models" / "f0").string() + " --voice " +
                            (assets_dir() / "prompts/v2/en_speaker_6.npz").string() + " --vocab " +
                            vocab_path().string() + " --out " + out.string() + " > " +
                            (out / "make_hf_bark.log").string() + " 2>&1";
    if (std::system(cmd.c_str()) != 0) {
      std::ifstream log(out / "make_hf_bark.log");
      const std::string text((std::istreambuf_iterator<char>(log)), std::istreambuf_iterator<char>());
      throw std::runtime_error("scripts/make_hf_bark.py failed (reference venv " + reference_python() + "): " + text);
    }
    return out;
  }();
  return dir;
}

// A hub cache holding `snapshot_of` (its files symlinked) as models--suno--bark-small at
// revision 0123abcd, refs/main naming it; returns the cache directory (for $HF_HUB_CACHE).
inline std::filesystem::path make_hf_hub_cache(const std::filesystem::path& root, const std::filesystem::path& snapshot_of) {
  const auto repo = root / "hub" / "models--suno--bark-small";
  const auto snapshot = repo / "snapshots" / "0123abcd";
  std::filesystem::remove_all(root / "hub");
  std::filesystem::create_directories(snapshot);
  for (const auto& e : std::filesystem::directory_iterator(snapshot_of)) {
    std::filesystem::create_symlink(e.path(), snapshot / e.path().filename());
  }
  std::filesystem::create_directories(repo / "refs");
  std::ofstream(repo / "refs" / "main") << "0123abcd\n";
  return root / "hub";
}

}  // namespace bark_test
