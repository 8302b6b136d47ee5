// History prompts (include/bark/history_prompt.h): Bark's voice .npz files.
#include "bark/history_prompt.h"

#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <stdexcept>
#include <string>

#include "generation/constants.h"
#include "io/npy.h"
#include "io/zip.h"
#include "python_round.h"

namespace bark {
namespace {

using generation::check_token_range;
using generation::CODEBOOK_SIZE;
using generation::COARSE_RATE_HZ;
using generation::N_COARSE_CODEBOOKS;
using generation::N_FINE_CODEBOOKS;
using generation::SEMANTIC_RATE_HZ;
using generation::SEMANTIC_VOCAB_SIZE;

std::string shape_text(int64_t rows, int64_t cols) {
  return "(" + std::to_string(rows) + ", " + std::to_string(cols) + ")";
}

void check_codebooks(const CodebookTokens& t, const char* key, int64_t n_codebooks) {
  const std::string k = std::string("'") + key + "'";
  if (t.n_codebooks < 0 || t.n_frames < 0 ||
      (t.n_frames > 0 && t.n_codebooks > static_cast<int64_t>(t.data.size()) / t.n_frames) ||
      static_cast<size_t>(t.n_codebooks * t.n_frames) != t.data.size()) {
    throw std::invalid_argument(k + ": " + std::to_string(t.data.size()) + " values do not fill shape " +
                                shape_text(t.n_codebooks, t.n_frames));
  }
  if (t.n_codebooks != n_codebooks) {
    throw std::invalid_argument(k + ": expected shape (" + std::to_string(n_codebooks) + ", n_frames), got " +
                                shape_text(t.n_codebooks, t.n_frames));
  }
  check_token_range(t.data, CODEBOOK_SIZE, k);
}

// Converts one array of the .npz; `ndim` 1 or 2.
std::vector<int64_t> integer_values(const io::NpyArray& a, const std::string& path, const char* key,
                                    int64_t ndim) {
  if (a.ndim() != ndim) {
    throw std::invalid_argument("history prompt '" + path + "': '" + key + "' must be " + std::to_string(ndim) +
                                "-D, got shape " + a.describe());
  }
  const size_t kind_pos = a.descr.find_first_not_of("<>|=");
  const char kind = kind_pos == std::string::npos ? '?' : a.descr[kind_pos];
  if (kind != 'i' && kind != 'u') {
    throw std::invalid_argument("history prompt '" + path + "': '" + key + "' must have an integer dtype, got '" +
                                a.descr + "'");
  }
  try {
    return a.to_int64();
  } catch (const std::exception& e) {
    throw std::invalid_argument("history prompt '" + path + "': '" + key + "': " + e.what());
  }
}

// The three arrays of a voice .npz, int64 as upstream's.
std::vector<std::pair<std::string, io::NpyArray>> history_arrays(const HistoryPrompt& prompt) {
  const auto& c = prompt.coarse_prompt;
  const auto& f = prompt.fine_prompt;
  return {
      {"semantic_prompt", io::make_int64({static_cast<int64_t>(prompt.semantic_prompt.size())}, prompt.semantic_prompt)},
      {"coarse_prompt", io::make_int64({c.n_codebooks, c.n_frames}, c.data)},
      {"fine_prompt", io::make_int64({f.n_codebooks, f.n_frames}, f.data)},
  };
}

}  // namespace

void validate_history_prompt(const HistoryPrompt& prompt) {
  // generation.py generate_text_semantic / generate_coarse asserts on semantic_prompt.
  const SemanticTokens& s = prompt.semantic_prompt;
  if (s.empty()) throw std::invalid_argument("'semantic_prompt': must be 1-D and non-empty, got shape (0,)");
  if (s.size() > static_cast<size_t>(MAX_PROMPT_SEMANTIC_TOKENS)) {
    throw std::invalid_argument("'semantic_prompt': " + std::to_string(s.size()) + " tokens, more than the " +
                                std::to_string(MAX_PROMPT_SEMANTIC_TOKENS) + " a history prompt may hold");
  }
  for (const auto* t : {&prompt.coarse_prompt, &prompt.fine_prompt}) {
    if (t->n_frames > MAX_PROMPT_FRAMES) {
      throw std::invalid_argument(std::string(t == &prompt.coarse_prompt ? "'coarse_prompt'" : "'fine_prompt'") +
                                  ": " + std::to_string(t->n_frames) + " frames, more than the " +
                                  std::to_string(MAX_PROMPT_FRAMES) + " a history prompt may hold");
    }
  }
  check_token_range(s, SEMANTIC_VOCAB_SIZE, "'semantic_prompt'");
  // generate_coarse: coarse_prompt 2 x M in [0, CODEBOOK_SIZE), and
  //   round(M / len(semantic), 1) == round(semantic_to_coarse_ratio / N_COARSE_CODEBOOKS, 1)
  // with semantic_to_coarse_ratio = COARSE_RATE_HZ / SEMANTIC_RATE_HZ * N_COARSE_CODEBOOKS.
  check_codebooks(prompt.coarse_prompt, "coarse_prompt", N_COARSE_CODEBOOKS);
  const double semantic_to_coarse_ratio = COARSE_RATE_HZ / SEMANTIC_RATE_HZ * N_COARSE_CODEBOOKS;
  const std::string expected = py_round1_text(semantic_to_coarse_ratio / N_COARSE_CODEBOOKS);
  const std::string actual =
      py_round1_text(static_cast<double>(prompt.coarse_prompt.n_frames) / static_cast<double>(s.size()));
  if (actual != expected) {
    throw std::invalid_argument("'coarse_prompt': " + std::to_string(prompt.coarse_prompt.n_frames) +
                                " frames for " + std::to_string(s.size()) + " semantic tokens: ratio rounds to " +
                                actual + ", expected " + expected + " (75 / 49.9 coarse frames per semantic token)");
  }
  // generate_fine: fine_prompt 8 x M in [0, CODEBOOK_SIZE). Upstream asserts M >= 0, but its
  // x_fine_history.min() raises on M == 0, so an empty fine prompt is refused here too.
  // generate_fine prepends the last 512 of these frames to the *generated* coarse codes, so M
  // need not equal coarse_prompt's frame count (it does in every upstream preset and in
  // save_as_prompt output, but upstream does not require it).
  check_codebooks(prompt.fine_prompt, "fine_prompt", N_FINE_CODEBOOKS);
  if (prompt.fine_prompt.n_frames == 0) {
    throw std::invalid_argument("'fine_prompt': needs at least one frame, got shape " +
                                shape_text(prompt.fine_prompt.n_codebooks, prompt.fine_prompt.n_frames));
  }
}

HistoryPrompt load_history_prompt(const std::string& path) {
  const std::string what = "history prompt '" + path + "'";
  // Only the three arrays Bark uses are read, each bounded by the largest prompt allowed
  // (8-byte integers); other members are never inflated.
  const std::pair<const char*, uint64_t> wanted[] = {
      {"semantic_prompt", uint64_t{8} * MAX_PROMPT_SEMANTIC_TOKENS},
      {"coarse_prompt", uint64_t{8} * N_COARSE_CODEBOOKS * MAX_PROMPT_FRAMES},
      {"fine_prompt", uint64_t{8} * N_FINE_CODEBOOKS * MAX_PROMPT_FRAMES}};
  // A file that cannot be opened is the environment's problem (std::runtime_error); anything
  // wrong with what it holds is the caller's input (std::invalid_argument), whatever the defect.
  {
    struct stat st {};
    const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC | O_NONBLOCK);
    if (fd < 0) throw std::runtime_error(what + ": cannot open (" + std::strerror(errno) + ")");
    const bool regular = ::fstat(fd, &st) == 0 && S_ISREG(st.st_mode);
    ::close(fd);
    if (!regular) {
      throw std::runtime_error(what + ": " + (S_ISDIR(st.st_mode) ? "is a directory" : "is not a regular file") +
                               ", not an .npz file");
    }
  }
  std::map<std::string, io::NpyArray> arrays;
  try {
    const io::ZipReader zip(path);
    for (const auto& [key, max_bytes] : wanted) {
      const io::ZipEntry* e = zip.find(std::string(key) + ".npy");
      if (e == nullptr) {
        std::string present;
        for (const auto& m : zip.entries()) {
          const bool npy = m.name.size() > 4 && m.name.compare(m.name.size() - 4, 4, ".npy") == 0;
          present += (present.empty() ? "'" : ", '") + (npy ? m.name.substr(0, m.name.size() - 4) : m.name) + "'";
        }
        throw std::invalid_argument(what + ": no array '" + key + "' (has " + (present.empty() ? "none" : present) +
                                 "; expected semantic_prompt, coarse_prompt, fine_prompt)");
      }
      arrays[key] = io::read_npz_member(zip, *e, max_bytes);
    }
  } catch (const std::invalid_argument&) {
    throw;
  } catch (const std::runtime_error& e) {
    // The zip/npy errors already name the file.
    const std::string msg = e.what();
    throw std::invalid_argument(msg.find(path) != std::string::npos ? "history prompt: " + msg : what + ": " + msg);
  }
  HistoryPrompt prompt;
  prompt.semantic_prompt = integer_values(arrays["semantic_prompt"], path, "semantic_prompt", 1);
  for (auto [key, tokens] : {std::pair<const char*, CodebookTokens*>{"coarse_prompt", &prompt.coarse_prompt},
                             std::pair<const char*, CodebookTokens*>{"fine_prompt", &prompt.fine_prompt}}) {
    const io::NpyArray& a = arrays[key];
    tokens->data = integer_values(a, path, key, 2);
    tokens->n_codebooks = a.shape[0];
    tokens->n_frames = a.shape[1];
  }
  try {
    validate_history_prompt(prompt);
  } catch (const std::invalid_argument& e) {
    throw std::invalid_argument(what + ": " + e.what());
  }
  return prompt;
}

