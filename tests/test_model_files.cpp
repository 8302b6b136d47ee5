// Tests of the model directory contract (src/model_files.{h,cpp}).
#include <unistd.h>

#include <catch2/catch.hpp>
#include <cstdlib>
#include <fstream>
#include <functional>
#include <map>
#include <optional>
#include <stdexcept>
#include <string>

#include "bark/errors.h"
#include "model_files.h"
#include "test_common.h"

namespace fs = std::filesystem;
using Catch::Matchers::Contains;

namespace {

// Sets the variables the lookup reads for the lifetime of one test, restoring them after.
class EnvGuard {
 public:
  EnvGuard() {
    for (const char* name : {"HOME", "XDG_CACHE_HOME", "BARK_MODEL_DIR", "TORCH_HOME", "HF_HOME", "HF_HUB_CACHE",
                             "HUGGINGFACE_HUB_CACHE"}) {
      const char* value = std::getenv(name);
      saved_[name] = value ? std::optional<std::string>(value) : std::nullopt;
      unsetenv(name);
    }
  }
  ~EnvGuard() {
    for (const auto& [name, value] : saved_) {
      if (value) setenv(name.c_str(), value->c_str(), 1);
      else unsetenv(name.c_str());
    }
  }
  void set(const char* name, const fs::path& value) { setenv(name, value.c_str(), 1); }

 private:
  std::map<std::string, std::optional<std::string>> saved_;
};

void touch(const fs::path& path) {
  fs::create_directories(path.parent_path());
  std::ofstream(path) << "x";
}

// temp_dir(), unique per process: other builds of the project may run these tests at once.
fs::path unique_temp_dir(const std::string& name) { return bark_test::temp_dir(name + "_" + std::to_string(::getpid())); }

using bark_test::message_of;

const char* LARGE[] = {"text_2.pt", "coarse_2.pt", "fine_2.pt", "encodec_24khz-d7cc33bc.th", "vocab.txt"};
const char* SMALL[] = {"text.pt", "coarse.pt", "fine.pt", "encodec_24khz-d7cc33bc.th", "vocab.txt"};

}  // namespace

TEST_CASE("locate_model_files finds every file in --model-dir", "[unit]") {
  EnvGuard env;
  const auto root = unique_temp_dir("mf_model_dir");
  env.set("HOME", root / "home");
  const auto dir = root / "models";
  for (const char* name : LARGE) touch(dir / name);
  for (const char* name : SMALL) touch(dir / name);
  fs::create_directories(dir / "prompts" / "v2");

  auto large = bark::locate_model_files(dir.string(), /*use_small=*/false);
  CHECK(large.text == (dir / "text_2.pt").string());
  CHECK(large.coarse == (dir / "coarse_2.pt").string());
  CHECK(large.fine == (dir / "fine_2.pt").string());
  CHECK(large.codec == (dir / "encodec_24khz-d7cc33bc.th").string());
  CHECK(large.vocab == (dir / "vocab.txt").string());
  CHECK(large.prompts_dir == (dir / "prompts").string());

  auto small = bark::locate_model_files(dir.string(), /*use_small=*/true);
  CHECK(small.text == (dir / "text.pt").string());
  CHECK(small.coarse == (dir / "coarse.pt").string());
  CHECK(small.fine == (dir / "fine.pt").string());
}

