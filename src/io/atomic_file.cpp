#include "io/atomic_file.h"

#include <fcntl.h>
#include <limits.h>
#include <signal.h>
#include <sys/stat.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <mutex>
#include <stdexcept>

namespace bark::io {
namespace {

std::string errno_text(int err) { return std::strerror(err); }

std::string parent_dir(const std::string& path) {
  const auto slash = path.find_last_of('/');
  if (slash == std::string::npos) return ".";
  if (slash == 0) return "/";
  return path.substr(0, slash);
}

std::string base_name(const std::string& path) {
  const auto slash = path.find_last_of('/');
  return slash == std::string::npos ? path : path.substr(slash + 1);
}

// The process umask without changing it (umask() can only be read by setting it, which races
// with other threads creating files): Linux >= 4.7 reports it in /proc/self/status.
mode_t current_umask() {
  std::ifstream status("/proc/self/status");
  std::string line;
  while (std::getline(status, line)) {
    if (line.rfind("Umask:", 0) == 0) return static_cast<mode_t>(std::stoul(line.substr(6), nullptr, 8));
  }
  const mode_t mask = ::umask(022);
  ::umask(mask);
  return mask;
}

// Temporary files of the AtomicFiles alive, for the signal handler below. Fixed slots: the
// handler may only touch memory it can read without locks or allocation.
constexpr size_t kSlots = 64;
struct Slot {
  std::atomic<bool> used{false};
  char path[PATH_MAX] = {};
};
Slot g_slots[kSlots];
std::mutex g_slots_mutex;  // registration only (never taken by the handler)
constexpr int kCleanupSignals[] = {SIGINT, SIGTERM, SIGHUP};

// Installed for a signal whose action was the default (termination) while a temporary file
// exists: removes the temporaries, then dies of the signal as the default action would have.
// A program with its own handler (bark-cli stops the generation on SIGINT) keeps it.
extern "C" void remove_temporaries_and_die(int sig) {
  for (auto& slot : g_slots) {
    if (slot.used.load(std::memory_order_acquire)) ::unlink(slot.path);
  }
  ::signal(sig, SIG_DFL);
  ::raise(sig);
}

// Checked at every new temporary file: the program may have reset a signal to the default since.
void install_cleanup_handlers() {
  for (int sig : kCleanupSignals) {
    struct sigaction old {};
    if (::sigaction(sig, nullptr, &old) != 0 || (old.sa_flags & SA_SIGINFO) != 0 || old.sa_handler != SIG_DFL) continue;
    struct sigaction sa {};
    sa.sa_handler = remove_temporaries_and_die;
    sigemptyset(&sa.sa_mask);
    for (int other : kCleanupSignals) sigaddset(&sa.sa_mask, other);
    ::sigaction(sig, &sa, nullptr);
  }
}

int register_temporary(const std::string& path) {
  if (path.size() >= PATH_MAX) return -1;
  std::lock_guard<std::mutex> lock(g_slots_mutex);
  install_cleanup_handlers();
  for (size_t i = 0; i < kSlots; ++i) {
    if (!g_slots[i].used.load(std::memory_order_relaxed)) {
      std::memcpy(g_slots[i].path, path.c_str(), path.size() + 1);
      g_slots[i].used.store(true, std::memory_order_release);
      return static_cast<int>(i);
    }
  }
  return -1;  // more than kSlots files at once: those are not removed on a signal
}

void unregister_temporary(int slot) {
  if (slot < 0) return;
  std::lock_guard<std::mutex> lock(g_slots_mutex);
  g_slots[slot].used.store(false, std::memory_order_release);
}

}  // namespace

AtomicFile::AtomicFile(const std::string& path) : path_(path), target_(path) {
  if (path.empty() || path.back() == '/') {
    throw std::runtime_error("cannot write '" + path + "': not a file name");
  }
  // A symlink is followed (to the end of a chain): the file it names is the one replaced.
  struct stat st {};
  for (int hops = 0; ::lstat(target_.c_str(), &st) == 0 && S_ISLNK(st.st_mode); ++hops) {
    if (hops == 40) throw std::runtime_error("cannot write '" + path + "': too many levels of symbolic links");
    std::string link(4096, '\0');
    const ssize_t n = ::readlink(target_.c_str(), link.data(), link.size() - 1);
    if (n < 0) throw std::runtime_error("cannot write '" + path + "': " + errno_text(errno));
    link.resize(static_cast<size_t>(n));
    target_ = link.front() == '/' ? link : parent_dir(target_) + "/" + link;
  }
  if (::stat(target_.c_str(), &st) == 0) {
    if (S_ISDIR(st.st_mode)) throw std::runtime_error("cannot write '" + path + "': it is a directory");
    if (!S_ISREG(st.st_mode)) {
      // a device, a FIFO, a socket: written in place, as sox and ffmpeg do
      fd_ = ::open(target_.c_str(), O_WRONLY | O_CLOEXEC);
      if (fd_ < 0) throw std::runtime_error("cannot write '" + path + "': " + errno_text(errno));
      direct_ = true;
      temp_path_ = target_;
      return;
    }
    if (::access(target_.c_str(), W_OK) != 0) {
      throw std::runtime_error("cannot write '" + path + "': " + errno_text(errno));
    }
    mode_ = static_cast<int>(st.st_mode & 07777);
  }
  std::string tmpl = parent_dir(target_) + "/." + base_name(target_) + ".tmp-XXXXXX";
  fd_ = ::mkostemp(tmpl.data(), O_CLOEXEC);
  if (fd_ < 0) {
    const int err = errno;
    throw std::runtime_error("cannot write '" + path + "': cannot create a temporary file in '" +
                             parent_dir(target_) + "' (" + errno_text(err) + ")");
  }
  temp_path_ = tmpl;
  signal_slot_ = register_temporary(temp_path_);
}

AtomicFile::~AtomicFile() {
  if (fd_ >= 0) ::close(fd_);
  if (!committed_ && !direct_ && !temp_path_.empty()) ::unlink(temp_path_.c_str());
  unregister_temporary(signal_slot_);
}

void AtomicFile::write(const void* data, size_t n) {
  if (fd_ < 0) throw std::runtime_error("cannot write '" + path_ + "': file already committed");
  const auto* p = static_cast<const uint8_t*>(data);
  while (n > 0) {
    const ssize_t k = ::write(fd_, p, n);
    if (k < 0) {
      if (errno == EINTR) continue;
      const int err = errno;
      throw std::runtime_error("cannot write '" + path_ + "' (" + errno_text(err) + ")");
    }
    p += k;
    n -= static_cast<size_t>(k);
  }
}

void AtomicFile::commit() {
  if (committed_) return;
  if (fd_ < 0) throw std::runtime_error("cannot write '" + path_ + "': temporary file is closed");
  auto fail = [&](const std::string& step, int err) {
    if (fd_ >= 0) ::close(fd_);
    fd_ = -1;
    if (!direct_) ::unlink(temp_path_.c_str());
    throw std::runtime_error("cannot write '" + path_ + "': " + step + " failed (" + errno_text(err) + ")");
  };
  if (direct_) {
    const int fd = fd_;
    fd_ = -1;
    if (::close(fd) != 0) fail("close", errno);
    committed_ = true;
    return;
  }
  // mkstemp creates mode 0600: an existing file keeps its mode, a new one gets what open() would give.
  const mode_t mode = mode_ >= 0 ? static_cast<mode_t>(mode_) : (0666 & ~current_umask());
  if (::fchmod(fd_, mode) != 0) fail("chmod", errno);
  if (::fsync(fd_) != 0) fail("fsync", errno);
  const int fd = fd_;
  fd_ = -1;
  if (::close(fd) != 0) fail("close", errno);
  if (::rename(temp_path_.c_str(), target_.c_str()) != 0) fail("rename to the final name", errno);
  committed_ = true;
  unregister_temporary(signal_slot_);
  signal_slot_ = -1;
  // Make the rename itself durable. Best effort: some file systems refuse fsync on directories.
  const int dir = ::open(parent_dir(target_).c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (dir >= 0) {
    (void)::fsync(dir);
    ::close(dir);
  }
}

void write_file_atomically(const std::string& path, const void* data, size_t n) {
  AtomicFile file(path);
  file.write(data, n);
  file.commit();
}

}  // namespace bark::io
