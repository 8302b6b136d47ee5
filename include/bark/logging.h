// Library logging. By default warnings and errors go to stderr; an application can route every
// message to its own handler instead (then the library writes nothing to stdout or stderr).
#pragma once

#include <functional>
#include <string>

#include "bark/export.h"

namespace bark {

enum class LogLevel { Trace, Debug, Info, Warn, Error, Off };

// Messages below `level` are dropped. The initial level comes from $BARK_LOG_LEVEL
// (trace|debug|info|warn|error|off), default warn. Info: one line per stage, model load and
// long-form segment ("segment 3/161 (117 bytes): \"The first...\"");
// debug: devices, seeds, shapes; trace: per-window and per-step timings.
BARK_API void set_log_level(LogLevel level);
BARK_API LogLevel get_log_level();

// Receives every message at or above the log level (one line, no trailing newline). May be
// called from any thread that runs a library call, concurrently: make it thread-safe.
using LogHandler = std::function<void(LogLevel level, const std::string& message)>;

// Routes the library's messages to `handler`; an empty handler restores the default (stderr).
BARK_API void set_log_handler(LogHandler handler);

}  // namespace bark
