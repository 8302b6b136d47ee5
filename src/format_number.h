// Private: numbers in error messages, as a user typed them ("1.5", "-1", "0.0001", "1e-30",
// "inf"); std::to_string prints "1.500000" and 1e-30 as "0.000000".
#pragma once

#include <cstdio>
#include <string>

namespace bark {

inline std::string format_number(double v) {
  char buf[32];
  std::snprintf(buf, sizeof(buf), "%g", v);
  return buf;
}

}  // namespace bark
