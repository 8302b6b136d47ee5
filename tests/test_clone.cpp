// Voice cloning: safetensors / audio-file / model-file readers (hostile inputs included), and
// parity with the Python recipe (bark-voice-cloning-HuBERT-quantizer with transformers'
// HubertModel, torchaudio, upstream EnCodec) that scripts/clone_reference.py runs at test time:
// resampling <= 1e-5 against torchaudio, HuBERT layer-9 features and quantizer logits <= 1e-4,
// the tokens and codes of a whole recording identical, and upstream Bark's generate_audio
// accepting the cloned .npz. A missing reference venv is a failure, never a skip.
#include <ATen/Functions.h>
#include <ATen/core/grad_mode.h>
#include <c10/core/InferenceMode.h>
#include <catch2/catch.hpp>
#include <unistd.h>

#include <cmath>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <limits>
#include <map>
#include <optional>
#include <sstream>
#include <string>
#include <vector>

#include "bark/audio_file.h"
#include "bark/history_prompt.h"
#include "bark/voice_cloner.h"
#include "bark/wav.h"
#include "clone/resample.h"
#include "io/hubert_files.h"
#include "io/safetensors.h"
#include "models/hubert.h"
#include "models/hubert_quantizer.h"
#include "cli_helpers.h"
#include "hf_fixture.h"
#include "tensor_npz.h"
#include "test_common.h"

namespace fs = std::filesystem;
using Catch::Matchers::Contains;

namespace {

std::string tail_of(const std::string& s, size_t n) { return s.size() <= n ? s : "..." + s.substr(s.size() - n); }

fs::path codec_fixture() { return bark_test::fixtures_dir() / "models" / "f0" / "codec.pt"; }

// scripts/clone_reference.py --kinds `kinds`, once per process and kinds; removed at exit unless
// $BARK_KEEP_REFERENCE is set.
struct RefDirs {
  std::map<std::string, fs::path> dirs;
  ~RefDirs() {
    const char* keep = std::getenv("BARK_KEEP_REFERENCE");
    if (keep != nullptr && *keep != '\0') return;
    std::error_code ec;
    for (const auto& [k, d] : dirs) fs::remove_all(d, ec);
  }
};

std::string run_script(const std::string& args, const fs::path& log) {
  const std::string python = bark_test::reference_python();
  std::error_code ec;
  if (python.empty() || !fs::exists(python, ec)) {
    FAIL("the reference venv's python is missing: '" << python << "'. Create it with scripts/setup.sh (or set "
         "$BARK_REFERENCE_PYTHON); these parity tests are never skipped.");
  }
  const fs::path script = bark_test::source_dir() / "scripts" / "clone_reference.py";
  const std::string cmd = "OMP_NUM_THREADS=1 " + bark_test::shell_quote(python) + " " + bark_test::shell_quote(script.string()) + " " + args + " > " +
                          bark_test::shell_quote(log.string()) + " 2>&1";
  const int rc = std::system(cmd.c_str());
  if (rc != 0) FAIL("scripts/clone_reference.py failed (status " << rc << "):\n  " << cmd << "\n" << tail_of(bark_test::slurp_text(log), 4000));
  return bark_test::slurp_text(log);
}

fs::path clone_reference(const std::string& kinds) {
  static RefDirs refs;
  if (auto it = refs.dirs.find(kinds); it != refs.dirs.end()) return it->second;
  const fs::path out = fs::temp_directory_path() / ("bark_test_clone_" + kinds + "_" + std::to_string(::getpid()));
  std::error_code ec;
  fs::remove_all(out, ec);
  fs::create_directories(out);
  refs.dirs[kinds] = out;
  run_script("--kinds " + kinds + " --models " + bark_test::shell_quote((bark_test::fixtures_dir() / "models" / "f0").string()) +
                 " --out " + bark_test::shell_quote(out.string()),
             out / "log.txt");
  return out;
}

// A safetensors file from a header JSON and data bytes.
std::string safetensors_bytes(const std::string& header, const std::string& data) {
  std::string out(8, '\0');
  uint64_t n = header.size();
  for (int i = 0; i < 8; ++i) out[i] = static_cast<char>((n >> (8 * i)) & 0xFF);
  return out + header + data;
}

std::string floats(const std::vector<float>& v) {
  return std::string(reinterpret_cast<const char*>(v.data()), v.size() * sizeof(float));
}

// The whole pipeline's model directory: hubert-base-ls960/, the default quantizer and EnCodec.
fs::path clone_model_dir(const fs::path& ref, const std::string& hubert, const std::string& quantizer) {
  const fs::path dir = ref / ("model_dir_" + hubert + "_" + quantizer);
  if (fs::exists(dir)) return dir;
  fs::create_directories(dir);
  fs::create_symlink(ref / hubert, dir / "hubert-base-ls960");
  fs::create_symlink(ref / quantizer, dir / "quantifier_hubert_base_ls960_14.pth");
  fs::create_symlink(codec_fixture(), dir / "encodec_24khz-d7cc33bc.th");
  return dir;
}

}  // namespace