TEST_CASE("locate_model_files searches --model-dir, $BARK_MODEL_DIR, then the default cache", "[unit]") {
  EnvGuard env;
  const auto root = unique_temp_dir("mf_order");
  env.set("HOME", root / "home");
  const auto opt = root / "opt", envdir = root / "env", cache = root / "home" / ".cache" / "bark-cpp";
  touch(opt / "text_2.pt");
  touch(envdir / "text_2.pt");
  touch(envdir / "coarse_2.pt");
  touch(cache / "text_2.pt");
  touch(cache / "coarse_2.pt");
  touch(cache / "fine_2.pt");
  touch(cache / "encodec_24khz-d7cc33bc.th");
  touch(cache / "vocab.txt");
  fs::create_directories(envdir / "prompts");
  fs::create_directories(cache / "prompts");
  env.set("BARK_MODEL_DIR", envdir);

  auto files = bark::locate_model_files(opt.string(), false);
  CHECK(files.text == (opt / "text_2.pt").string());
  CHECK(files.coarse == (envdir / "coarse_2.pt").string());
  CHECK(files.fine == (cache / "fine_2.pt").string());
  CHECK(files.vocab == (cache / "vocab.txt").string());
  CHECK(files.prompts_dir == (envdir / "prompts").string());

  // Without the option, $BARK_MODEL_DIR comes first.
  files = bark::locate_model_files("", false);
  CHECK(files.text == (envdir / "text_2.pt").string());

  // $XDG_CACHE_HOME moves the default cache.
  unsetenv("BARK_MODEL_DIR");
  const auto xdg = root / "xdg";
  env.set("XDG_CACHE_HOME", xdg);
  for (const char* name : LARGE) touch(xdg / "bark-cpp" / name);
  files = bark::locate_model_files("", false);
  CHECK(files.text == (xdg / "bark-cpp" / "text_2.pt").string());
  CHECK(bark::download_dir("") == (xdg / "bark-cpp").string());
  CHECK(bark::download_dir(opt.string()) == opt.string());
  env.set("BARK_MODEL_DIR", envdir);
  CHECK(bark::download_dir("") == envdir.string());
}

TEST_CASE("locate_model_files uses what a Python Bark install downloaded", "[unit]") {
  EnvGuard env;
  const auto root = unique_temp_dir("mf_python");
  const auto home = root / "home";
  env.set("HOME", home);
  const auto suno = home / ".cache" / "suno" / "bark_v0";
  touch(suno / "text_2.pt");
  touch(suno / "2661ee12b953550d1c980705e7fbd564.pt");  // bark < 1.5: md5("coarse_2.pt") + ".pt"
  touch(suno / "fine_2.pt");
  touch(home / ".cache" / "torch" / "hub" / "checkpoints" / "encodec_24khz-d7cc33bc.th");
  const auto hf = home / ".cache" / "huggingface" / "hub" / "models--bert-base-multilingual-cased";
  touch(hf / "snapshots" / "aaa" / "vocab.txt");
  touch(hf / "snapshots" / "zzz" / "vocab.txt");
  fs::create_directories(hf / "refs");
  std::ofstream(hf / "refs" / "main") << "zzz";

  auto files = bark::locate_model_files("", false);
  CHECK(files.text == (suno / "text_2.pt").string());
  CHECK(files.coarse == (suno / "2661ee12b953550d1c980705e7fbd564.pt").string());
  CHECK(files.fine == (suno / "fine_2.pt").string());
  CHECK(files.codec == (home / ".cache" / "torch" / "hub" / "checkpoints" / "encodec_24khz-d7cc33bc.th").string());
  CHECK(files.vocab == (hf / "snapshots" / "zzz" / "vocab.txt").string());
  CHECK(bark::locate_vocab("") == files.vocab);

  // A copy in a model directory wins over the Python caches.
  touch(home / ".cache" / "bark-cpp" / "fine_2.pt");
  CHECK(bark::locate_model_files("", false).fine == (home / ".cache" / "bark-cpp" / "fine_2.pt").string());

  // $TORCH_HOME and $HF_HOME move those caches.
  env.set("TORCH_HOME", root / "th");
  env.set("HF_HOME", root / "hfh");
  touch(root / "th" / "hub" / "checkpoints" / "encodec_24khz-d7cc33bc.th");
  touch(root / "hfh" / "hub" / "models--google-bert--bert-base-multilingual-cased" / "snapshots" / "r1" / "vocab.txt");
  files = bark::locate_model_files("", false);
  CHECK(files.codec == (root / "th" / "hub" / "checkpoints" / "encodec_24khz-d7cc33bc.th").string());
  CHECK(files.vocab ==
        (root / "hfh" / "hub" / "models--google-bert--bert-base-multilingual-cased" / "snapshots" / "r1" / "vocab.txt")
            .string());
}

