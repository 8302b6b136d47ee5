// Tests of `bark-cli download` (tools/download): [cli] cases run the real binary against
// tests/http_server.py on 127.0.0.1; [unit] cases call the download library directly.
#include <catch2/catch.hpp>
#include <filesystem>
#include <string>
#include <vector>

#include "cli_helpers.h"
#include "download/download.h"
#include "download/hash.h"
#include "model_files.h"

namespace fs = std::filesystem;
using bark_test::run_cli;
using bark_test::TestServer;
using Catch::Matchers::Contains;
using Catch::Matchers::EndsWith;
using Catch::Matchers::StartsWith;

namespace {

struct MirrorFile {
  std::string path;      // in the model directory
  std::string url_path;  // on the server
  fs::path source;       // fixture served
  std::string group, variant, kind, extra;  // extra: more JSON members, e.g. "\"lines\": 5"
};

fs::path fixture_models() { return bark_test::fixtures_dir() / "models" / "f0"; }

std::vector<MirrorFile> fixture_files() {
  const auto prompts = bark_test::assets_dir() / "prompts";
  return {
      {"text.pt", "/suno/bark/resolve/main/text.pt", fixture_models() / "text.pt", "models", "small", "torch", "md5"},
      {"coarse.pt", "/suno/bark/resolve/main/coarse.pt", fixture_models() / "coarse.pt", "models", "small", "torch", "size"},
      {"fine.pt", "/suno/bark/resolve/main/fine.pt", fixture_models() / "fine.pt", "models", "small", "torch", "sha256"},
      {"encodec_24khz-d7cc33bc.th", "/encodec/v0/encodec_24khz-d7cc33bc.th", fixture_models() / "codec.pt", "codec", "",
       "torch", "sha256"},
      {"vocab.txt", "/bert-base-multilingual-cased/resolve/main/vocab.txt", bark_test::vocab_path(), "vocab", "", "vocab",
       "sha256"},
      {"prompts/v2/en_speaker_6.npz", "/p/v2/en_speaker_6.npz", prompts / "v2" / "en_speaker_6.npz", "prompts", "", "npz",
       "sha256"},
      {"prompts/announcer.npz", "/p/announcer.npz", prompts / "announcer.npz", "prompts", "", "npz", "sha256"},
  };
}

// The JSON entry of `f`; `check` is "md5", "sha256" or "size" (what it is verified by).
std::string manifest_entry(const MirrorFile& f, const std::string& check_override = "") {
  const std::string check = check_override.empty() ? f.extra : check_override;
  std::string e = "{\"path\": \"" + f.path + "\", \"group\": \"" + f.group + "\", \"kind\": \"" + f.kind +
                  "\", \"base\": \"hf\", \"url_path\": \"" + f.url_path + "\"";
  if (!f.variant.empty()) e += ", \"variant\": \"" + f.variant + "\"";
  if (check == "md5") {
    e += ", \"md5\": \"" + bark::tools::hash_file(f.source.string(), "md5") + "\", \"max_size\": " +
         std::to_string(fs::file_size(f.source) + 1000);
  }
  if (check == "sha256") {
    e += ", \"sha256\": \"" + bark::tools::hash_file(f.source.string(), "sha256") + "\", \"size\": " +
         std::to_string(fs::file_size(f.source));
  }
  if (check == "size") e += ", \"size\": " + std::to_string(fs::file_size(f.source));
  if (check.rfind("raw:", 0) == 0) e += ", " + check.substr(4);
  return e + "}";
}

std::string manifest_of(const std::vector<std::string>& entries) {
  std::string json = "{\"format\": 1, \"bases\": {\"hf\": \"https://huggingface.invalid\"}, \"files\": [\n";
  for (size_t i = 0; i < entries.size(); ++i) json += (i ? ",\n" : "") + entries[i];
  return json + "\n]}\n";
}

// A served directory with the fixture files at their URL paths (symlinks), and a manifest.
struct Mirror {
  fs::path root, www, manifest, models, home;
};

Mirror make_mirror(const std::string& name, const std::vector<MirrorFile>& files = fixture_files()) {
  Mirror m;
  m.root = bark_test::unique_temp_dir(name);
  m.www = m.root / "www";
  m.models = m.root / "models";
  m.home = m.root / "home";
  std::vector<std::string> entries;
  for (const auto& f : files) {
    const fs::path served = m.www / f.url_path.substr(1);
    fs::create_directories(served.parent_path());
    fs::create_symlink(f.source, served);
    entries.push_back(manifest_entry(f));
  }
  m.manifest = m.root / "manifest.json";
  bark_test::write_text(m.manifest, manifest_of(entries));
  return m;
}

std::vector<std::string> download_args(const Mirror& m, const TestServer& server, std::vector<std::string> more = {}) {
  std::vector<std::string> args{"download", "--manifest", m.manifest.string(), "--mirror", server.url(),
                                "--model-dir", m.models.string()};
  args.insert(args.end(), more.begin(), more.end());
  return args;
}

bool same_bytes(const fs::path& a, const fs::path& b) {
  return fs::exists(a) && fs::exists(b) && bark_test::slurp_text(a) == bark_test::slurp_text(b);
}

std::vector<fs::path> part_files(const fs::path& dir) {
  std::vector<fs::path> out;
  if (!fs::exists(dir)) return out;
  for (const auto& e : fs::recursive_directory_iterator(dir)) {
    if (e.path().extension() == ".part") out.push_back(e.path());
  }
  return out;
}

size_t count_containing(const std::vector<std::string>& lines, const std::string& needle) {
  size_t n = 0;
  for (const auto& l : lines) n += l.find(needle) != std::string::npos;
  return n;
}

void require_one_error_line(const bark_test::RunResult& r) {
  INFO(r.err);
  REQUIRE(r.err.rfind("error: ", 0) == 0);  // nothing before it...
  REQUIRE(bark_test::count_lines(r.err) == 1);
}

// The stderr error line (the last line).
std::string last_line(const std::string& s) {
  std::string t = s;
  while (!t.empty() && t.back() == '\n') t.pop_back();
  const size_t nl = t.rfind('\n');
  return nl == std::string::npos ? t : t.substr(nl + 1);
}

}  // namespace