// ---- safetensors -----------------------------------------------------------------------------

TEST_CASE("safetensors: dtypes, shapes and values of a well-formed file", "[unit][clone]") {
  const auto dir = bark_test::temp_dir("safetensors_ok");
  const std::string header =
      R"({"__metadata__":{"format":"pt"},"a":{"dtype":"F32","shape":[2,3],"data_offsets":[0,24]},)"
      R"("b":{"dtype":"I64","shape":[2],"data_offsets":[24,40]},"c":{"dtype":"F16","shape":[1],"data_offsets":[40,42]},)"
      R"("e":{"dtype":"F32","shape":[0,4],"data_offsets":[42,42]}})";
  std::string data = floats({1, 2, 3, 4, 5, -6.5f});
  const int64_t ints[2] = {7, -9};
  data += std::string(reinterpret_cast<const char*>(ints), sizeof ints);
  data += std::string("\x00\x3c", 2);  // 1.0 in IEEE half
  // the JSON header length is padded by the writer so that data starts 8-aligned
  std::string padded = header;
  while ((8 + padded.size()) % 8 != 0) padded += ' ';
  bark_test::write_text(dir / "t.safetensors", safetensors_bytes(padded, data));
  const auto src = bark::io::load_safetensors((dir / "t.safetensors").string());
  REQUIRE(src.tensors.size() == 4);
  std::map<std::string, at::Tensor> t(src.tensors.begin(), src.tensors.end());
  CHECK(t["a"].sizes() == at::IntArrayRef({2, 3}));
  CHECK(t["a"][1][2].item<float>() == -6.5f);
  CHECK(t["b"].scalar_type() == at::kLong);
  CHECK(t["b"][1].item<int64_t>() == -9);
  CHECK(t["c"].to(at::kFloat).item<float>() == 1.0f);
  CHECK(t["e"].numel() == 0);
}

