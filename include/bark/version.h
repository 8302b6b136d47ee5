#pragma once

#include "bark/export.h"

namespace bark {
// Library version, "MAJOR.MINOR.PATCH".
BARK_API const char* version();
}  // namespace bark