TEST_CASE("download fetches, verifies and places every file, a second run fetches nothing", "[cli]") {
  auto m = make_mirror("dl_all");
  TestServer server(m.www);
  auto r = run_cli(download_args(m, server, {"--small"}), bark_test::clean_env(m.home));
  INFO(r.err);
  REQUIRE(r.exit_code == 0);
  for (const auto& f : fixture_files()) CHECK(same_bytes(m.models / f.path, f.source));
  CHECK(part_files(m.models).empty());
  CHECK(server.log().size() == fixture_files().size());
  CHECK_THAT(r.err, Contains("text.pt: saved " + (m.models / "text.pt").string()));
  CHECK_THAT(r.err, Contains("md5 verified"));
  CHECK_THAT(r.err, Contains("sha256 verified"));

  // The model directory now satisfies the lookup of the library.
  auto files = bark::locate_model_files(m.models.string(), /*use_small=*/true);
  CHECK(files.text == (m.models / "text.pt").string());
  CHECK(bark::resolve_voice("v2/en_speaker_6", files.prompts_dir) == (m.models / "prompts/v2/en_speaker_6.npz").string());

  auto again = run_cli(download_args(m, server, {"--small"}), bark_test::clean_env(m.home));
  INFO(again.err);
  CHECK(again.exit_code == 0);
  CHECK(server.log().size() == fixture_files().size());  // no new request
  CHECK_THAT(again.err, Contains("text.pt: present at " + (m.models / "text.pt").string()));
  CHECK_THAT(again.err, Contains("0 downloaded"));
}

TEST_CASE("download --only clone fetches the voice-cloning files, a plain download never does", "[cli]") {
  const auto tmp = bark_test::unique_temp_dir("dl_clone_src");
  bark_test::write_text(tmp / "config.json", "{\"model_type\": \"hubert\"}\n");
  bark_test::write_text(tmp / "bad.json", "[1, 2]\n");
  auto files = fixture_files();
  files.push_back({"hubert-base-ls960/config.json", "/facebook/hubert-base-ls960/resolve/main/config.json",
                   tmp / "config.json", "clone", "", "json", "size"});
  // stand-ins of the right format (torch zips): the fixture checkpoints
  files.push_back({"hubert-base-ls960/pytorch_model.bin", "/facebook/hubert-base-ls960/resolve/main/pytorch_model.bin",
                   fixture_models() / "codec.pt", "clone", "", "torch", "raw:\"note\": \"no digest\", \"max_size\": 1073741824"});
  files.push_back({"quantifier_hubert_base_ls960_14.pth",
                   "/GitMylo/bark-voice-cloning/resolve/main/quantifier_hubert_base_ls960_14.pth",
                   fixture_models() / "fine.pt", "clone", "", "torch", "raw:\"note\": \"no digest\", \"max_size\": 1073741824"});
  auto m = make_mirror("dl_clone", files);
  TestServer server(m.www);
  auto plain = run_cli(download_args(m, server, {"--small"}), bark_test::clean_env(m.home));
  INFO(plain.err);
  REQUIRE(plain.exit_code == 0);
  CHECK_FALSE(fs::exists(m.models / "hubert-base-ls960"));
  CHECK_FALSE(fs::exists(m.models / "quantifier_hubert_base_ls960_14.pth"));
  CHECK(count_containing(server.log(), "hubert") == 0);

  auto r = run_cli(download_args(m, server, {"--only", "clone"}), bark_test::clean_env(m.home));
  INFO(r.err);
  REQUIRE(r.exit_code == 0);
  for (size_t i = files.size() - 3; i < files.size(); ++i) CHECK(same_bytes(m.models / files[i].path, files[i].source));

  // a config.json that is not a JSON object is refused
  fs::remove_all(m.models / "hubert-base-ls960");
  fs::remove(m.www / "facebook/hubert-base-ls960/resolve/main/config.json");
  fs::create_symlink(tmp / "bad.json", m.www / "facebook/hubert-base-ls960/resolve/main/config.json");
  files[files.size() - 3].source = tmp / "bad.json";
  std::vector<std::string> entries;
  for (const auto& f : files) entries.push_back(manifest_entry(f));
  bark_test::write_text(m.manifest, manifest_of(entries));
  auto bad = run_cli(download_args(m, server, {"--only", "clone"}), bark_test::clean_env(m.home));
  CHECK(bad.exit_code == 1);
  CHECK_THAT(last_line(bad.err), Contains("config.json") && Contains("not a JSON object"));
  CHECK_FALSE(fs::exists(m.models / "hubert-base-ls960" / "config.json"));
}

