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

// A value quoted in an error message: at most max_bytes of it (cut on a UTF-8 character boundary),
// with "..." and its length when cut, so a hostile 10,000-character argument is never echoed whole.
inline std::string clip_for_message(const std::string& s, std::size_t max_bytes = 40) {
  if (s.size() <= max_bytes) return s;
  std::size_t n = max_bytes;
  while (n > 0 && (static_cast<unsigned char>(s[n]) & 0xC0) == 0x80) n--;  // not inside a character
  return s.substr(0, n) + "... (" + std::to_string(s.size()) + " bytes)";
}

}  // namespace cml
