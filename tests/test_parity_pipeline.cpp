// Seeded end-to-end parity: ../shared/fixtures/{stages,pipeline} were produced by upstream
// bark (torch.manual_seed(seed), then generate_* / generate_audio) on the tiny f0 models, with
// torch 1.13.1, 1 thread, OpenBLAS. Same seed => the same tokens, exactly; the waveform within
// 1e-4 (max abs diff printed).
#include <ATen/Functions.h>
#include <ATen/Parallel.h>
#include <catch2/catch.hpp>

#include <algorithm>
#include <cmath>
#include <filesystem>

#include "bark/pipeline.h"
#include "fixture_models.h"
#include "tensor_npz.h"
#include "test_common.h"

namespace {

bark::PipelineOptions fixture_options(int threads = 1) { return bark_test::fixture_pipeline_options(threads); }

std::vector<int64_t> ints(const bark_test::Npz& npz, const std::string& key) {
  return npz.arrays.at(key).to_int64();
}

bark::CodebookTokens codes(const bark_test::Npz& npz, const std::string& key) {
  const auto& a = npz.arrays.at(key);
  return {a.shape.at(0), a.shape.at(1), a.to_int64()};
}

std::string prompt_of(const std::string& file_stem) {
  return file_stem.find("v2_en_speaker_6") != std::string::npos ? "v2/en_speaker_6" : "";
}

std::vector<std::filesystem::path> fixture_files(const std::string& sub) {
  std::vector<std::filesystem::path> files;
  for (const auto& e : std::filesystem::directory_iterator(bark_test::fixtures_dir() / sub / "f0")) {
    if (e.path().extension() == ".npz") files.push_back(e.path());
  }
  std::sort(files.begin(), files.end());
  return files;
}

// The manifest's texts (t0, t1, t2); kept here to avoid a JSON dependency, checked against the
// manifest file's bytes so a changed fixture set is noticed.
std::string text_of(const std::string& key) {
  if (key == "t0") return "Hello, my name is Suno. And, uh \xE2\x80\x94 and I like pizza. [laughs]";
  if (key == "t1") return "\xE2\x99\xAA In the jungle, the mighty jungle, the lion barrels tonight \xE2\x99\xAA";
  FAIL("unknown text key " << key);
  return "";
}

// Tokens identical to the upstream fixture's, the waveform within 1e-4 (max abs diff printed).
void check_fixture(const std::string& stem, const bark_test::Npz& g, const bark::FullGeneration& full,
                   const bark::Audio& audio) {
  const auto ref_semantic = ints(g, "semantic");
  INFO("semantic: " << full.semantic_prompt.size() << " tokens, upstream " << ref_semantic.size());
  CHECK(full.semantic_prompt == ref_semantic);
  CHECK(full.coarse_prompt.data == codes(g, "coarse").data);
  CHECK(full.fine_prompt.data == codes(g, "fine").data);
  const auto ref_wav = g.arrays.at("wav").to_float32();
  REQUIRE(audio.samples.size() == ref_wav.size());
  double diff = 0;
  for (size_t i = 0; i < ref_wav.size(); ++i) diff = std::max(diff, std::fabs(double(audio.samples[i]) - ref_wav[i]));
  WARN(stem << ": waveform max abs diff " << diff);
  CHECK(diff <= 1e-4);
}

}  // namespace

TEST_CASE("stage-isolated coarse and fine sampling match upstream", "[parity][pipeline]") {
  bark::Pipeline pipe(fixture_options());
  const auto files = fixture_files("stages");
  REQUIRE(files.size() >= 2);
  for (const auto& file : files) {
    SECTION(file.filename().string()) {
      const bark_test::Npz g(file.string());
      bark::GenerationOptions o;
      o.seed = 0;
      o.silent = true;
      o.voice = prompt_of(file.stem().string());
      const auto coarse = pipe.generate_coarse(ints(g, "semantic_in"), o);
      const auto ref_coarse = codes(g, "coarse");
      CHECK(coarse.n_codebooks == ref_coarse.n_codebooks);
      CHECK(coarse.n_frames == ref_coarse.n_frames);
      CHECK(coarse.data == ref_coarse.data);
      const auto fine = pipe.generate_fine(codes(g, "coarse_in"), o);
      const auto ref_fine = codes(g, "fine");
      CHECK(fine.n_frames == ref_fine.n_frames);
      CHECK(fine.data == ref_fine.data);
    }
  }
}

TEST_CASE("generate_audio, and generate_speech for a one-segment text, reproduce every upstream pipeline fixture",
          "[parity][pipeline][longform]") {
  const bark::Pipeline pipe(fixture_options());
  const auto files = fixture_files("pipeline");
  REQUIRE(files.size() >= 4);
  for (const auto& file : files) {
    SECTION(file.filename().string()) {
      const std::string stem = file.stem().string();
      const bark_test::Npz g(file.string());
      const std::string text = text_of(stem.substr(0, 2));
      bark::GenerationOptions o;
      o.seed = 0;
      o.silent = true;
      o.voice = prompt_of(stem);
      const auto r = pipe.generate_audio_full(text, o);
      check_fixture(stem, g, r.full, r.audio);
      // long-form: a text of one segment goes through generate_audio unchanged
      bark::SpeechOptions so;  // defaults: split into segments, voice mode auto
      so.generation = o;
      REQUIRE(pipe.split_text(text).size() == 1);
      const auto speech = pipe.generate_speech(text, so);
      REQUIRE(speech.segments.size() == 1);
      check_fixture(stem, g, speech.segments[0].tokens, speech.audio);
    }
  }
}