TEST_CASE("download resumes a response cut off half way with an HTTP Range request", "[cli]") {
  auto m = make_mirror("dl_resume");
  TestServer server(m.www, {"--cut", "/suno/bark/resolve/main/text.pt"});
  auto r = run_cli(download_args(m, server, {"--small", "--only", "models"}), bark_test::clean_env(m.home));
  INFO(r.err);
  REQUIRE(r.exit_code == 0);
  const auto source = fixture_models() / "text.pt";
  CHECK(same_bytes(m.models / "text.pt", source));
  const auto log = server.log();
  const std::string half = std::to_string(fs::file_size(source) / 2);
  CHECK(count_containing(log, "\"status\": \"cut\"") == 1);
  CHECK(count_containing(log, "\"range\": \"bytes=" + half + "-\", \"status\": 206") == 1);
  CHECK_THAT(r.err, Contains("text.pt: interrupted at"));
  CHECK(part_files(m.models).empty());
}

TEST_CASE("an interrupted download keeps its .part, never the final name, and the next run resumes", "[cli]") {
  auto m = make_mirror("dl_part");
  TestServer server(m.www, {"--cut", "/encodec/v0/encodec_24khz-d7cc33bc.th"});
  const auto args = download_args(m, server, {"--only", "codec", "--retries", "0"});
  auto r = run_cli(args, bark_test::clean_env(m.home));
  REQUIRE(r.exit_code == 1);
  const std::string err = last_line(r.err);
  CHECK_THAT(err, Contains("error: encodec_24khz-d7cc33bc.th: download interrupted at"));
  CHECK_THAT(err, Contains("run the same command again to resume"));
  const auto dest = m.models / "encodec_24khz-d7cc33bc.th";
  const auto source = fixture_models() / "codec.pt";
  CHECK_FALSE(fs::exists(dest));
  REQUIRE(fs::exists(dest.string() + ".part"));
  const auto half = fs::file_size(source) / 2;
  CHECK(fs::file_size(dest.string() + ".part") == half);

  auto again = run_cli(args, bark_test::clean_env(m.home));
  INFO(again.err);
  REQUIRE(again.exit_code == 0);
  CHECK_THAT(again.err, Contains("resuming at"));
  CHECK(same_bytes(dest, source));
  CHECK_FALSE(fs::exists(dest.string() + ".part"));
  CHECK(count_containing(server.log(), "\"range\": \"bytes=" + std::to_string(half) + "-\"") == 1);
}

TEST_CASE("download shows a progress bar on a terminal", "[cli]") {
  auto m = make_mirror("dl_tty");
  TestServer server(m.www);
  auto r = bark_test::run_cli_in_pty(download_args(m, server, {"--small", "--only", "models,prompts"}),
                                     bark_test::clean_env(m.home));
  if (r.exit_code == -1) {
    WARN("util-linux `script` is not installed: cannot test on a terminal");
    return;
  }
  INFO(r.out);
  REQUIRE(r.exit_code == 0);
  CHECK_THAT(r.out, Contains("\rtext.pt ["));
  CHECK_THAT(r.out, Contains("100% 27.1 MB/27.1 MB"));
  CHECK_THAT(r.out, Contains("\rprompts [##############################] 100% 2/2"));
  CHECK(same_bytes(m.models / "text.pt", fixture_models() / "text.pt"));
}

TEST_CASE("download restarts from zero when the server ignores Range", "[cli]") {
  auto m = make_mirror("dl_norange");
  TestServer server(m.www, {"--no-range"});
  fs::create_directories(m.models);
  bark_test::write_text(m.models / "vocab.txt.part", "garbage that is not the start of the vocab");
  auto r = run_cli(download_args(m, server, {"--only", "vocab"}), bark_test::clean_env(m.home));
  INFO(r.err);
  REQUIRE(r.exit_code == 0);
  CHECK(same_bytes(m.models / "vocab.txt", bark_test::vocab_path()));
  CHECK(count_containing(server.log(), "\"status\": 200") == 1);
}