TEST_CASE("locate_model_files says what is missing, where it looked and how to get it", "[unit]") {
  EnvGuard env;
  const auto root = unique_temp_dir("mf_missing");
  const auto home = root / "home";
  env.set("HOME", home);
  env.set("BARK_MODEL_DIR", root / "env");
  const auto opt = root / "opt";

  const std::string all = message_of([&] { bark::locate_model_files(opt.string(), /*use_small=*/true); });
  INFO(all);
  CHECK_THAT(all, Contains("missing model files: text.pt (Bark text model, small)"));
  for (const char* name : SMALL) {
    CHECK_THAT(all, Contains((opt / name).string() + " (--model-dir)"));
    CHECK_THAT(all, Contains((root / "env" / name).string() + " ($BARK_MODEL_DIR)"));
    CHECK_THAT(all, Contains((home / ".cache" / "bark-cpp" / name).string() + " (default cache)"));
  }
  CHECK_THAT(all, Contains((home / ".cache" / "suno" / "bark_v0" / "text.pt").string() + " (Python Bark cache)"));
  CHECK_THAT(all, Contains((home / ".cache" / "torch" / "hub" / "checkpoints" / "encodec_24khz-d7cc33bc.th").string()));
  CHECK_THAT(all, Contains("models--bert-base-multilingual-cased"));
  CHECK(all.find('\n') == std::string::npos);
  CHECK(all.find("bark-cli") == std::string::npos);  // no CLI advice from the library (STYLE.md)
  CHECK_THROWS_AS(bark::locate_model_files(opt.string(), true), std::runtime_error);
  try {
    bark::locate_model_files(opt.string(), true);
    FAIL("no exception");
  } catch (const bark::ModelFilesMissing& e) {
    CHECK(e.model_dir == opt.string());
    CHECK(e.files == std::vector<std::string>{"text.pt", "coarse.pt", "fine.pt", "encodec_24khz-d7cc33bc.th", "vocab.txt"});
    CHECK(e.groups == std::vector<std::string>{"models", "codec", "vocab"});
    CHECK(e.use_small);
    CHECK_FALSE(e.small_models_present);
  }

  // Only the codec missing: the message names it alone and the command fetches only it.
  for (const char* name : LARGE) touch(opt / name);
  fs::remove(opt / "encodec_24khz-d7cc33bc.th");
  const std::string codec = message_of([&] { bark::locate_model_files(opt.string(), false); });
  INFO(codec);
  CHECK_THAT(codec, Contains("missing model file: encodec_24khz-d7cc33bc.th (EnCodec 24 kHz weights) looked for at"));
  CHECK(codec.find("text_2.pt") == std::string::npos);
  try {
    bark::locate_model_files(opt.string(), false);
    FAIL("no exception");
  } catch (const bark::ModelFilesMissing& e) {
    CHECK(e.files == std::vector<std::string>{"encodec_24khz-d7cc33bc.th"});
    CHECK(e.groups == std::vector<std::string>{"codec"});
    CHECK_FALSE(e.small_models_present);
  }

  // Files that are not needed may be missing.
  bark::ModelFileNeeds need;
  need.codec = false;
  auto files = bark::locate_model_files(opt.string(), false, need);
  CHECK(files.codec.empty());
  CHECK(files.text == (opt / "text_2.pt").string());

  // A directory or a dangling symlink under the name does not count, and says what it is.
  fs::remove(opt / "vocab.txt");
  fs::create_directories(opt / "vocab.txt");
  CHECK_THROWS_WITH(bark::locate_vocab(opt.string()),
                    Contains("unusable model file: vocab.txt") && Contains((opt / "vocab.txt").string() + " is a directory"));
  fs::remove(opt / "vocab.txt");
  fs::create_symlink(root / "nowhere.txt", opt / "vocab.txt");
  CHECK_THROWS_AS(bark::locate_vocab(opt.string()), bark::ModelFilesMissing);

  // The large models missing, the small ones there: the error says so (a front end suggests --small).
  fs::remove(opt / "vocab.txt");
  touch(opt / "vocab.txt");
  touch(opt / "encodec_24khz-d7cc33bc.th");
  for (const char* name : LARGE) {
    const std::string n = name;
    if (n == "text_2.pt" || n == "coarse_2.pt" || n == "fine_2.pt") fs::remove(opt / name);
  }
  for (const char* name : {"text.pt", "coarse.pt", "fine.pt"}) touch(opt / name);
  try {
    bark::locate_model_files(opt.string(), false);
    FAIL("no exception");
  } catch (const bark::ModelFilesMissing& e) {
    CHECK(e.groups == std::vector<std::string>{"models"});
    CHECK(e.small_models_present);
  }
  fs::remove(opt / "fine.pt");
  try {
    bark::locate_model_files(opt.string(), false);
    FAIL("no exception");
  } catch (const bark::ModelFilesMissing& e) {
    CHECK_FALSE(e.small_models_present);
  }
}