void save_history_prompt(const std::string& path, const HistoryPrompt& prompt) {
  try {
    validate_history_prompt(prompt);
  } catch (const std::invalid_argument& e) {
    throw std::invalid_argument("save_history_prompt '" + path + "': " + e.what());
  }
  io::write_npz(path, history_arrays(prompt));
}

}  // namespace bark

namespace bark {
namespace {

// An anonymous in-memory file (memfd): the zip reader and writer work on paths, and
// /proc/self/fd/N is one, without a temporary file on disk.
class MemFile {
 public:
  MemFile() : fd_(::memfd_create("bark-npz", MFD_CLOEXEC)) {
    if (fd_ < 0) throw std::runtime_error("memfd_create failed");
  }
  ~MemFile() { ::close(fd_); }
  MemFile(const MemFile&) = delete;
  MemFile& operator=(const MemFile&) = delete;
  std::string path() const { return "/proc/self/fd/" + std::to_string(fd_); }
  void write_all(const std::string& bytes) {
    size_t done = 0;
    while (done < bytes.size()) {
      const ssize_t n = ::pwrite(fd_, bytes.data() + done, bytes.size() - done, static_cast<off_t>(done));
      if (n <= 0) throw std::runtime_error("writing to memory failed");
      done += static_cast<size_t>(n);
    }
  }
  std::string read_all() const {
    std::string out;
    char buf[65536];
    for (off_t off = 0;;) {
      const ssize_t n = ::pread(fd_, buf, sizeof buf, off);
      if (n < 0) throw std::runtime_error("reading from memory failed");
      if (n == 0) break;
      out.append(buf, static_cast<size_t>(n));
      off += n;
    }
    return out;
  }

 private:
  int fd_;
};

std::string replace_all(std::string s, const std::string& from, const std::string& to) {
  for (size_t p = s.find(from); p != std::string::npos; p = s.find(from, p + to.size())) s.replace(p, from.size(), to);
  return s;
}

}  // namespace

HistoryPrompt parse_history_prompt(const std::string& npz_bytes, const std::string& name) {
  MemFile f;
  f.write_all(npz_bytes);
  const std::string path = f.path();
  try {
    return load_history_prompt(path);
  } catch (const std::invalid_argument& e) {
    throw std::invalid_argument(replace_all(e.what(), path, name));
  } catch (const std::runtime_error& e) {
    // a malformed upload is the caller's input, not the environment
    throw std::invalid_argument(replace_all(e.what(), path, name));
  }
}

std::string serialize_history_prompt(const HistoryPrompt& prompt) {
  validate_history_prompt(prompt);
  MemFile f;
  io::write_npz_to(f.path(), history_arrays(prompt));  // straight into the memfd, no rename
  return f.read_all();
}

}  // namespace bark
