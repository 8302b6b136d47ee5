// Private: the library's spdlog logger ("bark", stderr, level from $BARK_LOG_LEVEL).
#pragma once

#include <spdlog/spdlog.h>

namespace bark {
spdlog::logger& log();
}  // namespace bark
