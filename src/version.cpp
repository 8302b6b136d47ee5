#include "bark/version.h"

namespace bark {
const char* version() { return BARK_VERSION; }
}  // namespace bark