TEST_CASE("safetensors: hostile files are refused with one-line errors", "[unit][clone]") {
  const auto dir = bark_test::temp_dir("safetensors_bad");
  const auto load = [&](const std::string& bytes) {
    bark_test::write_text(dir / "x.safetensors", bytes);
    return bark::io::load_safetensors((dir / "x.safetensors").string());
  };
  const auto entry = [](const std::string& fields) { return "{\"w\":{" + fields + "}}"; };
  const std::string d16 = floats({1, 2, 3, 4});
  CHECK_THROWS_WITH(load("abc"), Contains("truncated"));
  CHECK_THROWS_WITH(load(std::string("\xff\xff\xff\xff\xff\xff\xff\x7f", 8) + "{}"), Contains("exceeds 100 MB"));
  CHECK_THROWS_WITH(load(safetensors_bytes("{\"a\":", "")), Contains("not valid JSON"));
  {
    std::string b = safetensors_bytes("{}", "");
    b[0] = 50;  // header length 50, file has 2 bytes of it
    CHECK_THROWS_WITH(load(b), Contains("runs past the end of the file"));
  }
  CHECK_THROWS_WITH(load(safetensors_bytes("[1,2]", "")), Contains("not a JSON object"));
  CHECK_THROWS_WITH(load(safetensors_bytes(entry(R"("dtype":"Q4","shape":[4],"data_offsets":[0,16])"), d16)),
                    Contains("unsupported dtype 'Q4'"));
  CHECK_THROWS_WITH(load(safetensors_bytes(entry(R"("dtype":"F32","shape":[-4],"data_offsets":[0,16])"), d16)),
                    Contains("non-negative integers"));
  CHECK_THROWS_WITH(load(safetensors_bytes(entry(R"("dtype":"F32","shape":[4],"data_offsets":[0,1600])"), d16)),
                    Contains("outside the data section"));
  CHECK_THROWS_WITH(load(safetensors_bytes(entry(R"("dtype":"F32","shape":[4],"data_offsets":[8,4])"), d16)),
                    Contains("outside the data section"));
  CHECK_THROWS_WITH(load(safetensors_bytes(entry(R"("dtype":"F32","shape":[5],"data_offsets":[0,16])"), d16)),
                    Contains("needs 20"));
  CHECK_THROWS_WITH(load(safetensors_bytes(
                        entry(R"("dtype":"F32","shape":[4294967296,4294967296,4294967296],"data_offsets":[0,16])"), d16)),
                    Contains("impossibly large"));
  CHECK_THROWS_WITH(load(safetensors_bytes(entry(R"("dtype":"F32","shape":"4","data_offsets":[0,16])"), d16)),
                    Contains("no array 'shape'"));
  CHECK_THROWS_WITH(load(safetensors_bytes(entry(R"("dtype":"F32","shape":[4],"data_offsets":[0])"), d16)),
                    Contains("data_offsets"));
  CHECK_THROWS_WITH(load(safetensors_bytes(R"({"a":{"dtype":"F32","shape":[4],"data_offsets":[0,16]},)"
                                           R"("b":{"dtype":"F32","shape":[2],"data_offsets":[8,16]}})", d16)),
                    Contains("overlap"));
  CHECK_THROWS_WITH(bark::io::load_safetensors((dir / "missing.safetensors").string()), Contains("cannot open"));
  CHECK_THROWS_WITH(bark::io::load_safetensors(dir.string()), Contains("not a regular file"));
}

// ---- audio files -----------------------------------------------------------------------------

