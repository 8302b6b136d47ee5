#include "server/metrics.h"

#include <cmath>
#include <sstream>

namespace bark::server {
namespace {

std::string number(double v) {
  if (std::isinf(v)) return v > 0 ? "+Inf" : "-Inf";
  std::ostringstream s;
  s.precision(10);
  s << v;
  return s.str();
}

}  // namespace

Histogram::Histogram(std::vector<double> bounds) : bounds_(std::move(bounds)), counts_(bounds_.size() + 1, 0) {}

void Histogram::observe(double v) {
  std::lock_guard<std::mutex> lock(mutex_);
  size_t i = 0;
  while (i < bounds_.size() && v > bounds_[i]) ++i;
  ++counts_[i];
  sum_ += v;
  ++count_;
}

std::string Histogram::text(const std::string& name) const {
  std::lock_guard<std::mutex> lock(mutex_);
  std::string out;
  uint64_t cumulative = 0;
  for (size_t i = 0; i <= bounds_.size(); ++i) {
    cumulative += counts_[i];
    const std::string le = i < bounds_.size() ? number(bounds_[i]) : "+Inf";
    out += name + "_bucket{le=\"" + le + "\"} " + std::to_string(cumulative) + "\n";
  }
  out += name + "_sum " + number(sum_) + "\n";
  out += name + "_count " + std::to_string(count_) + "\n";
  return out;
}

Metrics::Metrics()
    : latency_({0.5, 1, 2.5, 5, 10, 30, 60, 120, 300, 600}), rtf_({0.1, 0.25, 0.5, 1, 2, 4, 8, 16, 32}) {}

void Metrics::request(const std::string& endpoint, int status) {
  std::lock_guard<std::mutex> lock(mutex_);
  ++requests_[{endpoint, status}];
}

void Metrics::generation(double seconds, double audio_seconds) {
  latency_.observe(seconds);
  if (audio_seconds > 0) rtf_.observe(seconds / audio_seconds);
  std::lock_guard<std::mutex> lock(mutex_);
  audio_seconds_ += audio_seconds;
}

std::string Metrics::text() const {
  std::string out;
  out += "# HELP bark_requests_total HTTP requests by endpoint and status code.\n";
  out += "# TYPE bark_requests_total counter\n";
  {
    std::lock_guard<std::mutex> lock(mutex_);
    for (const auto& [key, n] : requests_) {
      out += "bark_requests_total{endpoint=\"" + key.first + "\",status=\"" + std::to_string(key.second) + "\"} " +
             std::to_string(n) + "\n";
    }
    out += "# HELP bark_audio_seconds_total Seconds of audio generated.\n";
    out += "# TYPE bark_audio_seconds_total counter\n";
    out += "bark_audio_seconds_total " + number(audio_seconds_) + "\n";
  }
  out += "# HELP bark_queue_depth Admitted requests waiting for a worker.\n";
  out += "# TYPE bark_queue_depth gauge\n";
  out += "bark_queue_depth " + std::to_string(queue_depth.load()) + "\n";
  out += "# HELP bark_busy_workers Workers generating now.\n";
  out += "# TYPE bark_busy_workers gauge\n";
  out += "bark_busy_workers " + std::to_string(busy_workers.load()) + "\n";
  out += "# HELP bark_generation_seconds Time from the start of a generation to its last audio.\n";
  out += "# TYPE bark_generation_seconds histogram\n";
  out += latency_.text("bark_generation_seconds");
  out += "# HELP bark_realtime_factor Seconds of compute per second of audio, per generation.\n";
  out += "# TYPE bark_realtime_factor histogram\n";
  out += rtf_.text("bark_realtime_factor");
  return out;
}

}  // namespace bark::server