TEST_CASE("download errors: 404, 500, offline, each one line with exit 1 and nothing half-written", "[cli]") {
  auto files = fixture_files();
  files[4].url_path = "/missing/vocab.txt";  // vocab: served under another name below
  auto m = make_mirror("dl_errors", files);
  fs::remove(m.www / "missing" / "vocab.txt");
  TestServer server(m.www, {"--status", "/encodec/v0/encodec_24khz-d7cc33bc.th=500"});

  // A good file already under the final name is never clobbered by a failed download.
  fs::create_directories(m.models);
  bark_test::write_text(m.models / "vocab.txt", "old vocab of another size");
  auto r404 = run_cli(download_args(m, server, {"--only", "vocab"}), bark_test::clean_env(m.home));
  CHECK(r404.exit_code == 1);
  CHECK_THAT(last_line(r404.err), Contains("error: vocab.txt: HTTP 404 Not Found from " + server.url() + "/missing/vocab.txt"));
  CHECK(bark_test::slurp_text(m.models / "vocab.txt") == "old vocab of another size");
  CHECK(part_files(m.models).empty());

  auto r500 = run_cli(download_args(m, server, {"--only", "codec", "--retries", "1"}), bark_test::clean_env(m.home));
  CHECK(r500.exit_code == 1);
  CHECK_THAT(last_line(r500.err), Contains("HTTP 500"));
  CHECK(count_containing(server.log(), "encodec") == 2);  // one retry
  CHECK_FALSE(fs::exists(m.models / "encodec_24khz-d7cc33bc.th"));
  CHECK(part_files(m.models).empty());

  auto offline = run_cli({"download", "--manifest", m.manifest.string(), "--mirror", "http://127.0.0.1:1",
                          "--model-dir", m.models.string(), "--only", "codec"},
                         bark_test::clean_env(m.home));
  CHECK(offline.exit_code == 1);
  CHECK_THAT(last_line(offline.err), Contains("error: encodec_24khz-d7cc33bc.th: cannot reach http://127.0.0.1:1/"));
  CHECK_THAT(last_line(offline.err), Contains("check the network connection"));

  // Silent: the error line is all there is.
  auto silent = run_cli({"download", "--silent", "--manifest", m.manifest.string(), "--mirror", "http://127.0.0.1:1",
                         "--model-dir", m.models.string(), "--only", "codec"},
                        bark_test::clean_env(m.home));
  CHECK(silent.exit_code == 1);
  require_one_error_line(silent);
}

TEST_CASE("download deletes files that fail verification", "[cli]") {
  auto files = fixture_files();
  auto m = make_mirror("dl_verify", files);
  // A wrong checksum, a file that is not what it should be, and a size the server contradicts.
  const std::string bad_sha = "\"sha256\": \"" + std::string(64, '0') + "\"";
  bark_test::write_text(
      m.manifest,
      manifest_of({manifest_entry(files[4], "raw:" + bad_sha + ", \"max_size\": 100000000"),
                   manifest_entry({"prompts/fake.npz", files[4].url_path, files[4].source, "prompts", "", "npz", "size"}),
                   manifest_entry(files[3], "raw:\"size\": 12345")}));
  TestServer server(m.www);
  auto sha = run_cli(download_args(m, server, {"--only", "vocab"}), bark_test::clean_env(m.home));
  CHECK(sha.exit_code == 1);
  CHECK_THAT(last_line(sha.err), Contains("vocab.txt: downloaded file from " + server.url()));
  CHECK_THAT(last_line(sha.err), Contains("failed verification: sha256 mismatch: got fe0fda7c"));
  CHECK_FALSE(fs::exists(m.models / "vocab.txt"));
  CHECK(part_files(m.models).empty());

  // --no-verify skips only the checksum.
  auto noverify = run_cli(download_args(m, server, {"--only", "vocab", "--no-verify"}), bark_test::clean_env(m.home));
  CHECK(noverify.exit_code == 0);
  CHECK(same_bytes(m.models / "vocab.txt", bark_test::vocab_path()));

  auto kind = run_cli(download_args(m, server, {"--only", "prompts"}), bark_test::clean_env(m.home));
  CHECK(kind.exit_code == 1);
  CHECK_THAT(last_line(kind.err), Contains("not a Bark voice prompt .npz (a zip archive)"));
  CHECK_FALSE(fs::exists(m.models / "prompts" / "fake.npz"));

  auto size = run_cli(download_args(m, server, {"--only", "codec"}), bark_test::clean_env(m.home));
  CHECK(size.exit_code == 1);
  CHECK_THAT(last_line(size.err), Contains("the server reports " + std::to_string(fs::file_size(files[3].source)) +
                                           " bytes but the manifest says 12345"));
  CHECK(part_files(m.models).empty());
}

