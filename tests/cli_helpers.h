// Helpers of the [cli] tests: run the real bark-cli binary in a controlled environment, and a
// local HTTP server (tests/http_server.py) for the download tests.
#pragma once

#include <fcntl.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <map>
#include <sstream>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

#include "test_common.h"

namespace bark_test {

// temp_dir(), unique per process (other builds of the project may run the same tests at once),
// removed when the test process exits unless $BARK_KEEP_TEST_DIRS is set.
inline std::filesystem::path unique_temp_dir(const std::string& name) {
  struct Cleanup {
    std::vector<std::filesystem::path> dirs;
    ~Cleanup() {
      if (std::getenv("BARK_KEEP_TEST_DIRS") != nullptr) return;
      std::error_code ec;
      for (const auto& d : dirs) std::filesystem::remove_all(d, ec);
    }
  };
  static Cleanup cleanup;
  auto dir = temp_dir(name + "_" + std::to_string(::getpid()));
  cleanup.dirs.push_back(dir);
  return dir;
}

inline std::filesystem::path cli_binary() { return binary_dir() / "tools" / "bark-cli"; }

inline std::string slurp_text(const std::filesystem::path& p) {
  std::ifstream f(p, std::ios::binary);
  std::ostringstream s;
  s << f.rdbuf();
  return s.str();
}

inline void write_text(const std::filesystem::path& p, const std::string& content) {
  std::ofstream f(p, std::ios::binary | std::ios::trunc);
  f << content;
}

struct RunResult {
  int exit_code = -1;  // 128 + signal when killed by a signal
  std::string out, err;
};

// Runs `program args...` with exactly `env` as its environment (plus PATH and
// LD_LIBRARY_PATH from ours), stdin from `input`, in `cwd` (when non-empty).
inline RunResult run_program(const std::string& program, const std::vector<std::string>& args,
                             std::map<std::string, std::string> env, const std::string& input = "",
                             const std::filesystem::path& cwd = {}) {
  static int counter = 0;
  const auto io = std::filesystem::temp_directory_path() /
                  ("bark_cli_io_" + std::to_string(::getpid()) + "_" + std::to_string(counter++));
  std::filesystem::create_directories(io);
  write_text(io / "in", input);
  for (const char* name : {"PATH", "LD_LIBRARY_PATH"}) {
    if (const char* v = std::getenv(name); v != nullptr && env.count(name) == 0) env[name] = v;
  }
  std::vector<std::string> env_strings;
  for (const auto& [k, v] : env) env_strings.push_back(k + "=" + v);
  std::vector<char*> envp, argv;
  for (auto& s : env_strings) envp.push_back(s.data());
  envp.push_back(nullptr);
  std::vector<std::string> all_args{program};
  all_args.insert(all_args.end(), args.begin(), args.end());
  for (auto& s : all_args) argv.push_back(s.data());
  argv.push_back(nullptr);

  const pid_t pid = ::fork();
  if (pid < 0) throw std::runtime_error("fork failed");
  if (pid == 0) {
    const int in = ::open((io / "in").c_str(), O_RDONLY);
    const int out = ::open((io / "out").c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
    const int err = ::open((io / "err").c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
    ::dup2(in, 0);
    ::dup2(out, 1);
    ::dup2(err, 2);
    if (!cwd.empty() && ::chdir(cwd.c_str()) != 0) ::_exit(126);
    ::execve(program.c_str(), argv.data(), envp.data());
    ::_exit(127);
  }
  int status = 0;
  ::waitpid(pid, &status, 0);
  RunResult r;
  r.exit_code = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
  r.out = slurp_text(io / "out");
  r.err = slurp_text(io / "err");
  std::filesystem::remove_all(io);
  return r;
}

// A clean environment for bark-cli: HOME is an empty directory, so no real model cache or
// Python cache is found unless the test puts one there.
inline std::map<std::string, std::string> clean_env(const std::filesystem::path& home) {
  std::filesystem::create_directories(home);
  return {{"HOME", home.string()}, {"LANG", "C.UTF-8"}, {"OMP_NUM_THREADS", "1"}};
}

inline RunResult run_cli(const std::vector<std::string>& args, const std::map<std::string, std::string>& env,
                         const std::string& input = "", const std::filesystem::path& cwd = {}) {
  return run_program(cli_binary().string(), args, env, input, cwd);
}

inline std::string shell_quote(const std::string& s) {
  std::string out = "'";
  for (char c : s) out += c == '\'' ? std::string("'\\''") : std::string(1, c);
  return out + "'";
}

// Runs bark-cli on a pseudo-terminal (util-linux `script`), so that stderr is a tty. Returns the
// exit code and, in `out`, everything the terminal showed (stdout and stderr together).
// Returns exit_code -1 when `script` is not installed.
inline RunResult run_cli_in_pty(const std::vector<std::string>& args, const std::map<std::string, std::string>& env) {
  if (!std::filesystem::exists("/usr/bin/script")) return {};
  std::string command = shell_quote(cli_binary().string());
  for (const auto& a : args) command += " " + shell_quote(a);
  const auto typescript = unique_temp_dir("pty") / "typescript";
  RunResult r = run_program("/usr/bin/script", {"-q", "-e", "-c", command, typescript.string()}, env);
  r.out = slurp_text(typescript);
  return r;
}

// Number of lines of `s` (a final line without '\n' counts).
inline size_t count_lines(const std::string& s) {
  size_t n = 0;
  for (char c : s) n += c == '\n';
  return n + (!s.empty() && s.back() != '\n');
}

// tests/http_server.py on 127.0.0.1, stopped (SIGTERM) when this goes out of scope.
class TestServer {
 public:
  TestServer(const std::filesystem::path& root, const std::vector<std::string>& extra_args = {}) {
    dir_ = unique_temp_dir("http_server_" + std::to_string(count_++));
    std::vector<std::string> args{(source_dir() / "tests" / "http_server.py").string(), "--root", root.string(),
                                  "--port-file", (dir_ / "port").string(), "--log", (dir_ / "log").string(),
                                  "--timeout", "300"};
    args.insert(args.end(), extra_args.begin(), extra_args.end());
    std::vector<char*> argv;
    std::string python = "python3";
    argv.push_back(python.data());
    for (auto& a : args) argv.push_back(a.data());
    argv.push_back(nullptr);
    pid_ = ::fork();
    if (pid_ < 0) throw std::runtime_error("fork failed");
    if (pid_ == 0) {
      ::execvp("python3", argv.data());
      ::_exit(127);
    }
    for (int i = 0; i < 200 && !std::filesystem::exists(dir_ / "port"); ++i) {
      std::this_thread::sleep_for(std::chrono::milliseconds(50));
    }
    if (!std::filesystem::exists(dir_ / "port")) throw std::runtime_error("tests/http_server.py did not start");
    port_ = std::stoi(slurp_text(dir_ / "port"));
  }
  ~TestServer() {
    ::kill(pid_, SIGTERM);
    int status = 0;
    ::waitpid(pid_, &status, 0);
  }
  TestServer(const TestServer&) = delete;
  TestServer& operator=(const TestServer&) = delete;

  std::string url() const { return "http://127.0.0.1:" + std::to_string(port_); }
  // One JSON object per request, in order.
  std::vector<std::string> log() const {
    std::vector<std::string> lines;
    std::istringstream in(slurp_text(dir_ / "log"));
    for (std::string line; std::getline(in, line);) lines.push_back(line);
    return lines;
  }

 private:
  static inline int count_ = 0;
  std::filesystem::path dir_;
  pid_t pid_ = -1;
  int port_ = 0;
};

}  // namespace bark_test
