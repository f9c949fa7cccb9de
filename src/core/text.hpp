// Small text helpers shared by the core modules' error messages.
#pragma once

#include <charconv>
#include <cmath>
#include <string>

namespace cml {

// Shortest round-trip text of a double; NaN and infinities spelled as PostgreSQL spells them.
inline std::string format_double(double v) {
  if (std::isnan(v)) return "NaN";
  if (std::isinf(v)) return v > 0 ? "Infinity" : "-Infinity";
  char buf[64];
  auto r = std::to_chars(buf, buf + sizeof buf, v);
  return std::string(buf, r.ptr);
}

}  // namespace cml