TEST_CASE("download skips files a Python Bark or torch hub install already downloaded", "[cli]") {
  auto m = make_mirror("dl_python");
  const auto suno = m.home / ".cache" / "suno" / "bark_v0";
  fs::create_directories(suno);
  fs::copy_file(fixture_models() / "text.pt", suno / "text.pt");
  const auto hub = m.home / ".cache" / "torch" / "hub" / "checkpoints";
  fs::create_directories(hub);
  fs::copy_file(fixture_models() / "codec.pt", hub / "encodec_24khz-d7cc33bc.th");
  TestServer server(m.www);
  auto r = run_cli(download_args(m, server, {"--small", "--only", "models,codec"}), bark_test::clean_env(m.home));
  INFO(r.err);
  REQUIRE(r.exit_code == 0);
  CHECK_THAT(r.err, Contains("text.pt: present at " + (suno / "text.pt").string()));
  CHECK_THAT(r.err, Contains("encodec_24khz-d7cc33bc.th: present at " + (hub / "encodec_24khz-d7cc33bc.th").string()));
  CHECK(count_containing(server.log(), "text.pt") == 0);
  CHECK(count_containing(server.log(), "encodec") == 0);
  CHECK(server.log().size() == 2);  // coarse.pt, fine.pt
}

TEST_CASE("download --list shows the built-in manifest's files and URLs, with --mirror or $BARK_DOWNLOAD_BASE_URL", "[cli]") {
  const auto home = bark_test::unique_temp_dir("dl_list") / "home";
  auto env = bark_test::clean_env(home);
  auto large = run_cli({"download", "--list"}, env);
  INFO(large.err);
  REQUIRE(large.exit_code == 0);
  const auto default_dir = home / ".cache" / "bark-cpp";
  // A header, a size for every file (the checkpoints' approximate), the total.
  CHECK_THAT(large.out, StartsWith("# file\tsize\turl\tstatus (model directory: " + default_dir.string() + ")\n"));
  CHECK_THAT(large.out, Contains("text_2.pt\t~5.3 GB\thttps://huggingface.co/suno/bark/resolve/main/text_2.pt\tmissing"));
  CHECK_THAT(large.out, Contains("\ncoarse_2.pt\t~3.9 GB\t"));
  CHECK_THAT(large.out, Contains("\nfine_2.pt\t~3.7 GB\t"));
  CHECK_THAT(large.out, Contains("encodec_24khz-d7cc33bc.th\t93171529\thttps://dl.fbaipublicfiles.com/encodec/v0/encodec_24khz-d7cc33bc.th"));
  CHECK_THAT(large.out, Contains("vocab.txt\t995526\thttps://huggingface.co/bert-base-multilingual-cased/resolve/main/vocab.txt"));
  CHECK_THAT(large.out, Contains("prompts/v2/en_speaker_6.npz\t25540\t"));
  CHECK(large.out.find("\ttext.pt") == std::string::npos);
  CHECK(large.out.find("\t-\t") == std::string::npos);
  CHECK(bark_test::count_lines(large.out) == 1 + 3 + 2 + 271 + 1);
  CHECK_THAT(large.out, EndsWith("\n# total: 276 files, ~13.1 GB to download, 0 B present\n"));

  auto small = run_cli({"download", "--list", "--small", "--only", "models", "--mirror", "http://127.0.0.1:9/"}, env);
  REQUIRE(small.exit_code == 0);
  CHECK(small.out ==
        "# file\tsize\turl\tstatus (model directory: " + default_dir.string() + ")\n"
        "text.pt\t~2.3 GB\thttp://127.0.0.1:9/suno/bark/resolve/main/text.pt\tmissing\n"
        "coarse.pt\t~1.2 GB\thttp://127.0.0.1:9/suno/bark/resolve/main/coarse.pt\tmissing\n"
        "fine.pt\t~1.0 GB\thttp://127.0.0.1:9/suno/bark/resolve/main/fine.pt\tmissing\n"
        "# total: 3 files, ~4.6 GB to download, 0 B present\n");

  // A file of the wrong size is reported as such, not as missing; a present one counts as present.
  fs::create_directories(default_dir);
  bark_test::write_text(default_dir / "vocab.txt", "abc");
  fs::copy_file(bark_test::assets_dir() / "prompts" / "announcer.npz", default_dir / "announcer.npz");
  fs::create_directories(default_dir / "prompts");
  fs::rename(default_dir / "announcer.npz", default_dir / "prompts" / "announcer.npz");
  auto wrong = run_cli({"download", "--list", "--only", "vocab,prompts"}, env);
  REQUIRE(wrong.exit_code == 0);
  CHECK_THAT(wrong.out, Contains("vocab.txt\t995526\thttps://huggingface.co/bert-base-multilingual-cased/resolve/main/"
                                 "vocab.txt\twrong size: " + (default_dir / "vocab.txt").string() +
                                 " has 3 bytes, expected 995526 (downloaded again)\n"));
  CHECK_THAT(wrong.out, Contains("prompts/announcer.npz\t16794\t"));
  CHECK_THAT(wrong.out, Contains("\tpresent at " + (default_dir / "prompts" / "announcer.npz").string() + "\n"));
  CHECK_THAT(wrong.out, Contains("# total: 272 files, ") && Contains(" to download, 16.8 kB present\n"));
  fs::remove_all(default_dir);

  // Options given before the subcommand count too.
  auto before = run_cli({"--small", "--model-dir", (home / "m").string(), "download", "--list", "--only", "models"}, env);
  REQUIRE(before.exit_code == 0);
  CHECK_THAT(before.out, Contains("(model directory: " + (home / "m").string() + ")\n"
                                  "text.pt\t~2.3 GB\thttps://huggingface.co/suno/bark/resolve/main/text.pt\tmissing"));

  env["BARK_DOWNLOAD_BASE_URL"] = "http://mirror.invalid";
  const auto suno = home / ".cache" / "suno" / "bark_v0";
  fs::create_directories(suno);
  bark_test::write_text(suno / "fine_2.pt", "x");
  auto by_env = run_cli({"download", "--list", "--only", "models"}, env);
  REQUIRE(by_env.exit_code == 0);
  CHECK_THAT(by_env.out, Contains("http://mirror.invalid/suno/bark/resolve/main/text_2.pt\tmissing"));
  CHECK_THAT(by_env.out, Contains("fine_2.pt\t~3.7 GB\thttp://mirror.invalid/suno/bark/resolve/main/fine_2.pt\tpresent at " +
                                  (suno / "fine_2.pt").string()));
}

