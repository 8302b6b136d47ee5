// Bark in the Hugging Face transformers layout (src/io/hf_bark.h): scripts/make_hf_bark.py
// converts the tiny f0 fixture checkpoints as transformers' convert_suno_to_hf.py does and
// writes them with BarkModel.save_pretrained (reference venv: transformers 4.46, torch 1.13) as
// model.safetensors, pytorch_model.bin and sharded (both), with speaker embeddings for
// v2/en_speaker_6. Loaded from any of them, the pipeline must give bit-for-bit what it gives
// from the original checkpoints.
#include <unistd.h>

// before Catch: torch's logging header defines a CHECK of its own
#include "io/hf_bark.h"

#include <catch2/catch.hpp>

#include <algorithm>
#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <functional>
#include <map>
#include <optional>
#include <string>

#include "bark/errors.h"
#include "bark/pipeline.h"
#include "fixture_models.h"
#include "hf_fixture.h"
#include "model_files.h"
#include "tensor_npz.h"
#include "test_common.h"

namespace fs = std::filesystem;
using Catch::Matchers::Contains;

namespace {

// Points every lookup the model search makes at empty temporary places for one test (so a
// developer's ~/.cache/bark-cpp or hub cache cannot answer), restoring the variables after.
class IsolatedCaches {
 public:
  explicit IsolatedCaches(const std::string& name) : root_(bark_test::temp_dir(name + "_" + std::to_string(::getpid()))) {
    for (const char* v : {"HOME", "XDG_CACHE_HOME", "BARK_MODEL_DIR", "TORCH_HOME", "HF_HOME", "HF_HUB_CACHE",
                          "HUGGINGFACE_HUB_CACHE"}) {
      const char* value = std::getenv(v);
      saved_[v] = value ? std::optional<std::string>(value) : std::nullopt;
      unsetenv(v);
    }
    set("HOME", root_ / "home");
    set("XDG_CACHE_HOME", root_ / "cache");
  }
  ~IsolatedCaches() {
    for (const auto& [name, value] : saved_) {
      if (value) setenv(name.c_str(), value->c_str(), 1);
      else unsetenv(name.c_str());
    }
    std::error_code ec;
    fs::remove_all(root_, ec);
  }
  void set(const char* name, const fs::path& value) { setenv(name, value.c_str(), 1); }
  const fs::path& root() const { return root_; }

 private:
  fs::path root_;
  std::map<std::string, std::optional<std::string>> saved_;
};

using bark_test::hf_fixture_dir;

bark::PipelineOptions hf_options(const fs::path& dir) {
  bark::PipelineOptions o = bark_test::fixture_pipeline_options();
  o.model_dir = dir.string();
  return o;
}

void check_same(const bark::GenerationResult& a, const bark::GenerationResult& b) {
  CHECK(a.full.semantic_prompt == b.full.semantic_prompt);
  CHECK(a.full.coarse_prompt.data == b.full.coarse_prompt.data);
  CHECK(a.full.fine_prompt.data == b.full.fine_prompt.data);
  REQUIRE(a.audio.samples.size() == b.audio.samples.size());
  CHECK(a.audio.samples == b.audio.samples);  // bit for bit
}

using bark_test::message_of;

void write_text(const fs::path& path, const std::string& text) { std::ofstream(path, std::ios::binary) << text; }

// A copy of one transformers-layout directory whose files are symlinks (cheap), so that one of
// them can be replaced.
fs::path linked_copy(const fs::path& from, const fs::path& to) {
  fs::remove_all(to);
  fs::create_directories(to);
  for (const auto& e : fs::directory_iterator(from)) fs::create_symlink(e.path(), to / e.path().filename());
  return to;
}

}  // namespace