TEST_CASE("read_audio: WAV written by write_wav, mono mix, hostile files", "[unit][clone]") {
  const auto dir = bark_test::temp_dir("read_audio");
  bark::Audio a;
  a.sample_rate = 22050;
  for (int i = 0; i < 3000; ++i) a.samples.push_back(0.5f * std::sin(0.01f * static_cast<float>(i)));
  bark::write_wav((dir / "a.wav").string(), a, bark::WavFormat::Float32);
  const bark::Audio r = bark::read_audio((dir / "a.wav").string());
  CHECK(r.sample_rate == 22050);
  CHECK(r.samples == a.samples);

  // a stereo 16-bit WAV, built by hand: the mean of the two channels
  const auto wav_bytes = [](uint16_t channels, uint16_t format, uint16_t bits, const std::string& data,
                            uint32_t claimed_data) {
    std::string b = "RIFF";
    const auto u32 = [&](uint32_t v) { for (int i = 0; i < 4; ++i) b += static_cast<char>((v >> (8 * i)) & 0xFF); };
    const auto u16 = [&](uint16_t v) { b += static_cast<char>(v & 0xFF); b += static_cast<char>(v >> 8); };
    u32(36 + static_cast<uint32_t>(data.size()));
    b += "WAVEfmt ";
    u32(16);
    u16(format);
    u16(channels);
    u32(16000);
    u32(16000u * channels * bits / 8);
    u16(static_cast<uint16_t>(channels * bits / 8));
    u16(bits);
    b += "data";
    u32(claimed_data);
    return b + data;
  };
  std::string stereo;
  for (int16_t v : {int16_t(16384), int16_t(0), int16_t(-32768), int16_t(8192)}) stereo.append(reinterpret_cast<char*>(&v), 2);
  bark_test::write_text(dir / "s.wav", wav_bytes(2, 1, 16, stereo, 8));
  const bark::Audio s = bark::read_audio((dir / "s.wav").string());
  REQUIRE(s.samples.size() == 2);
  CHECK(s.samples[0] == 0.25f);
  CHECK(s.samples[1] == (-1.0f + 0.25f) / 2);

  // a data chunk claiming 4 GB with 8 bytes present: what is there, no huge allocation
  bark_test::write_text(dir / "huge.wav", wav_bytes(1, 1, 16, stereo, 0xFFFFFFF0u));
  CHECK(bark::read_audio((dir / "huge.wav").string()).samples.size() == 4);
  // zero channels, garbage, empty, NaN samples
  CHECK_THROWS_WITH(bark::read_audio((dir / "none.wav").string()), Contains("cannot read it"));
  bark_test::write_text(dir / "zero.wav", wav_bytes(0, 1, 16, stereo, 8));
  CHECK_THROWS_AS(bark::read_audio((dir / "zero.wav").string()), std::runtime_error);
  bark_test::write_text(dir / "junk.flac", "fLaC this is not a FLAC stream at all");
  CHECK_THROWS_WITH(bark::read_audio((dir / "junk.flac").string()), Contains("junk.flac"));
  bark_test::write_text(dir / "empty.wav", "");
  CHECK_THROWS_WITH(bark::read_audio((dir / "empty.wav").string()), Contains("empty.wav"));
  bark_test::write_text(dir / "nodata.wav", wav_bytes(1, 1, 16, "", 0));
  CHECK_THROWS_WITH(bark::read_audio((dir / "nodata.wav").string()), Contains("no audio samples"));
  const float nan = std::numeric_limits<float>::quiet_NaN();
  bark_test::write_text(dir / "nan.wav", wav_bytes(1, 3, 32, floats({0.1f, nan, 0.2f}), 12));
  CHECK_THROWS_WITH(bark::read_audio((dir / "nan.wav").string()), Contains("sample 1 is NaN or infinite"));
}

// ---- resampling --------------------------------------------------------------------------------

TEST_CASE("resample matches torchaudio at 8 to 48 kHz", "[parity][clone]") {
  const bark_test::Npz g((clone_reference("resample") / "resample.npz").string());
  for (int sr : {8000, 11025, 16000, 22050, 44100, 48000}) {
    const std::string s = std::to_string(sr);
    const at::Tensor x = g["x_" + s];
    const at::Tensor f16 = bark::clone::resample(x, sr, 16000);
    const at::Tensor f24 = bark::clone::resample(x, sr, 24000);
    const at::Tensor t24 = bark::clone::resample(x, sr, 24000, bark::clone::KernelPrecision::Float64);
    REQUIRE(f16.sizes() == g["f16_" + s].sizes());
    REQUIRE(f24.sizes() == g["f24_" + s].sizes());
    REQUIRE(t24.sizes() == g["t24_" + s].sizes());
    const double d16 = bark_test::max_abs_diff(f16, g["f16_" + s]), d24 = bark_test::max_abs_diff(f24, g["f24_" + s]),
                 dt24 = bark_test::max_abs_diff(t24, g["t24_" + s]);
    WARN(sr << " Hz: functional.resample -> 16 kHz max abs diff " << d16 << ", -> 24 kHz " << d24
            << "; transforms.Resample -> 24 kHz " << dt24);
    CHECK(d16 <= 1e-5);
    CHECK(d24 <= 1e-5);
    CHECK(dt24 <= 1e-5);
  }
  CHECK_THROWS_AS(bark::clone::resample(at::zeros({10}), 0, 16000), std::invalid_argument);
  CHECK_THROWS_AS(bark::clone::resample(at::zeros({10}), 44100, 44099), std::invalid_argument);
}

