// `bark-cli download`: fetches the files of the model directory (README, "Model directory")
// from their public locations, as listed in assets/models.json (embedded at build time).
//
// Each file is written to <dest>.part, resumed with an HTTP Range request when a .part exists
// (and automatically after an interrupted transfer), verified (size against Content-Length and
// the manifest, md5/sha256 where the manifest has one, and that it opens as what it should be:
// a torch zip with data.pkl, an npz with the three prompt arrays, a BERT vocab), and only then
// renamed to its final name. Files already present, in the model directory or in a Python
// Bark / torch hub / Hugging Face cache that bark finds them in, are skipped.
//
// libcurl stays inside this static library: libbark's interface never sees it.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace bark::tools {

struct ManifestFile {
  std::string path;     // relative to the model directory: "text_2.pt", "prompts/v2/en_speaker_6.npz"
  std::string group;    // "models", "codec", "vocab", "prompts" or "clone" (`--only`; clone only when named)
  std::string variant;  // models only: "large" or "small"
  std::string kind;     // "torch", "npz" or "vocab": what the file must open as
  std::string url;      // absolute, after the mirror (if any) replaced the base
  int64_t size = -1;    // bytes; -1 = not known exactly, then max_size bounds it
  int64_t lines = -1;   // vocab: number of lines; -1 = unchecked
  std::string md5;      // hex, may be empty
  std::string sha256;   // hex, may be empty
  int64_t max_size = -1;     // upper bound when the exact size is not listed (a manifest entry has one of the two)
  int64_t approx_size = -1;  // bytes, shown by `--list` where `size` is unknown; never checked
};

// Groups of `--only`, in download order.
const std::vector<std::string>& download_groups();

// The manifest compiled into the binary (assets/models.json).
std::string_view embedded_manifest();

// Parses a manifest. A non-empty `mirror` (e.g. "http://127.0.0.1:8000") replaces the base of
// every URL: <mirror><url_path>. Throws std::runtime_error naming `origin` on malformed input.
std::vector<ManifestFile> parse_manifest(std::string_view json, const std::string& origin,
                                         const std::string& mirror = "");

// Checks that `path` is what `file` should be (size, checksums, content). Throws
// std::runtime_error saying what is wrong. Progress of hashing goes to stderr if `progress`.
void verify_download(const ManifestFile& file, const std::string& path, bool verify_checksums = true,
                     bool progress = false);

struct DownloadOptions {
  // Destination: --model-dir, else $BARK_MODEL_DIR, else the default cache (~/.cache/bark-cpp).
  std::string model_dir;
  // The small checkpoints (text.pt, coarse.pt, fine.pt) instead of the large ones.
  bool small = false;
  // Groups to fetch ("models", "codec", "vocab", "prompts"); empty = all.
  std::vector<std::string> only;
  // Replaces the base of every URL (--mirror, $BARK_DOWNLOAD_BASE_URL).
  std::string mirror;
  // Manifest file to use instead of the embedded one.
  std::string manifest_path;
  // Print what would be fetched on stdout: a header line, then per file its path, size, URL and
  // status (missing, present at PATH, wrong size), then a total line. Header and total start with '#'.
  bool list = false;
  // Check md5/sha256 where the manifest has them.
  bool verify_checksums = true;
  // Automatic resumes after an interrupted transfer, per file.
  int retries = 3;
  // Progress bars on stderr (the CLI sets this when stderr is a terminal and not --silent).
  bool progress = false;
  // No per-file report lines.
  bool silent = false;
};

// Runs the download. Throws std::invalid_argument (bad option, e.g. unknown --only group) or
// std::runtime_error (network, HTTP, disk or verification failure), one line, naming the file.
void run_download(const DownloadOptions& options);

}  // namespace bark::tools