TEST_CASE("the transformers name map gives the upstream checkpoint names", "[unit][hf]") {
  bark::io::HfBarkConfig c;
  c.codec_upsample_layers = {3, 6, 9, 12};
  using bark::io::BarkPart;
  using bark::io::hf_to_upstream_name;
  CHECK(hf_to_upstream_name(BarkPart::Semantic, "layers.11.attn.att_proj.weight", c) == "transformer.h.11.attn.c_attn.weight");
  CHECK(hf_to_upstream_name(BarkPart::Semantic, "layers.0.attn.out_proj.bias", c) == "transformer.h.0.attn.c_proj.bias");
  CHECK(hf_to_upstream_name(BarkPart::Coarse, "layers.3.mlp.in_proj.weight", c) == "transformer.h.3.mlp.c_fc.weight");
  CHECK(hf_to_upstream_name(BarkPart::Coarse, "layers.3.mlp.out_proj.weight", c) == "transformer.h.3.mlp.c_proj.weight");
  CHECK(hf_to_upstream_name(BarkPart::Coarse, "layers.1.layernorm_2.weight", c) == "transformer.h.1.ln_2.weight");
  CHECK(hf_to_upstream_name(BarkPart::Coarse, "layers.1.attn.bias", c) == "transformer.h.1.attn.bias");
  CHECK(hf_to_upstream_name(BarkPart::Semantic, "input_embeds_layer.weight", c) == "transformer.wte.weight");
  CHECK(hf_to_upstream_name(BarkPart::Semantic, "position_embeds_layer.weight", c) == "transformer.wpe.weight");
  CHECK(hf_to_upstream_name(BarkPart::Semantic, "layernorm_final.weight", c) == "transformer.ln_f.weight");
  CHECK(hf_to_upstream_name(BarkPart::Semantic, "lm_head.weight", c) == "lm_head.weight");
  CHECK(hf_to_upstream_name(BarkPart::Fine, "input_embeds_layers.7.weight", c) == "transformer.wtes.7.weight");
  CHECK(hf_to_upstream_name(BarkPart::Fine, "lm_heads.6.weight", c) == "lm_heads.6.weight");
  CHECK(hf_to_upstream_name(BarkPart::Codec, "decoder.layers.0.conv.weight_g", c) == "decoder.model.0.conv.conv.weight_g");
  CHECK(hf_to_upstream_name(BarkPart::Codec, "decoder.layers.3.conv.weight_v", c) == "decoder.model.3.convtr.convtr.weight_v");
  CHECK(hf_to_upstream_name(BarkPart::Codec, "decoder.layers.3.conv.parametrizations.weight.original0", c) ==
        "decoder.model.3.convtr.convtr.weight_g");
  CHECK(hf_to_upstream_name(BarkPart::Codec, "encoder.layers.3.conv.bias", c) == "encoder.model.3.conv.conv.bias");
  CHECK(hf_to_upstream_name(BarkPart::Codec, "decoder.layers.4.block.3.conv.parametrizations.weight.original1", c) ==
        "decoder.model.4.block.3.conv.conv.weight_v");
  CHECK(hf_to_upstream_name(BarkPart::Codec, "encoder.layers.1.shortcut.conv.weight_g", c) ==
        "encoder.model.1.shortcut.conv.conv.weight_g");
  CHECK(hf_to_upstream_name(BarkPart::Codec, "decoder.layers.1.lstm.weight_hh_l1", c) == "decoder.model.1.lstm.weight_hh_l1");
  CHECK(hf_to_upstream_name(BarkPart::Codec, "quantizer.layers.5.codebook.embed_avg", c) ==
        "quantizer.vq.layers.5._codebook.embed_avg");
  CHECK(hf_to_upstream_name(BarkPart::Codec, "something.else", c) == "something.else");
}