TEST_CASE("allowed prompts are upstream's ALLOWED_PROMPTS", "[unit]") {
  const auto all = bark::allowed_prompts();
  CHECK(all.size() == 261);
  for (const auto& name : all) CHECK(bark::is_allowed_prompt(name));
  for (const char* ok : {"announcer", "en_speaker_0", "v2/en_speaker_6", "v2/zh_speaker_9", "hi_speaker_3"}) {
    CHECK(bark::is_allowed_prompt(ok));
  }
  for (const char* bad : {"", "speaker_1", "v2/announcer", "en_speaker_10", "xx_speaker_1", "v3/en_speaker_1",
                          "../en_speaker_1", "EN_speaker_1", "v2/en_speaker_", "v2//en_speaker_1", "en_speaker_1.npz"}) {
    CHECK_FALSE(bark::is_allowed_prompt(bad));
  }
}

TEST_CASE("resolve_voice maps presets and .npz paths to files", "[unit]") {
  const auto prompts = bark_test::assets_dir() / "prompts";
  CHECK(bark::resolve_voice("", prompts.string()).empty());
  CHECK(bark::resolve_voice("v2/en_speaker_6", prompts.string()) == (prompts / "v2" / "en_speaker_6.npz").string());
  CHECK(bark::resolve_voice("announcer", prompts.string()) == (prompts / "announcer.npz").string());
  CHECK(bark::resolve_voice("de_speaker_3", prompts.string()) == (prompts / "de_speaker_3.npz").string());
  const std::string path = (prompts / "speaker_1.npz").string();
  CHECK(bark::resolve_voice(path, "/nonexistent") == path);

  CHECK_THROWS_AS(bark::resolve_voice("v2/en_speaker_66", prompts.string()), std::invalid_argument);
  const std::string unknown = message_of([&] { bark::resolve_voice("v2/en_speaker_66", prompts.string()); });
  CHECK_THAT(unknown, Contains("unknown voice 'v2/en_speaker_66'"));
  CHECK_THAT(unknown, Contains("v2/en_speaker_6"));
  CHECK_THAT(unknown, Contains("announcer"));
  CHECK_THAT(unknown, Contains(".npz"));

  // Missing files are the environment's fault (runtime_error), an unknown name the caller's.
  CHECK_THROWS_AS(bark::resolve_voice("/nonexistent/voice.npz", prompts.string()), std::runtime_error);
  try {
    bark::resolve_voice("/nonexistent/voice.npz", prompts.string());
  } catch (const std::invalid_argument&) {
    FAIL("a missing .npz is not invalid_argument");
  } catch (const std::runtime_error&) {
  }
  CHECK_THROWS_WITH(bark::resolve_voice("/nonexistent/voice.npz", prompts.string()),
                    Contains("voice file '/nonexistent/voice.npz' not found"));

  const auto empty = unique_temp_dir("mf_voice");
  CHECK_THROWS_AS(bark::resolve_voice("v2/en_speaker_6", (empty / "prompts").string()), bark::ModelFilesMissing);
  const std::string missing = message_of([&] { bark::resolve_voice("v2/en_speaker_6", (empty / "prompts").string()); });
  CHECK_THAT(missing, Contains("voice preset 'v2/en_speaker_6' not found: no file " +
                               (empty / "prompts" / "v2" / "en_speaker_6.npz").string() + " (model directory " +
                               empty.string() + ")"));
  CHECK(missing.find("bark-cli") == std::string::npos);
  try {
    bark::resolve_voice("v2/en_speaker_6", (empty / "prompts").string());
  } catch (const bark::ModelFilesMissing& e) {
    CHECK(e.model_dir == empty.string());
    CHECK(e.files == std::vector<std::string>{"prompts/v2/en_speaker_6.npz"});
    CHECK(e.groups == std::vector<std::string>{"prompts"});
  }
}
