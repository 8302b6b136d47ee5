#include "download.h"

#include <curl/curl.h>
#include <fcntl.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <memory>
#include <nlohmann/json.hpp>
#include <sstream>
#include <stdexcept>
#include <thread>

#include "bark/version.h"
#include "download/hash.h"
#include "download/progress.h"
#include "io/zip.h"
#include "model_files.h"

namespace fs = std::filesystem;

namespace bark::tools {
namespace {

std::string errno_text() { return std::strerror(errno); }

// <dest>.part, opened once per file and locked so that two downloads never write it at once.
class PartFile {
 public:
  explicit PartFile(const std::string& path) : path_(path) {
    fd_ = ::open(path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0644);
    if (fd_ < 0) throw std::runtime_error("cannot write '" + path + "': " + errno_text());
    if (::flock(fd_, LOCK_EX | LOCK_NB) != 0) {
      ::close(fd_);
      throw std::runtime_error("'" + path + "' is locked: another bark-cli download is writing it");
    }
  }
  ~PartFile() { ::close(fd_); }
  PartFile(const PartFile&) = delete;
  PartFile& operator=(const PartFile&) = delete;

  const std::string& path() const { return path_; }
  uint64_t size() const {
    struct stat st {};
    if (::fstat(fd_, &st) != 0) throw std::runtime_error("cannot stat '" + path_ + "': " + errno_text());
    return static_cast<uint64_t>(st.st_size);
  }
  // Drops everything from `offset` on and positions writes there.
  void truncate(uint64_t offset) {
    if (::ftruncate(fd_, static_cast<off_t>(offset)) != 0 || ::lseek(fd_, static_cast<off_t>(offset), SEEK_SET) < 0) {
      throw std::runtime_error("cannot truncate '" + path_ + "': " + errno_text());
    }
  }
  // Returns "" or the error.
  std::string write_all(const char* data, size_t n) {
    while (n > 0) {
      const ssize_t w = ::write(fd_, data, n);
      if (w < 0) {
        if (errno == EINTR) continue;
        return "cannot write '" + path_ + "': " + errno_text();
      }
      data += w;
      n -= static_cast<size_t>(w);
    }
    return "";
  }
  void sync() {
    if (::fsync(fd_) != 0) throw std::runtime_error("cannot flush '" + path_ + "': " + errno_text());
  }

 private:
  std::string path_;
  int fd_ = -1;
};

// State of one HTTP request (the last response, after redirects, is the one that counts).
struct Transfer {
  PartFile* part = nullptr;
  uint64_t offset = 0;           // first byte asked for
  int64_t manifest_size = -1;
  int64_t max_size = -1;         // when the manifest has only an upper bound
  uint64_t written = 0;          // body bytes written to the part in this request
  std::string dir;               // for the free-space check
  ProgressBar* bar = nullptr;

