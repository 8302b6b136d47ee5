#include "logging.h"

#include <spdlog/sinks/stdout_color_sinks.h>

#include <cstdlib>
#include <string>

#include "bark/logging.h"

namespace bark {
namespace {

spdlog::level::level_enum level_from_env() {
  const char* env = std::getenv("BARK_LOG_LEVEL");
  if (env == nullptr || *env == '\0') return spdlog::level::info;
  const auto level = spdlog::level::from_str(env);  // unknown names map to "off"
  if (level == spdlog::level::off && std::string(env) != "off") return spdlog::level::info;
  return level;
}

std::shared_ptr<spdlog::logger> make_logger() {
  auto logger = spdlog::stderr_color_mt("bark");
  logger->set_pattern("[%H:%M:%S.%e] [bark] [%^%l%$] %v");
  logger->set_level(level_from_env());
  return logger;
}

}  // namespace

spdlog::logger& log() {
  static std::shared_ptr<spdlog::logger> logger = make_logger();
  return *logger;
}

void set_log_level(LogLevel level) {
  static const spdlog::level::level_enum map[] = {spdlog::level::trace, spdlog::level::debug,
                                                   spdlog::level::info,  spdlog::level::warn,
                                                   spdlog::level::err,   spdlog::level::off};
  log().set_level(map[static_cast<int>(level)]);
}

LogLevel get_log_level() {
  switch (log().level()) {
    case spdlog::level::trace: return LogLevel::Trace;
    case spdlog::level::debug: return LogLevel::Debug;
    case spdlog::level::info: return LogLevel::Info;
    case spdlog::level::warn: return LogLevel::Warn;
    case spdlog::level::err:
    case spdlog::level::critical: return LogLevel::Error;
    default: return LogLevel::Off;
  }
}

}  // namespace bark