TEST_CASE("a transformers-layout model gives the tokens and audio of the original checkpoints",
          "[parity][hf][pipeline]") {
  IsolatedCaches env("hf_parity");
  const fs::path hf = hf_fixture_dir();
  const bark::Pipeline original(bark_test::fixture_pipeline_options());
  const std::string text = "Hello, my name is Suno. And, uh \xE2\x80\x94 and I like pizza. [laughs]";
  bark::GenerationOptions o;
  o.seed = 0;
  o.silent = true;
  const auto ref_none = original.generate_audio_full(text, o);
  o.voice = "v2/en_speaker_6";
  const auto ref_voice = original.generate_audio_full(text, o);
  // and the original checkpoints give the upstream fixture's tokens (test_parity_pipeline.cpp)
  const bark_test::Npz upstream((bark_test::fixtures_dir() / "pipeline/f0/t0_v2_en_speaker_6_seed0.npz").string());
  REQUIRE(ref_voice.full.semantic_prompt == upstream.arrays.at("semantic").to_int64());

  // pytorch_model.bin holds the causal masks as BoolStorage buffers: listed, never read
  const auto config = bark::io::read_hf_bark_config((hf / "bin" / "config.json").string());
  const auto semantic = bark::io::open_hf_bark_part((hf / "bin" / "pytorch_model.bin").string(),
                                                    bark::io::BarkPart::Semantic, config);
  CHECK(std::any_of(semantic.weights.tensors.begin(), semantic.weights.tensors.end(),
                    [](const auto& e) { return e.first == "transformer.h.0.attn.bias"; }));

  for (const char* variant : {"safetensors", "bin", "sharded", "sharded_bin"}) {
    SECTION(variant) {
      const bark::Pipeline pipe(hf_options(hf / variant));
      CHECK(pipe.voices() == std::vector<std::string>{"v2/en_speaker_6"});
      CHECK(pipe.tokenize(text) == original.tokenize(text));  // the snapshot's vocab.txt
      o.voice = "";
      check_same(pipe.generate_audio_full(text, o), ref_none);
      o.voice = "v2/en_speaker_6";  // speaker_embeddings/v2/en_speaker_6_*.npy
      check_same(pipe.generate_audio_full(text, o), ref_voice);
      const auto prompt = pipe.load_voice("v2/en_speaker_6");
      const auto npz = original.load_voice("v2/en_speaker_6");
      CHECK(prompt.semantic_prompt == npz.semantic_prompt);
      CHECK(prompt.coarse_prompt.data == npz.coarse_prompt.data);
      CHECK(prompt.fine_prompt.data == npz.fine_prompt.data);
      CHECK_THROWS_AS(pipe.load_voice("v2/de_speaker_1"), bark::ModelFilesMissing);
      CHECK_THROWS_AS(pipe.load_voice("nobody"), std::invalid_argument);
    }
  }
  SECTION("fast modes convert the same weights") {
    for (const auto precision : {bark::Precision::Int8, bark::Precision::Fp16}) {
      auto a = bark_test::fixture_pipeline_options();
      a.precision = precision;
      auto b = hf_options(hf / "safetensors");
      b.precision = precision;
      o.voice = "v2/en_speaker_6";
      check_same(bark::Pipeline(b).generate_audio_full(text, o), bark::Pipeline(a).generate_audio_full(text, o));
    }
  }
}

TEST_CASE("the Hugging Face hub cache is searched after the model directories", "[unit][hf]") {
  IsolatedCaches env("hf_cache");
  const fs::path hf = hf_fixture_dir() / "safetensors";
  const fs::path hub = bark_test::make_hf_hub_cache(env.root(), hf);
  env.set("HF_HUB_CACHE", hub);
  const fs::path repo = hub / "models--suno--bark-small";
  const fs::path snapshot = repo / "snapshots" / "0123abcd";
  fs::create_directories(repo / "snapshots" / "ffff0000");  // another revision, without weights

  auto files = bark::locate_model_files("", /*use_small=*/true);
  CHECK(files.hf_config == (snapshot / "config.json").string());
  CHECK(files.text == (snapshot / "model.safetensors").string());
  CHECK(files.codec == files.text);
  CHECK(files.vocab == (snapshot / "vocab.txt").string());
  CHECK(files.hf_voices == (snapshot / "speaker_embeddings_path.json").string());
  CHECK(bark::locate_vocab("") == (snapshot / "vocab.txt").string());  // (tokenizing, --print-tokens)

  // without refs/main, the newest snapshot (with weights) is taken
  fs::remove(repo / "refs" / "main");
  const fs::path newer = linked_copy(hf_fixture_dir() / "bin", repo / "snapshots" / "4567cdef");
  fs::last_write_time(snapshot, fs::file_time_type::clock::now() - std::chrono::hours(2));
  fs::last_write_time(repo / "snapshots" / "ffff0000", fs::file_time_type::clock::now() + std::chrono::hours(1));
  CHECK(bark::locate_model_files("", /*use_small=*/true).text == (newer / "pytorch_model.bin").string());
  fs::remove_all(newer);
  write_text(repo / "refs" / "main", "0123abcd\n");

  // the large model is another repo: missing, and the error names every place it looked
  const std::string missing = message_of([] { bark::locate_model_files("", /*use_small=*/false); });
  INFO(missing);
  CHECK_THAT(missing, Contains("missing model files: text_2.pt"));
  CHECK_THAT(missing, Contains("transformers layout"));
  CHECK_THAT(missing, Contains((hub / "models--suno--bark" / "snapshots" / "*").string() + " (Hugging Face hub cache)"));
  CHECK(missing.find('\n') == std::string::npos);

  // found through the cache, it generates what the original checkpoints do
  bark::PipelineOptions po = bark_test::fixture_pipeline_options();
  const std::string text = "Hello, my name is Suno.";
  bark::GenerationOptions o;
  o.seed = 0;
  o.silent = true;
  o.voice = "v2/en_speaker_6";
  const auto ref = bark::Pipeline(po).text_to_semantic(text, o);
  po.model_dir = "";
  CHECK(bark::Pipeline(po).text_to_semantic(text, o) == ref);

  // our checkpoints in a model directory come first; a --model-dir snapshot comes first of all
  const fs::path ours = bark_test::fixture_model_dir();
  files = bark::locate_model_files(ours, /*use_small=*/true);
  CHECK(files.hf_config.empty());
  CHECK(files.text == (fs::path(ours) / "text.pt").string());
  env.set("BARK_MODEL_DIR", ours);
  files = bark::locate_model_files((hf_fixture_dir() / "bin").string(), /*use_small=*/true);
  CHECK(files.text == (hf_fixture_dir() / "bin" / "pytorch_model.bin").string());
  CHECK(files.prompts_dir == (fs::path(ours) / "prompts").string());
  CHECK(files.hf_voices.empty());  // prompts/ of a model directory wins
}

