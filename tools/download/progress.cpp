#include "progress.h"

#include <unistd.h>

#include <cstdio>

namespace bark::tools {

bool stderr_is_tty() { return isatty(STDERR_FILENO) == 1; }

std::string format_bytes(uint64_t bytes) {
  const char* units[] = {"B", "kB", "MB", "GB", "TB"};
  double value = static_cast<double>(bytes);
  int unit = 0;
  while (value >= 1000.0 && unit < 4) {
    value /= 1000.0;
    ++unit;
  }
  char buf[32];
  std::snprintf(buf, sizeof(buf), unit == 0 ? "%.0f %s" : "%.1f %s", value, units[unit]);
  return buf;
}

ProgressBar::ProgressBar(std::string label, bool enabled, Unit unit)
    : label_(std::move(label)), enabled_(enabled), unit_(unit), start_(std::chrono::steady_clock::now()) {}

ProgressBar::~ProgressBar() { finish(); }

void ProgressBar::update(int64_t done, int64_t total) {
  if (!enabled_ || finished_) return;
  const auto now = std::chrono::steady_clock::now();
  if (drawn_ && now - last_draw_ < std::chrono::milliseconds(100) && !(total > 0 && done >= total)) return;
  last_draw_ = now;
  draw(done, total);
  if (total > 0 && done >= total) finish();  // complete: what follows starts on a fresh line
}

void ProgressBar::draw(int64_t done, int64_t total) {
  constexpr int WIDTH = 30;
  std::string line = "\r" + label_ + " ";
  const auto amount = [&](int64_t v) {
    return unit_ == Unit::Bytes ? format_bytes(static_cast<uint64_t>(v < 0 ? 0 : v)) : std::to_string(v);
  };
  if (total > 0) {
    const double frac = done >= total ? 1.0 : static_cast<double>(done) / static_cast<double>(total);
    const int fill = static_cast<int>(frac * WIDTH);
    line += "[" + std::string(fill, '#') + std::string(WIDTH - fill, '.') + "] ";
    char pct[16];
    std::snprintf(pct, sizeof(pct), "%3.0f%% ", frac * 100.0);
    line += pct + amount(done) + "/" + amount(total);
  } else {
    line += amount(done);
  }
  const double secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - start_).count();
  if (unit_ == Unit::Bytes && secs > 0.5) line += "  " + format_bytes(static_cast<uint64_t>(done / secs)) + "/s";
  line += "\033[K";  // clear the rest of the line
  std::fputs(line.c_str(), stderr);
  std::fflush(stderr);
  drawn_ = true;
}

void ProgressBar::finish() {
  if (finished_) return;
  finished_ = true;
  if (enabled_ && drawn_) {
    std::fputs("\n", stderr);
    std::fflush(stderr);
  }
}

}  // namespace bark::tools
