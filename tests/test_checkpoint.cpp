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
#include "file_helpers.h"
#include "test_common.h"

using Catch::Matchers::Contains;

namespace {
// The reference Python, run in `dir` (its relative file names land there).
int run_python_in(const std::string& code, const std::filesystem::path& dir) {
  return bark_test::run_python("import os\nos.chdir(r'" + dir.string() + "')\n" + code, dir);
}

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

// ---- hostile checkpoints (issue 17): made by torch.save in the reference venv ----------------

namespace {
// Runs `body` after a preamble defining Evil (a tensor of any sizes/strides over a 4-element
// storage, pickled as torch pickles tensors) and `args`, Bark's text model_args.
void make_hostile(const std::filesystem::path& dir, const std::string& body) {
  const std::string preamble =
      "import collections, torch\n"
      "class Evil:\n"
      "    def __init__(self, size, stride): self.size, self.stride = size, stride\n"
      "    def __reduce__(self):\n"
      "        return (torch._utils._rebuild_tensor_v2,\n"
      "                (torch.zeros(4).storage(), 0, self.size, self.stride, False, collections.OrderedDict()))\n"
      "args = dict(n_layer=2, n_head=2, n_embd=16, block_size=1024, input_vocab_size=129600,\n"
      "            output_vocab_size=10048, bias=False, dropout=0.0)\n";
  REQUIRE(run_python_in(preamble + body, dir) == 0);
}
}  // namespace

TEST_CASE("hostile checkpoint: model_args beyond any Bark model are refused before a model exists",
          "[unit][checkpoint][hostile]") {
  const auto dir = bark_test::temp_dir("ckpt_args");
  // the probe's 406-byte file: n_layer 1000, n_embd 2048 (about 50 G parameters, ~201 GB)
  make_hostile(dir,
               "torch.save({'model': {}, 'model_args': dict(args, n_layer=1000, n_embd=2048, n_head=16)}, 'layers.pt')\n"
               "torch.save({'model': {}, 'model_args': dict(args, block_size=1 << 20)}, 'block.pt')\n"
               "torch.save({'model': {}, 'model_args': dict(args, n_layer=100, n_embd=8192, n_head=64)}, 'params.pt')\n");
  const auto refused = [&](const char* name, const std::string& why) {
    const auto path = (dir / name).string();
    INFO(path);
    const auto ck = bark::io::open_bark_checkpoint(path);
    CHECK_THROWS_WITH(bark::io::read_gpt_config(ck), Contains(path) && Contains(why));
  };
  refused("layers.pt", "n_layer = 1000");
  refused("block.pt", "block_size = 1048576");
  refused("params.pt", "parameters");
}

TEST_CASE("hostile checkpoint: overflowing and expanded views are refused before reading", "[unit][checkpoint][hostile]") {
  const auto dir = bark_test::temp_dir("ckpt_views");
  make_hostile(dir,
               // the UBSan probe: sizes and strides near 2^40, whose products overflow int64
               "torch.save({'model': {'w': Evil((1 << 40, 2), ((1 << 40) - 1, 1))}, 'model_args': args}, 'overflow.pt')\n"
               // a stride-0 view: 2^40 elements over a 4-element storage
               "torch.save({'model': {'w': Evil((1 << 20, 1 << 20), (0, 0))}, 'model_args': args}, 'expanded.pt')\n"
               "torch.save({'decoder.model.0.conv.conv.weight_v': Evil((1 << 16, 1 << 12, 7), (0, 0, 0))}, 'codec.th')\n");
  CHECK_THROWS_WITH(bark::io::open_bark_checkpoint((dir / "overflow.pt").string()),
                    Contains("overflow.pt") && Contains("tensor 'w'") && Contains("overflow"));
  CHECK_THROWS_WITH(bark::io::open_bark_checkpoint((dir / "expanded.pt").string()),
                    Contains("expanded.pt") && Contains("expanded view"));
  CHECK_THROWS_WITH(bark::io::open_state_dict_file((dir / "codec.th").string()),
                    Contains("codec.th") && Contains("expanded view"));
}

TEST_CASE("checkpoint: only the tensors the model uses are read, NaN weights are refused", "[unit][checkpoint][hostile]") {
  const auto dir = bark_test::temp_dir("ckpt_nan");
  const auto src = model_path("text.pt");
  REQUIRE(run_python_in("import torch\n"
                                "ck = torch.load('" + src + "', map_location='cpu')\n"
                                "ck['model']['_orig_mod.transformer.h.1.mlp.c_fc.weight'][3, 5] = float('nan')\n"
                                "torch.save(ck, 'nan.pt')\n",
                                dir) == 0);
  const auto path = (dir / "nan.pt").string();
  auto ck = bark::io::open_bark_checkpoint(path);
  for (const auto& [name, t] : ck.weights.tensors) CHECK(t.is_meta());  // nothing read yet
  bark::models::GPT gpt(bark::io::read_gpt_config(ck));
  CHECK_THROWS_WITH(bark::io::read_weights(*ck.archive, ck.weights, gpt.named_parameters()),
                    Contains(path) && Contains("transformer.h.1.mlp.c_fc.weight") && Contains("NaN"));

  // the real fixture: what a model does not name stays unread, and a model that does not fit
  // is told so without reading the tensors it would not use
  auto good = bark::io::open_bark_checkpoint(src);
  auto cfg = bark::io::read_gpt_config(good);
  cfg.n_embd = 32;  // every 2-D weight mismatches
  bark::models::GPT wrong(cfg);
  bark::io::read_weights(*good.archive, good.weights, wrong.named_parameters());
  size_t read = 0;
  for (const auto& [name, t] : good.weights.tensors) read += t.is_meta() ? 0 : 1;
  CHECK(read == 0);
  CHECK_THROWS_WITH(wrong.load(good.weights), Contains("shape mismatches"));
}