TEST_CASE("bad transformers-layout files are refused in one line naming the file", "[unit][hf]") {
  IsolatedCaches env("hf_bad");
  const fs::path hf = hf_fixture_dir() / "safetensors";
  const fs::path dir = env.root() / "snapshot";
  const auto load_error = [&] {
    const std::string m = message_of([&] { bark::Pipeline(hf_options(dir)).preload(); });
    CHECK(m.find('\n') == std::string::npos);
    return m;
  };
  const std::string config = (dir / "config.json").string();
  std::ifstream in(hf / "config.json");
  const std::string good((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  const auto with_config = [&](const std::string& text) {
    linked_copy(hf, dir);
    fs::remove(dir / "config.json");
    write_text(dir / "config.json", text);
  };

  with_config("{\"model_type\": \"bark\", ");
  CHECK_THAT(load_error(), Contains("config.json '" + config + "' is not valid JSON"));
  with_config("{\"model_type\": \"encodec\"}");
  CHECK_THAT(load_error(), Contains("config.json '" + config + "': model_type is 'encodec', expected 'bark'"));
  with_config("{\"model_type\": \"bark\"}");
  CHECK_THAT(load_error(), Contains("config.json '" + config + "': no object 'semantic_config'"));
  std::string s = good;
  s.replace(s.find("\"codebook_dim\""), 0, "\"sampling_rate\": 48000, ");
  with_config(s);
  CHECK_THAT(load_error(), Contains("config.json '" + config +
                                    "': codec_config.sampling_rate is 48000, expected 24000: bark-cpp serves EnCodec "
                                    "24 kHz only"));
  s = good;
  s.replace(s.find("\"num_heads\": 2"), 14, "\"num_heads\": 3");
  with_config(s);
  CHECK_THAT(load_error(), Contains("config.json '" + config + "': invalid") && Contains("not a multiple of n_head"));

  // weights: truncated safetensors, a pytorch_model.bin that is no zip, a missing shard
  linked_copy(hf, dir);
  fs::remove(dir / "model.safetensors");
  {
    std::ifstream f(hf / "model.safetensors", std::ios::binary);
    std::string bytes((std::istreambuf_iterator<char>(f)), std::istreambuf_iterator<char>());
    write_text(dir / "model.safetensors", bytes.substr(0, bytes.size() / 2));
  }
  CHECK_THAT(load_error(), Contains("safetensors file '" + (dir / "model.safetensors").string() + "'") &&
                               Contains("outside the data section"));
  fs::remove(dir / "model.safetensors");
  write_text(dir / "pytorch_model.bin", "not a zip");
  CHECK_THAT(load_error(), Contains((dir / "pytorch_model.bin").string()));
  linked_copy(hf_fixture_dir() / "sharded", dir);
  fs::remove(dir / "model-00002-of-00004.safetensors");
  CHECK_THAT(load_error(), Contains((dir / "model-00002-of-00004.safetensors").string()));

  // config.json without weights is not a model: the missing-file error names the directory
  linked_copy(hf, dir);
  fs::remove(dir / "model.safetensors");
  CHECK_THAT(load_error(), Contains("missing model files") && Contains(dir.string() + " (--model-dir)"));
}
