// A one-line progress bar on stderr, redrawn in place with '\r'. Drawn only when enabled (the
// CLI enables it when stderr is a terminal and --silent is off); otherwise every call is a no-op.
#pragma once

#include <chrono>
#include <cstdint>
#include <string>

namespace bark::tools {

// True when stderr is a terminal.
bool stderr_is_tty();

// "1.2 GB", "350.0 MB", "12 B".
std::string format_bytes(uint64_t bytes);

class ProgressBar {
 public:
  enum class Unit { Count, Bytes };
  ProgressBar(std::string label, bool enabled, Unit unit = Unit::Count);
  ~ProgressBar();  // finishes the line if it was drawn
  ProgressBar(const ProgressBar&) = delete;
  ProgressBar& operator=(const ProgressBar&) = delete;

  // total <= 0: unknown. Redraws at most ~10 times a second; done >= total draws and finishes.
  void update(int64_t done, int64_t total);
  // Ends the line (a newline after the last drawing).
  void finish();

 private:
  void draw(int64_t done, int64_t total);
  std::string label_;
  bool enabled_;
  Unit unit_;
  bool drawn_ = false;
  bool finished_ = false;
  std::chrono::steady_clock::time_point start_, last_draw_;
};

}  // namespace bark::tools