  long status = 0;
  std::string reason;
  int64_t content_length = -1;
  int64_t range_start = -1, range_total = -1;
  bool body_started = false;
  bool writing = false;
  int64_t total = -1;            // full file size as the server reports it
  std::string error_body;
  std::string abort_reason;      // set when a callback aborts the transfer
};

std::string lower(std::string s) {
  std::transform(s.begin(), s.end(), s.begin(), [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  return s;
}

size_t on_header(char* buffer, size_t size, size_t n, void* user) {
  auto* t = static_cast<Transfer*>(user);
  std::string line(buffer, size * n);
  while (!line.empty() && (line.back() == '\r' || line.back() == '\n')) line.pop_back();
  if (line.rfind("HTTP/", 0) == 0) {  // a new response (e.g. after a redirect)
    t->status = 0;
    t->reason.clear();
    t->content_length = t->range_start = t->range_total = -1;
    std::istringstream in(line);
    std::string version;
    in >> version >> t->status;
    std::getline(in, t->reason);
    if (!t->reason.empty() && t->reason.front() == ' ') t->reason.erase(0, 1);
    return size * n;
  }
  const size_t colon = line.find(':');
  if (colon == std::string::npos) return size * n;
  const std::string name = lower(line.substr(0, colon));
  std::string value = line.substr(colon + 1);
  value.erase(0, value.find_first_not_of(" \t"));
  try {
    if (name == "content-length") {
      t->content_length = std::stoll(value);
    } else if (name == "content-range") {  // "bytes 100-199/200"
      const size_t space = value.find(' '), dash = value.find('-'), slash = value.find('/');
      if (space != std::string::npos && dash != std::string::npos) t->range_start = std::stoll(value.substr(space + 1, dash - space - 1));
      if (slash != std::string::npos && value.substr(slash + 1) != "*") t->range_total = std::stoll(value.substr(slash + 1));
    }
  } catch (const std::exception&) {
    // A malformed header is ignored; the size checks catch what matters.
  }
  return size * n;
}

// Called for the first body bytes (or at the end for an empty body): decides where they go.
bool start_body(Transfer* t) {
  t->body_started = true;
  if (t->status == 206) {
    if (t->range_start != static_cast<int64_t>(t->offset)) {
      t->abort_reason = "the server resumed at byte " + std::to_string(t->range_start) + " instead of " +
                        std::to_string(t->offset);
      return false;
    }
    t->total = t->range_total;
  } else if (t->status == 200) {
    t->offset = 0;  // no resume: the server sends the whole file
    t->total = t->content_length;
  } else {
    return true;  // an error page: kept for the message, never written to the file
  }
  if (t->manifest_size >= 0 && t->total >= 0 && t->total != t->manifest_size) {
    t->abort_reason = "the server reports " + std::to_string(t->total) + " bytes but the manifest says " +
                      std::to_string(t->manifest_size);
    return false;
  }
  if (t->total >= 0) {
    std::error_code ec;
    const auto space = fs::space(t->dir, ec);
    const uint64_t needed = static_cast<uint64_t>(t->total) - t->offset;
    if (!ec && space.available < needed) {
      t->abort_reason = "not enough disk space in " + t->dir + ": " + format_bytes(needed) + " needed, " +
                        format_bytes(space.available) + " available";
      return false;
    }
  }
  t->part->truncate(t->offset);
  t->writing = true;
  return true;
}

size_t on_body(char* data, size_t size, size_t n, void* user) {
  auto* t = static_cast<Transfer*>(user);
  const size_t bytes = size * n;
  try {
    if (!t->body_started && !start_body(t)) return 0;
  } catch (const std::exception& e) {
    t->abort_reason = e.what();
    return 0;
  }
  if (!t->writing) {
    if (t->error_body.size() < 300) t->error_body.append(data, std::min<size_t>(bytes, 300 - t->error_body.size()));
    return bytes;
  }
  // Never more than the manifest allows: a server streaming without a Content-Length (or
  // lying in it) is cut off at the first byte too many, not after filling the disk.
  const int64_t limit = t->manifest_size >= 0 ? t->manifest_size : t->max_size;
  if (limit >= 0 && t->offset + t->written + bytes > static_cast<uint64_t>(limit)) {
    t->abort_reason = "the server sent more than the " + std::to_string(limit) + " bytes the manifest " +
                      (t->manifest_size >= 0 ? "lists" : "allows") + " (a wrong or hostile mirror?); nothing was kept";
    try {
      t->part->truncate(0);
    } catch (const std::exception&) {  // never through curl's C frames
    }
    return 0;
  }
  t->abort_reason = t->part->write_all(data, bytes);
  t->written += bytes;
  return t->abort_reason.empty() ? bytes : 0;
}

int on_progress(void* user, curl_off_t dltotal, curl_off_t dlnow, curl_off_t, curl_off_t) {
  auto* t = static_cast<Transfer*>(user);
  if (t->bar != nullptr && t->writing) {
    const int64_t total = t->total >= 0 ? t->total : (dltotal > 0 ? static_cast<int64_t>(t->offset) + dltotal : -1);
    t->bar->update(static_cast<int64_t>(t->offset) + dlnow, total);
  }
  return 0;
}

enum class Outcome { Complete, Interrupted, RangeNotSatisfiable };

class Curl {
 public:
  Curl() {
    if (curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK) throw std::runtime_error("cannot initialise libcurl");
    handle_ = curl_easy_init();
    if (handle_ == nullptr) throw std::runtime_error("cannot initialise libcurl");
  }
  ~Curl() {
    curl_easy_cleanup(handle_);
    curl_global_cleanup();
  }
  Curl(const Curl&) = delete;
  Curl& operator=(const Curl&) = delete;

  // One GET of `url` from byte t.offset into t.part. Throws on errors that retrying cannot fix.
  Outcome get(const std::string& url, const std::string& what, Transfer& t, std::string* interruption) {
    char errbuf[CURL_ERROR_SIZE] = {};
    const std::string range = std::to_string(t.offset) + "-";
    const std::string agent = std::string("bark-cpp/") + bark::version();
    curl_easy_reset(handle_);
    curl_easy_setopt(handle_, CURLOPT_URL, url.c_str());
    curl_easy_setopt(handle_, CURLOPT_PROTOCOLS_STR, "http,https");
    curl_easy_setopt(handle_, CURLOPT_REDIR_PROTOCOLS_STR, "http,https");
    curl_easy_setopt(handle_, CURLOPT_FOLLOWLOCATION, 1L);
    curl_easy_setopt(handle_, CURLOPT_MAXREDIRS, 10L);
    curl_easy_setopt(handle_, CURLOPT_USERAGENT, agent.c_str());
    curl_easy_setopt(handle_, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(handle_, CURLOPT_CONNECTTIMEOUT, 30L);
    curl_easy_setopt(handle_, CURLOPT_LOW_SPEED_LIMIT, 1L);  // stalled for a minute: interrupted
    curl_easy_setopt(handle_, CURLOPT_LOW_SPEED_TIME, 60L);
    curl_easy_setopt(handle_, CURLOPT_ERRORBUFFER, errbuf);
    curl_easy_setopt(handle_, CURLOPT_HEADERFUNCTION, &on_header);
    curl_easy_setopt(handle_, CURLOPT_HEADERDATA, &t);
    curl_easy_setopt(handle_, CURLOPT_WRITEFUNCTION, &on_body);
    curl_easy_setopt(handle_, CURLOPT_WRITEDATA, &t);
    curl_easy_setopt(handle_, CURLOPT_XFERINFOFUNCTION, &on_progress);
    curl_easy_setopt(handle_, CURLOPT_XFERINFODATA, &t);
    curl_easy_setopt(handle_, CURLOPT_NOPROGRESS, 0L);
    if (t.offset > 0) curl_easy_setopt(handle_, CURLOPT_RANGE, range.c_str());

    const CURLcode rc = curl_easy_perform(handle_);
    if (!t.abort_reason.empty()) throw std::runtime_error(what + ": " + t.abort_reason);
    const std::string curl_error = errbuf[0] != '\0' ? errbuf : curl_easy_strerror(rc);
    if (t.status == 416) return Outcome::RangeNotSatisfiable;
    if (t.status >= 400) {
      std::string reason = t.reason.empty() ? "" : " " + t.reason;
      const std::string msg = "HTTP " + std::to_string(t.status) + reason + " from " + url;
      if (t.status >= 500) {  // the server's trouble: worth another try
        *interruption = msg;
        return Outcome::Interrupted;
      }
      throw std::runtime_error(what + ": " + msg);
    }
    switch (rc) {
      case CURLE_OK:
        break;
      case CURLE_COULDNT_RESOLVE_HOST:
      case CURLE_COULDNT_RESOLVE_PROXY:
      case CURLE_COULDNT_CONNECT:
        throw std::runtime_error(what + ": cannot reach " + url + " (" + curl_error +
                                 "); check the network connection, or fetch the file elsewhere and copy it into "
                                 "the model directory");
      case CURLE_PARTIAL_FILE:
      case CURLE_RECV_ERROR:
      case CURLE_SEND_ERROR:
      case CURLE_GOT_NOTHING:
      case CURLE_OPERATION_TIMEDOUT:
      case CURLE_HTTP2:
      case CURLE_HTTP2_STREAM:
        *interruption = curl_error;
        return Outcome::Interrupted;
      default:
        throw std::runtime_error(what + ": download from " + url + " failed: " + curl_error);
    }
    if (t.status != 200 && t.status != 206) {
      throw std::runtime_error(what + ": unexpected HTTP status " + std::to_string(t.status) + " from " + url);
    }
    if (!t.body_started && !start_body(&t)) throw std::runtime_error(what + ": " + t.abort_reason);  // empty body
    if (t.total >= 0 && t.part->size() != static_cast<uint64_t>(t.total)) {
      *interruption = "connection closed at byte " + std::to_string(t.part->size()) + " of " + std::to_string(t.total);
      return Outcome::Interrupted;
    }
    return Outcome::Complete;
  }

 private:
  CURL* handle_ = nullptr;
};

void check_zip_members(const std::string& path, const std::vector<std::string>& members, const std::string& kind) {
  std::unique_ptr<io::ZipReader> zip;
  try {
    zip = std::make_unique<io::ZipReader>(path);
  } catch (const std::exception& e) {
    throw std::runtime_error("not a " + kind + " (a zip archive): " + e.what());
  }
  for (const auto& member : members) {
    if (zip->find(member) != nullptr) continue;
    if (member == "data.pkl") {  // torch.save archives: "<name>/data.pkl"
      const auto& entries = zip->entries();
      const bool found = std::any_of(entries.begin(), entries.end(), [](const io::ZipEntry& e) {
        return e.name.size() > 9 && e.name.compare(e.name.size() - 9, 9, "/data.pkl") == 0 &&
               std::count(e.name.begin(), e.name.end(), '/') == 1;
      });
      if (found) continue;
    }
    throw std::runtime_error("not a " + kind + ": the zip has no " + member);
  }
}

void check_vocab(const std::string& path, int64_t expected_lines) {
  std::ifstream in(path, std::ios::binary);
  if (!in) throw std::runtime_error("cannot read '" + path + "'");
  std::string line;
  int64_t lines = 0;
  int specials = 0;
  while (std::getline(in, line)) {
    ++lines;
    if (!line.empty() && line.back() == '\r') line.pop_back();
    if (line == "[PAD]" || line == "[UNK]" || line == "[CLS]" || line == "[SEP]" || line == "[MASK]") ++specials;
  }
  if (specials < 5) throw std::runtime_error("not a BERT vocab: [PAD] [UNK] [CLS] [SEP] [MASK] are not all there");
  if (expected_lines >= 0 && lines != expected_lines) {
    throw std::runtime_error("vocab has " + std::to_string(lines) + " lines, expected " + std::to_string(expected_lines));
  }
}

std::string read_text_file(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) throw std::runtime_error("cannot read manifest '" + path + "': " + errno_text());
  std::ostringstream out;
  out << in.rdbuf();
  return out.str();
}

// The ModelFile a manifest path stands for, for the lookup in other directories and caches.
bool model_file_of(const std::string& path, bool small, ModelFile* out) {
  for (ModelFile f : {ModelFile::Text, ModelFile::Coarse, ModelFile::Fine, ModelFile::Codec, ModelFile::Vocab}) {
    if (model_file_name(f, small) == path) {
      *out = f;
      return true;
    }
  }
  return false;
}

void fsync_dir(const fs::path& dir) {
  const int fd = ::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (fd >= 0) {
    ::fsync(fd);
    ::close(fd);
  }
}

// Downloads one file to `dest` through <dest>.part. Returns the number of bytes fetched.
uint64_t fetch(Curl& curl, const ManifestFile& file, const fs::path& dest, const DownloadOptions& options) {
  fs::create_directories(dest.parent_path());
  const std::string part_path = dest.string() + ".part";
  PartFile part(part_path);
  const uint64_t resumed_from = part.size();
  const bool bars = options.progress && file.group != "prompts";
  try {
    for (int attempt = 0;; ++attempt) {
      uint64_t offset = part.size();
      if (file.size >= 0 && offset == static_cast<uint64_t>(file.size)) break;  // already complete
      if (file.size >= 0 && offset > static_cast<uint64_t>(file.size)) {
        part.truncate(0);
        offset = 0;
      }
      if (offset > 0 && !options.silent && file.group != "prompts") {
        std::fprintf(stderr, "%s: resuming at %s\n", file.path.c_str(), format_bytes(offset).c_str());
      }
      ProgressBar bar(file.path, bars, ProgressBar::Unit::Bytes);
      Transfer t;
      t.part = &part;
      t.offset = offset;
      t.manifest_size = file.size;
      t.max_size = file.max_size;
      t.dir = dest.parent_path().string();
      t.bar = &bar;
      std::string interruption;
      const Outcome outcome = curl.get(file.url, file.path, t, &interruption);
      bar.finish();
      if (outcome == Outcome::Complete || outcome == Outcome::RangeNotSatisfiable) break;
      const uint64_t have = part.size();
      if (attempt >= options.retries) {
        if (have == 0) {
          throw std::runtime_error(file.path + ": " + interruption + " (" + std::to_string(attempt + 1) +
                                   (attempt == 0 ? " attempt)" : " attempts)"));
        }
        throw std::runtime_error(file.path + ": download interrupted at " + format_bytes(have) +
                                 (t.total > 0 ? " of " + format_bytes(static_cast<uint64_t>(t.total)) : "") + " (" +
                                 interruption + "); the part is kept in " + part_path +
                                 ": run the same command again to resume");
      }
      if (!options.silent) {
        std::fprintf(stderr, "%s: interrupted at %s (%s); retrying (%d of %d)\n", file.path.c_str(),
                     format_bytes(have).c_str(), interruption.c_str(), attempt + 1, options.retries);
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(500 * (attempt + 1)));
    }
    try {
      verify_download(file, part_path, options.verify_checksums, bars);
    } catch (const std::exception& e) {
      fs::remove(part_path);
      throw std::runtime_error(file.path + ": downloaded file from " + file.url + " failed verification: " + e.what() +
                               "; it was deleted, run the same command again to retry");
    }
    part.sync();
    fs::rename(part_path, dest);
    fsync_dir(dest.parent_path());
  } catch (...) {
    std::error_code ec;
    if (part.size() == 0) fs::remove(part_path, ec);  // nothing worth resuming
    throw;
  }
  const uint64_t size = fs::file_size(dest);
  return size >= resumed_from ? size - resumed_from : size;
}

// A Hugging Face config.json: a JSON object.
void check_json_object(const std::string& path) {
  const std::string text = read_text_file(path);
  nlohmann::json j;
  try {
    j = nlohmann::json::parse(text);
  } catch (const nlohmann::json::exception&) {
    throw std::runtime_error("not a JSON file");
  }
  if (!j.is_object()) throw std::runtime_error("not a JSON object");
}

}  // namespace

const std::vector<std::string>& download_groups() {
  static const std::vector<std::string> groups{"models", "codec", "vocab", "prompts", "clone"};
  return groups;
}

std::vector<ManifestFile> parse_manifest(std::string_view json, const std::string& origin, const std::string& mirror) {
  using Json = nlohmann::json;
  Json root;
  try {
    root = Json::parse(json.begin(), json.end());
  } catch (const Json::parse_error& e) {
    // what() is "[json.exception.parse_error.101] parse error at line 1, column 26: ..."
    const std::string what = e.what();
    const size_t tag_end = what.find("] ");
    throw std::runtime_error(origin + ": invalid JSON at byte " + std::to_string(e.byte) + ": " +
                             (tag_end == std::string::npos ? what : what.substr(tag_end + 2)));
  }
  const auto bases = root.find("bases");
  const auto files = root.find("files");
  if (!root.is_object() || bases == root.end() || !bases->is_object() || files == root.end() || !files->is_array()) {
    throw std::runtime_error(origin + ": a manifest needs a \"bases\" object and a \"files\" array");
  }
  std::string mirror_base = mirror;
  while (!mirror_base.empty() && mirror_base.back() == '/') mirror_base.pop_back();

  std::vector<ManifestFile> out;
  for (size_t i = 0; i < files->size(); ++i) {
    const Json& entry = (*files)[i];
    const std::string where = origin + ": files[" + std::to_string(i) + "]";
    if (!entry.is_object()) throw std::runtime_error(where + ": expected an object");
    auto str = [&](const char* key, bool required) -> std::string {
      const auto v = entry.find(key);
      if (v == entry.end()) {
        if (required) throw std::runtime_error(where + ": missing \"" + key + "\"");
        return "";
      }
      if (!v->is_string()) throw std::runtime_error(where + "." + key + ": expected a string");
      return v->get<std::string>();
    };
    auto integer = [&](const char* key) -> int64_t {
      const auto v = entry.find(key);
      if (v == entry.end()) return -1;
      // A uint64 above INT64_MAX is number_unsigned too: it would wrap to a negative value.
      if (!v->is_number_integer() || v->get<int64_t>() < 0) {
        throw std::runtime_error(where + "." + key + ": expected a non-negative integer");
      }
      return v->get<int64_t>();
    };
    ManifestFile f;
    f.path = str("path", true);
    f.group = str("group", true);
    f.variant = str("variant", false);
    f.kind = str("kind", true);
    f.md5 = str("md5", false);
    f.sha256 = str("sha256", false);
    f.size = integer("size");
    f.max_size = integer("max_size");
    f.approx_size = integer("approx_size");
    f.lines = integer("lines");
    const std::string base = str("base", true), url_path = str("url_path", true);
    const auto base_url = bases->find(base);
    if (base_url == bases->end()) throw std::runtime_error(where + ": unknown base \"" + base + "\"");
    if (!base_url->is_string()) throw std::runtime_error(origin + ": bases." + base + ": expected a string");
    f.url = (mirror_base.empty() ? base_url->get<std::string>() : mirror_base) + url_path;

    if (std::find(download_groups().begin(), download_groups().end(), f.group) == download_groups().end()) {
      throw std::runtime_error(where + ": unknown group \"" + f.group + "\"");
    }
    if (f.kind != "torch" && f.kind != "npz" && f.kind != "vocab" && f.kind != "json") {
      throw std::runtime_error(where + ": unknown kind \"" + f.kind + "\"");
    }
    if (f.group == "models" && f.variant != "large" && f.variant != "small") {
      throw std::runtime_error(where + ": models need \"variant\": \"large\" or \"small\"");
    }
    const fs::path p(f.path);
    if (f.path.empty() || p.is_absolute() || std::any_of(p.begin(), p.end(), [](const fs::path& c) { return c == ".."; })) {
      throw std::runtime_error(where + ": path \"" + f.path + "\" must stay inside the model directory");
    }
    if (f.size < 0 && f.max_size < 0) {
      throw std::runtime_error(where + ": missing \"size\" (or \"max_size\", an upper bound): every download is bounded");
    }
    out.push_back(std::move(f));
  }
  return out;
}

void verify_download(const ManifestFile& file, const std::string& path, bool verify_checksums, bool progress) {
  const uint64_t size = fs::file_size(path);
  if (file.size >= 0 && size != static_cast<uint64_t>(file.size)) {
    throw std::runtime_error("size is " + std::to_string(size) + " bytes, expected " + std::to_string(file.size));
  }
  if (verify_checksums && (!file.sha256.empty() || !file.md5.empty())) {
    const std::string algorithm = file.sha256.empty() ? "md5" : "sha256";
    const std::string& expected = file.sha256.empty() ? file.md5 : file.sha256;
    ProgressBar bar(file.path + " (" + algorithm + ")", progress && size > (64u << 20), ProgressBar::Unit::Bytes);
    const std::string got =
        hash_file(path, algorithm, [&](uint64_t done) { bar.update(static_cast<int64_t>(done), static_cast<int64_t>(size)); });
    bar.finish();
    if (lower(got) != lower(expected)) {
      throw std::runtime_error(algorithm + " mismatch: got " + got + ", expected " + expected);
    }
  }
  if (file.kind == "torch") check_zip_members(path, {"data.pkl"}, "torch checkpoint");
  else if (file.kind == "npz") check_zip_members(path, {"semantic_prompt.npy", "coarse_prompt.npy", "fine_prompt.npy"}, "Bark voice prompt .npz");
  else if (file.kind == "vocab") check_vocab(path, file.lines);
  else if (file.kind == "json") check_json_object(path);
}

void run_download(const DownloadOptions& options) {
  for (const auto& group : options.only) {
    if (std::find(download_groups().begin(), download_groups().end(), group) == download_groups().end()) {
      throw std::invalid_argument("unknown download group '" + group + "' (expected models, codec, vocab, prompts or clone)");
    }
  }
  if (options.retries < 0) throw std::invalid_argument("--retries must be >= 0");
  const std::string origin = options.manifest_path.empty() ? "embedded manifest" : options.manifest_path;
  const std::string text = options.manifest_path.empty() ? std::string(embedded_manifest()) : read_text_file(options.manifest_path);
  const auto manifest = parse_manifest(text, origin, options.mirror);
  const fs::path dir = download_dir(options.model_dir);
  const std::string variant = options.small ? "small" : "large";

  std::vector<const ManifestFile*> selected;
  for (const auto& f : manifest) {
    if (!options.only.empty() && std::find(options.only.begin(), options.only.end(), f.group) == options.only.end()) continue;
    if (f.group == "models" && f.variant != variant) continue;
    if (options.only.empty() && f.group == "clone") continue;  // voice cloning: only on request
    selected.push_back(&f);
  }
  if (selected.empty()) throw std::runtime_error(origin + " lists no file to download for these options");

  std::unique_ptr<Curl> curl;
  size_t n_fetched = 0, n_present = 0, n_prompts = 0;
  uint64_t bytes = 0;
  if (!options.list && !options.silent) std::fprintf(stderr, "model directory: %s\n", dir.c_str());
  std::unique_ptr<ProgressBar> prompts_bar;
  const size_t total_prompts = static_cast<size_t>(
      std::count_if(selected.begin(), selected.end(), [](const ManifestFile* f) { return f->group == "prompts"; }));
  uint64_t list_missing = 0, list_present = 0;
  bool list_approx = false;
  if (options.list) std::printf("# file\tsize\turl\tstatus (model directory: %s)\n", dir.c_str());
  for (const ManifestFile* f : selected) {
    const fs::path dest = dir / f->path;
    std::string present, wrong_size;
    std::error_code ec;
    if (fs::is_regular_file(dest, ec)) {
      const uint64_t size = fs::file_size(dest, ec);
      if (f->size < 0 || (!ec && size == static_cast<uint64_t>(f->size))) {
        present = dest.string();
      } else {
        wrong_size = dest.string() + " has " + std::to_string(size) + " bytes, expected " + std::to_string(f->size);
        if (!options.silent && !options.list) {
          std::fprintf(stderr, "%s: size %s differs from the manifest's %s; downloading it again\n", dest.c_str(),
                       std::to_string(size).c_str(), std::to_string(f->size).c_str());
        }
      }
    } else if (ModelFile mf; model_file_of(f->path, options.small, &mf)) {
      present = find_model_file(mf, options.model_dir, options.small);
    }
    if (options.list) {
      // Exact sizes where the manifest has them; the checkpoints have an md5 instead, and their
      // approximate size (huggingface.co's listing) is shown as "~5.4 GB".
      std::string size = "-";
      uint64_t bytes = 0;
      if (f->size >= 0) {
        bytes = static_cast<uint64_t>(f->size);
        size = std::to_string(f->size);
      } else if (f->approx_size >= 0) {
        bytes = static_cast<uint64_t>(f->approx_size);
        size = "~" + format_bytes(bytes);
        list_approx = true;
      }
      (present.empty() ? list_missing : list_present) += bytes;
      const std::string status = !present.empty() ? "present at " + present
                                 : !wrong_size.empty() ? "wrong size: " + wrong_size + " (downloaded again)"
                                                       : "missing";
      std::printf("%s\t%s\t%s\t%s\n", f->path.c_str(), size.c_str(), f->url.c_str(), status.c_str());
      continue;
    }
    if (f->group == "prompts") {
      if (!prompts_bar) prompts_bar = std::make_unique<ProgressBar>("prompts", options.progress);
      prompts_bar->update(static_cast<int64_t>(++n_prompts), static_cast<int64_t>(total_prompts));
    }
    if (!present.empty()) {
      ++n_present;
      if (!options.silent && f->group != "prompts") std::fprintf(stderr, "%s: present at %s\n", f->path.c_str(), present.c_str());
      continue;
    }
    if (!options.silent && f->group != "prompts" && !options.progress) {
      std::fprintf(stderr, "%s: downloading %s\n", f->path.c_str(), f->url.c_str());
    }
    if (!curl) curl = std::make_unique<Curl>();
    bytes += fetch(*curl, *f, dest, options);
    ++n_fetched;
    if (!options.silent && f->group != "prompts") {
      std::fprintf(stderr, "%s: saved %s (%s%s)\n", f->path.c_str(), dest.c_str(), format_bytes(fs::file_size(dest)).c_str(),
                   options.verify_checksums && (!f->md5.empty() || !f->sha256.empty())
                       ? (f->sha256.empty() ? ", md5 verified" : ", sha256 verified")
                       : "");
    }
  }
  if (options.list) {
    std::printf("# total: %zu files, %s%s to download, %s present\n", selected.size(), list_approx ? "~" : "",
                format_bytes(list_missing).c_str(), format_bytes(list_present).c_str());
  }
  if (prompts_bar) prompts_bar->finish();
  if (!options.list && !options.silent) {
    if (total_prompts > 0) std::fprintf(stderr, "prompts: %zu voice presets in %s\n", total_prompts, (dir / "prompts").c_str());
    std::fprintf(stderr, "done: %zu downloaded (%s), %zu already present\n", n_fetched, format_bytes(bytes).c_str(), n_present);
  }
}

}  // namespace bark::tools