// ---- HuBERT, quantizer, the whole recipe ---------------------------------------------------------

TEST_CASE("voice cloning matches the Python recipe and upstream Bark accepts the voice", "[parity][clone]") {
  at::NoGradGuard no_grad;
  const fs::path ref = clone_reference("models");
  const bark_test::Npz g((ref / "models.npz").string());

  // libsndfile reads the FLAC recording as soundfile does (the same library)
  const bark::Audio rec = bark::read_audio((ref / "recording.flac").string());
  CHECK(rec.sample_rate == 44100);
  const at::Tensor rec_t = at::from_blob(const_cast<float*>(rec.samples.data()), {static_cast<int64_t>(rec.samples.size())}, at::kFloat);
  REQUIRE(rec_t.sizes() == g["samples"].sizes());
  CHECK(bark_test::max_abs_diff(rec_t, g["samples"]) == 0.0);
  // the same FLAC cut in half: an error naming the file, or the frames before the cut
  {
    const std::string flac = bark_test::slurp_text(ref / "recording.flac");
    const fs::path cut = bark_test::temp_dir("clone_cut_flac") / "cut.flac";
    bark_test::write_text(cut, flac.substr(0, flac.size() / 2));
    try {
      const bark::Audio part = bark::read_audio(cut.string());
      CHECK(part.samples.size() < rec.samples.size());
      CHECK(std::vector<float>(rec.samples.begin(), rec.samples.begin() + static_cast<std::ptrdiff_t>(part.samples.size())) ==
            part.samples);
    } catch (const std::runtime_error& e) {
      CHECK_THAT(e.what(), Contains("cut.flac"));
    }
  }

  // HuBERT layer-9 features from each weight layout
  const at::Tensor wav16 = g["wav16"];
  for (const char* layout : {"hubert_st", "hubert_bin", "hubert_param"}) {
    const auto files = bark::io::load_hubert_files((ref / layout).string());
    bark::models::Hubert hubert(files.config, 9);
    hubert.load(files.weights);
    const at::Tensor features = hubert.forward(wav16).select(0, 0);
    REQUIRE(features.sizes() == g["features"].sizes());
    const double diff = bark_test::max_abs_diff(features, g["features"]);
    WARN(layout << ": HuBERT hidden_states[9] " << features.sizes() << " max abs diff " << diff << " (max |x| "
                << g["features"].abs().max().item<double>() << ")");
    CHECK(diff <= 1e-4);
    if (std::string(layout) == "hubert_st") {
      bark::models::Hubert one(files.config, 1);
      one.load(files.weights);
      CHECK(bark_test::max_abs_diff(one.forward(wav16).select(0, 0), g["features_layer1"]) <= 1e-4);
    }
  }

  // quantizers v0 (no .info) and v1 (.info) on the reference features
  for (int v : {0, 1}) {
    const std::string vs = std::to_string(v);
    const auto qf = bark::io::load_quantizer_file((ref / ("quantizer_v" + vs + ".pth")).string());
    CHECK(qf.config.version == v);
    bark::models::HubertQuantizer q(qf.config);
    q.load(qf.weights);
    const at::Tensor logits = q.forward(g["features"]);
    const double diff = bark_test::max_abs_diff(logits, g["logits_v" + vs]);
    WARN("quantizer v" << v << ": logits " << logits.sizes() << " max abs diff " << diff);
    CHECK(diff <= 1e-4);
    CHECK(at::equal(at::argmax(logits, 1), g["tokens_v" + vs]));
  }

  // the whole recording through bark::VoiceCloner: tokens and codes identical to the recipe's
  // (up to the start trimmed for Bark's 1.5 coarse/semantic ratio)
  const auto codes_ref = g["codes"];  // (8, T)
  for (int v : {0, 1}) {
    const std::string vs = std::to_string(v);
    bark::VoiceClonerOptions o;
    o.model_dir = clone_model_dir(ref, "hubert_st", "quantizer_v" + vs + ".pth").string();
    o.device = bark::Device::Cpu;
    const bark::VoiceCloner cloner(o);
    const bark::HistoryPrompt p = cloner.clone(rec);
    const at::Tensor tokens_ref = g["tokens_v" + vs];
    const int64_t n_sem = static_cast<int64_t>(p.semantic_prompt.size());
    REQUIRE(n_sem <= tokens_ref.size(0));
    REQUIRE(n_sem >= tokens_ref.size(0) - 2);
    const at::Tensor sem = at::tensor(p.semantic_prompt, at::kLong);
    const int64_t n_diff_tokens = sem.ne(tokens_ref.slice(0, tokens_ref.size(0) - n_sem)).sum().item<int64_t>();
    INFO("v" << v << ": " << n_diff_tokens << " of " << n_sem << " semantic tokens differ");
    CHECK(n_diff_tokens == 0);
    REQUIRE(p.fine_prompt.n_codebooks == 8);
    const int64_t T = p.fine_prompt.n_frames;
    REQUIRE(T <= codes_ref.size(1));
    REQUIRE(T >= codes_ref.size(1) - 3);
    const at::Tensor fine = at::tensor(p.fine_prompt.data, at::kLong).view({8, T});
    const int64_t n_diff_codes = fine.ne(codes_ref.slice(1, codes_ref.size(1) - T)).sum().item<int64_t>();
    INFO(n_diff_codes << " of " << fine.numel() << " codes differ");
    CHECK(n_diff_codes == 0);
    CHECK(p.coarse_prompt.n_codebooks == 2);
    CHECK(std::vector<int64_t>(p.fine_prompt.data.begin(), p.fine_prompt.data.begin() + 2 * T) == p.coarse_prompt.data);
    const double ratio = static_cast<double>(T) / static_cast<double>(n_sem);
    CHECK(std::round(ratio * 10) / 10 == 1.5);

    if (v == 1) {
      // the EnCodec weights from a Hugging Face Bark snapshot (tests/hf_fixture.h): the same voice
      const char* vars[] = {"XDG_CACHE_HOME", "TORCH_HOME", "BARK_MODEL_DIR", "HF_HUB_CACHE", "HF_HOME"};
      std::map<std::string, std::optional<std::string>> saved;
      for (const char* name : vars) {
        const char* value = std::getenv(name);
        saved[name] = value ? std::optional<std::string>(value) : std::nullopt;
        setenv(name, (ref / "no_cache").c_str(), 1);  // nothing there: only the snapshot has a codec
      }
      bark::VoiceClonerOptions h = o;
      h.model_dir = (bark_test::hf_fixture_dir() / "bin").string();
      h.hubert_dir = (ref / "hubert_st").string();
      h.quantizer_path = (ref / "quantizer_v1.pth").string();
      const bark::HistoryPrompt q = bark::VoiceCloner(h).clone(rec);
      for (const auto& [name, value] : saved) {
        if (value) setenv(name.c_str(), value->c_str(), 1);
        else unsetenv(name.c_str());
      }
      CHECK(q.semantic_prompt == p.semantic_prompt);
      CHECK(q.fine_prompt.data == p.fine_prompt.data);

      // upstream generate_audio(history_prompt=<our .npz>) with the fixture models
      const fs::path npz = ref / "cloned.npz";
      bark::save_history_prompt(npz.string(), p);
      const std::string out = run_script("--accept " + bark_test::shell_quote(npz.string()) + " --models " +
                                             bark_test::shell_quote((bark_test::fixtures_dir() / "models" / "f0").string()) + " --vocab " +
                                             bark_test::shell_quote(bark_test::vocab_path().string()),
                                         ref / "accept_log.txt");
      INFO(out);
      CHECK_THAT(out, Contains("accepted "));
    }
  }
}

