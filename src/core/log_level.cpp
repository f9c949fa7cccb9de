#include "log_level.hpp"

#include <cstring>

namespace cml {

namespace {
constexpr const char* kNames[] = {"debug", "info", "warning", "error"};
}

bool try_parse_log_level(const char* s, LogLevel* out) noexcept {
  if (s == nullptr) return false;
  for (int i = 0; i < 4; ++i) {
    if (std::strcmp(s, kNames[i]) == 0) {
      *out = static_cast<LogLevel>(i);
      return true;
    }
  }
  return false;
}

LogLevel parse_log_level(const std::string& s) {
  LogLevel level;
  if (!try_parse_log_level(s.c_str(), &level))
    throw InvalidParameter("invalid log level \"" + s + "\"",
                           "rule: level must be one of debug, info, warning, error");
  return level;
}

const char* to_string(LogLevel level) noexcept { return kNames[static_cast<int>(level)]; }

}  // namespace cml
