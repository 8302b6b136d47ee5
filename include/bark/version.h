#pragma once

namespace bark {
// Library version, "MAJOR.MINOR.PATCH".
const char* version();
}  // namespace bark