TEST_CASE("voice cloning: short samples, missing and hostile model files fail with clear errors", "[parity][clone]") {
  const fs::path ref = clone_reference("tiny") / "tiny";  // narrow models: nothing here runs them
  const fs::path dir = bark_test::temp_dir("clone_errors");
  bark::VoiceClonerOptions o;
  o.model_dir = (dir / "empty").string();
  fs::create_directories(o.model_dir);
  o.device = bark::Device::Cpu;
  bark::Audio a;
  a.sample_rate = 16000;
  a.samples.assign(16000, 0.1f);  // 1 s
  CHECK_THROWS_WITH(bark::VoiceCloner(o).clone(a), Contains("1.00 s long; at least 2 s"));
  {
    auto many = o;
    many.num_threads = 99999;
    CHECK_THROWS_WITH(bark::VoiceCloner(many), Contains("num_threads must be at most"));
  }
  a.samples.assign(48000, 0.1f);
  a.samples[100] = std::numeric_limits<float>::infinity();
  CHECK_THROWS_WITH(bark::VoiceCloner(o).clone(a), Contains("NaN or infinite"));
  a.samples[100] = 0.0f;
  // nothing in the model directory: every missing file named (EnCodec may be found in torch hub's cache)
  {
    const bark::VoiceCloner c(o);
    CHECK_THROWS_WITH(c.clone(a), Contains("hubert-base-ls960") && Contains("quantifier_hubert_base_ls960_14.pth"));
  }
  // hostile files: a quantizer that is not a torch zip, a .info that disagrees, a truncated
  // safetensors file, a config.json of hubert-large
  o.model_dir = clone_model_dir(ref, "hubert_st", "quantizer_v0.pth").string();
  o.quantizer_path = (dir / "bad.pth").string();
  bark_test::write_text(o.quantizer_path, "not a zip");
  CHECK_THROWS_WITH(bark::VoiceCloner(o).clone(a), Contains("bad.pth"));
  o.quantizer_path = (dir / "lying.pth").string();
  {
    std::string q = bark_test::slurp_text(ref / "quantizer_v1.pth");
    const std::string from = "\"version\": 1", to = "\"version\": 0";
    const size_t at_ = q.find(from);
    REQUIRE(at_ != std::string::npos);  // stored (uncompressed) member
    q.replace(at_, from.size(), to);
    bark_test::write_text(o.quantizer_path, q);
  }
  CHECK_THROWS_WITH(bark::VoiceCloner(o).clone(a), Contains(".info"));  // CRC or "says version = 0"
  o.quantizer_path.clear();
  o.hubert_dir = (dir / "hubert_trunc").string();
  fs::create_directories(o.hubert_dir);
  fs::copy_file(ref / "hubert_st" / "config.json", fs::path(o.hubert_dir) / "config.json");
  {
    const std::string st = bark_test::slurp_text(ref / "hubert_st" / "model.safetensors");
    bark_test::write_text(fs::path(o.hubert_dir) / "model.safetensors", st.substr(0, st.size() / 2));  // cut short
  }
  CHECK_THROWS_WITH(bark::VoiceCloner(o).clone(a), Contains("outside the data section"));
  {
    std::string cfg = bark_test::slurp_text(ref / "hubert_st" / "config.json");
    cfg.replace(cfg.find("\"group\""), 7, "\"layer\"");
    bark_test::write_text(fs::path(o.hubert_dir) / "config.json", cfg);
  }
  CHECK_THROWS_WITH(bark::VoiceCloner(o).clone(a), Contains("feat_extract_norm"));
  bark_test::write_text(fs::path(o.hubert_dir) / "config.json", "{\"hidden_size\": -3");
  CHECK_THROWS_WITH(bark::VoiceCloner(o).clone(a), Contains("not valid JSON"));
}
