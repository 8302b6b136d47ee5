// Checkpoint loading: the fixture checkpoints were written by upstream Python code in the exact
// layout of the real Suno / EnCodec files (see ../shared/fixtures/manifest.json).
#include <ATen/Functions.h>
#include <ATen/TensorOperators.h>
#include <catch2/catch.hpp>

#include <fstream>
#include <string>

#include "io/checkpoint.h"
#include "io/pickle.h"
#include "io/zip.h"
#include "models/encodec.h"
#include "models/fine_gpt.h"
#include "models/gpt.h"
#include "test_common.h"

using Catch::Matchers::Contains;

namespace {
std::string model_path(const std::string& name) { return (bark_test::fixtures_dir() / "models/f0" / name).string(); }

// Copies `src` to `dst` keeping only the first `n` bytes.
void truncated_copy(const std::string& src, const std::string& dst, size_t n) {
  std::ifstream in(src, std::ios::binary);
  std::string data((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  std::ofstream out(dst, std::ios::binary);
  out.write(data.data(), static_cast<std::streamsize>(std::min(n, data.size())));
}
}  // namespace

TEST_CASE("text checkpoint loads: prefix stripped, numpy best_val_loss, optimizer skipped", "[unit][checkpoint]") {
  const auto ck = bark::io::load_bark_checkpoint(model_path("text.pt"));
  REQUIRE(ck.best_val_loss.has_value());
  REQUIRE(ck.model_args);
  const auto cfg = bark::io::read_gpt_config(ck);
  CHECK(cfg.n_layer == 2);
  CHECK(cfg.n_head == 2);
  CHECK(cfg.n_embd == 16);
  CHECK(cfg.input_vocab_size == 129600);
  CHECK(cfg.output_vocab_size == 10048);
  CHECK_FALSE(cfg.bias);
  // 16 model tensors (manifest), none of the optimizer moments
  CHECK(ck.weights.tensors.size() == 16);
  for (const auto& [name, t] : ck.weights.tensors) CHECK(name.rfind("_orig_mod.", 0) == std::string::npos);
  bark::models::GPT gpt(cfg);
  gpt.load(ck.weights);
}

TEST_CASE("coarse checkpoint: legacy vocab_size maps to input and output vocab", "[unit][checkpoint]") {
  const auto ck = bark::io::load_bark_checkpoint(model_path("coarse.pt"));
  const auto cfg = bark::io::read_gpt_config(ck);
  CHECK(cfg.input_vocab_size == 12096);
  CHECK(cfg.output_vocab_size == 12096);
  bark::models::GPT gpt(cfg);
  gpt.load(ck.weights);
}

TEST_CASE("fine checkpoint: tied lm_heads share storage with wtes", "[unit][checkpoint]") {
  const auto ck = bark::io::load_bark_checkpoint(model_path("fine.pt"));
  const at::Tensor* head = nullptr;
  const at::Tensor* wte = nullptr;
  for (const auto& [name, t] : ck.weights.tensors) {
    if (name == "lm_heads.0.weight") head = &t;
    if (name == "transformer.wtes.1.weight") wte = &t;
  }
  REQUIRE(head != nullptr);
  REQUIRE(wte != nullptr);
  CHECK(head->data_ptr() == wte->data_ptr());
  const auto cfg = bark::io::read_fine_config(ck);
  CHECK(cfg.n_codes_total == 8);
  CHECK(cfg.n_codes_given == 1);
  bark::models::FineGPT fine(cfg);
  fine.load(ck.weights);
}

TEST_CASE("EnCodec state dict: config inferred from shapes", "[unit][checkpoint]") {
  const auto path = model_path("codec.pt");
  const auto state = bark::io::load_state_dict_file(path);
  const auto cfg = bark::models::infer_encodec_config(state);
  // codec_config.json of the fixture: n_filters 4, dimension 16, lstm 2, n_q 8, bins 1024
  CHECK(cfg.n_filters == 4);
  CHECK(cfg.dimension == 16);
  CHECK(cfg.lstm_layers == 2);
  CHECK(cfg.n_q == 8);
  CHECK(cfg.bins == 1024);
  CHECK(cfg.has_encoder);
  bark::models::Encodec codec(cfg);
  codec.load(state);
}

TEST_CASE("loading into the wrong model reports every problem at once", "[unit][checkpoint]") {
  const auto ck = bark::io::load_bark_checkpoint(model_path("coarse.pt"));
  auto cfg = bark::io::read_gpt_config(ck);
  cfg.n_layer = 3;     // one block too many -> missing keys
  cfg.n_embd = 32;     // -> shape mismatches
  bark::models::GPT gpt(cfg);
  REQUIRE_THROWS_WITH(gpt.load(ck.weights), Contains("coarse.pt") && Contains("missing keys") &&
                                        Contains("transformer.h.2.ln_1.weight") && Contains("shape mismatches"));
}

TEST_CASE("truncated checkpoints are refused with the file name", "[unit][checkpoint]") {
  const auto dir = bark_test::temp_dir("ckpt_trunc");
  const auto src = model_path("fine.pt");
  const auto size = std::filesystem::file_size(src);
  for (size_t n : {size_t{0}, size_t{10}, size_t{1000}, static_cast<size_t>(size / 2), static_cast<size_t>(size - 100)}) {
    const auto dst = (dir / ("fine_" + std::to_string(n) + ".pt")).string();
    truncated_copy(src, dst, n);
    REQUIRE_THROWS_WITH(bark::io::load_bark_checkpoint(dst), Contains(dst));
  }
}

TEST_CASE("a malicious pickle (GLOBAL os system) is refused, nothing runs", "[unit][checkpoint]") {
  const auto dir = bark_test::temp_dir("ckpt_evil");
  const auto marker = dir / "pwned";
  // protocol 2: cos\nsystem\n(S'touch <marker>'\ntR.
  std::string cmd = "touch " + marker.string();
  std::string pkl = "\x80\x02" "cos\nsystem\nX";
  const uint32_t n = static_cast<uint32_t>(cmd.size());
  pkl += std::string(reinterpret_cast<const char*>(&n), 4) + cmd + "\x85R.";
  const auto path = (dir / "evil.pt").string();
  {
    bark::io::ZipWriter zw(path);
    zw.add("evil/data.pkl", std::vector<uint8_t>(pkl.begin(), pkl.end()));
    zw.finish();
  }
  REQUIRE_THROWS_WITH(bark::io::load_bark_checkpoint(path), Contains("refusing global 'os.system'") && Contains(path));
  CHECK_FALSE(std::filesystem::exists(marker));
}

TEST_CASE("unpickler: _codecs.encode(str, 'latin1') gives the bytes, refuses what latin-1 cannot hold", "[unit][checkpoint]") {
  // protocol 2 stores bytes b as _codecs.encode(b.decode('latin1'), 'latin1'): GLOBAL, two
  // BINUNICODE strings (UTF-8), TUPLE2, REDUCE, STOP.
  const auto encode = [](const std::string& utf8) {
    auto binunicode = [](const std::string& s) {
      const uint32_t n = static_cast<uint32_t>(s.size());
      return "X" + std::string(reinterpret_cast<const char*>(&n), 4) + s;
    };
    const std::string pkl = "\x80\x02" "c_codecs\nencode\n" + binunicode(utf8) + binunicode("latin1") + "\x86R.";
    return bark::io::unpickle(reinterpret_cast<const uint8_t*>(pkl.data()), pkl.size(), "codecs");
  };
  const auto v = encode(std::string("a\xC2\x80\xC3\xBF\x00z", 7));  // U+0080, U+00FF, NUL
  CHECK(v->kind == bark::io::PyValue::Kind::Bytes);
  CHECK(v->s == std::string("a\x80\xFF\x00z", 5));
  for (const char* bad : {"\xC4\x80", "\xE2\x82\xAC", "\xC0\x80", "\xC3", "\xC3(", "\xFF"}) {  // U+0100, €, ill-formed
    INFO(bad);
    CHECK_THROWS_WITH(encode(bad), Contains("not latin-1"));
  }
}

TEST_CASE("unpickler survives hostile structures", "[unit][checkpoint]") {
  // deeply nested lists: ] ] a ] a ... then STOP; must not overflow the stack on teardown
  std::string deep = "\x80\x02]";
  for (int i = 0; i < 200000; ++i) deep += "]";
  for (int i = 0; i < 200000; ++i) deep += "a";
  deep += ".";
  auto v = bark::io::unpickle(reinterpret_cast<const uint8_t*>(deep.data()), deep.size(), "deep");
  CHECK(v->kind == bark::io::PyValue::Kind::List);
  v.reset();
  const std::string bad_memo = "\x80\x02h\x05.";
  CHECK_THROWS_WITH(bark::io::unpickle(reinterpret_cast<const uint8_t*>(bad_memo.data()), bad_memo.size(), "memo"),
                    Contains("memo"));
  const std::string reduce_builtin = "\x80\x02" "cbuiltins\neval\n)R.";
  CHECK_THROWS_WITH(
      bark::io::unpickle(reinterpret_cast<const uint8_t*>(reduce_builtin.data()), reduce_builtin.size(), "eval"),
      Contains("refusing global 'builtins.eval'"));
}
