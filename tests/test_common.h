// Shared test helpers: where fixtures live, skipping when optional data is absent.
#pragma once

#include <cstdlib>
#include <exception>
#include <filesystem>
#include <functional>
#include <string>

namespace bark_test {

// ../shared beside the project, overridable with $BARK_SHARED_DIR.
inline std::filesystem::path shared_dir() {
  if (const char* env = std::getenv("BARK_SHARED_DIR"); env != nullptr && *env != '\0') return env;
  return BARK_SHARED_DIR_DEFAULT;
}
inline std::filesystem::path fixtures_dir() { return shared_dir() / "fixtures"; }
inline std::filesystem::path assets_dir() { return shared_dir() / "bark-assets"; }
inline std::filesystem::path vocab_path() {
  return assets_dir() / "vocab" / "bert-base-multilingual-cased-vocab.txt";
}
inline std::filesystem::path source_dir() { return BARK_SOURCE_DIR; }
inline std::filesystem::path binary_dir() { return BARK_BINARY_DIR; }

// Python of the reference venv ($BARK_REFERENCE_PYTHON overrides).
inline std::string reference_python() {
  if (const char* env = std::getenv("BARK_REFERENCE_PYTHON"); env != nullptr && *env != '\0') return env;
  return BARK_REFERENCE_PYTHON_DEFAULT;
}

// The what() of the exception f() throws, or "" when it throws none.
inline std::string message_of(const std::function<void()>& f) {
  try {
    f();
  } catch (const std::exception& e) {
    return e.what();
  }
  return "";
}

// A fresh empty temporary directory for one test.
inline std::filesystem::path temp_dir(const std::string& name) {
  auto dir = std::filesystem::temp_directory_path() / ("bark_test_" + name);
  std::filesystem::remove_all(dir);
  std::filesystem::create_directories(dir);
  return dir;
}

}  // namespace bark_test