TEST_CASE("download usage errors exit 2", "[cli]") {
  const auto home = bark_test::unique_temp_dir("dl_usage") / "home";
  for (const auto& args : std::vector<std::vector<std::string>>{{"download", "--only", "weights"},
                                                                {"download", "--retries", "-1"},
                                                                {"download", "--manifest", "/nonexistent.json"},
                                                                {"download", "--bogus"}}) {
    auto r = run_cli(args, bark_test::clean_env(home));
    INFO(args[1] << ": " << r.err);
    CHECK(r.exit_code == 2);
    require_one_error_line(r);
  }
  auto help = run_cli({"download", "--help"}, bark_test::clean_env(home));
  CHECK(help.exit_code == 0);
  for (const char* opt : {"--small", "--model-dir", "--only", "--mirror", "--manifest", "--list", "--retries",
                          "--no-verify", "--silent", "BARK_DOWNLOAD_BASE_URL"}) {
    CHECK_THAT(help.out, Contains(opt));
  }
}

TEST_CASE("md5 and sha256 match the reference test vectors", "[unit]") {
  auto digest = [](const std::string& algorithm, const std::string& s) {
    bark::tools::Digest h(algorithm);
    h.update(s.data(), s.size());
    return h.hex_digest();
  };
  auto md5 = [&](const std::string& s) { return digest("md5", s); };
  auto sha = [&](const std::string& s) { return digest("sha256", s); };
  // RFC 1321 and FIPS 180-2 appendix vectors.
  CHECK(md5("") == "d41d8cd98f00b204e9800998ecf8427e");
  CHECK(md5("abc") == "900150983cd24fb0d6963f7d28e17f72");
  CHECK(md5("The quick brown fox jumps over the lazy dog") == "9e107d9d372bb6826bd81d3542a419d6");
  CHECK(md5("12345678901234567890123456789012345678901234567890123456789012345678901234567890") ==
        "57edf4a22be3c955ac49da2e2107b67a");
  CHECK(sha("") == "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
  CHECK(sha("abc") == "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
  CHECK(sha("abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq") ==
        "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1");
  // Fed in uneven pieces: the same digest.
  const std::string million(1'000'000, 'a');
  bark::tools::Digest pieces("sha256");
  for (size_t i = 0, n = 1; i < million.size(); i += n, n = n * 3 % 977 + 1) {
    pieces.update(million.data() + i, std::min(n, million.size() - i));
  }
  CHECK(pieces.hex_digest() == "cdc76e5c9914fb9281a1c7e284d73e67f1809a48a497200e046d39ccc7112cd0");
  CHECK_THROWS_AS(bark::tools::Digest("sha1"), std::invalid_argument);

  // hash_file over several of its 1 MiB reads; expected values from md5sum / sha256sum.
  const auto path = bark_test::unique_temp_dir("hash") / "bytes.bin";
  std::string bytes(3 * (1 << 20) + 12345, '\0');
  for (size_t i = 0; i < bytes.size(); ++i) bytes[i] = static_cast<char>((i * 31 + 7) % 251);
  bark_test::write_text(path, bytes);
  uint64_t reported = 0;
  CHECK(bark::tools::hash_file(path.string(), "md5", [&](uint64_t done) { reported = done; }) ==
        "0d3dafcbc34ed320898f0db8a8535c6a");
  CHECK(reported == bytes.size());
  CHECK(bark::tools::hash_file(path.string(), "sha256") ==
        "cae1fc4fa88f9584ff5bbc1b0a59a0970515b10cb4517a979dacb35d2d2c1987");
  CHECK_THROWS_WITH(bark::tools::hash_file((path.parent_path() / "none").string(), "md5"), Contains("cannot read"));
}

TEST_CASE("the built-in manifest lists the model directory's files with correct checksums", "[unit]") {
  const auto files = bark::tools::parse_manifest(bark::tools::embedded_manifest(), "embedded manifest");
  REQUIRE(files.size() == 6 + 1 + 1 + 271 + 3);
  size_t clone = 0;
  size_t prompts = 0;
  for (const auto& f : files) {
    if (f.group == "models") {
      bool small = f.variant == "small";
      CHECK(f.url == "https://huggingface.co/suno/bark/resolve/main/" + f.path);
      CHECK(f.md5.size() == 32);
      CHECK((f.path == bark::model_file_name(bark::ModelFile::Text, small) ||
             f.path == bark::model_file_name(bark::ModelFile::Coarse, small) ||
             f.path == bark::model_file_name(bark::ModelFile::Fine, small)));
    } else if (f.group == "codec") {
      CHECK(f.path == bark::ENCODEC_FILE_NAME);
      CHECK(f.sha256.rfind("d7cc33bc", 0) == 0);  // torch hub names files by their sha256 prefix
    } else if (f.group == "vocab") {
      CHECK(f.path == "vocab.txt");
      // The copy in shared/ is the Hugging Face file: the manifest's checks accept it.
      bark::tools::verify_download(f, bark_test::vocab_path().string());
    } else if (f.group == "clone") {
      // voice cloning (README "Voice cloning"): the model directory contract's names
      ++clone;
      CHECK((f.path == "hubert-base-ls960/config.json" || f.path == "hubert-base-ls960/pytorch_model.bin" ||
             f.path == "quantifier_hubert_base_ls960_14.pth"));
      CHECK(f.url.rfind("https://huggingface.co/", 0) == 0);
      const std::string file_name = fs::path(f.path).filename().string();
      CHECK(f.url.compare(f.url.size() - file_name.size(), file_name.size(), file_name) == 0);
    } else {
      ++prompts;
      const fs::path local = bark_test::assets_dir() / fs::path(f.path);  // prompts/...
      REQUIRE(fs::exists(local));
      bark::tools::verify_download(f, local.string());
      const std::string name = f.path.substr(8, f.path.size() - 8 - 4);  // strip "prompts/", ".npz"
      if (name.rfind("speaker_", 0) != 0) CHECK(bark::is_allowed_prompt(name));
    }
  }
  CHECK(prompts == 271);
  CHECK(clone == 3);
  for (const auto& name : bark::allowed_prompts()) {
    CHECK(std::any_of(files.begin(), files.end(), [&](const auto& f) { return f.path == "prompts/" + name + ".npz"; }));
  }
}

TEST_CASE("parse_manifest applies the mirror and rejects malformed manifests", "[unit]") {
  const std::string ok =
      R"({"bases": {"a": "https://a.example"}, "files": [{"path": "vocab.txt", "group": "vocab", "kind": "vocab",
          "base": "a", "url_path": "/x/vocab.txt", "size": 3, "lines": 1}]})";
  auto files = bark::tools::parse_manifest(ok, "m");
  REQUIRE(files.size() == 1);
  CHECK(files[0].url == "https://a.example/x/vocab.txt");
  CHECK(files[0].size == 3);
  CHECK(files[0].lines == 1);
  CHECK(bark::tools::parse_manifest(ok, "m", "http://127.0.0.1:8000/")[0].url == "http://127.0.0.1:8000/x/vocab.txt");

  auto bad = [](const std::string& json) {
    try {
      bark::tools::parse_manifest(json, "m.json");
    } catch (const std::runtime_error& e) {
      return std::string(e.what());
    }
    return std::string();
  };
  CHECK_THAT(bad("{\"bases\": {}, \"files\": [}"), Contains("m.json: invalid JSON at byte"));
  CHECK_THAT(bad(R"({"bases": {}, "files": [{"path": "v", "group": "vocab", "kind": "vocab", "base": "zz", "url_path": "/v"}]})"),
             Contains("unknown base \"zz\""));
  CHECK_THAT(bad(R"({"bases": {"a": "h"}, "files": [{"path": "../v", "group": "vocab", "kind": "vocab", "base": "a", "url_path": "/v"}]})"),
             Contains("must stay inside the model directory"));
  CHECK_THAT(bad(R"({"bases": {"a": "h"}, "files": [{"path": "v", "group": "weights", "kind": "vocab", "base": "a", "url_path": "/v"}]})"),
             Contains("unknown group \"weights\""));
  CHECK_THAT(bad(R"({"bases": {"a": "h"}, "files": [{"path": "v", "group": "models", "kind": "torch", "base": "a", "url_path": "/v"}]})"),
             Contains("\"variant\""));
  CHECK_THAT(bad(R"({"bases": {"a": "h"}, "files": [{"group": "vocab"}]})"), Contains("files[0]: missing \"path\""));
  CHECK_THAT(bad(R"({"bases": {"a": "h"}, "files": [{"path": 7, "group": "vocab", "kind": "vocab", "base": "a", "url_path": "/v"}]})"),
             Contains("files[0].path: expected a string"));
  for (const char* size : {"-1", "1.5", "\"3\"", "18446744073709551615"}) {
    CHECK_THAT(bad(std::string(R"({"bases": {"a": "h"}, "files": [{"path": "v", "group": "vocab", "kind": "vocab", "base": "a", "url_path": "/v", "size": )") +
                   size + "}]}"),
               Contains("files[0].size: expected a non-negative integer"));
  }
  CHECK_THAT(bad(R"({"bases": [], "files": []})"), Contains("a manifest needs a \"bases\" object"));
}

