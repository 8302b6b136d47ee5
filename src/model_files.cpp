#include "model_files.h"

#include <pwd.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cctype>
#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <stdexcept>
#include <system_error>
#include <utility>

#include "bark/errors.h"

namespace fs = std::filesystem;

namespace bark {
namespace {

// generation.py SUPPORTED_LANGS.
constexpr const char* SUPPORTED_LANGS[] = {"en", "de", "es", "fr", "hi", "it", "ja",
                                           "ko", "pl", "pt", "ru", "tr", "zh"};

// bark < 1.5 stored checkpoints in its cache as md5(file_name) + ".pt" (generation.py
// _get_ckpt_path of that version).
const char* legacy_bark_cache_name(ModelFile file, bool use_small) {
  switch (file) {
    case ModelFile::Text: return use_small ? "d8db2d41aedc06d739388123dd093e0c.pt" : "343256c8e687c94554ef9f091bb93192.pt";
    case ModelFile::Coarse: return use_small ? "bf6c4ec79723179b7bda6c88f36c0997.pt" : "2661ee12b953550d1c980705e7fbd564.pt";
    case ModelFile::Fine: return use_small ? "4a0dd014095ed65d83645f2f90fbdc99.pt" : "fb46ce395f7b503baa24b81f2af9f06b.pt";
    default: return nullptr;
  }
}

// A set, non-empty environment variable, else "".
std::string env(const char* name) {
  const char* value = std::getenv(name);
  return value != nullptr ? value : "";
}

std::string home_dir() {
  std::string home = env("HOME");
  if (!home.empty()) return home;
  if (const passwd* pw = getpwuid(getuid()); pw != nullptr && pw->pw_dir != nullptr) return pw->pw_dir;
  return "";
}

// $XDG_CACHE_HOME, else ~/.cache, else "" (no home directory).
std::string cache_root() {
  std::string xdg = env("XDG_CACHE_HOME");
  if (!xdg.empty()) return xdg;
  std::string home = home_dir();
  return home.empty() ? "" : (fs::path(home) / ".cache").string();
}

std::string join(const std::string& dir, const std::string& name) { return (fs::path(dir) / name).string(); }

bool is_file(const std::string& path) {
  std::error_code ec;
  return !path.empty() && fs::is_regular_file(path, ec);
}

// "" when `path` is a readable regular file or does not exist at all; otherwise what is wrong
// with what is there ("a directory", "a symbolic link loop", ...), for messages that must not
// call an existing file "missing".
constexpr const char* DANGLING_LINK = "a symbolic link to a missing file";

std::string unusable(const std::string& path) {
  if (path.empty()) return "";
  struct stat st {};
  if (::stat(path.c_str(), &st) != 0) {
    const int err = errno;
    if (err == ENOENT || err == ENOTDIR) {
      struct stat lst {};
      return ::lstat(path.c_str(), &lst) == 0 ? DANGLING_LINK : "";
    }
    if (err == ELOOP) return "a symbolic link loop";
    return std::string("not accessible (") + std::strerror(err) + ")";
  }
  if (S_ISDIR(st.st_mode)) return "a directory";
  if (S_ISFIFO(st.st_mode)) return "a FIFO (named pipe), not a file";
  if (S_ISCHR(st.st_mode) || S_ISBLK(st.st_mode)) return "a device, not a file";
  if (!S_ISREG(st.st_mode)) return "not a regular file";
  if (::access(path.c_str(), R_OK) != 0) return std::string("not readable (") + std::strerror(errno) + ")";
  return "";
}

bool is_dir(const std::string& path) {
  std::error_code ec;
  return !path.empty() && fs::is_directory(path, ec);
}

// Hugging Face hub cache (huggingface_hub constants: HF_HUB_CACHE, HUGGINGFACE_HUB_CACHE,
// HF_HOME/hub, default $XDG_CACHE_HOME/huggingface/hub).
std::string hf_hub_cache() {
  for (const char* name : {"HF_HUB_CACHE", "HUGGINGFACE_HUB_CACHE"}) {
    std::string value = env(name);
    if (!value.empty()) return value;
  }
  std::string hf_home = env("HF_HOME");
  if (!hf_home.empty()) return join(hf_home, "hub");
  std::string root = cache_root();
  return root.empty() ? "" : join(join(root, "huggingface"), "hub");
}

// The revision a hub repo's refs/main names, or "".
std::string hf_main_revision(const fs::path& repo_dir) {
  std::string rev;
  if (std::FILE* f = std::fopen((repo_dir / "refs" / "main").c_str(), "rb")) {
    char buf[128] = {};
    size_t n = std::fread(buf, 1, sizeof(buf) - 1, f);
    std::fclose(f);
    rev.assign(buf, n);
    while (!rev.empty() && std::isspace(static_cast<unsigned char>(rev.back()))) rev.pop_back();
  }
  return rev;
}

// The snapshot directories of a hub repo (models--owner--name): refs/main's first, then the
// others in the given order (by name, or newest first).
std::vector<fs::path> hf_snapshots(const std::string& repo, bool newest_first) {
  const std::string hub = hf_hub_cache();
  if (hub.empty()) return {};
  const fs::path repo_dir = fs::path(hub) / repo;
  const fs::path snapshots = repo_dir / "snapshots";
  if (!is_dir(snapshots.string())) return {};
  std::vector<std::pair<fs::file_time_type, std::string>> revisions;
  std::error_code ec;
  for (const auto& entry : fs::directory_iterator(snapshots, ec)) {
    std::error_code tec;
    revisions.emplace_back(fs::last_write_time(entry.path(), tec), entry.path().filename().string());
  }
  std::sort(revisions.begin(), revisions.end(), [&](const auto& a, const auto& b) {
    if (newest_first && a.first != b.first) return a.first > b.first;
    return a.second < b.second;
  });
  const std::string main_rev = hf_main_revision(repo_dir);
  auto it = std::find_if(revisions.begin(), revisions.end(), [&](const auto& r) { return r.second == main_rev; });
  if (it != revisions.end()) std::rotate(revisions.begin(), it, it + 1);
  std::vector<fs::path> out;
  for (const auto& r : revisions) out.push_back(snapshots / r.second);
  return out;
}

// "models--suno--bark-small" for "suno/bark-small".
std::string hf_repo_dir_name(const std::string& repo) {
  std::string name = "models--" + repo;
  const size_t slash = name.find('/');
  if (slash != std::string::npos) name.replace(slash, 1, "--");
  return name;
}

// vocab.txt in the hub's snapshots of bert-base-multilingual-cased: the one refs/main points
// at first, then any other, in name order.
void add_hf_vocab_candidates(std::vector<FileCandidate>& out) {
  const std::string hub = hf_hub_cache();
  if (hub.empty()) return;
  bool any = false;
  for (const char* repo : {"models--bert-base-multilingual-cased", "models--google-bert--bert-base-multilingual-cased"}) {
    for (const auto& snapshot : hf_snapshots(repo, /*newest_first=*/false)) {
      out.push_back({(snapshot / VOCAB_FILE_NAME).string(), "Hugging Face hub cache"});
      any = true;
    }
  }
  if (!any) {
    out.push_back({(fs::path(hub) / "models--bert-base-multilingual-cased" / "snapshots" / "*" / VOCAB_FILE_NAME).string(),
                   "Hugging Face hub cache"});
  }
}

// Any of our text / coarse / fine checkpoints of this size in `dir`.
bool has_our_models(const std::string& dir, bool use_small) {
  for (ModelFile f : {ModelFile::Text, ModelFile::Coarse, ModelFile::Fine}) {
    if (is_file(join(dir, model_file_name(f, use_small)))) return true;
  }
  return false;
}

}  // namespace

ModelFilesMissing::ModelFilesMissing(const std::string& what, std::string model_dir_, std::vector<std::string> files_,
                                     std::vector<std::string> groups_, bool use_small_, bool small_models_present_)
    : std::runtime_error(what),
      model_dir(std::move(model_dir_)),
      files(std::move(files_)),
      groups(std::move(groups_)),
      use_small(use_small_),
      small_models_present(small_models_present_) {}
ModelFilesMissing::~ModelFilesMissing() = default;

std::string model_file_name(ModelFile file, bool use_small) {
  // generation.py REMOTE_MODEL_PATHS
  switch (file) {
    case ModelFile::Text: return use_small ? "text.pt" : "text_2.pt";
    case ModelFile::Coarse: return use_small ? "coarse.pt" : "coarse_2.pt";
    case ModelFile::Fine: return use_small ? "fine.pt" : "fine_2.pt";
    case ModelFile::Codec: return ENCODEC_FILE_NAME;
    case ModelFile::Vocab: return VOCAB_FILE_NAME;
  }
  throw std::invalid_argument("model_file_name: unknown ModelFile");
}

std::string model_file_description(ModelFile file, bool use_small) {
  const std::string size = use_small ? "small" : "large";
  switch (file) {
    case ModelFile::Text: return "Bark text model, " + size;
    case ModelFile::Coarse: return "Bark coarse model, " + size;
    case ModelFile::Fine: return "Bark fine model, " + size;
    case ModelFile::Codec: return "EnCodec 24 kHz weights";
    case ModelFile::Vocab: return "bert-base-multilingual-cased vocab";
  }
  throw std::invalid_argument("model_file_description: unknown ModelFile");
}

std::vector<FileCandidate> model_search_dirs(const std::string& model_dir_option) {
  std::vector<FileCandidate> dirs;
  auto add = [&](const std::string& path, const char* origin) {
    if (path.empty()) return;
    for (const auto& d : dirs) {
      if (fs::path(d.path).lexically_normal() == fs::path(path).lexically_normal()) return;
    }
    dirs.push_back({path, origin});
  };
  add(model_dir_option, "--model-dir");
  add(env("BARK_MODEL_DIR"), "$BARK_MODEL_DIR");
  const std::string root = cache_root();
  if (!root.empty()) add(join(root, "bark-cpp"), "default cache");
  return dirs;
}

std::string download_dir(const std::string& model_dir_option) {
  auto dirs = model_search_dirs(model_dir_option);
  if (dirs.empty()) {
    throw std::runtime_error("no model directory: pass --model-dir or set $BARK_MODEL_DIR "
                             "(neither $XDG_CACHE_HOME nor $HOME is set)");
  }
  return dirs.front().path;
}

std::vector<FileCandidate> model_file_candidates(ModelFile file, const std::string& model_dir_option,
                                                 bool use_small) {
  const std::string name = model_file_name(file, use_small);
  std::vector<FileCandidate> out;
  for (const auto& dir : model_search_dirs(model_dir_option)) out.push_back({join(dir.path, name), dir.origin});

  const std::string root = cache_root();
  switch (file) {
    case ModelFile::Text:
    case ModelFile::Coarse:
    case ModelFile::Fine:
      if (!root.empty()) {
        // generation.py CACHE_DIR
        const std::string suno = join(join(root, "suno"), "bark_v0");
        out.push_back({join(suno, name), "Python Bark cache"});
        out.push_back({join(suno, legacy_bark_cache_name(file, use_small)), "Python Bark < 1.5 cache"});
      }
      break;
    case ModelFile::Codec: {
      // torch.hub.get_dir(): $TORCH_HOME/hub, TORCH_HOME defaulting to $XDG_CACHE_HOME/torch.
      std::string torch_home = env("TORCH_HOME");
      if (torch_home.empty() && !root.empty()) torch_home = join(root, "torch");
      if (!torch_home.empty()) {
        out.push_back({(fs::path(torch_home) / "hub" / "checkpoints" / name).string(), "torch hub cache"});
      }
      break;
    }
    case ModelFile::Vocab:
      add_hf_vocab_candidates(out);
      // transformers' Bark snapshots carry the same vocab.txt, whichever size
      for (bool small : {use_small, !use_small}) {
        for (const auto& snapshot : hf_bark_snapshots(small)) {
          out.push_back({join(snapshot, VOCAB_FILE_NAME), "Hugging Face hub cache, " + hf_bark_repo(small)});
        }
      }
      break;
  }
  return out;
}

std::string hf_bark_repo(bool use_small) { return use_small ? "suno/bark-small" : "suno/bark"; }

std::string hf_bark_weights(const std::string& dir) {
  if (dir.empty() || !is_file(join(dir, "config.json"))) return "";
  for (const char* name : {"model.safetensors", "pytorch_model.bin", "model.safetensors.index.json",
                           "pytorch_model.bin.index.json"}) {
    if (is_file(join(dir, name))) return join(dir, name);
  }
  return "";
}

std::vector<std::string> hf_bark_snapshots(bool use_small) {
  std::vector<std::string> out;
  for (const auto& p : hf_snapshots(hf_repo_dir_name(hf_bark_repo(use_small)), /*newest_first=*/true)) {
    out.push_back(p.string());
  }
  return out;
}

std::string find_model_file(ModelFile file, const std::string& model_dir_option, bool use_small) {
  for (const auto& c : model_file_candidates(file, model_dir_option, use_small)) {
    if (is_file(c.path)) return c.path;
  }
  return "";
}

ModelFiles locate_model_files(const std::string& model_dir_option, bool use_small, const ModelFileNeeds& need) {
  ModelFiles files;
  struct Slot {
    ModelFile file;
    bool needed;
    std::string* path;
    const char* group;  // `bark-cli download --only` group
  };
  const Slot slots[] = {
      {ModelFile::Text, need.text, &files.text, "models"},
      {ModelFile::Coarse, need.coarse, &files.coarse, "models"},
      {ModelFile::Fine, need.fine, &files.fine, "models"},
      {ModelFile::Codec, need.codec, &files.codec, "codec"},
      {ModelFile::Vocab, need.vocab, &files.vocab, "vocab"},
  };

  if (!model_dir_option.empty()) {
    if (const std::string why = unusable(model_dir_option); !why.empty() && why != "a directory") {
      throw std::runtime_error("model directory '" + model_dir_option + "' is " + why);
    }
    struct stat st {};
    if (::stat(model_dir_option.c_str(), &st) == 0 && !S_ISDIR(st.st_mode)) {
      throw std::runtime_error("model directory '" + model_dir_option + "' is a file, not a directory");
    }
    if (is_dir(model_dir_option) && ::access(model_dir_option.c_str(), R_OK | X_OK) != 0) {
      throw std::runtime_error("model directory '" + model_dir_option + "' is not readable (" + std::strerror(errno) + ")");
    }
  }
  // The transformers layout (model_files.h): a model directory holding it before any holding
  // our checkpoints, else the hub cache's snapshot when our checkpoints are found nowhere.
  const auto dirs = model_search_dirs(model_dir_option);
  std::string hf_dir;
  bool ours_first = false;
  for (const auto& dir : dirs) {
    if (has_our_models(dir.path, use_small)) {
      ours_first = true;
      break;
    }
    if (!hf_bark_weights(dir.path).empty()) {
      hf_dir = dir.path;
      break;
    }
  }
  if (hf_dir.empty() && !ours_first) {
    bool ours_anywhere = true;
    for (ModelFile f : {ModelFile::Text, ModelFile::Coarse, ModelFile::Fine}) {
      ours_anywhere = ours_anywhere && !find_model_file(f, model_dir_option, use_small).empty();
    }
    if (!ours_anywhere) {
      for (const auto& snapshot : hf_bark_snapshots(use_small)) {
        if (!hf_bark_weights(snapshot).empty()) {
          hf_dir = snapshot;
          break;
        }
      }
    }
  }
  if (!hf_dir.empty()) {
    files.hf_config = join(hf_dir, "config.json");
    files.text = files.coarse = files.fine = files.codec = hf_bark_weights(hf_dir);
  }

  std::string missing;
  int n_missing = 0;
  int n_unusable = 0;  // missing slots whose candidates exist but cannot be used (not a dangling link)
  std::vector<std::string> missing_groups, missing_names;
  for (const Slot& slot : slots) {
    if (!slot.path->empty()) continue;  // from the transformers layout
    auto candidates = model_file_candidates(slot.file, model_dir_option, use_small);
    if (slot.file == ModelFile::Vocab && !hf_dir.empty() &&
        std::none_of(dirs.begin(), dirs.end(), [&](const FileCandidate& d) { return d.path == hf_dir; })) {
      // the snapshot's tokenizer files, after the model directories
      candidates.insert(candidates.begin() + static_cast<std::ptrdiff_t>(dirs.size()),
                        {join(hf_dir, VOCAB_FILE_NAME), "Hugging Face hub cache, " + hf_bark_repo(use_small)});
    }
    std::string problems;  // candidates that exist but cannot be used
    bool unusable_here = false;  // one of them is more than a dangling link (downloading would not help)
    for (const auto& c : candidates) {
      const std::string why = unusable(c.path);
      if (why.empty() && is_file(c.path)) {
        *slot.path = c.path;
        break;
      }
      if (!why.empty()) {
        problems += (problems.empty() ? "" : ", ") + c.path + " is " + why;
        if (why != DANGLING_LINK) unusable_here = true;
      }
    }
    if (!slot.needed || !slot.path->empty()) continue;
    if (n_missing++ > 0) missing += "; ";
    missing += model_file_name(slot.file, use_small) + " (" + model_file_description(slot.file, use_small) + ") ";
    if (unusable_here) ++n_unusable;
    if (!problems.empty()) {
      missing += "cannot be used: " + problems;
    } else {
      missing += "looked for at ";
      for (size_t i = 0; i < candidates.size(); ++i) {
        missing += (i ? ", " : "") + candidates[i].path + " (" + candidates[i].origin + ")";
      }
    }
    missing_names.push_back(model_file_name(slot.file, use_small));
    if (std::find(missing_groups.begin(), missing_groups.end(), slot.group) == missing_groups.end()) {
      missing_groups.push_back(slot.group);
    }
  }

  files.prompts_dir = dirs.empty() ? "" : join(dirs.front().path, PROMPTS_DIR_NAME);
  bool have_prompts = false;
  for (const auto& dir : dirs) {
    if (is_dir(join(dir.path, PROMPTS_DIR_NAME))) {
      files.prompts_dir = join(dir.path, PROMPTS_DIR_NAME);
      have_prompts = true;
      break;
    }
  }
  if (!have_prompts && !hf_dir.empty() && is_file(join(hf_dir, "speaker_embeddings_path.json"))) {
    files.hf_voices = join(hf_dir, "speaker_embeddings_path.json");
  }

  if (!missing.empty()) {
    // The large models missing, the small ones present: a front end may suggest them.
    bool small_present = !use_small;
    for (ModelFile f : {ModelFile::Text, ModelFile::Coarse, ModelFile::Fine}) {
      if (!use_small) small_present = small_present && !find_model_file(f, model_dir_option, /*use_small=*/true).empty();
    }
    const bool models_or_codec_missing =
        std::any_of(missing_groups.begin(), missing_groups.end(), [](const std::string& g) { return g != "vocab"; });
    if (models_or_codec_missing && n_unusable < n_missing) {
      // every place the transformers layout was looked for, too
      const std::string hub = hf_hub_cache();
      missing += "; or Bark in the Hugging Face transformers layout (config.json with model.safetensors or "
                 "pytorch_model.bin) looked for in ";
      for (size_t i = 0; i < dirs.size(); ++i) missing += (i ? ", " : "") + dirs[i].path + " (" + dirs[i].origin + ")";
      const auto snapshots = hf_bark_snapshots(use_small);
      const std::string repo_dir =
          hub.empty() ? "" : (fs::path(hub) / hf_repo_dir_name(hf_bark_repo(use_small)) / "snapshots").string();
      if (!snapshots.empty()) {
        for (const auto& snap : snapshots) missing += ", " + snap + " (Hugging Face hub cache)";
      } else if (!repo_dir.empty()) {
        missing += (dirs.empty() ? "" : ", ") + join(repo_dir, "*") + " (Hugging Face hub cache)";
      }
    }
    if (n_unusable == n_missing) {
      // Every missing file exists but cannot be used (a directory, a FIFO, unreadable...): not
      // "missing", and a download would not replace it.
      throw std::runtime_error(std::string(n_missing > 1 ? "unusable model files: " : "unusable model file: ") +
                               missing);
    }
    const bool models_missing = std::find(missing_groups.begin(), missing_groups.end(), "models") != missing_groups.end();
    throw ModelFilesMissing(std::string(n_missing > 1 ? "missing model files: " : "missing model file: ") + missing,
                            dirs.empty() ? "" : dirs.front().path, missing_names, missing_groups, use_small,
                            models_missing && small_present);
  }
  return files;
}

std::string locate_vocab(const std::string& model_dir_option) {
  ModelFileNeeds need;
  need.text = need.coarse = need.fine = need.codec = false;
  return locate_model_files(model_dir_option, /*use_small=*/false, need).vocab;
}

bool is_allowed_prompt(const std::string& name) {
  if (name == "announcer") return true;
  std::string rest = name;
  if (rest.rfind("v2/", 0) == 0) rest = rest.substr(3);
  // "{lang}_speaker_{n}", n a single digit.
  if (rest.size() != 12 || rest.compare(2, 9, "_speaker_") != 0) return false;
  if (rest[11] < '0' || rest[11] > '9') return false;
  const std::string lang = rest.substr(0, 2);
  return std::any_of(std::begin(SUPPORTED_LANGS), std::end(SUPPORTED_LANGS),
                     [&](const char* l) { return lang == l; });
}

std::vector<std::string> allowed_prompts() {
  std::vector<std::string> out{"announcer"};
  for (const char* prefix : {"", "v2/"}) {
    for (const char* lang : SUPPORTED_LANGS) {
      for (int n = 0; n < 10; ++n) out.push_back(std::string(prefix) + lang + "_speaker_" + std::to_string(n));
    }
  }
  return out;
}

std::string resolve_voice(const std::string& voice, const std::string& prompts_dir) {
  if (voice.empty()) return "";
  const std::string ext = ".npz";
  if (voice.size() >= ext.size() && voice.compare(voice.size() - ext.size(), ext.size(), ext) == 0) {
    // A file that cannot be opened is the environment's fault (runtime_error); its content is checked
    // by load_history_prompt (invalid_argument).
    if (is_file(voice) && unusable(voice).empty()) return voice;
    if (const std::string why = unusable(voice); !why.empty()) {
      throw std::runtime_error("voice file '" + voice + "' is " + why);
    }
    throw std::runtime_error("voice file '" + voice + "' not found (a voice ending in .npz is read as a path)");
  }
  if (!is_allowed_prompt(voice)) {
    throw std::invalid_argument(
        "unknown voice '" + voice + "': expected a preset such as v2/en_speaker_6, v2/de_speaker_3, "
        "en_speaker_0 or announcer ([v2/]{lang}_speaker_{0-9} with lang one of en de es fr hi it ja ko pl pt ru "
        "tr zh), or the path of a .npz history prompt");
  }
  const std::string path = join(prompts_dir, voice + ext);
  if (is_file(path) && unusable(path).empty()) return path;
  if (const std::string why = unusable(path); !why.empty() && why != DANGLING_LINK) {
    throw std::runtime_error("voice preset '" + voice + "': " + path + " is " + why);
  }
  const std::string model_dir = fs::path(prompts_dir).parent_path().string();
  throw ModelFilesMissing("voice preset '" + voice + "' not found: no file " + path + " (model directory " +
                              model_dir + ")",
                          model_dir, {std::string(PROMPTS_DIR_NAME) + "/" + voice + ext}, {"prompts"},
                          /*use_small=*/false, /*small_models_present=*/false);
}

}  // namespace bark
