// Library log level. Logs go to stderr through the logger named "bark".
#pragma once

namespace bark {

enum class LogLevel { Trace, Debug, Info, Warn, Error, Off };

// Sets the level of the library's logger. The initial level comes from $BARK_LOG_LEVEL
// (trace|debug|info|warn|error|off), default info.
void set_log_level(LogLevel level);
LogLevel get_log_level();

}  // namespace bark
