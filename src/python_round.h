// Private: Python's round(), which upstream Bark uses for its lengths and ratios. Hand-written
// because C++ rounds ties away from zero (std::round) and no library offers CPython's rules.
#pragma once

#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string>

namespace bark {

// round(x): the nearest integer, ties to even.
inline int64_t py_round(double x) {
  const double r = std::round(x);
  if (std::fabs(x - std::trunc(x)) == 0.5) {  // tie: to even
    const double down = std::floor(x);
    return static_cast<int64_t>(std::fmod(down, 2.0) == 0.0 ? down : down + 1.0);
  }
  return static_cast<int64_t>(r);
}

// repr(round(x, 1)) for a finite double: the decimal nearest to x's exact binary value, ties to
// even, which is what glibc's printf computes too ("-0.0" shown as "0.0").
inline std::string py_round1_text(double x) {
  char buf[64];
  std::snprintf(buf, sizeof buf, "%.1f", x);
  const std::string s = buf;
  return s == "-0.0" ? "0.0" : s;
}

// round(x, 1) as a double.
inline double py_round1(double x) { return std::strtod(py_round1_text(x).c_str(), nullptr); }

}  // namespace bark
