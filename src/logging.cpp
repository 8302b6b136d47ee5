#include "logging.h"

#include <spdlog/sinks/base_sink.h>
#include <spdlog/sinks/stdout_color_sinks.h>

#include <cstdlib>
#include <memory>
#include <mutex>
#include <string>

#include "bark/logging.h"

namespace bark {
namespace {

constexpr spdlog::level::level_enum kDefaultLevel = spdlog::level::warn;

// $BARK_LOG_LEVEL, or the default. `unknown` is set when the variable holds no level name (it is
// then ignored, and the logger warns once it exists).
spdlog::level::level_enum level_from_env(bool* unknown) {
  const char* env = std::getenv("BARK_LOG_LEVEL");
  if (env == nullptr || *env == '\0') return kDefaultLevel;
  const auto level = spdlog::level::from_str(env);  // unknown names map to "off"
  if (level == spdlog::level::off && std::string(env) != "off") {
    *unknown = true;
    return kDefaultLevel;
  }
  return level;
}

LogLevel from_spdlog(spdlog::level::level_enum level) {
  switch (level) {
    case spdlog::level::trace: return LogLevel::Trace;
    case spdlog::level::debug: return LogLevel::Debug;
    case spdlog::level::info: return LogLevel::Info;
    case spdlog::level::warn: return LogLevel::Warn;
    case spdlog::level::err:
    case spdlog::level::critical: return LogLevel::Error;
    default: return LogLevel::Off;
  }
}

// The logger's only sink: forwards each message to the application's handler (payload only, no
// pattern, no newline) or, without one, to stderr. Swapping the target takes the sink's own
// mutex, the one every message holds, so set_log_handler is safe while other threads log.
class DispatchSink final : public spdlog::sinks::base_sink<std::mutex> {
 public:
  DispatchSink() : stderr_(std::make_shared<spdlog::sinks::stderr_color_sink_st>()) {
    stderr_->set_pattern("[%H:%M:%S.%e] [bark] [%^%l%$] %v");
  }
  void set_handler(LogHandler handler) {
    std::lock_guard<std::mutex> lock(mutex_);
    handler_ = std::move(handler);
  }

 protected:
  void sink_it_(const spdlog::details::log_msg& msg) override {
    if (handler_) handler_(from_spdlog(msg.level), std::string(msg.payload.data(), msg.payload.size()));
    else stderr_->log(msg);
  }
  void flush_() override {
    if (!handler_) stderr_->flush();
  }

 private:
  LogHandler handler_;
  std::shared_ptr<spdlog::sinks::stderr_color_sink_st> stderr_;
};

const std::shared_ptr<DispatchSink>& dispatch_sink() {
  static const auto sink = std::make_shared<DispatchSink>();
  return sink;
}

// Not registered in spdlog's registry: an application's own spdlog set-up (set_pattern,
// drop_all, a logger of the same name) cannot change or remove ours.
std::shared_ptr<spdlog::logger>& logger_ptr() {
  static std::shared_ptr<spdlog::logger> logger = [] {
    auto l = std::make_shared<spdlog::logger>("bark", dispatch_sink());
    bool unknown = false;
    l->set_level(level_from_env(&unknown));
    if (unknown) {
      l->warn("BARK_LOG_LEVEL='{}' is not a log level (trace, debug, info, warn, error, critical, off); "
              "ignored", std::getenv("BARK_LOG_LEVEL"));
    }
    return l;
  }();
  return logger;
}

}  // namespace

spdlog::logger& log() { return *logger_ptr(); }

void set_log_level(LogLevel level) {
  static const spdlog::level::level_enum map[] = {spdlog::level::trace, spdlog::level::debug,
                                                   spdlog::level::info,  spdlog::level::warn,
                                                   spdlog::level::err,   spdlog::level::off};
  log().set_level(map[static_cast<int>(level)]);
}

LogLevel get_log_level() { return from_spdlog(log().level()); }

void set_log_handler(LogHandler handler) { dispatch_sink()->set_handler(std::move(handler)); }

}  // namespace bark
