// Log levels of systemLogs, ordered by severity (seed: 'info', 'warning', 'error', 'debug').
#pragma once

#include <string>

#include "errors.hpp"

namespace cml {

enum class LogLevel : int { debug = 0, info = 1, warning = 2, error = 3 };

// Parses exactly "debug", "info", "warning" or "error"; throws InvalidParameter naming the value.
LogLevel parse_log_level(const std::string& s);
// Non-throwing variant: returns false when s is not a level.
bool try_parse_log_level(const char* s, LogLevel* out) noexcept;
const char* to_string(LogLevel level) noexcept;
// True when a message of `level` passes a configured minimum level `threshold`.
inline bool log_enabled(LogLevel level, LogLevel threshold) noexcept {
  return static_cast<int>(level) >= static_cast<int>(threshold);
}

}  // namespace cml