TEST_CASE("verify_download checks what a file opens as", "[unit]") {
  bark::tools::ManifestFile torch{"text.pt", "models", "small", "torch", "", -1, -1, "", ""};
  bark::tools::verify_download(torch, (fixture_models() / "text.pt").string());
  CHECK_THROWS_WITH(bark::tools::verify_download(torch, bark_test::vocab_path().string()),
                    Contains("not a torch checkpoint (a zip archive)"));
  // A voice prompt is a zip, but not a torch checkpoint.
  const auto npz = bark_test::assets_dir() / "prompts" / "announcer.npz";
  CHECK_THROWS_WITH(bark::tools::verify_download(torch, npz.string()), Contains("the zip has no data.pkl"));

  bark::tools::ManifestFile prompt{"prompts/announcer.npz", "prompts", "", "npz", "", -1, -1, "", ""};
  bark::tools::verify_download(prompt, npz.string());
  const auto dir = bark_test::unique_temp_dir("verify_download");
  const std::string bytes = bark_test::slurp_text(npz);
  bark_test::write_text(dir / "truncated.npz", bytes.substr(0, bytes.size() / 2));
  CHECK_THROWS_WITH(bark::tools::verify_download(prompt, (dir / "truncated.npz").string()), Contains("not a Bark voice prompt"));
  bark::tools::verify_download(torch, (fixture_models() / "codec.pt").string());  // EnCodec's plain state_dict

  bark::tools::ManifestFile vocab{"vocab.txt", "vocab", "", "vocab", "", -1, 119547, "", ""};
  bark::tools::verify_download(vocab, bark_test::vocab_path().string());
  vocab.lines = 10;
  CHECK_THROWS_WITH(bark::tools::verify_download(vocab, bark_test::vocab_path().string()),
                    Contains("vocab has 119547 lines, expected 10"));
  bark_test::write_text(dir / "vocab.txt", "hello\nworld\n");
  vocab.lines = -1;
  CHECK_THROWS_WITH(bark::tools::verify_download(vocab, (dir / "vocab.txt").string()), Contains("not a BERT vocab"));
  vocab.size = 5;
  CHECK_THROWS_WITH(bark::tools::verify_download(vocab, (dir / "vocab.txt").string()), Contains("size is 12 bytes, expected 5"));
}

TEST_CASE("download cuts off a server that streams more than the manifest's size, and keeps nothing", "[cli]") {
  // A hostile mirror: no Content-Length, an endless body. Before the bound the whole stream went
  // to the .part file until the checksum (hundreds of MB later).
  auto files = fixture_files();
  auto m = make_mirror("dl_endless", files);
  bark_test::write_text(m.manifest, manifest_of({manifest_entry(files[6]),  // announcer.npz, with its size
                                                 manifest_entry(files[0])}));  // text.pt: md5 + max_size
  TestServer server(m.www, {"--endless", files[6].url_path, "--endless", files[0].url_path});
  for (const char* group : {"prompts", "models"}) {
    auto r = run_cli(download_args(m, server, {"--only", group, "--small"}), bark_test::clean_env(m.home));
    INFO(r.err);
    CHECK(r.exit_code == 1);
    CHECK_THAT(last_line(r.err), Contains("the server sent more than the") && Contains("nothing was kept"));
    CHECK(part_files(m.models).empty());
  }
  CHECK_FALSE(fs::exists(m.models / "prompts" / "announcer.npz"));
  CHECK_FALSE(fs::exists(m.models / "text.pt"));
}
