// bark-server: Prometheus metrics in the text exposition format (version 0.0.4).
//
// Written by hand rather than with prometheus-cpp: its pull side brings its own HTTP server
// (civetweb) next to cpp-httplib, and what we expose is four counters, two gauges and two
// histograms: the format for those is a few lines (https://prometheus.io/docs/instrumenting/
// exposition_formats/), tested by parsing it back in the server tests.
#pragma once

#include <atomic>
#include <cstdint>
#include <map>
#include <mutex>
#include <string>
#include <utility>
#include <vector>

namespace bark::server {

class Histogram {
 public:
  explicit Histogram(std::vector<double> bounds);
  void observe(double v);
  // "<name>_bucket{le=...} n" ... "<name>_sum", "<name>_count" lines
  std::string text(const std::string& name) const;

 private:
  mutable std::mutex mutex_;
  std::vector<double> bounds_;
  std::vector<uint64_t> counts_;  // per bucket, not cumulative
  double sum_ = 0;
  uint64_t count_ = 0;
};

class Metrics {
 public:
  Metrics();
  void request(const std::string& endpoint, int status);
  void generation(double seconds, double audio_seconds);
  std::atomic<int> queue_depth{0};   // admitted, waiting for a worker
  std::atomic<int> busy_workers{0};  // generating now
  std::string text() const;

 private:
  mutable std::mutex mutex_;
  std::map<std::pair<std::string, int>, uint64_t> requests_;
  Histogram latency_, rtf_;
  double audio_seconds_ = 0;
};

}  // namespace bark::server
